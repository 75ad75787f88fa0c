//! The EventBridge event envelope and how eddy writes it.
//!
//! ```json
//! {"version":"0","id":"…","detail-type":"…","source":"…","account":"…",
//!  "time":"2017-12-22T18:43:48Z","region":"…","resources":[…],"detail":{…}}
//! ```
//!
//! eddy writes the envelope once, as text, when the event is put; `detail` is copied verbatim
//! from the request (it was checked to be a JSON object), so it is never re-serialised.

use eddy_pattern::json::write_json_string;

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

    #[test]
    fn time_before_the_epoch_is_formatted() {
        assert_eq!(format_time(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
    }
}
