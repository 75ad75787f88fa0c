//! Pattern validation: turns pattern text into [`Branch`]es or the error EventBridge gives.
//!
//! Error texts follow aws/event-ruler (the engine behind EventBridge), prefixed by
//! `Event pattern is not valid. Reason: ` and, for errors inside a field, suffixed with the
//! dotted name of that field.

use crate::ast::{Branch, But, Op, Path, Range, Slot};
use crate::ci::CiPat;
use crate::cidr::Cidr;
use crate::json::{self, Json};
use crate::number::comparable;
use crate::wildcard::Wildcard;
use crate::{Limits, PatternError};

/// Field names that cannot appear inside `$or` (they read as operators).
const RESERVED_IN_OR: &[&str] = &[
    "anything-but",
    "cidr",
    "equals-ignore-case",
    "exists",
    "numeric",
    "prefix",
    "suffix",
    "wildcard",
];

type Res<T> = Result<T, PatternError>;

fn err(reason: impl Into<String>) -> PatternError {
    PatternError {
        reason: reason.into(),
        field: None,
    }
}

fn field_err(path: &str, reason: impl Into<String>) -> PatternError {
    PatternError {
        reason: reason.into(),
        field: Some(path.to_owned()),
    }
}

/// Parses and validates a pattern.
pub(crate) fn parse(src: &str, limits: &Limits) -> Res<Vec<Branch>> {
    let len = src.chars().count();
    if len > limits.max_pattern_len {
        return Err(err(format!(
            "Event pattern is {len} characters long, more than the maximum of {}",
            limits.max_pattern_len
        )));
    }
    let root = json::parse(src).map_err(|e| match e.reason {
        json::LONE_SURROGATE => err("Invalid JSON: a \\u escape names a lone UTF-16 surrogate"),
        json::TOO_DEEP => err("Invalid JSON: nested too deeply"),
        _ => err("Invalid JSON"),
    })?;
    let Json::Object(members) = &root else {
        return Err(err("Filter is not an object"));
    };
    let mut cx = Cx { limits, stars: 0 };
    let mut branches = vec![Branch::default()];
    cx.object(members, "", &mut branches, false)?;
    Ok(branches)
}

struct Cx<'l> {
    limits: &'l Limits,
    stars: usize,
}

