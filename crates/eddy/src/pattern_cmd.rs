//! `eddy pattern ...`: test event patterns and benchmark the matcher from the command line.
//!
//! Owns the command-line face of `eddy-pattern` only; all matching logic lives in that crate.
//! Pattern and event text is read with `eddy_pattern::json`, which keeps numbers as written
//! (`3.0e2` stays `3.0e2`), so what is tested is exactly what the user wrote.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use eddy_pattern::json::{self, Json};
use eddy_pattern::{Limits, MatcherBuilder, Pattern};

/// `eddy pattern` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PatternCommand {
    /// Test an event pattern against an event.
    ///
    /// Prints `true` or `false` (exit 0) or the validation error (exit 2). With `--jsonl`, reads
    /// `{"pattern": ..., "event": ...}` lines on stdin and writes `{"match": bool}` or
    /// `{"error": "..."}` per line.
    ///
    /// Example: `eddy pattern test --pattern '{"source":["a"]}' --event @event.json`
    Test(TestArgs),
    /// Benchmark the matcher: run each named rule bank over every event line, on one thread.
    ///
    /// Prints one JSON line per bank:
    /// `{"bank": "EXACT", "rules": 5, "counts": [...], "best_eps": N, "median_eps": N}`.
    Bench(BenchArgs),
}

/// Arguments of `eddy pattern test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The pattern as JSON text, or `@FILE` to read it from a file.
    #[arg(long, required_unless_present = "jsonl")]
    pattern: Option<String>,
    /// The event as JSON text, or `@FILE` to read it from a file.
    #[arg(long, required_unless_present = "jsonl")]
    event: Option<String>,
    /// Read `{"pattern": ..., "event": ...}` lines from stdin instead.
    #[arg(long, conflicts_with_all = ["pattern", "event"])]
    jsonl: bool,
    /// Maximum pattern length in characters (EventBridge: 2048 by default, up to 4096).
    #[arg(long, default_value_t = 2048)]
    max_pattern_len: usize,
}

/// Arguments of `eddy pattern bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// JSON file of rule banks: `{"NAME_RULES": [pattern, ...], ...}`.
    #[arg(long)]
    rules: PathBuf,
    /// Events, one JSON object per line.
    #[arg(long)]
    events: PathBuf,
    /// Timed passes per bank (best and median are reported).
    #[arg(long, default_value_t = 5)]
    passes: usize,
    /// Only run these banks (names without `_RULES`); all banks by default.
    #[arg(long)]
    bank: Vec<String>,
}

/// Runs a `pattern` subcommand.
pub fn run(cmd: PatternCommand) -> ExitCode {
    match cmd {
        PatternCommand::Test(args) => run_test(&args),
        PatternCommand::Bench(args) => run_bench(&args),
    }
}

fn read_arg(v: &str) -> Result<String, String> {
    match v.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}")),
        None => Ok(v.to_owned()),
    }
}

/// The outcome of testing one pattern against one event.
#[derive(Debug, PartialEq, Eq)]
pub enum TestOutcome {
    Match(bool),
    /// The pattern is invalid (the full EventBridge message).
    InvalidPattern(String),
    /// The event is not a JSON object.
    InvalidEvent(String),
}

/// Tests `pattern` against `event` (both JSON text).
pub fn test_one(pattern: &str, event: &str, limits: &Limits) -> TestOutcome {
    match Pattern::parse_with(pattern, limits) {
        Err(e) => TestOutcome::InvalidPattern(e.to_string()),
        Ok(p) => match p.matches(event) {
            Ok(m) => TestOutcome::Match(m),
            Err(e) => TestOutcome::InvalidEvent(e.to_string()),
        },
    }
}

/// Answers one `--jsonl` input line with one output line (no newline).
pub fn test_jsonl_line(line: &str, limits: &Limits) -> String {
    let error = |msg: &str| {
        let mut out = String::from("{\"error\":");
        json::write_json_string(&mut out, msg);
        out.push('}');
        out
    };
    let Ok(doc) = json::parse(line) else {
        return error("input line is not valid JSON");
    };
    let (Some(pattern), Some(event)) = (doc.get("pattern"), doc.get("event")) else {
        return error("input line needs \"pattern\" and \"event\"");
    };
    // A pattern may be given as JSON or as a string holding JSON (as the AWS API takes it).
    let pattern_text = match pattern {
        Json::String(s) => s.clone(),
        other => other.to_json_string(),
    };
    let event_text = match event {
        Json::String(s) => s.clone(),
        other => other.to_json_string(),
    };
    match test_one(&pattern_text, &event_text, limits) {
        TestOutcome::Match(m) => format!("{{\"match\":{m}}}"),
        TestOutcome::InvalidPattern(e) | TestOutcome::InvalidEvent(e) => error(&e),
    }
}

