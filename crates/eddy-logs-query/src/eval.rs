//! Evaluates expressions against one record (or one `stats` result row), and runs `parse`
//! patterns. Field values borrow from the record, its JSON and the derived slots where they can.

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::ast::{BinOp, Expr, Field, ParsePattern, Slot};
use crate::record::Record;
use crate::value::{Value, compare};

/// Where field values come from while evaluating.
pub(crate) trait Env<'r> {
    fn field(&self, field: &Field) -> Value<'r>;
    /// `@timestamp`, for `bin()`.
    fn timestamp(&self) -> Option<i64>;
}

fn borrow<'r>(v: &'r Value<'static>) -> Value<'r> {
    match v {
        Value::Str(s) => Value::Str(Cow::Borrowed(s.as_ref())),
        Value::Null => Value::Null,
        Value::Num(n) => Value::Num(*n),
        Value::Time(t) => Value::Time(*t),
        Value::Bool(b) => Value::Bool(*b),
    }
}

/// A record being evaluated: its fields, what `parse`/`fields` derived, its message as JSON.
pub(crate) struct RecordEnv<'r> {
    pub record: &'r Record<'r>,
    pub slots: &'r [Value<'static>],
    pub json: &'r OnceCell<Option<serde_json::Value>>,
}

impl<'r> Env<'r> for RecordEnv<'r> {
    fn field(&self, field: &Field) -> Value<'r> {
        let r = self.record;
        match field.slot {
            Slot::Timestamp => Value::Time(r.timestamp),
            Slot::IngestionTime => Value::Time(r.ingestion_time),
            Slot::Message => Value::Str(Cow::Borrowed(r.message)),
            Slot::LogStream => Value::Str(Cow::Borrowed(r.log_stream)),
            Slot::Log => Value::Str(Cow::Borrowed(r.log_group)),
            Slot::Derived(i) => borrow(&self.slots[i]),
            Slot::Json => {
                let json = self.json.get_or_init(|| parse_json(r.message));
                json.as_ref()
                    .map_or(Value::Null, |j| json_field(j, &field.name))
            }
            Slot::Column(_) | Slot::Absent | Slot::Unresolved | Slot::AggregateCall(_) => {
                Value::Null
            }
        }
    }

    fn timestamp(&self) -> Option<i64> {
        Some(self.record.timestamp)
    }
}

/// A `stats` result row.
pub(crate) struct RowEnv<'r> {
    pub columns: &'r [Value<'static>],
}

impl<'r> Env<'r> for RowEnv<'r> {
    fn field(&self, field: &Field) -> Value<'r> {
        match field.slot {
            Slot::Column(i) => self.columns.get(i).map_or(Value::Null, borrow),
            _ => Value::Null,
        }
    }

    fn timestamp(&self) -> Option<i64> {
        None
    }
}

/// Messages that are JSON objects have their fields discovered, as Insights does.
fn parse_json(message: &str) -> Option<serde_json::Value> {
    if !message.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str::<serde_json::Value>(message)
        .ok()
        .filter(serde_json::Value::is_object)
}

/// `detail.user`, `items.0.id`: a dotted path into the object (a key holding dots is tried
/// whole first). Objects and arrays are not fields of their own; `null` is absent.
fn json_field<'j>(root: &'j serde_json::Value, path: &str) -> Value<'j> {
    let mut node = root;
    let mut rest = path;
    loop {
        if let Some(v) = child(node, rest) {
            return leaf(v);
        }
        let Some((head, tail)) = rest.split_once('.') else {
            return Value::Null;
        };
        match child(node, head) {
            Some(next) => {
                node = next;
                rest = tail;
            }
            None => return Value::Null,
        }
    }
}

fn child<'j>(node: &'j serde_json::Value, key: &str) -> Option<&'j serde_json::Value> {
    match node {
        serde_json::Value::Object(map) => map.get(key),
        serde_json::Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    }
}

fn leaf(v: &serde_json::Value) -> Value<'_> {
    match v {
        serde_json::Value::String(s) => Value::Str(Cow::Borrowed(s)),
        serde_json::Value::Number(n) => n.as_f64().map_or(Value::Null, Value::Num),
        serde_json::Value::Bool(b) => Value::Bool(*b),
        _ => Value::Null,
    }
}

