//! What an event source mapping *is* and the one place that decides whether one is valid: the
//! definition kept in the store ([`EventSourceMappingDef`]), the requests that create and change
//! it ([`NewMapping`], [`MappingUpdate`]), and Lambda's rules for SQS sources (batch size,
//! batching window, maximum concurrency, filters, response types), for every caller (the Lambda
//! API, the manifest).
//!
//! Refusals are [`SourceError`]s in the core's words; the Lambda adapter words them as Lambda
//! does (`InvalidParameterValueException`, `ResourceConflictException`,
//! `ResourceNotFoundException`).

use eddy_model::names::Arn;
use eddy_pattern::{Limits, Pattern};
use serde::{Deserialize, Serialize};

use crate::core_error::CoreError;
use crate::registry::Named;

/// Lambda's default batch size for SQS.
pub const DEFAULT_BATCH_SIZE: u32 = 10;
/// The largest batch of a standard queue's mapping.
pub const MAX_BATCH_SIZE: u32 = 10_000;
/// The largest batch of a FIFO queue's mapping.
pub const MAX_FIFO_BATCH_SIZE: u32 = 10;
/// The largest batching window, in seconds.
pub const MAX_WINDOW_SECS: u32 = 300;
/// `ScalingConfig.MaximumConcurrency`'s limits.
pub const MAXIMUM_CONCURRENCY: std::ops::RangeInclusive<u32> = 2..=1000;
/// How many filters a mapping may have (Lambda's default quota).
pub const MAX_FILTERS: usize = 5;
/// The reason Lambda gives for a state the user asked for.
pub const USER_INITIATED: &str = "USER_INITIATED";

/// A mapping's state as Lambda names it. The store keeps `Enabled` or `Disabled` (what the user
/// wants); the transitional states are what the operation that starts a transition answers
/// (`Creating` for a create, `Enabling`/`Disabling`/`Updating` for an update, `Deleting` for a
/// delete): eddy applies a change as soon as it is committed, so every later read sees the
/// state it led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MappingState {
    Creating,
    Enabling,
    Enabled,
    Disabling,
    Disabled,
    Updating,
    Deleting,
}

impl MappingState {
    /// Lambda's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "Creating",
            Self::Enabling => "Enabling",
            Self::Enabled => "Enabled",
            Self::Disabling => "Disabling",
            Self::Disabled => "Disabled",
            Self::Updating => "Updating",
            Self::Deleting => "Deleting",
        }
    }
}

/// `FunctionResponseTypes`' one value for SQS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FunctionResponseType {
    ReportBatchItemFailures,
}

impl FunctionResponseType {
    pub fn parse(s: &str) -> Option<Self> {
        (s == "ReportBatchItemFailures").then_some(Self::ReportBatchItemFailures)
    }

    pub fn as_str(self) -> &'static str {
        "ReportBatchItemFailures"
    }
}

/// `ScalingConfig`: how many batches of one mapping may run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalingConfig {
    /// 2-1000; `None`: eddy's default, [`DEFAULT_CONCURRENCY`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_concurrency: Option<u32>,
}

/// Batches one mapping runs at once when its `ScalingConfig` sets no maximum, at first: the five
/// pollers Lambda starts a queue with. While the queue has a backlog, the poller adds this many
/// again, up to [`DEFAULT_SCALE_LIMIT`] (Lambda scales up the same way, to far more).
pub const DEFAULT_CONCURRENCY: u32 = 5;
/// How far a mapping without `ScalingConfig` scales up under a backlog: enough concurrent
/// batches that a warm function keeps up with the embedded store (more would mostly add
/// function processes).
pub const DEFAULT_SCALE_LIMIT: u32 = 20;

/// One event source mapping: an SQS queue polled for one function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventSourceMappingDef {
    pub region: String,
    /// Its name in the registry (`REGION:UUID`).
    pub uuid: String,
    /// The function's name (not its ARN).
    pub function_name: String,
    /// The function's version or alias, when the mapping names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    /// The queue's ARN, as given.
    pub event_source_arn: String,
    pub batch_size: u32,
    #[serde(default)]
    pub maximum_batching_window_in_seconds: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_config: Option<ScalingConfig>,
    /// `FilterCriteria.Filters[].Pattern`: EventBridge patterns, at most [`MAX_FILTERS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_criteria: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub function_response_types: Vec<FunctionResponseType>,
    /// `Enabled` or `Disabled` (see [`MappingState`]).
    pub state: MappingState,
    pub state_transition_reason: String,
    pub last_modified_ms: i64,
}

