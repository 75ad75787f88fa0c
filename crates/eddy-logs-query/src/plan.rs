//! The planner: checks how commands combine, binds every field name to where its value comes
//! from, and splits the pipeline into per-record steps, an optional `stats`, and the steps on
//! result rows (`sort`, `limit`, and after `stats` also `filter` and `fields`).

use std::collections::HashMap;

use crate::ast::{Aggregate, Command, Expr, Field, Located, Named, ParsePattern, Slot, SortKey};
use crate::error::QueryError;

/// Insights returns at most this many rows, and this many when no `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 10_000;

#[derive(Debug, Clone)]
pub(crate) enum RecordOp {
    Parse {
        source: Expr,
        pattern: ParsePattern,
        slots: Vec<usize>,
    },
    Assign {
        slot: usize,
        expr: Expr,
    },
    Filter(Expr),
}

/// Steps on result rows, in the order written.
#[derive(Debug, Clone)]
pub(crate) enum TailOp {
    /// Sort by the key group with this index (`Plan::sorts`).
    Sort(usize),
    Limit(usize),
    /// After `stats` only.
    Filter(Expr),
    /// After `stats` only: compute a new column.
    Assign {
        column: usize,
        expr: Expr,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct StatsPlan {
    pub by: Vec<Expr>,
    pub aggs: Vec<Aggregate>,
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub record_ops: Vec<RecordOp>,
    pub slots: usize,
    pub stats: Option<StatsPlan>,
    /// Without `stats`: the output columns as expressions over the record. With `stats`: the
    /// result columns (`by` names, aggregate names, then columns `fields` computed).
    pub columns: Vec<Named>,
    /// The columns returned, as indices into `columns`.
    pub output: Vec<usize>,
    pub sorts: Vec<Vec<SortKey>>,
    pub tail: Vec<TailOp>,
}

struct Scope {
    /// Before `stats`: fields set by `parse`/`fields`, to their slot.
    derived: HashMap<String, usize>,
    /// After `stats`: result columns by name.
    columns: Option<HashMap<String, usize>>,
}

impl Scope {
    /// Binds a field; `Err` with the offset of an aggregate call that names no column.
    fn bind(&self, field: &mut Field) -> Result<(), usize> {
        if let Slot::AggregateCall(at) = field.slot {
            let column = self.columns.as_ref().and_then(|c| c.get(&field.name));
            field.slot = Slot::Column(*column.ok_or(at)?);
            return Ok(());
        }
        field.slot = match &self.columns {
            Some(columns) => columns
                .get(&field.name)
                .map_or(Slot::Absent, |&i| Slot::Column(i)),
            None => match self.derived.get(&field.name) {
                Some(&i) => Slot::Derived(i),
                None => builtin(&field.name).unwrap_or(if field.name.starts_with('@') {
                    Slot::Absent
                } else {
                    Slot::Json
                }),
            },
        };
        Ok(())
    }

    fn bind_expr(&self, src: &str, expr: &mut Expr) -> Result<(), QueryError> {
        let mut failed = None;
        expr.fields_mut(&mut |f| {
            if let Err(at) = self.bind(f) {
                failed.get_or_insert((at, f.name.clone()));
            }
        });
        match failed {
            None => Ok(()),
            Some((at, name)) => {
                let func = name.split('(').next().unwrap_or_default();
                let message = if self.columns.is_some() {
                    format!("`{name}` is not a column of the `stats` result")
                } else {
                    format!("aggregate function `{func}` is only allowed in `stats`")
                };
                Err(QueryError::at(src, at, message))
            }
        }
    }
}

fn builtin(name: &str) -> Option<Slot> {
    Some(match name {
        "@timestamp" => Slot::Timestamp,
        "@message" => Slot::Message,
        "@logStream" => Slot::LogStream,
        "@log" => Slot::Log,
        "@ingestionTime" => Slot::IngestionTime,
        _ => return None,
    })
}

fn field_expr(name: &str, slot: Slot) -> Expr {
    Expr::Field(Field {
        name: name.to_string(),
        slot,
    })
}

pub(crate) fn plan(src: &str, commands: Vec<Located>) -> Result<Plan, QueryError> {
    let mut scope = Scope {
        derived: HashMap::new(),
        columns: None,
    };
    let mut plan = Plan {
        record_ops: Vec::new(),
        slots: 0,
        stats: None,
        columns: Vec::new(),
        output: Vec::new(),
        sorts: Vec::new(),
        tail: Vec::new(),
    };
    // Output before `stats`: `display` wins over `fields`, which win over the default.
    let mut fields_out: Vec<Named> = Vec::new();
    let mut display_out: Option<Vec<Named>> = None;
    let mut stats_output: Option<Vec<usize>> = None;
    let mut limited = false;

    for Located { at, command } in commands {
        let in_stats = scope.columns.is_some();
        match command {
            Command::Parse { .. } if in_stats => {
                return Err(QueryError::at(
                    src,
                    at,
                    "`parse` after `stats` is not supported",
                ));
            }
            Command::Parse {
                mut source,
                pattern,
                ..
            } => {
                scope.bind_expr(src, &mut source)?;
                let names = match &pattern {
                    ParsePattern::Glob { names, .. } | ParsePattern::Regex { names, .. } => names,
                };
                let slots: Vec<usize> = names
                    .iter()
                    .map(|name| {
                        plan.slots += 1;
                        scope.derived.insert(name.clone(), plan.slots - 1);
                        plan.slots - 1
                    })
                    .collect();
                plan.record_ops.push(RecordOp::Parse {
                    source,
                    pattern,
                    slots,
                });
            }
            Command::Filter(mut expr) => {
                scope.bind_expr(src, &mut expr)?;
                if in_stats {
                    plan.tail.push(TailOp::Filter(expr));
                } else if limited {
                    return Err(QueryError::at(
                        src,
                        at,
                        "`filter` after `limit` is not supported",
                    ));
                } else {
                    plan.record_ops.push(RecordOp::Filter(expr));
                }
            }
            Command::Fields(list) => {
                let mut listed = Vec::new();
                for Named { name, mut expr } in list {
                    scope.bind_expr(src, &mut expr)?;
                    let plain = matches!(&expr, Expr::Field(f) if f.name == name);
                    if let Some(columns) = &mut scope.columns {
                        let index = if plain {
                            match columns.get(&name) {
                                Some(&i) => i,
                                None => continue,
                            }
                        } else {
                            plan.columns.push(Named {
                                name: name.clone(),
                                expr: Expr::Lit(crate::value::Value::Null),
                            });
                            let column = plan.columns.len() - 1;
                            plan.tail.push(TailOp::Assign { column, expr });
                            columns.insert(name, column);
                            column
                        };
                        let out = stats_output.get_or_insert_with(Vec::new);
                        if !out.contains(&index) {
                            out.push(index);
                        }
                    } else if plain {
                        listed.push(Named { name, expr });
                    } else {
                        let slot = plan.slots;
                        plan.slots += 1;
                        plan.record_ops.push(RecordOp::Assign { slot, expr });
                        scope.derived.insert(name.clone(), slot);
                        listed.push(Named {
                            expr: field_expr(&name, Slot::Derived(slot)),
                            name,
                        });
                    }
                }
                for named in listed {
                    match fields_out.iter_mut().find(|n| n.name == named.name) {
                        Some(existing) => *existing = named,
                        None => fields_out.push(named),
                    }
                }
            }
            Command::Display(list) => {
                if let Some(columns) = &scope.columns {
                    stats_output = Some(
                        list.iter()
                            .filter_map(|f| columns.get(&f.name).copied())
                            .collect(),
                    );
                } else {
                    let mut out = Vec::new();
                    for f in list {
                        let name = f.name.clone();
                        let mut expr = Expr::Field(f);
                        scope.bind_expr(src, &mut expr)?;
                        out.push(Named { name, expr });
                    }
                    display_out = Some(out);
                }
            }
            Command::Stats { .. } if in_stats => {
                return Err(QueryError::at(
                    src,
                    at,
                    "only one `stats` command is supported",
                ));
            }
            Command::Stats { mut aggs, by, .. } => {
                if limited || !plan.tail.is_empty() {
                    return Err(QueryError::at(
                        src,
                        at,
                        "`stats` after `sort` or `limit` is not supported",
                    ));
                }
                let mut columns = HashMap::new();
                let mut by_exprs = Vec::new();
                for Named { name, mut expr } in by {
                    scope.bind_expr(src, &mut expr)?;
                    by_exprs.push(expr);
                    columns.insert(name.clone(), plan.columns.len());
                    plan.columns.push(Named {
                        name,
                        expr: Expr::Lit(crate::value::Value::Null),
                    });
                }
                for agg in &mut aggs {
                    if let Some(arg) = &mut agg.arg {
                        scope.bind_expr(src, arg)?;
                    }
                    columns.insert(agg.name.clone(), plan.columns.len());
                    plan.columns.push(Named {
                        name: agg.name.clone(),
                        expr: Expr::Lit(crate::value::Value::Null),
                    });
                }
                plan.stats = Some(StatsPlan { by: by_exprs, aggs });
                scope.columns = Some(columns);
                // `fields`/`display` before `stats` do not shape a stats result.
                fields_out.clear();
                display_out = None;
            }
            Command::Sort(mut keys) => {
                for key in &mut keys {
                    scope.bind_expr(src, &mut key.expr)?;
                }
                plan.sorts.push(keys);
                plan.tail.push(TailOp::Sort(plan.sorts.len() - 1));
            }
            Command::Limit(n) => {
                limited = true;
                plan.tail.push(TailOp::Limit(n));
            }
        }
    }

    if plan.stats.is_some() {
        plan.output = stats_output.unwrap_or_else(|| {
            // Every column `stats` made, not those `fields` added without listing them.
            let made = plan.stats.as_ref().map_or(0, |s| s.by.len() + s.aggs.len());
            (0..made).collect()
        });
    } else {
        plan.columns = display_out.unwrap_or(if fields_out.is_empty() {
            vec![
                Named {
                    name: "@timestamp".into(),
                    expr: field_expr("@timestamp", Slot::Timestamp),
                },
                Named {
                    name: "@message".into(),
                    expr: field_expr("@message", Slot::Message),
                },
            ]
        } else {
            fields_out
        });
        plan.output = (0..plan.columns.len()).collect();
    }
    Ok(plan)
}
