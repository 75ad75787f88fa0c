//! The EventBridge event envelope and how eddy writes it.
//!
//! ```json
//! {"version":"0","id":"…","detail-type":"…","source":"…","account":"…",
//!  "time":"2017-12-22T18:43:48Z","region":"…","resources":[…],"detail":{…}}
//! ```
//!
//! eddy writes the envelope once, as text, when the event is put; `detail` is copied verbatim
//! from the request (it was checked by [`check_detail`]), so it is never re-serialised.
//!
//! ## How deep an event may nest
//! [`check_detail`] refuses a `Detail` nested deeper than [`MAX_DETAIL_DEPTH`] levels (its own
//! object is level 1), so an envelope is at most `MAX_DETAIL_DEPTH + 1` levels deep. Every reader
//! an event meets after it is put accepts that: serde_json's DOM parser (127 levels; the
//! delivery path and function destinations read events with it), eddy-pattern's tree parser
//! (256) and event scanner (512), and the input transformer's reader (512). So a stored event
//! can always be matched, transformed and delivered; nothing downstream refuses it for its depth.
//! EventBridge documents "nested JSON up to 1000 levels deep"; eddy accepts less, and says so
//! in the error.
//!
//! `Detail` must also be free of `\u` escapes of lone UTF-16 surrogates (`"\ud800"`): EventBridge
//! (Java) would keep them, but no Rust string can, and matching them as U+FFFD would be wrong.

use eddy_pattern::json::{self, LONE_SURROGATE, TOO_DEEP, TopLevel, write_json_string};

/// Deepest nesting of `Detail` accepted; see the module docs.
pub const MAX_DETAIL_DEPTH: usize = 100;

/// Why a `Detail` was refused (PutEvents answers `MalformedDetail`). `Display` gives the
/// `ErrorMessage`, which starts with EventBridge's "Detail is malformed.".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailError {
    /// Not JSON, or JSON that is not an object.
    Malformed,
    /// Nested deeper than [`MAX_DETAIL_DEPTH`].
    TooDeep,
    /// A `\u` escape of a lone UTF-16 surrogate.
    LoneSurrogate,
}

impl std::fmt::Display for DetailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DetailError::Malformed => f.write_str("Detail is malformed."),
            DetailError::TooDeep => write!(
                f,
                "Detail is malformed. Reason: it is nested deeper than {MAX_DETAIL_DEPTH} levels."
            ),
            DetailError::LoneSurrogate => f.write_str(
                "Detail is malformed. Reason: it contains a \\u escape of a lone UTF-16 surrogate.",
            ),
        }
    }
}

impl std::error::Error for DetailError {}

/// Checks a `Detail`: a JSON object, at most [`MAX_DETAIL_DEPTH`] levels deep, without lone
/// surrogate escapes. One pass, no allocation but a byte per level.
pub fn check_detail(detail: &str) -> Result<(), DetailError> {
    match json::validate(detail, MAX_DETAIL_DEPTH) {
        Ok(TopLevel::Object) => Ok(()),
        Ok(_) => Err(DetailError::Malformed),
        Err(e) if e.reason == TOO_DEEP => Err(DetailError::TooDeep),
        Err(e) if e.reason == LONE_SURROGATE => Err(DetailError::LoneSurrogate),
        Err(_) => Err(DetailError::Malformed),
    }
}

/// Checks a whole event as `TestEventPattern` receives it: any JSON, at most one level deeper
/// than a `Detail` may be (the envelope's own), without lone surrogate escapes.
pub fn check_event(event: &str) -> Result<TopLevel, DetailError> {
    match json::validate(event, MAX_DETAIL_DEPTH + 1) {
        Ok(top) => Ok(top),
        Err(e) if e.reason == TOO_DEEP => Err(DetailError::TooDeep),
        Err(e) if e.reason == LONE_SURROGATE => Err(DetailError::LoneSurrogate),
        Err(_) => Err(DetailError::Malformed),
    }
}

/// What a caller supplies for one event.
#[derive(Debug, Clone, Copy)]
pub struct EventInput<'a> {
    pub source: &'a str,
    pub detail_type: &'a str,
    /// JSON text of an object (checked by the caller).
    pub detail: &'a str,
    pub resources: &'a [String],
}

/// Where and when the event was accepted.
#[derive(Debug, Clone, Copy)]
pub struct EventOrigin<'a> {
    pub id: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    /// Event time, milliseconds since the epoch; the envelope shows whole seconds.
    pub time_ms: i64,
}

