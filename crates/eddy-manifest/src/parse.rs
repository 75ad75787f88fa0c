//! From TOML text to typed resources: syntax errors, the top level (`version`, section names),
//! per-resource deserialisation with serde's messages reworded, and finding a key path's
//! position in the spanned document tree (used by every later check).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::model::Manifest;
use crate::{Diagnostic, Errors, Source, VERSION};

/// The sections of a manifest: key, and how one entry is named in messages.
pub(crate) const SECTIONS: [(&str, &str); 9] = [
    ("buses", "bus"),
    ("queues", "queue"),
    ("api_destinations", "api destination"),
    ("functions", "function"),
    ("topics", "topic"),
    ("buckets", "bucket"),
    ("rules", "rule"),
    ("schedules", "schedule"),
    ("apis", "api"),
];

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl<'a> From<&'a str> for Seg<'a> {
    fn from(s: &'a str) -> Self {
        Seg::Key(s)
    }
}

impl<'a> From<&'a String> for Seg<'a> {
    fn from(s: &'a String) -> Self {
        Seg::Key(s)
    }
}

impl From<usize> for Seg<'_> {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// Builds a `Vec<Seg>` from keys and indices.
macro_rules! key_path {
    ($($seg:expr),* $(,)?) => { [$($crate::parse::Seg::from($seg)),*] };
}
pub(crate) use key_path;

/// The spanned document and the diagnostics found so far.
pub(crate) struct Doc<'i> {
    pub(crate) source: Source<'i>,
    root: Spanned<DeTable<'i>>,
    pub(crate) diags: Vec<Diagnostic>,
}

impl<'i> Doc<'i> {
    /// Records a problem at byte `offset`.
    pub(crate) fn error_at(&mut self, offset: usize, message: String) {
        let d = Diagnostic::at(self.source.name, self.source.text, offset, message);
        self.diags.push(d);
    }

