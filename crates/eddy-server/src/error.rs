//! The one error type of the API layer: an AWS error code, its HTTP status and message.
//!
//! Domain code builds these with the constructors below (which name AWS's codes); the protocol
//! layer turns them into the wire shape `{"__type": CODE, "message": TEXT}` in one place.

use axum::http::StatusCode;

/// An error as an AWS API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: &'static str,
    pub status: StatusCode,
    pub message: String,
    /// For services that moved from the AWS query protocol (SQS): the old error code, sent in
    /// `x-amzn-query-error` so SDKs report the code users know
    /// (`AWS.SimpleQueueService.NonExistentQueue`).
    pub query_code: Option<&'static str>,
}

impl ApiError {
    pub fn new(code: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
            query_code: None,
        }
    }

    /// Adds the query-protocol error code (see [`ApiError::query_code`]).
    pub fn with_query_code(mut self, code: &'static str) -> Self {
        self.query_code = Some(code);
        self
    }

    /// The same error with another HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, StatusCode::BAD_REQUEST, message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::bad("ValidationException", message)
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        Self::bad("SerializationException", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::bad("ResourceNotFoundException", message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::bad("ResourceAlreadyExistsException", message)
    }

    pub fn invalid_pattern(message: impl Into<String>) -> Self {
        Self::bad("InvalidEventPatternException", message)
    }

    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::bad("LimitExceededException", message)
    }

    pub fn managed_rule(message: impl Into<String>) -> Self {
        Self::bad("ManagedRuleException", message)
    }

    pub fn unknown_operation(message: impl Into<String>) -> Self {
        Self::bad("UnknownOperationException", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            "InternalException",
            StatusCode::INTERNAL_SERVER_ERROR,
            message,
        )
    }
}

impl From<crate::core_error::CoreError> for ApiError {
    fn from(e: crate::core_error::CoreError) -> Self {
        match e {
            crate::core_error::CoreError::Store(e) => e.into(),
            crate::core_error::CoreError::Encode(e) => {
                tracing::error!(error = %e, "cannot encode a definition");
                ApiError::internal("An internal error occurred.")
            }
        }
    }
}

impl From<crate::archives::ArchiveError> for ApiError {
    fn from(e: crate::archives::ArchiveError) -> Self {
        use crate::archives::ArchiveError::*;
        match e {
            Core(e) => e.into(),
            InvalidPattern(m) => ApiError::invalid_pattern(m),
            e @ ReplayMissing(_) => ApiError::not_found(e.to_string()),
            e @ ReplayNotActive(_) => ApiError::bad("IllegalStatusException", e.to_string()),
        }
    }
}

impl From<eddy_runtime::code::CodeError> for ApiError {
    /// Lambda's answers for uploaded code it cannot use.
    fn from(e: eddy_runtime::code::CodeError) -> Self {
        use eddy_runtime::code::CodeError::*;
        match e {
            // Lambda's model declares InvalidZipFileException (502), but what Lambda answers a
            // zip it cannot unzip is this 400 (CloudTrail and SDK errors of real calls show it).
            e @ InvalidZip(_) => ApiError::bad("InvalidParameterValueException", e.to_string()),
            e @ (TooLarge(_) | Base64) => {
                ApiError::bad("InvalidParameterValueException", e.to_string())
            }
            e @ Io(_) => ApiError::internal(e.to_string()),
        }
    }
}

impl From<crate::routes::KeySourceRefused> for ApiError {
    fn from(e: crate::routes::KeySourceRefused) -> Self {
        ApiError::bad("BadRequestException", e.0)
    }
}

impl From<crate::routes::RoutesError> for ApiError {
    fn from(e: crate::routes::RoutesError) -> Self {
        match e {
            crate::routes::RoutesError::Core(e) => e.into(),
            crate::routes::RoutesError::KeySource(e) => e.into(),
        }
    }
}

