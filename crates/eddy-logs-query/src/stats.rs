//! `stats`: groups keyed by the `by` values, each with one accumulator per aggregate. Memory
//! is one entry per group, whatever the number of records.

use std::collections::HashMap;

use crate::ast::{Agg, Aggregate};
use crate::value::Value;

#[derive(Debug, Clone)]
enum Acc {
    Count(u64),
    Sum { sum: f64, n: u64 },
    Avg { sum: f64, n: u64 },
    Min(Option<f64>),
    Max(Option<f64>),
}

impl Acc {
    fn new(func: Agg) -> Acc {
        match func {
            Agg::Count => Acc::Count(0),
            Agg::Sum => Acc::Sum { sum: 0.0, n: 0 },
            Agg::Avg => Acc::Avg { sum: 0.0, n: 0 },
            Agg::Min => Acc::Min(None),
            Agg::Max => Acc::Max(None),
        }
    }

    /// Adds one record's value (`None` for `count(*)`).
    fn add(&mut self, value: Option<&Value<'_>>) {
        match self {
            Acc::Count(c) => {
                if value.is_none_or(|v| !v.is_null()) {
                    *c += 1;
                }
            }
            Acc::Sum { sum, n } | Acc::Avg { sum, n } => {
                if let Some(x) = value.and_then(Value::as_num) {
                    *sum += x;
                    *n += 1;
                }
            }
            Acc::Min(m) => {
                if let Some(x) = value.and_then(Value::as_num) {
                    *m = Some(m.map_or(x, |m| m.min(x)));
                }
            }
            Acc::Max(m) => {
                if let Some(x) = value.and_then(Value::as_num) {
                    *m = Some(m.map_or(x, |m| m.max(x)));
                }
            }
        }
    }

    fn result(&self) -> Value<'static> {
        match self {
            Acc::Count(c) => Value::Num(*c as f64),
            Acc::Sum { n: 0, .. } | Acc::Avg { n: 0, .. } => Value::Null,
            Acc::Sum { sum, .. } => Value::Num(*sum),
            Acc::Avg { sum, n } => Value::Num(sum / *n as f64),
            Acc::Min(m) | Acc::Max(m) => m.map_or(Value::Null, Value::Num),
        }
    }
}

struct Group {
    key: Vec<Value<'static>>,
    accs: Vec<Acc>,
}

/// The groups of one `stats`, in the order they were first seen.
pub(crate) struct Groups {
    funcs: Vec<Agg>,
    index: HashMap<Box<[u8]>, usize>,
    groups: Vec<Group>,
    /// The encoded key being looked up, reused between records.
    buf: Vec<u8>,
    /// The last group hit: consecutive records (same `bin`) usually share it.
    last: Option<(Vec<u8>, usize)>,
}

impl Groups {
    pub(crate) fn new(aggs: &[Aggregate]) -> Self {
        Groups {
            funcs: aggs.iter().map(|a| a.func).collect(),
            index: HashMap::new(),
            groups: Vec::new(),
            buf: Vec::new(),
            last: None,
        }
    }

    /// The group for these `by` values (created on first sight).
    pub(crate) fn group(&mut self, key: &[Value<'_>]) -> usize {
        self.buf.clear();
        for v in key {
            encode(v, &mut self.buf);
        }
        if let Some((last, i)) = &self.last
            && *last == self.buf
        {
            return *i;
        }
        let i = match self.index.get(self.buf.as_slice()) {
            Some(&i) => i,
            None => {
                let i = self.groups.len();
                self.groups.push(Group {
                    key: key.iter().cloned().map(Value::into_owned).collect(),
                    accs: self.funcs.iter().map(|f| Acc::new(*f)).collect(),
                });
                self.index.insert(self.buf.clone().into_boxed_slice(), i);
                i
            }
        };
        match &mut self.last {
            Some((last, j)) => {
                last.clear();
                last.extend_from_slice(&self.buf);
                *j = i;
            }
            None => self.last = Some((self.buf.clone(), i)),
        }
        i
    }

    pub(crate) fn add(&mut self, group: usize, agg: usize, value: Option<&Value<'_>>) {
        self.groups[group].accs[agg].add(value);
    }

    /// One row per group: the `by` values then the aggregates. With no `by` and no records,
    /// one row of empty aggregates (`count(*)` is 0).
    pub(crate) fn into_rows(mut self, has_by: bool) -> Vec<Vec<Value<'static>>> {
        if self.groups.is_empty() && !has_by {
            self.groups.push(Group {
                key: Vec::new(),
                accs: self.funcs.iter().map(|f| Acc::new(*f)).collect(),
            });
        }
        self.groups
            .into_iter()
            .map(|g| {
                let mut row = g.key;
                row.extend(g.accs.iter().map(Acc::result));
                row
            })
            .collect()
    }
}

/// A group key's bytes: a type tag, then the value (text length-prefixed).
fn encode(v: &Value<'_>, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0),
        Value::Str(s) => {
            out.push(1);
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Num(n) => {
            out.push(2);
            // 0.0 and -0.0 are one group.
            out.extend_from_slice(&(n + 0.0).to_bits().to_le_bytes());
        }
        Value::Time(t) => {
            out.push(3);
            out.extend_from_slice(&t.to_le_bytes());
        }
        Value::Bool(b) => out.push(4 + u8::from(*b)),
    }
}
