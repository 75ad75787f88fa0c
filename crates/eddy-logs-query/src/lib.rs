//! eddy-logs-query: the common subset of CloudWatch Logs Insights' query language, parsed and
//! run over log records. Pure: no I/O, no clock; the Logs adapter feeds it records.
//!
//! What it is: `fields`, `display`, `filter`, `parse` (glob and regex), `stats` (`count`,
//! `sum`, `avg`, `min`, `max`, `by` fields and `bin(..)`), `sort` and `limit`, piped with `|`,
//! over `@timestamp`, `@message`, `@logStream`, `@log`, `@ingestionTime` and the fields of
//! JSON messages. What it is not: the rest of Insights (`dedup`, `pattern`, `diff`, ...,
//! refused with a [`QueryError`] naming the command), nor the Logs API itself.
//!
//! Runs stream: [`Query::start`] gives a [`Run`] that takes records one at a time in time
//! order and keeps only what the output needs (the `stats` groups, or at most `limit` rows —
//! [`DEFAULT_LIMIT`] when none is given — while sorting).
//!
//! ```
//! use eddy_logs_query::{Query, Record};
//!
//! let query = Query::parse("filter @message like /ERROR/ | stats count(*) as errors by bin(5m)")?;
//! let mut run = query.start();
//! run.push(&Record {
//!     timestamp: 1_704_067_200_000,
//!     ingestion_time: 1_704_067_200_100,
//!     message: "ERROR disk full",
//!     log_stream: "web-1",
//!     log_group: "/app",
//! });
//! let results = run.finish();
//! assert_eq!(
//!     results.rows,
//!     vec![vec![
//!         ("bin(5m)".to_string(), "2024-01-01 00:00:00.000".to_string()),
//!         ("errors".to_string(), "1".to_string()),
//!     ]]
//! );
//! # Ok::<(), eddy_logs_query::QueryError>(())
//! ```
//!
//! Layout: `lexer` → `parser` (commands, `ast`) → `plan` (binds names, splits the pipeline)
//! → `run` (per-record steps in `eval`, `stats`, sinks); `value` and `functions` are shared.

mod ast;
mod error;
mod eval;
mod functions;
mod lexer;
mod matcher;
mod parser;
mod plan;
mod record;
mod run;
mod stats;
mod value;

pub use error::QueryError;
pub use plan::DEFAULT_LIMIT;
pub use record::Record;
pub use run::{QueryResults, QueryStatistics, Run};
pub use value::format_timestamp;

/// A parsed and planned query, reusable for any number of runs.
#[derive(Debug, Clone)]
pub struct Query {
    plan: plan::Plan,
}

impl Query {
    /// Parses a Logs Insights query string.
    pub fn parse(query: &str) -> Result<Query, QueryError> {
        let commands = parser::parse(query)?;
        Ok(Query {
            plan: plan::plan(query, commands)?,
        })
    }

    /// Starts a run; push records into it, then finish it.
    pub fn start(&self) -> Run<'_> {
        Run::new(&self.plan)
    }

    /// Runs over all `records` at once.
    pub fn run<'a>(&self, records: impl IntoIterator<Item = Record<'a>>) -> QueryResults {
        let mut run = self.start();
        for record in records {
            run.push(&record);
        }
        run.finish()
    }

    /// The names of the fields the results carry, in order.
    pub fn output_fields(&self) -> Vec<&str> {
        self.plan
            .output
            .iter()
            .map(|&i| self.plan.columns[i].name.as_str())
            .collect()
    }
}

impl std::str::FromStr for Query {
    type Err = QueryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Query::parse(s)
    }
}