impl Named for EventSourceMappingDef {
    const KIND: &'static str = "event-source-mapping";

    fn region(&self) -> &str {
        &self.region
    }

    fn name(&self) -> &str {
        &self.uuid
    }
}

impl EventSourceMappingDef {
    /// `EventSourceMappingArn`.
    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{account}:event-source-mapping:{}",
            self.region, self.uuid
        )
    }

    /// The function's ARN (`FunctionArn`), with its qualifier when it has one.
    pub fn function_arn(&self, account: &str) -> String {
        let arn = format!(
            "arn:aws:lambda:{}:{account}:function:{}",
            self.region, self.function_name
        );
        match &self.qualifier {
            Some(q) => format!("{arn}:{q}"),
            None => arn,
        }
    }

    pub fn enabled(&self) -> bool {
        self.state == MappingState::Enabled
    }

    /// The queue's `(region, name)`, from its ARN (checked when the mapping was made).
    pub fn queue(&self) -> Option<(&str, &str)> {
        queue_of(&self.event_source_arn)
    }

    pub fn reports_item_failures(&self) -> bool {
        self.function_response_types
            .contains(&FunctionResponseType::ReportBatchItemFailures)
    }

    /// How many batches may run at once as a poller starts (`fifo`: one, to keep message
    /// groups in order).
    pub fn concurrency(&self, fifo: bool) -> u32 {
        if fifo {
            return 1;
        }
        self.scaling_config
            .and_then(|s| s.maximum_concurrency)
            .unwrap_or(DEFAULT_CONCURRENCY)
    }

    /// How many batches may run at once once a backlog has scaled the poller up: the
    /// `MaximumConcurrency` when set (eddy starts there), else [`DEFAULT_SCALE_LIMIT`].
    pub fn concurrency_limit(&self, fifo: bool) -> u32 {
        match self.scaling_config.and_then(|s| s.maximum_concurrency) {
            _ if fifo => 1,
            Some(c) => c,
            None => DEFAULT_SCALE_LIMIT,
        }
    }

    /// This definition as an operation answers it, in state `state`.
    pub fn reported(&self, state: MappingState) -> Self {
        Self {
            state,
            ..self.clone()
        }
    }
}

/// `CreateEventSourceMapping`'s request, as the adapter parsed it (numbers as given, so that the
/// core judges negative ones too).
#[derive(Debug, Clone)]
pub struct NewMapping {
    /// The function's name or ARN (unqualified, or qualified with `$LATEST`).
    pub function: String,
    pub event_source_arn: String,
    /// `Enabled` (default true).
    pub enabled: Option<bool>,
    pub batch_size: Option<i64>,
    pub maximum_batching_window_in_seconds: Option<i64>,
    pub scaling_config: Option<ScalingConfig>,
    /// The patterns of `FilterCriteria.Filters`.
    pub filter_criteria: Vec<String>,
    pub function_response_types: Vec<String>,
}

/// `UpdateEventSourceMapping`'s request: `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct MappingUpdate {
    pub function: Option<String>,
    pub enabled: Option<bool>,
    pub batch_size: Option<i64>,
    pub maximum_batching_window_in_seconds: Option<i64>,
    /// `Some(ScalingConfig::default())` (Lambda's `ScalingConfig: {}`) removes the maximum.
    pub scaling_config: Option<ScalingConfig>,
    /// `Some(vec![])` removes every filter.
    pub filter_criteria: Option<Vec<String>>,
    /// `Some(vec![])` removes the response types.
    pub function_response_types: Option<Vec<String>>,
}

