//! Head-to-head benchmark: eddy-pattern and the `quamina` crate on the same rule banks and
//! events, in the same run, one thread, alternating passes.
//!
//! ```text
//! cargo run --release -p eddy-pattern --example versus_quamina -- RULES.json EVENTS.jlines [PASSES]
//! ```
//! Prints one JSON line per bank with both engines' best/median events per second, their
//! per-rule match counts, and whether the counts agree. Banks quamina rejects are reported with
//! `"quamina": "unsupported"`.

use std::time::Instant;

use eddy_pattern::json::{self, Json};
use eddy_pattern::{Limits, MatcherBuilder, Pattern};

fn stats(mut rates: Vec<f64>) -> (u64, u64) {
    rates.sort_by(f64::total_cmp);
    let best = rates.last().copied().unwrap_or(0.0);
    let median = rates.get(rates.len() / 2).copied().unwrap_or(0.0);
    (best.round() as u64, median.round() as u64)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: versus_quamina RULES.json EVENTS.jlines [PASSES]");
        std::process::exit(2);
    }
    let passes: usize = args.get(3).and_then(|p| p.parse().ok()).unwrap_or(3).max(1);
    let rules_text = std::fs::read_to_string(&args[1]).expect("read rules");
    let events_text = std::fs::read(&args[2]).expect("read events");
    let events: Vec<&[u8]> = events_text
        .split(|&c| c == b'\n')
        .filter(|l| l.iter().any(|c| !c.is_ascii_whitespace()))
        .collect();
    let Ok(Json::Object(banks)) = json::parse(&rules_text) else {
        panic!("rules file must be a JSON object");
    };
    let limits = Limits {
        max_pattern_len: 4096,
        ..Limits::default()
    };
    for (key, value) in &banks {
        let Some(name) = key.strip_suffix("_RULES") else {
            continue;
        };
        let Json::Array(items) = value else { continue };
        let texts: Vec<String> = items.iter().map(Json::to_json_string).collect();
        let mut eb = MatcherBuilder::new();
        let mut q = quamina::Quamina::<usize>::new();
        let mut q_ok = true;
        for (i, t) in texts.iter().enumerate() {
            eb.add(
                i as u32,
                &Pattern::parse_with(t, &limits).expect("eddy accepts bank"),
            );
            if q.add_pattern(i, t).is_err() {
                q_ok = false;
            }
        }
        let m = eb.build();
        let n = texts.len();
        let mut e_counts = vec![0u64; n];
        let mut q_counts = vec![0u64; n];
        let mut e_rates = Vec::new();
        let mut q_rates = Vec::new();
        let mut out = Vec::new();
        for pass in 0..passes {
            let t = Instant::now();
            for ev in &events {
                out.clear();
                m.matches(ev, &mut out).ok();
                if pass == 0 {
                    out.iter().for_each(|&id| e_counts[id as usize] += 1);
                }
            }
            e_rates.push(events.len() as f64 / t.elapsed().as_secs_f64());
            if q_ok {
                let t = Instant::now();
                for ev in &events {
                    if let Ok(ids) = q.matches_for_event(ev)
                        && pass == 0
                    {
                        ids.iter().for_each(|&id| q_counts[id] += 1);
                    }
                }
                q_rates.push(events.len() as f64 / t.elapsed().as_secs_f64());
            }
        }
        let (eb_best, eb_med) = stats(e_rates);
        if q_ok {
            let (qb, qm) = stats(q_rates);
            println!(
                "{{\"bank\": \"{name}\", \"rules\": {n}, \"eddy_best_eps\": {eb_best}, \"eddy_median_eps\": {eb_med}, \"quamina_best_eps\": {qb}, \"quamina_median_eps\": {qm}, \"speedup_best\": {:.2}, \"counts_agree\": {}, \"eddy_counts\": {e_counts:?}, \"quamina_counts\": {q_counts:?}}}",
                eb_best as f64 / qb.max(1) as f64,
                e_counts == q_counts
            );
        } else {
            println!(
                "{{\"bank\": \"{name}\", \"rules\": {n}, \"eddy_best_eps\": {eb_best}, \"eddy_median_eps\": {eb_med}, \"quamina\": \"unsupported\", \"eddy_counts\": {e_counts:?}}}"
            );
        }
    }
}