impl From<eddy_store::StoreError> for ApiError {
    /// A full store is a 503 `ServiceUnavailable` (SDKs retry it, and it clears by itself when
    /// space returns) whose message says the store is full; a store out of reach (a PostgreSQL
    /// restart, a partition, a failover) is a 503 too, saying only that, and nothing was
    /// acknowledged; any other store failure is a 500 that reveals nothing (it is logged).
    fn from(e: eddy_store::StoreError) -> Self {
        let unavailable = |message: String| {
            ApiError::new(
                "ServiceUnavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                message,
            )
            .with_query_code("ServiceUnavailable")
        };
        match e {
            eddy_store::StoreError::Full(_) => {
                tracing::debug!(error = %e, "store full");
                return unavailable(e.to_string());
            }
            eddy_store::StoreError::Unavailable(_) => {
                tracing::warn!(error = %e, "store unavailable");
                return unavailable(
                    "The service is unavailable for a moment: nothing was changed. Retry."
                        .to_owned(),
                );
            }
            _ => {}
        }
        tracing::error!(error = %e, "store failure");
        ApiError::internal("An internal error occurred.")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Collects constraint violations and reports them as AWS does:
/// `N validation error(s) detected: Value 'V' at 'member' failed to satisfy constraint: …; …`.
#[derive(Debug, Default)]
pub struct Violations(Vec<String>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `value` at `member` breaks `constraint`. `value` is `None` for a missing
    /// member (AWS writes `Value null`).
    pub fn add(&mut self, member: &str, value: Option<&str>, constraint: impl std::fmt::Display) {
        let v = match value {
            Some(v) => format!("Value '{v}'"),
            None => "Value null".to_owned(),
        };
        self.0.push(format!(
            "{v} at '{member}' failed to satisfy constraint: {constraint}"
        ));
    }

    pub fn required(&mut self, member: &str) {
        self.add(member, None, "Member must not be null");
    }

    /// Checks a name against its rule when present, or records it missing when `required`.
    pub fn name(
        &mut self,
        member: &str,
        value: Option<&str>,
        rule: eddy_model::names::NameRule,
        required: bool,
    ) {
        match value {
            Some(v) => {
                if let Err(e) = rule.check(v) {
                    self.add(member, Some(v), e);
                }
            }
            None if required => self.required(member),
            None => {}
        }
    }

    /// Checks a string's length in characters.
    pub fn length(&mut self, member: &str, value: Option<&str>, min: usize, max: usize) {
        if let Some(v) = value {
            let n = v.chars().count();
            if n < min {
                self.add(
                    member,
                    Some(v),
                    format!("Member must have length greater than or equal to {min}"),
                );
            } else if n > max {
                self.add(
                    member,
                    Some(v),
                    format!("Member must have length less than or equal to {max}"),
                );
            }
        }
    }

    /// Checks a number's range.
    /// [`Violations::range`] with one of the limits of `eddy_model::limits`.
    pub fn within(
        &mut self,
        member: &str,
        value: Option<i64>,
        limits: std::ops::RangeInclusive<i64>,
    ) {
        self.range(member, value, *limits.start(), *limits.end());
    }

    pub fn range(&mut self, member: &str, value: Option<i64>, min: i64, max: i64) {
        if let Some(v) = value {
            if v < min {
                self.add(
                    member,
                    Some(&v.to_string()),
                    format!("Member must have value greater than or equal to {min}"),
                );
            } else if v > max {
                self.add(
                    member,
                    Some(&v.to_string()),
                    format!("Member must have value less than or equal to {max}"),
                );
            }
        }
    }

    /// Checks membership of an enum.
    pub fn one_of(&mut self, member: &str, value: Option<&str>, allowed: &[&str]) {
        if let Some(v) = value
            && !allowed.contains(&v)
        {
            self.add(
                member,
                Some(v),
                format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            );
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was recorded, else the `ValidationException`.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(ApiError::validation(format!(
                "1 validation error detected: {}",
                self.0[0]
            ))),
            n => Err(ApiError::validation(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_store_is_a_503_that_says_so() {
        let e = ApiError::from(eddy_store::StoreError::Full(
            "no space left on the file system of `/d`".into(),
        ));
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code, "ServiceUnavailable");
        assert_eq!(e.query_code, Some("ServiceUnavailable"));
        assert_eq!(
            e.message,
            "the store is full: no space left on the file system of `/d`"
        );
        let e = ApiError::from(eddy_store::StoreError::Closed);
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.query_code, None);
    }

    #[test]
    fn violations_read_like_aws() {
        let mut v = Violations::new();
        v.name("name", Some("a b"), eddy_model::names::RULE_NAME, true);
        let e = v.finish().unwrap_err();
        assert_eq!(e.code, "ValidationException");
        assert_eq!(
            e.message,
            "1 validation error detected: Value 'a b' at 'name' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
        );
        let mut v = Violations::new();
        v.required("name");
        v.range("limit", Some(0), 1, 100);
        assert_eq!(
            v.finish().unwrap_err().message,
            "2 validation errors detected: Value null at 'name' failed to satisfy constraint: \
             Member must not be null; Value '0' at 'limit' failed to satisfy constraint: Member \
             must have value greater than or equal to 1"
        );
    }
}
