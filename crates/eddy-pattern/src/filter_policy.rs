//! # SNS subscription filter policies
//!
//! What it is: SNS's dialect of event patterns, as a subscription's `FilterPolicy` uses it.
//! [`FilterPolicy::parse`] validates a policy as SNS does (same accept/reject decisions as far as
//! they are known, SNS's error texts); [`FilterPolicy::matches_attributes`] and
//! [`FilterPolicy::matches_body`] decide whether one message is delivered.
//!
//! How it is built: a validated policy becomes the same [`Branch`]es an EventBridge pattern
//! does, so each operator matches a value exactly as in EventBridge ([`Op::matches`]), and the
//! body scope runs the EventBridge [`Matcher`] over the message body. The attribute scope has
//! no JSON to scan: each attribute is turned into the leaf value(s) EventBridge would see if
//! the attributes were a JSON object (`String` → string, `Number` → number, `String.Array` →
//! array) and the branch's slots are checked directly.
//!
//! What SNS does differently from EventBridge (see `docs/filter-policies.md` for the table):
//! - operators: no `wildcard`, no `{"prefix": {"equals-ignore-case": ..}}`, `anything-but`
//!   takes a value, a list, or `{"prefix": ..}` only;
//! - limits: at most 5 keys, at most 150 value combinations (nesting depth multiplies in the
//!   body scope), 256 KB of policy text, numbers within ±10⁹;
//! - the attribute scope refuses nested objects; `Binary` attributes are ignored (as if absent).
//!
//! Error texts: [`FilterPolicyError::reason`] is the text SNS puts after
//! `Invalid parameter: FilterPolicy: `; `Display` gives the whole message. Sources: the SNS
//! developer guide, and the SNS messages that moto and LocalStack assert in their tests.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::{Branch, But, Op, Path, Slot, Value};
use crate::cidr::Cidr;
use crate::json::{self, Json};
use crate::number::comparable;
use crate::{Matcher, MatcherBuilder};

/// Largest policy SNS accepts, in bytes of UTF-8.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;
/// Most keys a policy may name (see [`FilterPolicy::parse`] for how they are counted).
pub const MAX_KEYS: usize = 5;
/// Most value combinations a policy may make.
pub const MAX_COMBINATIONS: u64 = 150;
/// Numbers in a policy must lie within ±this.
pub const NUMBER_BOUND: f64 = 1e9;

/// What a subscription's filter policy applies to (SNS's `FilterPolicyScope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// The message attributes (SNS's default).
    #[default]
    MessageAttributes,
    /// The message body, which must be a JSON object to match.
    MessageBody,
}

/// The data type of a message attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    String,
    /// A JSON array in a string; the attribute matches if any element does.
    StringArray,
    Number,
    /// Ignored by filtering: a `Binary` attribute counts as absent.
    Binary,
}

impl DataType {
    /// Parses SNS's spelling (`String`, `String.Array`, `Number`, `Binary`, with an optional
    /// custom suffix after a dot such as `Number.float`).
    pub fn from_sns(s: &str) -> Option<DataType> {
        if s == "String.Array" {
            return Some(DataType::StringArray);
        }
        let base = s.split('.').next().unwrap_or(s);
        match base {
            "String" => Some(DataType::String),
            "Number" => Some(DataType::Number),
            "Binary" => Some(DataType::Binary),
            _ => None,
        }
    }
}

/// The AWS error code a refusal maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `InvalidParameter` (HTTP 400): the usual answer.
    InvalidParameter,
    /// `InternalFailure` (HTTP 500): what SNS answers for a number outside ±10⁹ (moto's tests
    /// record this; SNS gives no message).
    InternalFailure,
}

/// A policy SNS would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct FilterPolicyError {
    code: ErrorCode,
    reason: String,
    /// The reason is the whole text after `Invalid parameter: ` (no `FilterPolicy: `).
    bare: bool,
}

impl FilterPolicyError {
    fn new(reason: impl Into<String>) -> Self {
        FilterPolicyError {
            code: ErrorCode::InvalidParameter,
            reason: reason.into(),
            bare: false,
        }
    }

    /// The AWS error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The text after `Invalid parameter: FilterPolicy: ` (for the nested-scope refusal, the
    /// text after `Invalid parameter: `).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The whole message as SNS words it for `SetSubscriptionAttributes`; `Subscribe` puts
    /// `Attributes Reason: ` after `Invalid parameter: `.
    pub fn message(&self) -> String {
        match (self.code, self.bare) {
            (ErrorCode::InternalFailure, _) => self.reason.clone(),
            (_, true) => format!("Invalid parameter: {}", self.reason),
            (_, false) => format!("Invalid parameter: FilterPolicy: {}", self.reason),
        }
    }
}

