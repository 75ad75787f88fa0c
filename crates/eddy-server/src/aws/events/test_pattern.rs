//! TestEventPattern: an event checked as EventBridge checks it, matched against a pattern.

use super::*;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TestEventPatternInput {
    event_pattern: Option<String>,
    event: Option<String>,
}

/// Fields a test event must carry, as EventBridge requires.
pub(super) const REQUIRED_EVENT_FIELDS: [&str; 7] = [
    "id",
    "account",
    "source",
    "time",
    "region",
    "resources",
    "detail-type",
];

pub(super) fn test_event_pattern(
    app: &App,
    input: TestEventPatternInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    if input.event_pattern.is_none() {
        v.required("eventPattern");
    }
    if input.event.is_none() {
        v.required("event");
    }
    v.length("eventPattern", input.event_pattern.as_deref(), 0, 4096);
    v.finish()?;
    let (Some(pattern), Some(event)) = (input.event_pattern, input.event) else {
        return Err(ApiError::internal("checked above"));
    };
    let pattern = compile_pattern(app, &pattern)?;
    let not_json =
        || ApiError::validation("Parameter Event is not valid. Reason: Event is not valid JSON.");
    // The same limits as an event put on a bus: an envelope one level deeper than a Detail.
    match eddy_model::event::check_event(&event) {
        Ok(_) => {}
        Err(DetailError::TooDeep) => {
            return Err(ApiError::validation(format!(
                "Parameter Event is not valid. Reason: Event is nested deeper than {} levels.",
                eddy_model::event::MAX_DETAIL_DEPTH + 1
            )));
        }
        Err(DetailError::LoneSurrogate) => {
            return Err(ApiError::validation(
                "Parameter Event is not valid. Reason: Event contains a \\u escape of a lone \
                 UTF-16 surrogate.",
            ));
        }
        Err(DetailError::Malformed) => return Err(not_json()),
    }
    let parsed: Value = serde_json::from_str(&event).map_err(|_| not_json())?;
    let Some(obj) = parsed.as_object() else {
        return Err(ApiError::validation(
            "Parameter Event is not valid. Reason: Event must be a JSON object.",
        ));
    };
    for field in REQUIRED_EVENT_FIELDS {
        if !obj.contains_key(field) {
            return Err(ApiError::validation(format!(
                "Parameter Event is not valid. Reason: Provided Event is missing the field \
                 '{field}'."
            )));
        }
    }
    let result = pattern
        .matches(&event)
        .map_err(|e| ApiError::validation(format!("Parameter Event is not valid. Reason: {e}")))?;
    reply(&json!({ "Result": result }))
}

// ---------------------------------------------------------------------------------------------