fn run_test(args: &TestArgs) -> ExitCode {
    let limits = Limits {
        max_pattern_len: args.max_pattern_len,
        ..Limits::default()
    };
    if args.jsonl {
        let stdin = std::io::stdin();
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        for line in stdin.lock().lines() {
            let Ok(line) = line else {
                eprintln!("error: cannot read stdin");
                return ExitCode::from(1);
            };
            if line.trim().is_empty() {
                continue;
            }
            if writeln!(out, "{}", test_jsonl_line(&line, &limits)).is_err() {
                return ExitCode::from(1);
            }
        }
        return if out.flush().is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    let (Some(p), Some(e)) = (&args.pattern, &args.event) else {
        eprintln!("error: --pattern and --event are required without --jsonl");
        return ExitCode::from(2);
    };
    let (pattern, event) = match (read_arg(p), read_arg(e)) {
        (Ok(p), Ok(e)) => (p, e),
        (Err(m), _) | (_, Err(m)) => {
            eprintln!("error: {m}");
            return ExitCode::from(2);
        }
    };
    match test_one(&pattern, &event, &limits) {
        TestOutcome::Match(m) => {
            say!("{m}");
            ExitCode::SUCCESS
        }
        TestOutcome::InvalidPattern(msg) | TestOutcome::InvalidEvent(msg) => {
            say!("{msg}");
            ExitCode::from(2)
        }
    }
}

/// Loads the banks of a rules file: `(name without _RULES, patterns)`, in file order.
pub fn load_banks(text: &str) -> Result<Vec<(String, Vec<Pattern>)>, String> {
    let doc = json::parse(text).map_err(|e| format!("rules file is not JSON: {}", e.reason))?;
    let Json::Object(members) = doc else {
        return Err("rules file must be a JSON object".to_owned());
    };
    let mut banks = Vec::new();
    for (key, value) in members {
        let Some(name) = key.strip_suffix("_RULES") else {
            continue;
        };
        let Json::Array(items) = value else {
            return Err(format!("{key} must be an array of patterns"));
        };
        let mut patterns = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let limits = Limits {
                max_pattern_len: 4096,
                ..Limits::default()
            };
            let p = Pattern::parse_with(&item.to_json_string(), &limits)
                .map_err(|e| format!("{key}[{i}]: {e}"))?;
            patterns.push(p);
        }
        banks.push((name.to_owned(), patterns));
    }
    Ok(banks)
}

fn run_bench(args: &BenchArgs) -> ExitCode {
    let rules = match std::fs::read_to_string(&args.rules) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.rules.display());
            return ExitCode::from(1);
        }
    };
    let banks = match load_banks(&rules) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let events_text = match std::fs::read(&args.events) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.events.display());
            return ExitCode::from(1);
        }
    };
    let events: Vec<&[u8]> = events_text
        .split(|&c| c == b'\n')
        .filter(|l| l.iter().any(|c| !c.is_ascii_whitespace()))
        .collect();
    let passes = args.passes.max(1);
    for (name, patterns) in &banks {
        if !args.bank.is_empty() && !args.bank.iter().any(|b| b == name) {
            continue;
        }
        let mut builder = MatcherBuilder::new();
        for (i, p) in patterns.iter().enumerate() {
            builder.add(i as u32, p);
        }
        let matcher = builder.build();
        let mut counts = vec![0u64; patterns.len()];
        let mut errors = 0u64;
        let mut rates = Vec::with_capacity(passes);
        let mut out = Vec::with_capacity(16);
        for pass in 0..passes {
            let start = Instant::now();
            for ev in &events {
                out.clear();
                if matcher.matches(ev, &mut out).is_err() {
                    errors += 1;
                }
                if pass == 0 {
                    for &id in &out {
                        if let Some(c) = counts.get_mut(id as usize) {
                            *c += 1;
                        }
                    }
                }
            }
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            rates.push(events.len() as f64 / secs);
        }
        rates.sort_by(f64::total_cmp);
        let best = rates.last().copied().unwrap_or(0.0);
        let median = rates[rates.len() / 2];
        if errors > 0 {
            eprintln!("{name}: {errors} event(s) could not be matched");
        }
        let counts: Vec<String> = counts.iter().map(u64::to_string).collect();
        say!(
            "{{\"bank\": \"{name}\", \"rules\": {}, \"counts\": [{}], \"best_eps\": {}, \"median_eps\": {}}}",
            patterns.len(),
            counts.join(", "),
            best.round() as u64,
            median.round() as u64
        );
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_one_outcomes() {
        let l = Limits::default();
        assert_eq!(
            test_one(r#"{"a":["b"]}"#, r#"{"a":"b"}"#, &l),
            TestOutcome::Match(true)
        );
        assert_eq!(
            test_one(r#"{"a":["b"]}"#, r#"{"a":"c"}"#, &l),
            TestOutcome::Match(false)
        );
        assert!(matches!(
            test_one(r#"{"a":"b"}"#, "{}", &l),
            TestOutcome::InvalidPattern(_)
        ));
        assert!(matches!(
            test_one(r#"{"a":["b"]}"#, "[1]", &l),
            TestOutcome::InvalidEvent(_)
        ));
    }

    #[test]
    fn jsonl_lines() {
        let l = Limits::default();
        assert_eq!(
            test_jsonl_line(r#"{"pattern":{"n":[300]},"event":{"n":3.0e2}}"#, &l),
            r#"{"match":true}"#
        );
        assert_eq!(
            test_jsonl_line(r#"{"pattern":{"n":"x"},"event":{}}"#, &l),
            r#"{"error":"Event pattern is not valid. Reason: 'n' must be an object or an array"}"#
        );
        assert!(test_jsonl_line("nope", &l).starts_with(r#"{"error":"#));
    }
}