type Res<T> = Result<T, FilterPolicyError>;

fn e(reason: impl Into<String>) -> FilterPolicyError {
    FilterPolicyError::new(reason)
}

fn internal() -> FilterPolicyError {
    FilterPolicyError {
        code: ErrorCode::InternalFailure,
        reason: "Internal Failure".into(),
        bare: false,
    }
}

/// A validated SNS filter policy.
#[derive(Debug, Clone)]
pub struct FilterPolicy {
    scope: Scope,
    branches: Arc<Vec<Branch>>,
    /// Body scope only: the EventBridge matcher over the branches.
    matcher: Option<Arc<Matcher>>,
}

impl FilterPolicy {
    /// Parses and validates `src` for `scope`.
    ///
    /// Keys are counted per `$or` alternative: the distinct top-level keys one alternative
    /// tests (with no `$or`, simply the top-level keys); nested keys under a top-level key do
    /// not count (the SNS guide's "Key counting" section). Combinations multiply the length of
    /// each value array, times its nesting depth in the body scope (the guide's `3 x 4 x 2 x 3`
    /// example); the alternatives of `$or` add up.
    pub fn parse(src: &str, scope: Scope) -> Res<FilterPolicy> {
        if src.len() > MAX_POLICY_BYTES {
            return Err(e("Filter policy is too long"));
        }
        let root = json::parse(src).map_err(|_| e("failed to parse JSON"))?;
        let Json::Object(members) = &root else {
            return Err(e("Filter policy must be a JSON object"));
        };
        let mut branches = vec![Branch::default()];
        let combos = object(members, "", 1, scope, &mut branches)?;
        if branches.iter().any(|b| top_level_keys(b) > MAX_KEYS) {
            return Err(e("Filter policy can not have more than 5 keys"));
        }
        if combos > MAX_COMBINATIONS {
            return Err(e("Filter policy is too complex"));
        }
        let branches = Arc::new(branches);
        let matcher = (scope == Scope::MessageBody).then(|| {
            let mut b = MatcherBuilder::new();
            b.add_branches(0, branches.clone());
            Arc::new(b.build())
        });
        Ok(FilterPolicy {
            scope,
            branches,
            matcher,
        })
    }

    /// The scope the policy was parsed for.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Does a message with these attributes pass? (Attribute scope; a body-scope policy
    /// answers `false`.)
    pub fn matches_attributes<S: AsRef<str>>(
        &self,
        attrs: &HashMap<String, (DataType, S)>,
    ) -> bool {
        self.matches_attributes_with(|name| attrs.get(name).map(|(t, v)| (*t, v.as_ref())))
    }

    /// [`FilterPolicy::matches_attributes`] with any lookup from attribute name to its data
    /// type and string value.
    pub fn matches_attributes_with<'a>(
        &self,
        lookup: impl Fn(&str) -> Option<(DataType, &'a str)>,
    ) -> bool {
        if self.scope != Scope::MessageAttributes {
            return false;
        }
        self.branches.iter().any(|b| {
            b.fields.iter().all(|(path, slot)| {
                let name = std::str::from_utf8(&path.0[0]).unwrap_or_default();
                match lookup(name) {
                    None | Some((DataType::Binary, _)) => slot.absent_ok,
                    Some((t, v)) => attribute_matches(slot, t, v),
                }
            })
        })
    }

    /// Does a message with this body pass? (Body scope; the body must be a JSON object. An
    /// attribute-scope policy answers `false`.)
    pub fn matches_body(&self, body: &str) -> bool {
        let Some(m) = &self.matcher else {
            return false;
        };
        if !matches!(
            json::validate(body, json::MAX_DEPTH),
            Ok(json::TopLevel::Object)
        ) {
            return false;
        }
        let mut out = Vec::with_capacity(1);
        m.matches(body.as_bytes(), &mut out).is_ok() && !out.is_empty()
    }
}

/// Distinct first path segments of a branch.
fn top_level_keys(b: &Branch) -> usize {
    let mut firsts: Vec<&[u8]> = b.fields.iter().map(|(p, _)| &*p.0[0]).collect();
    firsts.sort_unstable();
    firsts.dedup();
    firsts.len()
}

