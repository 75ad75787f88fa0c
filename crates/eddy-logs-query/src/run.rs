//! Running a query: records are pushed one at a time, in time order, and only what the output
//! needs is kept (the `stats` groups, or at most `limit` rows while sorting).

use std::borrow::Cow;
use std::cell::OnceCell;
use std::cmp::Ordering;

use crate::ast::{Expr, Slot, SortKey};
use crate::eval::{RecordEnv, RowEnv, eval, run_parse};
use crate::plan::{DEFAULT_LIMIT, Plan, RecordOp, TailOp};
use crate::record::Record;
use crate::stats::Groups;
use crate::value::{Value, sort_order};

/// What a finished query returns, shaped like GetQueryResults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResults {
    /// One row per result; each a list of `(field, value)` in output order. Fields without a
    /// value in that row are left out, as Insights does.
    pub rows: Vec<Vec<(String, String)>>,
    pub statistics: QueryStatistics,
}

/// GetQueryResults's `statistics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryStatistics {
    /// Records that passed every `filter`.
    pub records_matched: u64,
    /// Records pushed.
    pub records_scanned: u64,
    /// Bytes of `@message` pushed.
    pub bytes_scanned: u64,
}

/// A row kept for the output of a query without `stats`.
struct Kept {
    /// The keys of each `sort` of the query.
    keys: Vec<Vec<Value<'static>>>,
    seq: u64,
    columns: Vec<Value<'static>>,
}

enum Sink {
    Stats(Groups),
    /// Keep the first `n` rows.
    First {
        n: usize,
        rows: Vec<Kept>,
    },
    /// Keep the best `n` rows by sort group `sort`: collected up to `2n`, then sorted and cut
    /// back to `n`; `worst` is the last kept key, which later rows must beat.
    Top {
        sort: usize,
        n: usize,
        rows: Vec<Kept>,
        worst: Option<Vec<Value<'static>>>,
    },
}

/// One execution of a [`crate::Query`]: push records, then [`Run::finish`].
pub struct Run<'q> {
    plan: &'q Plan,
    slots: Vec<Value<'static>>,
    stats: QueryStatistics,
    sink: Sink,
    /// The tail steps the sink did not already apply while collecting.
    rest: &'q [TailOp],
}

impl<'q> Run<'q> {
    pub(crate) fn new(plan: &'q Plan) -> Self {
        let (sink, used) = match (&plan.stats, plan.tail.as_slice()) {
            (Some(stats), _) => (Sink::Stats(Groups::new(&stats.aggs)), 0),
            (None, [TailOp::Limit(n), ..]) => (
                Sink::First {
                    n: (*n).min(DEFAULT_LIMIT),
                    rows: Vec::new(),
                },
                1,
            ),
            (None, [TailOp::Sort(s), TailOp::Limit(n), ..]) => (top(*s, *n), 2),
            (None, [TailOp::Sort(s), ..]) => (top(*s, DEFAULT_LIMIT), 1),
            (None, _) => (
                Sink::First {
                    n: DEFAULT_LIMIT,
                    rows: Vec::new(),
                },
                0,
            ),
        };
        Run {
            plan,
            slots: vec![Value::Null; plan.slots],
            stats: QueryStatistics::default(),
            sink,
            rest: &plan.tail[used..],
        }
    }

    /// Feeds one record. Records should come in time order (as a log stream holds them);
    /// only `sort` reorders output.
    pub fn push(&mut self, record: &Record<'_>) {
        self.stats.records_scanned += 1;
        self.stats.bytes_scanned += record.message.len() as u64;
        let json = OnceCell::new();
        for op in &self.plan.record_ops {
            match op {
                RecordOp::Parse {
                    source,
                    pattern,
                    slots,
                } => {
                    let text: Cow<'_, str> = match source {
                        Expr::Field(f) if f.slot == Slot::Message => Cow::Borrowed(record.message),
                        _ => {
                            let env = RecordEnv {
                                record,
                                slots: &self.slots,
                                json: &json,
                            };
                            Cow::Owned(eval(source, &env).as_text().into_owned())
                        }
                    };
                    run_parse(pattern, &text, &mut self.slots, slots);
                }
                RecordOp::Assign { slot, expr } => {
                    let env = RecordEnv {
                        record,
                        slots: &self.slots,
                        json: &json,
                    };
                    let v = eval(expr, &env).into_owned();
                    self.slots[*slot] = v;
                }
                RecordOp::Filter(expr) => {
                    let env = RecordEnv {
                        record,
                        slots: &self.slots,
                        json: &json,
                    };
                    if !eval(expr, &env).truthy() {
                        return;
                    }
                }
            }
        }
        self.stats.records_matched += 1;
        let seq = self.stats.records_matched;
        let env = RecordEnv {
            record,
            slots: &self.slots,
            json: &json,
        };
        let plan = self.plan;
        match &mut self.sink {
            Sink::Stats(groups) => {
                let Some(stats) = &plan.stats else { return };
                let key: Vec<Value<'_>> = stats.by.iter().map(|e| eval(e, &env)).collect();
                let g = groups.group(&key);
                for (i, agg) in stats.aggs.iter().enumerate() {
                    match &agg.arg {
                        None => groups.add(g, i, None),
                        Some(e) => groups.add(g, i, Some(&eval(e, &env))),
                    }
                }
            }
            Sink::First { n, rows } => {
                if rows.len() < *n {
                    rows.push(keep(plan, &env, seq));
                }
            }
            Sink::Top {
                sort,
                n,
                rows,
                worst,
            } => {
                let spec = &plan.sorts[*sort];
                if let Some(worst) = worst {
                    let keys: Vec<Value<'_>> = spec.iter().map(|k| eval(&k.expr, &env)).collect();
                    // Ties go to the earlier record, so an equal key loses too.
                    if cmp_keys(spec, &keys, worst) != Ordering::Less {
                        return;
                    }
                }
                rows.push(keep(plan, &env, seq));
                if rows.len() >= 2 * *n {
                    sort_rows(rows, spec, *sort);
                    rows.truncate(*n);
                    *worst = rows.last().map(|r| r.keys[*sort].clone());
                }
            }
        }
    }

    /// Ends the run: applies the remaining `sort`/`limit` (and, after `stats`, `filter` and
    /// `fields`) steps and renders the rows.
    pub fn finish(self) -> QueryResults {
        let plan = self.plan;
        let mut rows: Vec<Vec<Value<'static>>> = match self.sink {
            Sink::Stats(groups) => {
                let has_by = plan.stats.as_ref().is_some_and(|s| !s.by.is_empty());
                let mut rows = groups.into_rows(has_by);
                for row in &mut rows {
                    row.resize(plan.columns.len(), Value::Null);
                }
                stats_tail(plan, self.rest, rows)
            }
            Sink::First { rows, .. } => rows_tail(plan, self.rest, rows, None),
            Sink::Top { sort, n, rows, .. } => rows_tail(plan, self.rest, rows, Some((sort, n))),
        };
        rows.truncate(DEFAULT_LIMIT);
        let rows = rows
            .into_iter()
            .map(|row| {
                plan.output
                    .iter()
                    .filter_map(|&i| {
                        let value = row.get(i)?.render()?;
                        Some((plan.columns[i].name.clone(), value))
                    })
                    .collect()
            })
            .collect();
        QueryResults {
            rows,
            statistics: self.stats,
        }
    }
}