/// Writes the envelope as compact JSON.
pub fn envelope(input: &EventInput<'_>, origin: &EventOrigin<'_>) -> String {
    let mut out = String::with_capacity(
        160 + input.source.len() + input.detail_type.len() + input.detail.len(),
    );
    out.push_str("{\"version\":\"0\",\"id\":");
    write_json_string(&mut out, origin.id);
    out.push_str(",\"detail-type\":");
    write_json_string(&mut out, input.detail_type);
    out.push_str(",\"source\":");
    write_json_string(&mut out, input.source);
    out.push_str(",\"account\":");
    write_json_string(&mut out, origin.account);
    out.push_str(",\"time\":\"");
    out.push_str(&format_time(origin.time_ms));
    out.push_str("\",\"region\":");
    write_json_string(&mut out, origin.region);
    out.push_str(",\"resources\":[");
    for (i, r) in input.resources.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(&mut out, r);
    }
    out.push_str("],\"detail\":");
    out.push_str(input.detail.trim());
    out.push('}');
    out
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds, as EventBridge writes `time`).
pub fn format_time(ms: i64) -> String {
    let ts =
        jiff::Timestamp::from_second(ms.div_euclid(1000)).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_is_valid_json_with_every_field() {
        let resources = vec!["arn:a".to_string(), "b\"c".to_string()];
        let input = EventInput {
            source: "my.app",
            detail_type: "Order \"Placed\"",
            detail: " {\"a\": [1, 2]} ",
            resources: &resources,
        };
        let origin = EventOrigin {
            id: "1234",
            account: "123456789012",
            region: "eu-west-1",
            time_ms: 1_513_968_228_999,
        };
        let text = envelope(&input, &origin);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], "0");
        assert_eq!(v["id"], "1234");
        assert_eq!(v["detail-type"], "Order \"Placed\"");
        assert_eq!(v["source"], "my.app");
        assert_eq!(v["account"], "123456789012");
        assert_eq!(v["time"], "2017-12-22T18:43:48Z");
        assert_eq!(v["region"], "eu-west-1");
        assert_eq!(v["resources"], serde_json::json!(["arn:a", "b\"c"]));
        assert_eq!(v["detail"], serde_json::json!({"a": [1, 2]}));
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut s = String::new();
        write_json_string(&mut s, "a\u{1}\n");
        assert_eq!(s, "\"a\\u0001\\n\"");
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\u{1}\n");
    }

    fn nested_detail(depth: usize) -> String {
        // `depth` objects: `{"a":{"a":...{"a":1}...}}`.
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    }

    fn envelope_of(detail: &str) -> String {
        envelope(
            &EventInput {
                source: "s",
                detail_type: "t",
                detail,
                resources: &[],
            },
            &EventOrigin {
                id: "1",
                account: "123456789012",
                region: "us-east-1",
                time_ms: 0,
            },
        )
    }

    #[test]
    fn detail_depth_limit_is_exact() {
        assert_eq!(check_detail(&nested_detail(1)), Ok(()));
        assert_eq!(check_detail(&nested_detail(MAX_DETAIL_DEPTH)), Ok(()));
        assert_eq!(
            check_detail(&nested_detail(MAX_DETAIL_DEPTH + 1)),
            Err(DetailError::TooDeep)
        );
        let arrays = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DETAIL_DEPTH - 1),
            "]".repeat(MAX_DETAIL_DEPTH - 1)
        );
        assert_eq!(check_detail(&arrays), Ok(()));
        let arrays = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DETAIL_DEPTH),
            "]".repeat(MAX_DETAIL_DEPTH)
        );
        assert_eq!(check_detail(&arrays), Err(DetailError::TooDeep));
        // Far past any stack: refused, not a crash.
        assert_eq!(
            check_detail(&nested_detail(1_000_000)),
            Err(DetailError::TooDeep)
        );
    }

    /// Every reader downstream of PutEvents accepts an envelope whose Detail is at the limit
    /// (see the module docs), so a stored event never fails to match or deliver for its depth.
    #[test]
    fn an_event_at_the_limit_is_readable_everywhere() {
        let detail = nested_detail(MAX_DETAIL_DEPTH);
        assert_eq!(check_detail(&detail), Ok(()));
        let text = envelope_of(&detail);
        assert!(matches!(check_event(&text), Ok(TopLevel::Object)));
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
        assert!(eddy_pattern::json::parse(&text).is_ok());
        let path = format!("detail{}", ".a".repeat(MAX_DETAIL_DEPTH));
        let pattern = eddy_pattern::Pattern::parse(&format!("{{\"{path}\":[1]}}")).unwrap();
        assert_eq!(pattern.matches(&text), Ok(true));
        // One level more is refused before it can reach any of them.
        let deeper = envelope_of(&nested_detail(MAX_DETAIL_DEPTH + 1));
        assert_eq!(check_event(&deeper), Err(DetailError::TooDeep));
    }

    #[test]
    fn detail_must_be_an_object_without_lone_surrogates() {
        for bad in ["", "[1]", "1", "\"x\"", "{", "{} x", "{\"a\":\u{1}}"] {
            assert_eq!(check_detail(bad), Err(DetailError::Malformed), "{bad:?}");
        }
        assert_eq!(check_detail(" {\"a\": [1, 2]} "), Ok(()));
        assert_eq!(check_detail(r#"{"a":"\ud83d\ude00"}"#), Ok(()));
        assert_eq!(
            check_detail(r#"{"a":"\ud800"}"#),
            Err(DetailError::LoneSurrogate)
        );
        assert_eq!(
            DetailError::TooDeep.to_string(),
            "Detail is malformed. Reason: it is nested deeper than 100 levels."
        );
        assert_eq!(DetailError::Malformed.to_string(), "Detail is malformed.");
    }

    #[test]
    fn time_before_the_epoch_is_formatted() {
        assert_eq!(format_time(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
    }
}
