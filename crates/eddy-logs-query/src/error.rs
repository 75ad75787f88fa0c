//! The one error a query can fail with: what was wrong and where (1-based line and column).

/// Why a query string was refused, with the position of the offending symbol.
///
/// Displayed the way Insights words a malformed query:
/// `Invalid query: unexpected symbol `)` at line 1, col 12`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid query: {message} at line {line}, col {col}")]
pub struct QueryError {
    /// What was wrong, lowercase, identifiers in backticks.
    pub message: String,
    /// 1-based line of the offending symbol.
    pub line: usize,
    /// 1-based column (in characters) of the offending symbol.
    pub col: usize,
}

impl QueryError {
    /// An error at byte offset `at` of `source`.
    pub(crate) fn at(source: &str, at: usize, message: impl Into<String>) -> Self {
        let at = at.min(source.len());
        let before = &source[..at];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        QueryError {
            message: message.into(),
            line,
            col,
        }
    }
}