/// Why an event source mapping operation refused.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The function does not exist (or the name/ARN names none eddy can hold).
    #[error("function `{0}` does not exist")]
    FunctionNotFound(String),
    /// The event source ARN is not an SQS queue's ARN (the only source eddy polls).
    #[error("`{0}` is not an SQS queue ARN")]
    NotQueueArn(String),
    /// The queue is in another region than the mapping.
    #[error("queue `{0}` is in another region than the function")]
    OtherRegion(String),
    #[error("queue `{0}` does not exist")]
    QueueNotFound(String),
    /// The queue's visibility timeout is shorter than the function's timeout (a batch would
    /// come back while the function still runs).
    #[error(
        "queue visibility timeout {queue_secs} s is less than function timeout {function_secs} s"
    )]
    VisibilityTimeout { queue_secs: i64, function_secs: u32 },
    /// `BatchSize` outside `1..=max` (`max` is 10 for a FIFO queue).
    #[error("batch size {value} is not within 1 and {max}")]
    BatchSize { value: i64, max: u32 },
    /// `MaximumBatchingWindowInSeconds` outside 0-300.
    #[error("batching window {0} is not within 0 and 300 seconds")]
    Window(i64),
    /// A batch size over 10 needs a batching window of at least one second.
    #[error("a batch size over 10 needs a batching window of at least 1 second")]
    WindowRequired { batch_size: u32 },
    /// FIFO queues take no batching window.
    #[error("a FIFO queue's mapping takes no batching window")]
    FifoWindow,
    /// `ScalingConfig.MaximumConcurrency` outside 2-1000.
    #[error("maximum concurrency {0} is not within 2 and 1000")]
    MaximumConcurrency(u32),
    #[error("{0} filters given, at most 5 are allowed")]
    TooManyFilters(usize),
    /// A filter's pattern does not compile.
    #[error("filter pattern `{pattern}` is not valid: {reason}")]
    Filter { pattern: String, reason: String },
    #[error("unknown function response type `{0}`")]
    ResponseType(String),
    /// A mapping of the same queue to the same function exists (`uuid`).
    #[error("a mapping of this queue to this function exists: `{uuid}`")]
    Exists { uuid: String },
    /// No mapping has this UUID.
    #[error("event source mapping `{0}` does not exist")]
    NotFound(String),
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// The function name that `given` (a name, `ACCOUNT:function:NAME` or a function ARN, each
/// optionally qualified with a version or an alias) names in `region`; `None` when it names
/// another region or is no function name at all. See [`function_qualifier`].
pub fn function_name<'a>(region: &str, given: &'a str) -> Option<&'a str> {
    function_ref(region, given).map(|(n, _)| n)
}

/// The version or alias `given` names (none for `$LATEST`).
pub fn function_qualifier<'a>(region: &str, given: &'a str) -> Option<&'a str> {
    function_ref(region, given).and_then(|(_, q)| q)
}

