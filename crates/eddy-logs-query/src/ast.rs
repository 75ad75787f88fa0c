//! The parsed form of a query: commands as written, and the expressions inside them. Field
//! references start unresolved; the planner binds each to where its value comes from.

use crate::functions::{BinUnit, Func};
use crate::matcher::Matcher;
use crate::value::Value;

/// Where a field's value comes from, decided by the planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Unresolved,
    Timestamp,
    Message,
    LogStream,
    Log,
    IngestionTime,
    /// A field set by an earlier `parse` or `fields` command.
    Derived(usize),
    /// A field of the message's JSON object (its name is the dotted path).
    Json,
    /// A column of a `stats` result.
    Column(usize),
    /// An aggregate call written outside `stats` (`sort count(*) desc`), at this offset: after
    /// `stats` it names the column of the same text; before, it is an error.
    AggregateCall(usize),
    /// A name nothing defines (an unknown `@` field, or a missing column): always absent.
    Absent,
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub name: String,
    pub slot: Slot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Field(Field),
    Lit(Value<'static>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Like {
        negated: bool,
        expr: Box<Expr>,
        pattern: Matcher,
    },
    In {
        negated: bool,
        expr: Box<Expr>,
        list: Vec<Expr>,
    },
    Call(Func, Vec<Expr>),
    /// `bin(5m)`: `@timestamp` floored to the unit.
    Bin(BinUnit),
}

impl Expr {
    /// Every field reference in the expression, for the planner to bind.
    pub(crate) fn fields_mut(&mut self, f: &mut dyn FnMut(&mut Field)) {
        match self {
            Expr::Field(field) => f(field),
            Expr::Lit(_) | Expr::Bin(_) => {}
            Expr::Not(e) | Expr::Neg(e) | Expr::Like { expr: e, .. } => e.fields_mut(f),
            Expr::Binary(_, a, b) => {
                a.fields_mut(f);
                b.fields_mut(f);
            }
            Expr::In { expr, list, .. } => {
                expr.fields_mut(f);
                list.iter_mut().for_each(|e| e.fields_mut(f));
            }
            Expr::Call(_, args) => args.iter_mut().for_each(|e| e.fields_mut(f)),
        }
    }
}

/// An expression with the name its result is shown under (its `as` alias, else its text).
#[derive(Debug, Clone)]
pub(crate) struct Named {
    pub name: String,
    pub expr: Expr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Agg {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

#[derive(Debug, Clone)]
pub(crate) struct Aggregate {
    pub name: String,
    pub func: Agg,
    /// `None` for `count(*)` (and `count()`).
    pub arg: Option<Expr>,
}

#[derive(Debug, Clone)]
pub(crate) struct SortKey {
    pub expr: Expr,
    pub desc: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum ParsePattern {
    /// `"user=* action=*"` and the names bound to each `*`, in order.
    Glob {
        parts: Vec<String>,
        names: Vec<String>,
    },
    /// `/(?<user>\w+)/`: named groups become fields.
    Regex {
        re: regex_lite::Regex,
        names: Vec<String>,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum Command {
    Fields(Vec<Named>),
    Display(Vec<Field>),
    Filter(Expr),
    Parse {
        source: Expr,
        pattern: ParsePattern,
    },
    Stats {
        aggs: Vec<Aggregate>,
        by: Vec<Named>,
    },
    Sort(Vec<SortKey>),
    Limit(usize),
}

/// A command with the offset where its keyword starts (for errors the planner reports).
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub at: usize,
    pub command: Command,
}