fn attribute_matches(slot: &Slot, t: DataType, v: &str) -> bool {
    match t {
        DataType::String => slot
            .ops
            .iter()
            .any(|op| op.matches(&Value::Str(v.as_bytes()))),
        DataType::Number => {
            let n = Value::Num(v.as_bytes(), comparable(v.as_bytes()));
            slot.ops.iter().any(|op| op.matches(&n))
        }
        DataType::StringArray => {
            let Ok(Json::Array(items)) = json::parse(v) else {
                return false;
            };
            if items.is_empty() {
                // As in EventBridge: an empty array is no value at all.
                return slot.absent_ok;
            }
            items.iter().any(|item| {
                let val = match item {
                    Json::String(s) => Value::Str(s.as_bytes()),
                    Json::Number(raw) => Value::Num(raw.as_bytes(), comparable(raw.as_bytes())),
                    Json::Bool(b) => Value::Bool(*b),
                    Json::Null => Value::Null,
                    Json::Array(_) | Json::Object(_) => return false,
                };
                slot.ops.iter().any(|op| op.matches(&val))
            })
        }
        DataType::Binary => slot.absent_ok,
    }
}

/// Validates one policy object, adding its fields to every branch; returns its combinations.
fn object(
    members: &[(String, Json)],
    prefix: &str,
    depth: u64,
    scope: Scope,
    branches: &mut Vec<Branch>,
) -> Res<u64> {
    let mut combos: u64 = 1;
    for (key, value) in members {
        if key == "$or" {
            combos = combos.saturating_mul(or(value, prefix, depth, scope, branches)?);
            continue;
        }
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Json::Object(inner) => {
                if scope == Scope::MessageAttributes {
                    return Err(FilterPolicyError {
                        code: ErrorCode::InvalidParameter,
                        reason:
                            "Filter policy scope MessageAttributes does not support nested filter policy"
                                .into(),
                        bare: true,
                    });
                }
                if inner.is_empty() {
                    return Err(e("Empty objects are not allowed"));
                }
                combos = combos.saturating_mul(object(inner, &path, depth + 1, scope, branches)?);
            }
            Json::Array(items) => {
                let slot = leaf(items)?;
                combos = combos.saturating_mul((items.len() as u64).saturating_mul(
                    if scope == Scope::MessageBody {
                        depth
                    } else {
                        1
                    },
                ));
                let p = Path::from_dotted(&path);
                for b in branches.iter_mut() {
                    match b.fields.iter_mut().find(|(q, _)| *q == p) {
                        Some(existing) => existing.1 = slot.clone(),
                        None => b.fields.push((p.clone(), slot.clone())),
                    }
                }
            }
            _ => return Err(e(format!("\"{key}\" must be an object or an array"))),
        }
    }
    Ok(combos)
}

fn or(
    value: &Json,
    prefix: &str,
    depth: u64,
    scope: Scope,
    branches: &mut Vec<Branch>,
) -> Res<u64> {
    let Json::Array(alts) = value else {
        return Err(e("\"$or\" must be an object or an array"));
    };
    if alts.is_empty() {
        return Err(e("Empty arrays are not allowed"));
    }
    let mut out = Vec::new();
    let mut sum: u64 = 0;
    for alt in alts {
        let Json::Object(members) = alt else {
            return Err(e(
                "Only JSON object is allowed in array of $or relationship.",
            ));
        };
        let mut copy = branches.clone();
        sum = sum.saturating_add(object(members, prefix, depth, scope, &mut copy)?);
        out.extend(copy);
        if out.len() as u64 > MAX_COMBINATIONS {
            return Err(e("Filter policy is too complex"));
        }
    }
    if alts.len() < 2 {
        return Err(e("There must have at least 2 Objects in $or relationship."));
    }
    *branches = out;
    Ok(sum)
}

fn number(raw: &str) -> Res<f64> {
    match comparable(raw.as_bytes()) {
        Some(v) if v.abs() <= NUMBER_BOUND => Ok(v),
        _ => Err(internal()),
    }
}

fn leaf(items: &[Json]) -> Res<Slot> {
    if items.is_empty() {
        return Err(e("Empty arrays are not allowed"));
    }
    let mut slot = Slot::default();
    for item in items {
        match item {
            Json::String(s) => slot.ops.push(Op::Str(s.as_bytes().into())),
            Json::Number(raw) => {
                let v = number(raw)?;
                slot.ops.push(Op::Num {
                    value: Some(v),
                    raw: raw.as_bytes().into(),
                })
            }
            Json::Bool(b) => slot.ops.push(Op::Bool(*b)),
            Json::Null => slot.ops.push(Op::Null),
            Json::Object(m) => match expression(m)? {
                None => slot.absent_ok = true,
                Some(op) => slot.ops.push(op),
            },
            Json::Array(_) => {
                return Err(e(
                    "Match value must be String, number, true, false, or null",
                ));
            }
        }
    }
    Ok(slot)
}