impl Cx<'_> {
    fn object(
        &mut self,
        members: &[(String, Json)],
        prefix: &str,
        branches: &mut Vec<Branch>,
        in_or: bool,
    ) -> Res<()> {
        if members.is_empty() {
            return Err(if prefix.is_empty() {
                err("Empty objects are not allowed")
            } else {
                field_err(prefix, "Empty objects are not allowed")
            });
        }
        for (key, value) in members {
            if key == "$or" {
                self.or(value, prefix, branches)?;
                continue;
            }
            if in_or && RESERVED_IN_OR.contains(&key.as_str()) {
                return Err(err(format!(
                    "{key} is Ruler reserved fieldName which cannot be used inside $or."
                )));
            }
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                Json::Object(inner) => self.object(inner, &path, branches, in_or)?,
                Json::Array(items) => {
                    let slot = self.leaf(&path, items)?;
                    let p = Path::from_dotted(&path);
                    for b in branches.iter_mut() {
                        match b.fields.iter_mut().find(|(q, _)| *q == p) {
                            Some(existing) => existing.1 = slot.clone(),
                            None => b.fields.push((p.clone(), slot.clone())),
                        }
                    }
                }
                _ => return Err(err(format!("'{key}' must be an object or an array"))),
            }
        }
        Ok(())
    }

    fn or(&mut self, value: &Json, prefix: &str, branches: &mut Vec<Branch>) -> Res<()> {
        let Json::Array(alts) = value else {
            return Err(err("It must be an Array followed with $or."));
        };
        let mut out = Vec::new();
        for alt in alts {
            let Json::Object(members) = alt else {
                return Err(err(
                    "Only JSON object is allowed in array of $or relationship.",
                ));
            };
            let mut copy = branches.clone();
            self.object(members, prefix, &mut copy, true)?;
            out.extend(copy);
            if out.len() > self.limits.max_or_combinations {
                return Err(err(format!(
                    "The $or relationships in the pattern make more than {} combinations",
                    self.limits.max_or_combinations
                )));
            }
        }
        if alts.len() < 2 {
            return Err(err(
                "There must have at least 2 Objects in $or relationship.",
            ));
        }
        *branches = out;
        Ok(())
    }

    fn leaf(&mut self, path: &str, items: &[Json]) -> Res<Slot> {
        if items.is_empty() {
            return Err(field_err(path, "Empty arrays are not allowed"));
        }
        let mut slot = Slot::default();
        for item in items {
            match item {
                Json::String(s) => slot.ops.push(Op::Str(s.as_bytes().into())),
                Json::Number(raw) => slot.ops.push(Op::Num {
                    value: comparable(raw.as_bytes()),
                    raw: raw.as_bytes().into(),
                }),
                Json::Bool(b) => slot.ops.push(Op::Bool(*b)),
                Json::Null => slot.ops.push(Op::Null),
                Json::Object(m) => match self.expression(path, m)? {
                    None => slot.absent_ok = true,
                    Some(op) => slot.ops.push(op),
                },
                Json::Array(_) => {
                    return Err(field_err(
                        path,
                        "Match value must be String, number, true, false, or null",
                    ));
                }
            }
        }
        Ok(slot)
    }

    /// One `{"operator": operand}` object. `None` means `exists: false`.
    fn expression(&mut self, path: &str, m: &[(String, Json)]) -> Res<Option<Op>> {
        let fe = |r: String| field_err(path, r);
        let Some((name, operand)) = m.first() else {
            return Err(fe("Match expression name not found".into()));
        };
        let op = match name.as_str() {
            "prefix" | "suffix" => {
                let is_prefix = name == "prefix";
                match operand {
                    Json::String(s) if is_prefix => Op::Prefix(s.as_bytes().into()),
                    Json::String(s) => Op::Suffix(s.as_bytes().into()),
                    Json::Object(inner) => {
                        let s = ignore_case_operand(inner).map_err(fe)?;
                        if is_prefix {
                            Op::PrefixCi(CiPat::new(s))
                        } else {
                            Op::SuffixCi(CiPat::new(s))
                        }
                    }
                    _ => return Err(fe(format!("{name} match pattern must be a string"))),
                }
            }
            "equals-ignore-case" => match operand {
                Json::String(s) => Op::EqCi(CiPat::new(s)),
                _ => {
                    return Err(fe(
                        "equals-ignore-case match pattern must be a string".into()
                    ));
                }
            },
            "wildcard" => match operand {
                Json::String(s) => Op::Wildcard(self.wildcard(s).map_err(fe)?),
                _ => return Err(fe("wildcard match pattern must be a string".into())),
            },
            "exists" => match operand {
                Json::Bool(true) => Op::Exists,
                Json::Bool(false) => {
                    if m.len() > 1 {
                        return Err(fe("Only one key allowed in match expression".into()));
                    }
                    return Ok(None);
                }
                _ => {
                    return Err(fe(
                        "exists match pattern must be either true or false.".into()
                    ));
                }
            },
            "cidr" => match operand {
                Json::String(s) => {
                    Op::Cidr(Cidr::parse(s).ok_or_else(|| fe(format!("Invalid CIDR: {s}")))?)
                }
                _ => return Err(fe("cidr match pattern must be a string".into())),
            },
            "numeric" => match operand {
                Json::Array(items) => Op::Range(numeric(items).map_err(fe)?),
                _ => return Err(fe("Value of numeric must be an array.".into())),
            },
            "anything-but" => Op::But(self.anything_but(operand).map_err(fe)?),
            other => return Err(fe(format!("Unrecognized match type {other}"))),
        };
        if m.len() > 1 {
            return Err(fe("Only one key allowed in match expression".into()));
        }
        Ok(Some(op))
    }

    fn wildcard(&mut self, s: &str) -> Result<Wildcard, String> {
        let w = Wildcard::parse(s)?;
        self.stars += w.stars();
        if self.stars > self.limits.max_wildcard_stars {
            return Err(format!(
                "Rule is too complex: its wildcard patterns use more than {} '*' characters",
                self.limits.max_wildcard_stars
            ));
        }
        Ok(w)
    }

    fn anything_but(&mut self, operand: &Json) -> Result<But, String> {
        match operand {
            Json::String(s) => Ok(But::Strs(vec![s.as_bytes().into()])),
            Json::Number(raw) => Ok(But::Nums(vec![must_compare(raw)?])),
            Json::Array(items) => {
                let mixed = || {
                    "Inside anything but list, either all values are number or string, mixed type is not supported"
                        .to_owned()
                };
                if items.iter().all(|v| matches!(v, Json::String(_))) && !items.is_empty() {
                    Ok(But::Strs(
                        items
                            .iter()
                            .filter_map(|v| {
                                if let Json::String(s) = v {
                                    Some(s.as_bytes().into())
                                } else {
                                    None
                                }
                            })
                            .collect(),
                    ))
                } else if items.iter().all(|v| matches!(v, Json::Number(_))) && !items.is_empty() {
                    let mut nums = Vec::new();
                    for v in items {
                        if let Json::Number(raw) = v {
                            nums.push(must_compare(raw)?);
                        }
                    }
                    Ok(But::Nums(nums))
                } else if items
                    .iter()
                    .any(|v| !matches!(v, Json::String(_) | Json::Number(_)))
                {
                    Err("Inside anything but list, start|null|boolean is not supported.".into())
                } else {
                    Err(mixed())
                }
            }
            Json::Object(m) => {
                let Some((name, inner)) = m.first() else {
                    return Err("Anything-But expression name not found".into());
                };
                if m.len() > 1 {
                    return Err("Only one key allowed in match expression".into());
                }
                let strings: Vec<&str> = match inner {
                    Json::String(s) => vec![s.as_str()],
                    Json::Array(items) if !items.is_empty() => {
                        let mut v = Vec::new();
                        for it in items {
                            match it {
                                Json::String(s) => v.push(s.as_str()),
                                _ => {
                                    return Err(format!(
                                        "Inside anything-but/{name} list, number|start|null|boolean is not supported."
                                    ));
                                }
                            }
                        }
                        v
                    }
                    Json::Array(_) => return Err("Empty arrays are not allowed".into()),
                    _ => return Err(format!("{name} match pattern must be a string")),
                };
                match name.as_str() {
                    "prefix" | "suffix" => {
                        if strings.iter().any(|s| s.is_empty()) {
                            return Err("Null prefix/suffix not allowed".into());
                        }
                        let v = strings.iter().map(|s| s.as_bytes().into()).collect();
                        Ok(if name == "prefix" {
                            But::Prefix(v)
                        } else {
                            But::Suffix(v)
                        })
                    }
                    "equals-ignore-case" => {
                        Ok(But::EqCi(strings.iter().map(|s| CiPat::new(s)).collect()))
                    }
                    "wildcard" => {
                        let mut v = Vec::new();
                        for s in strings {
                            v.push(self.wildcard(s)?);
                        }
                        Ok(But::Wildcard(v))
                    }
                    other => Err(format!("Unsupported anything-but pattern: {other}")),
                }
            }
            _ => {
                Err("Value of anything-but must be an array or single string/number value.".into())
            }
        }
    }
}