fn function_ref<'a>(region: &str, given: &'a str) -> Option<(&'a str, Option<&'a str>)> {
    let unqualified = given.strip_suffix(":$LATEST").unwrap_or(given);
    let rest = if let Some(arn) = Arn::parse(unqualified) {
        if arn.service != "lambda" || arn.region != region {
            return None;
        }
        arn.resource.strip_prefix("function:")?
    } else if let Some((_, rest)) = unqualified.split_once(":function:") {
        rest
    } else {
        unqualified
    };
    let (name, qualifier) = match rest.split_once(':') {
        Some((n, q)) => (n, Some(q)),
        None => (rest, None),
    };
    if qualifier.is_some_and(|q| {
        q.is_empty()
            || q.len() > 128
            || !q
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        return None;
    }
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    valid.then_some((name, qualifier))
}

/// The `(region, name)` of the queue an SQS ARN names.
pub fn queue_of(arn: &str) -> Option<(&str, &str)> {
    let a = Arn::parse(arn)?;
    (a.service == "sqs" && !a.resource.contains(':')).then_some((a.region, a.resource))
}

/// The checks of a mapping's settings that need only the settings and whether the queue is
/// FIFO: batch size and window (Lambda's rules for SQS), maximum concurrency, filters (each
/// compiled with `limits`). Answers the compiled filters.
pub fn check_settings(
    def: &EventSourceMappingDef,
    fifo: bool,
    limits: &Limits,
) -> Result<Vec<Pattern>, SourceError> {
    let max = if fifo {
        MAX_FIFO_BATCH_SIZE
    } else {
        MAX_BATCH_SIZE
    };
    if !(1..=max).contains(&def.batch_size) {
        return Err(SourceError::BatchSize {
            value: i64::from(def.batch_size),
            max,
        });
    }
    if def.maximum_batching_window_in_seconds > MAX_WINDOW_SECS {
        return Err(SourceError::Window(i64::from(
            def.maximum_batching_window_in_seconds,
        )));
    }
    if fifo && def.maximum_batching_window_in_seconds > 0 {
        return Err(SourceError::FifoWindow);
    }
    if def.batch_size > 10 && def.maximum_batching_window_in_seconds == 0 {
        return Err(SourceError::WindowRequired {
            batch_size: def.batch_size,
        });
    }
    if let Some(c) = def.scaling_config.and_then(|s| s.maximum_concurrency)
        && !MAXIMUM_CONCURRENCY.contains(&c)
    {
        return Err(SourceError::MaximumConcurrency(c));
    }
    compile_filters(&def.filter_criteria, limits)
}

/// Compiles a mapping's filters (at most [`MAX_FILTERS`]).
pub fn compile_filters(filters: &[String], limits: &Limits) -> Result<Vec<Pattern>, SourceError> {
    if filters.len() > MAX_FILTERS {
        return Err(SourceError::TooManyFilters(filters.len()));
    }
    filters
        .iter()
        .map(|p| {
            Pattern::parse_with(p, limits).map_err(|e| SourceError::Filter {
                pattern: p.clone(),
                reason: e.reason(),
            })
        })
        .collect()
}

/// Parses `FunctionResponseTypes`.
pub(super) fn response_types(given: &[String]) -> Result<Vec<FunctionResponseType>, SourceError> {
    let mut out = Vec::new();
    for s in given {
        let t =
            FunctionResponseType::parse(s).ok_or_else(|| SourceError::ResponseType(s.clone()))?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> EventSourceMappingDef {
        EventSourceMappingDef {
            region: "us-east-1".into(),
            uuid: "u".into(),
            function_name: "f".into(),
            qualifier: None,
            event_source_arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
            batch_size: 10,
            maximum_batching_window_in_seconds: 0,
            scaling_config: None,
            filter_criteria: Vec::new(),
            function_response_types: Vec::new(),
            state: MappingState::Enabled,
            state_transition_reason: USER_INITIATED.into(),
            last_modified_ms: 0,
        }
    }

    fn check(d: &EventSourceMappingDef, fifo: bool) -> Result<Vec<Pattern>, SourceError> {
        check_settings(d, fifo, &Limits::default())
    }

    #[test]
    fn batch_sizes_and_windows_follow_lambdas_rules() {
        assert!(check(&def(), false).is_ok());
        let with = |batch, window| EventSourceMappingDef {
            batch_size: batch,
            maximum_batching_window_in_seconds: window,
            ..def()
        };
        assert!(matches!(
            check(&with(0, 0), false),
            Err(SourceError::BatchSize {
                value: 0,
                max: 10_000
            })
        ));
        assert!(matches!(
            check(&with(10_001, 1), false),
            Err(SourceError::BatchSize { max: 10_000, .. })
        ));
        assert!(check(&with(10_000, 1), false).is_ok());
        // Over 10 needs a window.
        assert!(matches!(
            check(&with(11, 0), false),
            Err(SourceError::WindowRequired { batch_size: 11 })
        ));
        assert!(check(&with(11, 1), false).is_ok());
        assert!(matches!(
            check(&with(10, 301), false),
            Err(SourceError::Window(301))
        ));
        assert!(check(&with(1, 300), false).is_ok());
        // FIFO: at most 10, no window.
        assert!(check(&with(10, 0), true).is_ok());
        assert!(matches!(
            check(&with(11, 1), true),
            Err(SourceError::BatchSize { max: 10, .. })
        ));
        assert!(matches!(
            check(&with(5, 1), true),
            Err(SourceError::FifoWindow)
        ));
    }

    #[test]
    fn maximum_concurrency_is_2_to_1000() {
        let with = |c| EventSourceMappingDef {
            scaling_config: Some(ScalingConfig {
                maximum_concurrency: Some(c),
            }),
            ..def()
        };
        assert!(matches!(
            check(&with(1), false),
            Err(SourceError::MaximumConcurrency(1))
        ));
        assert!(check(&with(2), false).is_ok());
        assert!(check(&with(1000), false).is_ok());
        assert!(check(&with(1001), false).is_err());
        assert_eq!(with(7).concurrency(false), 7);
        assert_eq!(with(7).concurrency(true), 1);
        assert_eq!(def().concurrency(false), DEFAULT_CONCURRENCY);
    }

    #[test]
    fn filters_must_compile_and_number_at_most_five() {
        let with = |f: Vec<&str>| EventSourceMappingDef {
            filter_criteria: f.into_iter().map(String::from).collect(),
            ..def()
        };
        let ok = r#"{"body":{"kind":["a"]}}"#;
        assert_eq!(check(&with(vec![ok]), false).unwrap().len(), 1);
        assert!(matches!(
            check(&with(vec![r#"{"body":"a"}"#]), false),
            Err(SourceError::Filter { .. })
        ));
        assert!(matches!(
            check(&with(vec!["not json"]), false),
            Err(SourceError::Filter { .. })
        ));
        assert!(matches!(
            check(&with(vec![ok; 6]), false),
            Err(SourceError::TooManyFilters(6))
        ));
    }

    #[test]
    fn function_names_from_names_and_arns() {
        let r = "us-east-1";
        assert_eq!(function_name(r, "f-1_x"), Some("f-1_x"));
        assert_eq!(
            function_name(r, "arn:aws:lambda:us-east-1:000000000000:function:f"),
            Some("f")
        );
        assert_eq!(
            function_name(
                r,
                "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
            ),
            Some("f")
        );
        assert_eq!(function_name(r, "000000000000:function:f"), Some("f"));
        assert_eq!(
            function_name(r, "arn:aws:lambda:eu-west-1:000000000000:function:f"),
            None
        );
        assert_eq!(
            function_name(r, "arn:aws:sqs:us-east-1:000000000000:q"),
            None
        );
        assert_eq!(function_name(r, "f:v1"), Some("f"));
        assert_eq!(function_qualifier(r, "f:v1"), Some("v1"));
        assert_eq!(function_qualifier(r, "f:$LATEST"), None);
        assert_eq!(function_name(r, "f:a:b"), None);
        assert_eq!(function_name(r, ""), None);
    }

    #[test]
    fn queue_arns() {
        assert_eq!(
            queue_of("arn:aws:sqs:us-east-1:000000000000:q.fifo"),
            Some(("us-east-1", "q.fifo"))
        );
        assert_eq!(queue_of("arn:aws:sns:us-east-1:000000000000:t"), None);
        assert_eq!(queue_of("q"), None);
    }

    #[test]
    fn response_types_are_only_report_batch_item_failures() {
        assert_eq!(
            response_types(&["ReportBatchItemFailures".into()]).unwrap(),
            vec![FunctionResponseType::ReportBatchItemFailures]
        );
        assert!(matches!(
            response_types(&["Other".into()]),
            Err(SourceError::ResponseType(_))
        ));
    }

    #[test]
    fn the_definition_reads_back_as_stored() {
        let d = EventSourceMappingDef {
            scaling_config: Some(ScalingConfig {
                maximum_concurrency: Some(3),
            }),
            filter_criteria: vec![r#"{"body":{"a":[1]}}"#.into()],
            function_response_types: vec![FunctionResponseType::ReportBatchItemFailures],
            ..def()
        };
        let text = serde_json::to_string(&d).unwrap();
        assert!(text.contains(r#""FunctionName":"f""#), "{text}");
        assert!(text.contains(r#""State":"Enabled""#), "{text}");
        assert_eq!(
            serde_json::from_str::<EventSourceMappingDef>(&text).unwrap(),
            d
        );
    }
}