pub(crate) fn eval<'r>(expr: &'r Expr, env: &impl Env<'r>) -> Value<'r> {
    match expr {
        Expr::Field(f) => env.field(f),
        Expr::Lit(v) => borrow(v),
        Expr::Not(e) => Value::Bool(!eval(e, env).truthy()),
        Expr::Neg(e) => eval(e, env)
            .as_num()
            .map_or(Value::Null, |n| Value::Num(-n)),
        Expr::Binary(BinOp::And, a, b) => {
            Value::Bool(eval(a, env).truthy() && eval(b, env).truthy())
        }
        Expr::Binary(BinOp::Or, a, b) => {
            Value::Bool(eval(a, env).truthy() || eval(b, env).truthy())
        }
        Expr::Binary(op, a, b) => binary(*op, eval(a, env), eval(b, env)),
        Expr::Like {
            negated,
            expr,
            pattern,
        } => match eval(expr, env) {
            Value::Null => Value::Bool(false),
            v => Value::Bool(pattern.is_match(&v.as_text()) != *negated),
        },
        Expr::In {
            negated,
            expr,
            list,
        } => {
            let v = eval(expr, env);
            if v.is_null() {
                return Value::Bool(false);
            }
            let found = list
                .iter()
                .any(|e| compare(&v, &eval(e, env)).is_some_and(|o| o.is_eq()));
            Value::Bool(found != *negated)
        }
        Expr::Call(func, args) => func.call(args.iter().map(|a| eval(a, env)).collect()),
        Expr::Bin(unit) => env
            .timestamp()
            .map_or(Value::Null, |t| Value::Time(unit.floor(t))),
    }
}

fn binary<'r>(op: BinOp, a: Value<'r>, b: Value<'r>) -> Value<'r> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let cmp =
        |ok: &dyn Fn(std::cmp::Ordering) -> bool| Value::Bool(compare(&a, &b).is_some_and(ok));
    match op {
        BinOp::Eq => cmp(&|o| o == Equal),
        BinOp::Ne => cmp(&|o| o != Equal),
        BinOp::Lt => cmp(&|o| o == Less),
        BinOp::Le => cmp(&|o| o != Greater),
        BinOp::Gt => cmp(&|o| o == Greater),
        BinOp::Ge => cmp(&|o| o != Less),
        _ => {
            let (Some(x), Some(y)) = (a.as_num(), b.as_num()) else {
                return Value::Null;
            };
            let n = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div if y != 0.0 => x / y,
                BinOp::Mod if y != 0.0 => x % y,
                _ => return Value::Null,
            };
            Value::Num(n)
        }
    }
}

/// Runs a `parse` pattern over `text`; on a match, writes each captured field to its slot
/// (on no match, the fields are absent).
pub(crate) fn run_parse(
    pattern: &ParsePattern,
    text: &str,
    slots: &mut [Value<'static>],
    at: &[usize],
) {
    for &i in at {
        slots[i] = Value::Null;
    }
    match pattern {
        ParsePattern::Glob { parts, .. } => {
            if let Some(captures) = glob_captures(parts, text) {
                for (&i, c) in at.iter().zip(captures) {
                    slots[i] = Value::Str(Cow::Owned(c.to_string()));
                }
            }
        }
        ParsePattern::Regex { re, names } => {
            if let Some(caps) = re.captures(text) {
                for (&i, name) in at.iter().zip(names) {
                    if let Some(m) = caps.name(name) {
                        slots[i] = Value::Str(Cow::Owned(m.as_str().to_string()));
                    }
                }
            }
        }
    }
}

/// Glob matching for `parse "a=* b=*"`: the first literal is searched anywhere, each `*` takes
/// the shortest text up to the next literal, and a trailing `*` takes the rest.
fn glob_captures<'t>(parts: &[String], text: &'t str) -> Option<Vec<&'t str>> {
    let (first, rest) = parts.split_first()?;
    let mut pos = text.find(first.as_str())? + first.len();
    let mut out = Vec::with_capacity(rest.len());
    for (k, literal) in rest.iter().enumerate() {
        let last = k + 1 == rest.len();
        if last && literal.is_empty() {
            out.push(&text[pos..]);
            pos = text.len();
        } else {
            let found = text[pos..].find(literal.as_str())?;
            out.push(&text[pos..pos + found]);
            pos += found + literal.len();
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_is_unanchored_and_lazy() {
        let parts = |g: &str| g.split('*').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            glob_captures(&parts("user=* action=*"), "ts=1 user=bob action=login x"),
            Some(vec!["bob", "login x"])
        );
        assert_eq!(
            glob_captures(&parts("[*] *"), "[ERROR] disk full"),
            Some(vec!["ERROR", "disk full"])
        );
        assert_eq!(glob_captures(&parts("a=*;"), "a=1;b=2;"), Some(vec!["1"]));
        assert_eq!(glob_captures(&parts("*:*"), "k:v"), Some(vec!["k", "v"]));
        assert_eq!(glob_captures(&parts("user=* "), "user=bob"), None);
    }

    #[test]
    fn json_paths() {
        let j: serde_json::Value =
            serde_json::from_str(r#"{"a":{"b":[{"c":1}]},"x.y":"dotted","n":null,"t":true}"#)
                .unwrap();
        assert_eq!(json_field(&j, "a.b.0.c"), Value::Num(1.0));
        assert_eq!(json_field(&j, "x.y"), Value::Str(Cow::Borrowed("dotted")));
        assert_eq!(json_field(&j, "a.b"), Value::Null);
        assert_eq!(json_field(&j, "n"), Value::Null);
        assert_eq!(json_field(&j, "t"), Value::Bool(true));
        assert_eq!(json_field(&j, "missing.path"), Value::Null);
    }
}