/// The operand of `{"prefix": {...}}` / `{"suffix": {...}}`: only `equals-ignore-case`.
fn ignore_case_operand(inner: &[(String, Json)]) -> Result<&str, String> {
    let Some((name, v)) = inner.first() else {
        return Err("Match expression name not found".into());
    };
    if name != "equals-ignore-case" {
        return Err(format!("Unsupported prefix/suffix pattern: {name}"));
    }
    let Json::String(s) = v else {
        return Err("equals-ignore-case match pattern must be a string".into());
    };
    if inner.len() > 1 {
        return Err("Only one key allowed in match expression".into());
    }
    Ok(s)
}

fn must_compare(raw: &str) -> Result<f64, String> {
    comparable(raw.as_bytes()).ok_or_else(|| format!("Cannot compare number : {raw}"))
}

fn num_at(items: &[Json], i: usize, op: &str) -> Result<f64, String> {
    match items.get(i) {
        Some(Json::Number(raw)) => must_compare(raw),
        _ => Err(format!("Value of {op} must be numeric")),
    }
}

pub(crate) fn numeric(items: &[Json]) -> Result<Range, String> {
    let op = match items.first() {
        Some(Json::String(s)) => s.as_str(),
        Some(other) => {
            return Err(format!(
                "Invalid member in numeric match: {}",
                other.to_json_string()
            ));
        }
        None => return Err("Invalid member in numeric match: ]".into()),
    };
    let inf = f64::INFINITY;
    let one_sided = |r: Range| {
        if items.len() > 2 {
            Err("Too many elements in numeric expression".to_owned())
        } else {
            Ok(r)
        }
    };
    match op {
        "=" => {
            let v = num_at(items, 1, "equals")?;
            one_sided(Range {
                lo: v,
                lo_open: false,
                hi: v,
                hi_open: false,
            })
        }
        "<" | "<=" => {
            let v = num_at(items, 1, op)?;
            one_sided(Range {
                lo: -inf,
                lo_open: false,
                hi: v,
                hi_open: op == "<",
            })
        }
        ">" | ">=" => {
            let lo = num_at(items, 1, op)?;
            let lo_open = op == ">";
            if items.len() == 2 {
                return Ok(Range {
                    lo,
                    lo_open,
                    hi: inf,
                    hi_open: false,
                });
            }
            let top_op = match items.get(2) {
                Some(Json::String(s)) if s == "<" || s == "<=" => s.as_str(),
                Some(Json::String(s)) => return Err(format!("Bad numeric range operator: {s}")),
                Some(other) => {
                    return Err(format!(
                        "Bad value in numeric range: {}",
                        other.to_json_string()
                    ));
                }
                None => return Err("Bad value in numeric range".into()),
            };
            let hi = num_at(items, 3, top_op)?;
            if items.len() > 4 {
                return Err("Too many terms in numeric range expression".into());
            }
            if lo >= hi {
                return Err("Bottom must be less than top".into());
            }
            Ok(Range {
                lo,
                lo_open,
                hi,
                hi_open: top_op == "<",
            })
        }
        other => Err(format!("Unrecognized numeric range operator: {other}")),
    }
}
