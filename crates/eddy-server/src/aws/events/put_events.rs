//! PutEvents: entries checked and sized as EventBridge does, then put on the bus;
//! per-entry failures in the answer.

use super::*;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutEventsInput {
    entries: Option<Vec<PutEventsEntry>>,
    #[allow(dead_code)]
    endpoint_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutEventsEntry {
    time: Option<f64>,
    source: Option<String>,
    resources: Option<Vec<String>>,
    detail_type: Option<String>,
    detail: Option<String>,
    event_bus_name: Option<String>,
    #[allow(dead_code)]
    trace_header: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutEventsOutput {
    failed_entry_count: usize,
    entries: Vec<PutEventsResultEntry>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutEventsResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

/// The size AWS charges an entry: Time (14 bytes when set) + Source + DetailType + Detail +
/// every Resources item, in UTF-8 bytes.
pub(super) fn entry_size(e: &PutEventsEntry) -> usize {
    let mut n = if e.time.is_some() { 14 } else { 0 };
    n += e.source.as_deref().map_or(0, str::len);
    n += e.detail_type.as_deref().map_or(0, str::len);
    n += e.detail.as_deref().map_or(0, str::len);
    n += e.resources.iter().flatten().map(String::len).sum::<usize>();
    n
}

pub(super) fn invalid_argument(field: &str) -> EntryError {
    EntryError {
        code: "InvalidArgument",
        message: format!("Parameter {field} is not valid. Reason: {field} is a required argument."),
    }
}

/// Checks one entry; per-entry problems do not fail the request.
pub(super) fn prepare_entry(e: PutEventsEntry) -> Result<PreparedEvent, EntryError> {
    let source = e
        .source
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid_argument("Source"))?;
    let detail_type = e
        .detail_type
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid_argument("DetailType"))?;
    let detail = e
        .detail
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid_argument("Detail"))?;
    if source.chars().any(char::is_control) {
        return Err(EntryError {
            code: "InvalidArgument",
            message: "Parameter Source is not valid. Reason: Source must not contain control \
                      characters."
                .to_owned(),
        });
    }
    // The Detail itself (a JSON object, its depth, its escapes) is checked by the bus, for every
    // event put, with `MalformedDetail` as that entry's answer.
    let mut v = Violations::new();
    let bus = bus_name(&mut v, "eventBusName", e.event_bus_name.as_deref());
    if !v.is_empty() {
        return Err(EntryError {
            code: "InvalidArgument",
            message: "Parameter EventBusName is not valid.".to_owned(),
        });
    }
    let time_ms = match e.time {
        Some(t) if t.is_finite() => Some((t * 1000.0).floor() as i64),
        Some(_) => {
            return Err(EntryError {
                code: "InvalidArgument",
                message: "Parameter Time is not valid.".to_owned(),
            });
        }
        None => None,
    };
    Ok(PreparedEvent {
        bus,
        source,
        detail_type,
        detail,
        resources: e.resources.unwrap_or_default(),
        time_ms,
    })
}

pub(super) async fn put_events(
    app: &App,
    ctx: &Ctx,
    input: PutEventsInput,
) -> Result<Vec<u8>, ApiError> {
    let Some(entries) = input.entries else {
        let mut v = Violations::new();
        v.required("entries");
        return Err(v.finish().unwrap_err());
    };
    if entries.is_empty() || entries.len() > 10 {
        let bound = if entries.is_empty() {
            "Member must have length greater than or equal to 1"
        } else {
            "Member must have length less than or equal to 10"
        };
        let mut v = Violations::new();
        v.add("entries", Some("[PutEventsRequestEntry]"), bound);
        return v.finish().map(|_| Vec::new());
    }
    let total: usize = entries.iter().map(entry_size).sum();
    if total > app.config.max_entries_size {
        return Err(ApiError::validation(
            "Total size of the entries in the request is over the limit.",
        ));
    }
    let prepared = entries.into_iter().map(prepare_entry).collect();
    let results = app
        .bus
        .put(&ctx.region, prepared, app.clock.now_ms())
        .await?;
    let failed = results.iter().filter(|r| r.is_err()).count();
    let entries = results
        .into_iter()
        .map(|r| match r {
            Ok(id) => PutEventsResultEntry {
                event_id: Some(id),
                ..Default::default()
            },
            Err(e) => PutEventsResultEntry {
                event_id: None,
                error_code: Some(e.code),
                error_message: Some(e.message),
            },
        })
        .collect();
    reply(&PutEventsOutput {
        failed_entry_count: failed,
        entries,
    })
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_size_counts_like_aws() {
        let e = PutEventsEntry {
            time: Some(1.0),
            source: Some("ab".into()),
            resources: Some(vec!["xyz".into()]),
            detail_type: Some("é".into()),
            detail: Some("{}".into()),
            event_bus_name: None,
            trace_header: None,
        };
        assert_eq!(entry_size(&e), 14 + 2 + 3 + 2 + 2);
    }
}
