//! Why an expression was rejected, and the texts AWS answers with.

use std::fmt;

/// The exact message EventBridge's `PutRule` answers (as a `ValidationException`) for any
/// schedule expression it does not accept. AWS gives no reason, whatever the fault.
///
/// Verified text: seen verbatim in many public bug reports of `PutRule` failures
/// (`rate(3 minute)`, `cron(*/60 * * * ? *)`, five-field cron, `cron(7 20 * * 1-7 *)`).
pub const RULE_INVALID_MESSAGE: &str = "Parameter ScheduleExpression is not valid.";

/// The six fields of a cron expression, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CronField {
    Minutes,
    Hours,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

impl CronField {
    /// All fields in expression order.
    pub const ALL: [CronField; 6] = [
        CronField::Minutes,
        CronField::Hours,
        CronField::DayOfMonth,
        CronField::Month,
        CronField::DayOfWeek,
        CronField::Year,
    ];

    /// The field's name as AWS's documentation spells it (lower case).
    pub fn name(self) -> &'static str {
        match self {
            CronField::Minutes => "minutes",
            CronField::Hours => "hours",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
            CronField::Year => "year",
        }
    }

    /// Smallest and largest numeric value of the field.
    pub fn bounds(self) -> (u32, u32) {
        match self {
            CronField::Minutes => (0, 59),
            CronField::Hours => (0, 23),
            CronField::DayOfMonth => (1, 31),
            CronField::Month => (1, 12),
            CronField::DayOfWeek => (1, 7),
            CronField::Year => (1970, 2199),
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a schedule expression is invalid.
///
/// The `Display` texts are eddy's own (precise, lower case, naming the field); AWS itself gives
/// no reason. To answer like AWS, use [`ScheduleError::rule_message`] for EventBridge rules and
/// [`ScheduleError::scheduler_message`] for EventBridge Scheduler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Not `rate(...)`, `cron(...)` or `at(...)`.
    #[error(
        "schedule expression must be `rate(value unit)`, `cron(fields)` or `at(yyyy-mm-ddThh:mm:ss)`"
    )]
    UnknownForm,
    /// `rate(...)` without exactly a value and a unit.
    #[error("rate expression must be `rate(value unit)`")]
    RateSyntax,
    /// The rate value is not a positive integer (or is too large).
    #[error("rate value `{0}` must be a positive integer no larger than 4294967295")]
    RateValue(String),
    /// The rate unit is not minute(s), hour(s) or day(s).
    #[error("rate unit `{0}` must be one of `minute`, `minutes`, `hour`, `hours`, `day`, `days`")]
    RateUnit(String),
    /// Singular unit with a value other than 1, or plural unit with 1.
    #[error(
        "rate unit `{unit}` does not agree with value {value}: use the singular unit iff the value is 1"
    )]
    RatePlural { value: u32, unit: String },
    /// A cron expression without exactly six fields.
    #[error(
        "cron expression must have 6 fields (minutes hours day-of-month month day-of-week year), found {0}"
    )]
    CronFieldCount(usize),
    /// One field is malformed or out of range.
    #[error("cron `{field}` field `{text}` is not valid: {reason}")]
    CronField {
        field: CronField,
        text: String,
        reason: String,
    },
    /// Day-of-month and day-of-week are both `?` or neither is.
    #[error(
        "cron expression must have `?` in exactly one of the `day-of-month` and `day-of-week` fields"
    )]
    CronDayConflict,
    /// `at(...)` not in the `yyyy-mm-ddThh:mm:ss` shape.
    #[error("at expression must be `at(yyyy-mm-ddThh:mm:ss)` (no offset or fraction)")]
    AtSyntax,
    /// `at(...)` in the right shape naming a date or time that does not exist (e.g. Feb 30).
    #[error("at expression `{0}` is not a valid date and time")]
    AtInvalid(String),
}

impl ScheduleError {
    pub(crate) fn field(field: CronField, text: &str, reason: impl Into<String>) -> Self {
        ScheduleError::CronField {
            field,
            text: text.to_string(),
            reason: reason.into(),
        }
    }

    /// The message EventBridge's `PutRule` answers with (`ValidationException`): always
    /// [`RULE_INVALID_MESSAGE`]. AWS's exact text.
    pub fn rule_message(&self) -> &'static str {
        RULE_INVALID_MESSAGE
    }

    /// The message EventBridge Scheduler's `CreateSchedule`/`UpdateSchedule` answer with
    /// (`ValidationException`): `Invalid Schedule Expression <expression>.`
    ///
    /// Less certain than [`RULE_INVALID_MESSAGE`]: this is the text LocalStack (which records
    /// its expectations against AWS) answers with; AWS's documentation does not print it.
    pub fn scheduler_message(&self, expression: &str) -> String {
        format!("Invalid Schedule Expression {expression}.")
    }
}