/// One `{"operator": operand}` object; `None` means `exists: false`.
fn expression(m: &[(String, Json)]) -> Res<Option<Op>> {
    let Some((name, operand)) = m.first() else {
        return Err(e("Match expression name not found"));
    };
    let string = |what: &str| match operand {
        Json::String(s) => Ok(s.as_bytes()),
        _ => Err(e(format!("{what} match pattern must be a string"))),
    };
    let op = match name.as_str() {
        "prefix" => Some(Op::Prefix(string("prefix")?.into())),
        "suffix" => Some(Op::Suffix(string("suffix")?.into())),
        "equals-ignore-case" => Some(Op::EqCi(crate::ci::CiPat::new(
            std::str::from_utf8(string("equals-ignore-case")?).unwrap_or_default(),
        ))),
        "exists" => match operand {
            Json::Bool(true) => Some(Op::Exists),
            Json::Bool(false) => None,
            _ => return Err(e("exists match pattern must be either true or false.")),
        },
        "numeric" => match operand {
            Json::Array(items) => {
                let r = crate::parse::numeric(items).map_err(e)?;
                for bound in [r.lo, r.hi] {
                    if bound.is_finite() && bound.abs() > NUMBER_BOUND {
                        return Err(internal());
                    }
                }
                Some(Op::Range(r))
            }
            _ => return Err(e("Value of numeric must be an array.")),
        },
        "cidr" => Some(Op::Cidr(cidr(operand)?)),
        "anything-but" => Some(Op::But(anything_but(operand)?)),
        other => return Err(e(format!("Unrecognized match type {other}"))),
    };
    if m.len() > 1 {
        return Err(e("Only one key allowed in match expression"));
    }
    Ok(op)
}

fn cidr(operand: &Json) -> Res<Cidr> {
    // SNS answers a non-string `cidr` operand with the `prefix` text (LocalStack records it).
    let Json::String(s) = operand else {
        return Err(e("prefix match pattern must be a string"));
    };
    let Some((ip, mask)) = s.split_once('/').filter(|(_, m)| !m.contains('/')) else {
        return Err(e("Malformed CIDR, one '/' required"));
    };
    if mask.is_empty() || !mask.bytes().all(|c| c.is_ascii_digit()) {
        return Err(e("Malformed CIDR, mask bits must be an integer"));
    }
    Cidr::parse(s).ok_or_else(|| e(format!("Nonstandard IP address: {ip}")))
}

fn anything_but(operand: &Json) -> Res<But> {
    let not_simple = || e("Value of anything-but must be an array or single string/number value.");
    match operand {
        Json::String(s) => Ok(But::Strs(vec![s.as_bytes().into()])),
        Json::Number(raw) => Ok(But::Nums(vec![number(raw)?])),
        Json::Array(items) if items.is_empty() => Err(e("Empty arrays are not allowed")),
        Json::Array(items) => {
            if items.iter().all(|v| matches!(v, Json::String(_))) {
                Ok(But::Strs(
                    items
                        .iter()
                        .filter_map(|v| match v {
                            Json::String(s) => Some(s.as_bytes().into()),
                            _ => None,
                        })
                        .collect(),
                ))
            } else if items.iter().all(|v| matches!(v, Json::Number(_))) {
                let mut nums = Vec::with_capacity(items.len());
                for v in items {
                    if let Json::Number(raw) = v {
                        nums.push(number(raw)?);
                    }
                }
                Ok(But::Nums(nums))
            } else if items
                .iter()
                .any(|v| !matches!(v, Json::String(_) | Json::Number(_)))
            {
                Err(e(
                    "Inside anything but list, start|null|boolean is not supported.",
                ))
            } else {
                Err(e(
                    "Inside anything but list, either all values are number or string, mixed type is not supported",
                ))
            }
        }
        Json::Object(m) => {
            let Some((name, inner)) = m.first() else {
                return Err(e("Anything-But expression name not found"));
            };
            if name != "prefix" {
                return Err(e(format!("Unsupported anything-but pattern: {name}")));
            }
            if m.len() > 1 {
                return Err(e("Only one key allowed in match expression"));
            }
            let Json::String(p) = inner else {
                return Err(e("prefix match pattern must be a string"));
            };
            if p.is_empty() {
                return Err(e("Null prefix/suffix not allowed"));
            }
            Ok(But::Prefix(vec![p.as_bytes().into()]))
        }
        _ => Err(not_simple()),
    }
}

#[cfg(test)]
mod tests;