    /// Records a problem at the value `path` names (or the nearest ancestor that exists).
    pub(crate) fn error(&mut self, path: &[Seg<'_>], message: String) {
        let offset = self.locate(path).1.start;
        self.error_at(offset, message);
    }

    /// Records a problem at the key `path` ends with (a resource's name, …).
    pub(crate) fn error_key(&mut self, path: &[Seg<'_>], message: String) {
        let (key, value) = self.locate(path);
        self.error_at(key.unwrap_or(value).start, message);
    }

    /// The spans of the key and of the value at `path`; when the path does not exist, those
    /// of the deepest ancestor that does.
    pub(crate) fn locate(&self, path: &[Seg<'_>]) -> (Option<Range<usize>>, Range<usize>) {
        let mut key = None;
        let mut span = self.root.span();
        let mut table: Option<&DeTable<'i>> = Some(self.root.get_ref());
        let mut value: Option<&DeValue<'i>> = None;
        for seg in path {
            let next = match (seg, table, value) {
                (Seg::Key(k), Some(t), _) => t.get_key_value(*k).map(|(k, v)| (Some(k.span()), v)),
                (Seg::Index(i), None, Some(DeValue::Array(a))) => a.get(*i).map(|v| (None, v)),
                _ => None,
            };
            let Some((k, v)) = next else { break };
            key = k;
            span = v.span();
            value = Some(v.get_ref());
            table = v.get_ref().as_table();
        }
        (key, span)
    }

    /// The dotted path (`async.on_success`, `targets[1].queue`) of the deepest key or value
    /// under `at` whose span contains `offset`.
    fn path_under(&self, at: &[Seg<'_>], offset: usize) -> Vec<String> {
        let mut start: Option<&Spanned<DeValue<'i>>> = None;
        let mut table = Some(self.root.get_ref());
        for seg in at {
            let next = match (seg, table, start.map(|v| v.get_ref())) {
                (Seg::Key(k), Some(t), _) => t.get(*k),
                (Seg::Index(i), None, Some(DeValue::Array(a))) => a.get(*i),
                _ => None,
            };
            let Some(v) = next else { return Vec::new() };
            start = Some(v);
            table = v.get_ref().as_table();
        }
        let mut best = Vec::new();
        if let Some(v) = start {
            let mut cur = Vec::new();
            deepest(v.get_ref(), offset, &mut cur, &mut best);
        }
        best
    }
}

fn deepest(v: &DeValue<'_>, offset: usize, cur: &mut Vec<String>, best: &mut Vec<String>) {
    let contains = |r: Range<usize>| r.start <= offset && offset < r.end.max(r.start + 1);
    match v {
        DeValue::Table(t) => {
            for (k, child) in t.iter() {
                cur.push(k.get_ref().to_string());
                if (contains(k.span()) || contains(child.span())) && cur.len() > best.len() {
                    *best = cur.clone();
                }
                deepest(child.get_ref(), offset, cur, best);
                cur.pop();
            }
        }
        DeValue::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let last = cur.pop().unwrap_or_default();
                cur.push(format!("{last}[{i}]"));
                if contains(child.span()) && cur.len() >= best.len() {
                    *best = cur.clone();
                }
                deepest(child.get_ref(), offset, cur, best);
                cur.pop();
                cur.push(last);
            }
        }
        _ => {}
    }
}

/// Names declared in each section, whether or not their definition is valid: references to
/// them are not reported as unknown when only the definition has a mistake.
#[derive(Debug, Default)]
pub(crate) struct Declared(pub(crate) BTreeMap<&'static str, BTreeSet<String>>);

impl Declared {
    pub(crate) fn has(&self, section: &str, name: &str) -> bool {
        self.0.get(section).is_some_and(|s| s.contains(name))
    }
}

pub(crate) fn parse(source: &Source<'_>) -> Result<Manifest, Errors> {
    let (root, syntax) = DeTable::parse_recoverable(source.text);
    let mut doc = Doc {
        source: *source,
        root,
        diags: Vec::new(),
    };
    if !syntax.is_empty() {
        for e in syntax {
            let offset = e.span().map_or(0, |s| s.start);
            let message = toml_syntax_message(e.message());
            doc.error_at(offset, message);
        }
        return Err(finish(doc.diags));
    }
    let mut manifest = Manifest {
        version: VERSION,
        ..Manifest::default()
    };
    let mut declared = Declared::default();
    top_level(&mut doc, &mut manifest, &mut declared);
    crate::validate::check(&mut doc, &manifest, &declared);
    if doc.diags.is_empty() {
        Ok(manifest)
    } else {
        Err(finish(doc.diags))
    }
}

fn finish(mut diags: Vec<Diagnostic>) -> Errors {
    diags.sort_by(|a, b| (a.offset, &a.message).cmp(&(b.offset, &b.message)));
    diags.dedup();
    Errors(diags)
}

fn toml_syntax_message(m: &str) -> String {
    let m = m.trim();
    if m == "duplicate key" {
        "duplicate key: this key is already defined above; remove or rename one".to_owned()
    } else {
        format!("invalid TOML: {m}")
    }
}

fn top_level(doc: &mut Doc<'_>, manifest: &mut Manifest, declared: &mut Declared) {
    let root = doc.root.get_ref().clone();
    match root.get_key_value("version") {
        None => doc.error_at(
            0,
            format!("missing `version = {VERSION}`; add it as the first line of the file"),
        ),
        Some((_, v)) => {
            let n = v
                .get_ref()
                .as_integer()
                .and_then(|i| i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok());
            match n {
                Some(n) if n == i64::from(VERSION) => {}
                Some(n) => doc.error_at(
                    v.span().start,
                    format!("version {n} is not supported; this eddy reads version = {VERSION}"),
                ),
                None => doc.error_at(
                    v.span().start,
                    format!(
                        "`version` must be the integer {VERSION}, not a {}",
                        v.get_ref().type_str()
                    ),
                ),
            }
        }
    }
    for (key, value) in root.iter() {
        let k = key.get_ref().as_ref();
        if k == "version" {
            continue;
        }
        let Some(&(section, label)) = SECTIONS.iter().find(|(s, _)| *s == k) else {
            let mut known = vec!["version"];
            known.extend(SECTIONS.iter().map(|(s, _)| *s));
            doc.error_at(
                key.span().start,
                format!("unknown top-level key `{k}`; {}", suggest(k, &known)),
            );
            continue;
        };
        let Some(entries) = value.get_ref().as_table() else {
            doc.error_at(
                value.span().start,
                format!(
                    "`{section}` must be a table of named {label}s, like `[{section}.NAME]`, not a {}",
                    value.get_ref().type_str()
                ),
            );
            continue;
        };
        let names = declared.0.entry(section).or_default();
        for (name, _) in entries.iter() {
            names.insert(name.get_ref().to_string());
        }
        for (name, def) in entries.iter() {
            let name = name.get_ref().to_string();
            match section {
                "buses" => entry(doc, section, label, &name, def, &mut manifest.buses),
                "queues" => entry(doc, section, label, &name, def, &mut manifest.queues),
                "api_destinations" => entry(
                    doc,
                    section,
                    label,
                    &name,
                    def,
                    &mut manifest.api_destinations,
                ),
                "functions" => entry(doc, section, label, &name, def, &mut manifest.functions),
                "topics" => entry(doc, section, label, &name, def, &mut manifest.topics),
                "buckets" => entry(doc, section, label, &name, def, &mut manifest.buckets),
                "rules" => entry(doc, section, label, &name, def, &mut manifest.rules),
                "schedules" => entry(doc, section, label, &name, def, &mut manifest.schedules),
                _ => entry(doc, section, label, &name, def, &mut manifest.apis),
            }
        }
    }
}

/// Deserialises one resource; on failure records the reworded message.
fn entry<'i, T: DeserializeOwned>(
    doc: &mut Doc<'i>,
    section: &str,
    label: &str,
    name: &str,
    def: &Spanned<DeValue<'i>>,
    into: &mut BTreeMap<String, T>,
) {
    match T::deserialize(ValueDeserializer::from(def.clone())) {
        Ok(v) => {
            into.insert(name.to_owned(), v);
        }
        Err(e) => {
            let offset = e.span().map_or(def.span().start, |s| s.start);
            let rel = doc.path_under(&key_path![section, name], offset);
            let what = format!("{label} `{name}`");
            let message = reword(e.message(), &what, &rel);
            doc.error_at(offset, message);
        }
    }
}

/// Rewords one of serde's messages for a key at `rel` (a path below the resource `what`).
fn reword(msg: &str, what: &str, rel: &[String]) -> String {
    let joined = rel.join(".");
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let prefix = match rel.split_last() {
            Some((_, parent)) if !parent.is_empty() => format!("{}.", parent.join(".")),
            _ => String::new(),
        };
        let known = backticked(expected);
        let hint = match closest(key, &known) {
            Some(best) => format!("did you mean `{prefix}{best}`?"),
            None if known.is_empty() => "remove it".to_owned(),
            None => format!("expected one of {}", list(&known)),
        };
        return format!("unknown key `{prefix}{key}` in {what}; {hint}");
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let key = rest.trim_end_matches('`');
        let full = if joined.is_empty() {
            key.to_owned()
        } else {
            format!("{joined}.{key}")
        };
        return format!("missing required key `{full}` in {what}");
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let (value, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let known = backticked(expected);
        let mut out = format!(
            "`{joined}` in {what} must be {}, not `{value}`",
            or_list(&known)
        );
        if let Some(best) = known.iter().find(|k| k.eq_ignore_ascii_case(value)) {
            out.push_str(&format!("; did you mean `{best}`?"));
        }
        return out;
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = msg.strip_prefix(prefix)
            && let Some((found, expected)) = rest.split_once(", expected ")
        {
            let expected = expected_text(expected);
            let found = found_text(found);
            return if joined.is_empty() {
                format!("{what} must be {expected}, not {found}")
            } else {
                format!("`{joined}` in {what} must be {expected}, not {found}")
            };
        }
    }
    if let Some(rest) = msg.strip_prefix("duplicate field `") {
        let key = rest.trim_end_matches('`');
        return format!("key `{key}` appears twice in {what}; keep one");
    }
    if joined.is_empty() {
        format!("{msg} (in {what})")
    } else {
        format!("{msg} (at `{joined}` in {what})")
    }
}

/// The backticked words of serde's "expected" lists.
fn backticked(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

fn list(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn or_list(words: &[String]) -> String {
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or `{last}`", list(rest)),
        Some((last, _)) => format!("`{last}`"),
        None => "something else".to_owned(),
    }
}

fn expected_text(e: &str) -> String {
    let e = e.trim();
    match e {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a non-negative integer".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a sequence" => "an array".to_owned(),
        "a map" | "any valid JSON value" => "a table".to_owned(),
        "a borrowed string" => "a string".to_owned(),
        _ if e.starts_with("struct ") => "a table".to_owned(),
        _ => e.to_owned(),
    }
}

fn found_text(f: &str) -> String {
    match f {
        "map" => "a table".to_owned(),
        "sequence" => "an array".to_owned(),
        _ => f.to_owned(),
    }
}

/// `did you mean `x`?` when a close candidate exists, else the list of valid keys.
pub(crate) fn suggest(word: &str, known: &[&str]) -> String {
    let known: Vec<String> = known.iter().map(|s| (*s).to_owned()).collect();
    match closest(word, &known) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("expected one of {}", list(&known)),
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub(crate) fn closest(word: &str, known: &[String]) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (levenshtein(&lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, k)| {
            let (a, b) = (k.chars().count(), word.chars().count());
            *d <= (a.max(b) / 3).max(1) && *d < a.min(b)
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_close_and_others_are_not() {
        let known: Vec<String> = ["timeout", "memory", "code"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(closest("timout", &known).as_deref(), Some("timeout"));
        assert_eq!(closest("Memroy", &known).as_deref(), Some("memory"));
        assert_eq!(closest("zzz", &known), None);
    }
}