fn top(sort: usize, n: usize) -> Sink {
    Sink::Top {
        sort,
        n: n.min(DEFAULT_LIMIT),
        rows: Vec::new(),
        worst: None,
    }
}

fn keep<'r>(plan: &'r Plan, env: &RecordEnv<'r>, seq: u64) -> Kept {
    Kept {
        keys: plan
            .sorts
            .iter()
            .map(|spec| {
                spec.iter()
                    .map(|k| eval(&k.expr, env).into_owned())
                    .collect()
            })
            .collect(),
        seq,
        columns: plan
            .columns
            .iter()
            .map(|c| eval(&c.expr, env).into_owned())
            .collect(),
    }
}

/// Orders keys by a sort spec; absent values go last whichever the direction.
fn cmp_keys(spec: &[SortKey], a: &[Value<'_>], b: &[Value<'_>]) -> Ordering {
    for ((k, x), y) in spec.iter().zip(a).zip(b) {
        let o = match (x.is_null(), y.is_null()) {
            (false, false) if k.desc => sort_order(y, x),
            _ => sort_order(x, y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn sort_rows(rows: &mut [Kept], spec: &[SortKey], sort: usize) {
    rows.sort_by(|a, b| cmp_keys(spec, &a.keys[sort], &b.keys[sort]).then(a.seq.cmp(&b.seq)));
}

/// `top`: the sort the sink applied while collecting, and how many rows it keeps.
fn rows_tail(
    plan: &Plan,
    rest: &[TailOp],
    mut rows: Vec<Kept>,
    top: Option<(usize, usize)>,
) -> Vec<Vec<Value<'static>>> {
    if let Some((sort, n)) = top {
        sort_rows(&mut rows, &plan.sorts[sort], sort);
        rows.truncate(n);
    }
    for op in rest {
        match op {
            TailOp::Sort(s) => {
                let spec = &plan.sorts[*s];
                // Stable: rows equal under this sort keep their order.
                rows.sort_by(|a, b| cmp_keys(spec, &a.keys[*s], &b.keys[*s]));
            }
            TailOp::Limit(n) => rows.truncate(*n),
            TailOp::Filter(_) | TailOp::Assign { .. } => {}
        }
    }
    rows.into_iter().map(|k| k.columns).collect()
}

fn stats_tail(
    plan: &Plan,
    rest: &[TailOp],
    mut rows: Vec<Vec<Value<'static>>>,
) -> Vec<Vec<Value<'static>>> {
    for op in rest {
        match op {
            TailOp::Filter(expr) => {
                rows.retain(|row| eval(expr, &RowEnv { columns: row }).truthy());
            }
            TailOp::Assign { column, expr } => {
                for row in &mut rows {
                    let v = eval(expr, &RowEnv { columns: row }).into_owned();
                    row[*column] = v;
                }
            }
            TailOp::Sort(s) => {
                let spec = &plan.sorts[*s];
                let mut keyed: Vec<(Vec<Value<'static>>, Vec<Value<'static>>)> = rows
                    .into_iter()
                    .map(|row| {
                        let env = RowEnv { columns: &row };
                        let keys = spec
                            .iter()
                            .map(|k| eval(&k.expr, &env).into_owned())
                            .collect();
                        (keys, row)
                    })
                    .collect();
                keyed.sort_by(|a, b| cmp_keys(spec, &a.0, &b.0));
                rows = keyed.into_iter().map(|(_, row)| row).collect();
            }
            TailOp::Limit(n) => rows.truncate(*n),
        }
    }
    rows
}
