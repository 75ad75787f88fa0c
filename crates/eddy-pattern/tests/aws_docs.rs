//! Tests built from the examples in the Amazon EventBridge user guide, grouped by page and
//! section. Each example is checked with an event it must match and at least one variant it
//! must not match. The events are written for these tests; the patterns follow the shapes the
//! guide shows.
//!
//! Pages (docs.aws.amazon.com/eventbridge/latest/userguide/...):
//! - `eb-event-patterns.html` — "Creating event patterns", "Match values", "Example events and
//!   event patterns" (field matching, value matching) and the summary table of comparisons;
//! - `eb-event-patterns-null-values.html` — "Matching null values and empty strings";
//! - `eb-event-patterns-arrays.html` — "Arrays in event patterns";
//! - `eb-create-pattern-operators.html` (formerly `eb-event-patterns-content-based-filtering.html`
//!   / `content-filtering-with-event-patterns.html`) — "Comparison operators": prefix, suffix and
//!   their ignore-case forms, anything-but and its prefix/suffix/equals-ignore-case/wildcard
//!   forms, numeric, IP address, exists, equals-ignore-case, wildcard, `$or`, the complex
//!   example and the note on repeated keys.
//!
//! Where the guide and EventBridge's actual behaviour (aws/event-ruler) differ, the test says so
//! next to the assertion.

use eddy_pattern::{Limits, MatcherBuilder, Pattern};

/// Whether `pattern` matches `event`, checked both through [`Pattern::matches`] and through a
/// multi-rule [`eddy_pattern::Matcher`] holding an unrelated rule too; the two must agree.
fn matches(pattern: &str, event: &str) -> bool {
    let p = Pattern::parse(pattern).unwrap_or_else(|e| panic!("pattern {pattern} rejected: {e}"));
    let one = p
        .matches(event)
        .unwrap_or_else(|e| panic!("event {event} not accepted: {e}"));
    let mut b = MatcherBuilder::new();
    b.add(1, &p);
    b.add(2, &Pattern::parse(r#"{"unrelated-field": ["x"]}"#).unwrap());
    let m = b.build();
    let mut out = Vec::new();
    m.matches(event.as_bytes(), &mut out).unwrap();
    assert_eq!(
        one,
        out.contains(&1),
        "Matcher and Pattern disagree on {pattern} / {event}"
    );
    one
}

#[track_caller]
fn yes(pattern: &str, event: &str) {
    assert!(
        matches(pattern, event),
        "expected a match:\n  {pattern}\n  {event}"
    );
}

#[track_caller]
fn no(pattern: &str, event: &str) {
    assert!(
        !matches(pattern, event),
        "expected no match:\n  {pattern}\n  {event}"
    );
}

/// The full error text for a pattern that must be rejected.
#[track_caller]
fn rejected(pattern: &str) -> String {
    match Pattern::parse(pattern) {
        Ok(_) => panic!("pattern should be rejected: {pattern}"),
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.starts_with("Event pattern is not valid. Reason: "),
                "unexpected error form: {text}"
            );
            text
        }
    }
}

/// An EC2 state-change event in the envelope every EventBridge event has.
fn ec2_event(state: &str) -> String {
    format!(
        r#"{{"version":"0","id":"0d6a1a1c-0000-4000-8000-00000000e2c2",
        "detail-type":"EC2 Instance State-change Notification","source":"aws.ec2",
        "account":"210987654321","time":"2023-04-05T06:07:08Z","region":"eu-central-1",
        "resources":["arn:aws:ec2:eu-central-1:210987654321:instance/i-0aa11bb22cc33dd44"],
        "detail":{{"instance-id":"i-0aa11bb22cc33dd44","state":{state}}}}}"#
    )
}

/// An event whose `detail` is the given JSON object text.
fn detail(obj: &str) -> String {
    format!(
        r#"{{"source":"com.example.orders","detail-type":"Order Placed",
        "time":"2023-04-05T06:07:08Z","region":"us-east-1","detail":{obj}}}"#
    )
}

// ---------------------------------------------------------------------------------------------
// eb-event-patterns.html
// ---------------------------------------------------------------------------------------------

mod event_patterns_page {
    use super::*;

    const TERMINATED: &str = r#"{
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
        "detail": {"state": ["terminated"]}
    }"#;

    /// "Creating event patterns": the EC2 instance-termination pattern; other event fields are
    /// ignored, every pattern field must be present with the same nesting.
    #[test]
    fn creating_event_patterns_ec2_termination() {
        yes(TERMINATED, &ec2_event(r#""terminated""#));
        no(TERMINATED, &ec2_event(r#""running""#));
        // The field is there, but not nested under `detail`.
        no(
            TERMINATED,
            r#"{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification",
                "state":"terminated","detail":{}}"#,
        );
        // All three fields must hold (AND).
        no(
            TERMINATED,
            r#"{"source":"aws.autoscaling","detail-type":"EC2 Instance State-change Notification",
                "detail":{"state":"terminated"}}"#,
        );
    }

    /// "Creating event patterns": strings match character by character, with no case folding
    /// or other normalisation.
    #[test]
    fn creating_event_patterns_strings_are_exact() {
        no(TERMINATED, &ec2_event(r#""Terminated""#));
        no(TERMINATED, &ec2_event(r#""terminated ""#));
        // Escapes in the event are decoded before comparing.
        yes(TERMINATED, &ec2_event(r#""termin\u0061ted""#));
    }

    /// "Creating event patterns" says that for numbers EventBridge uses the string form, so
    /// that 300, 300.0 and 3.0e2 are not equal. That sentence predates event-ruler's numeric
    /// matching: EventBridge (event-ruler, which compiles a number in a pattern to both an exact
    /// and a numeric-equality matcher) treats them as equal, and the issue this crate implements
    /// asks for that. What the page does get right: a number never matches a string.
    #[test]
    fn creating_event_patterns_numbers() {
        let p = r#"{"detail": {"price": [300]}}"#;
        yes(p, &detail(r#"{"price": 300}"#));
        yes(p, &detail(r#"{"price": 300.0}"#));
        yes(p, &detail(r#"{"price": 3.0e2}"#));
        no(p, &detail(r#"{"price": "300"}"#));
        no(p, &detail(r#"{"price": 301}"#));
    }

    /// "Match values": several values in the array are alternatives (OR).
    #[test]
    fn match_values_ec2_or_fargate() {
        let p = r#"{"source": ["aws.ec2", "aws.fargate"]}"#;
        yes(p, r#"{"source":"aws.fargate","detail":{}}"#);
        yes(p, r#"{"source":"aws.ec2","detail":{}}"#);
        no(p, r#"{"source":"aws.lambda","detail":{}}"#);
        no(p, r#"{"detail":{"source":"aws.ec2"}}"#);
    }

    /// "Example events and event patterns" / "Field matching": an Auto Scaling event whose
    /// `responseElements` is null, matched with `[null]`.
    #[test]
    fn field_matching_null_response_elements() {
        let p = r#"{
            "source": ["aws.autoscaling"],
            "detail-type": ["EC2 Instance Launch Successful"],
            "detail": {"responseElements": [null]}
        }"#;
        let event = |re: &str| {
            format!(
                r#"{{"version":"0","id":"6f1c0e2a-1111-4222-8333-944455556666",
                "detail-type":"EC2 Instance Launch Successful","source":"aws.autoscaling",
                "account":"210987654321","time":"2022-01-02T03:04:05Z","region":"us-west-2",
                "resources":[],"detail":{{"eventVersion":"","responseElements":{re}}}}}"#
            )
        };
        yes(p, &event("null"));
        no(p, &event(r#""null""#));
        no(p, &event(r#"{"instanceId":"i-1"}"#));
        no(p, &event("[]"));
        no(
            p,
            r#"{"source":"aws.autoscaling","detail-type":"EC2 Instance Launch Successful",
                "detail":{"eventVersion":""}}"#,
        );
    }

    /// "Example events and event patterns" / "Value matching": a Macie alert matched on two
    /// numbers at different depths.
    #[test]
    fn value_matching_macie_alert() {
        let p = r#"{
            "source": ["aws.macie"],
            "detail-type": ["Macie Alert"],
            "detail": {"risk-score": [80], "trigger": {"risk": [8]}}
        }"#;
        let event = |score: &str, risk: &str| {
            format!(
                r#"{{"version":"0","id":"a0b1c2d3-0000-4000-8000-000000000001",
                "detail-type":"Macie Alert","source":"aws.macie","account":"210987654321",
                "time":"2021-06-07T08:09:10Z","region":"us-east-1",
                "resources":["arn:aws:macie:us-east-1:210987654321:trigger/t1/alert/a1"],
                "detail":{{"notification-type":"ALERT_CREATED","name":"Unusual bucket access",
                  "tags":["Custom_Alert","Insider"],"risk-score":{score},
                  "trigger":{{"rule-arn":"arn:aws:macie:us-east-1:210987654321:trigger/t1",
                    "alert-type":"basic","risk":{risk}}}}}}}"#
            )
        };
        yes(p, &event("80", "8"));
        no(p, &event("80", "9"));
        no(p, &event("79", "8"));
        no(p, &event(r#""80""#, "8"));
    }

    /// The summary table of comparisons on the same page, one row at a time.
    #[test]
    fn comparison_summary_table() {
        // Null
        yes(r#"{"UserID": [null]}"#, r#"{"UserID": null}"#);
        no(r#"{"UserID": [null]}"#, r#"{"UserID": "u-1"}"#);
        no(r#"{"UserID": [null]}"#, r#"{"Other": null}"#);
        // Empty
        yes(r#"{"LastName": [""]}"#, r#"{"LastName": ""}"#);
        no(r#"{"LastName": [""]}"#, r#"{"LastName": "Doe"}"#);
        // Equals
        yes(r#"{"Name": ["Alice"]}"#, r#"{"Name": "Alice"}"#);
        no(r#"{"Name": ["Alice"]}"#, r#"{"Name": "alice"}"#);
        // And
        let and = r#"{"Location": ["New York"], "Day": ["Monday"]}"#;
        yes(and, r#"{"Location": "New York", "Day": "Monday"}"#);
        no(and, r#"{"Location": "New York", "Day": "Tuesday"}"#);
        no(and, r#"{"Location": "New York"}"#);
        // Or
        let or = r#"{"PaymentType": ["Credit", "Debit"]}"#;
        yes(or, r#"{"PaymentType": "Debit"}"#);
        no(or, r#"{"PaymentType": "Cash"}"#);
        // Not
        let not = r#"{"Weather": [{"anything-but": ["Raining"]}]}"#;
        yes(not, r#"{"Weather": "Sunny"}"#);
        no(not, r#"{"Weather": "Raining"}"#);
        // Numeric (equals)
        let eq = r#"{"Price": [{"numeric": ["=", 100]}]}"#;
        yes(eq, r#"{"Price": 100}"#);
        yes(eq, r#"{"Price": 1.0e2}"#);
        no(eq, r#"{"Price": 100.5}"#);
        no(eq, r#"{"Price": "100"}"#);
        // Numeric (range). The table prints the operator as "≤"; only the ASCII "<=" is an
        // operator (see `validation::numeric_operators_are_ascii`).
        let range = r#"{"Price": [{"numeric": [">", 10, "<=", 20]}]}"#;
        yes(range, r#"{"Price": 20}"#);
        yes(range, r#"{"Price": 10.01}"#);
        no(range, r#"{"Price": 10}"#);
        no(range, r#"{"Price": 20.5}"#);
        // Exists / does not exist
        yes(
            r#"{"ProductName": [{"exists": true}]}"#,
            r#"{"ProductName": "Widget"}"#,
        );
        no(
            r#"{"ProductName": [{"exists": true}]}"#,
            r#"{"Product": "Widget"}"#,
        );
        yes(
            r#"{"ProductName": [{"exists": false}]}"#,
            r#"{"Product": "Widget"}"#,
        );
        no(
            r#"{"ProductName": [{"exists": false}]}"#,
            r#"{"ProductName": "Widget"}"#,
        );
        // Begins with
        yes(
            r#"{"Region": [{"prefix": "us-"}]}"#,
            r#"{"Region": "us-west-2"}"#,
        );
        no(
            r#"{"Region": [{"prefix": "us-"}]}"#,
            r#"{"Region": "eu-west-1"}"#,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// eb-event-patterns-null-values.html
// ---------------------------------------------------------------------------------------------

mod null_and_empty_page {
    use super::*;

    fn launch_event(version: &str, response: &str) -> String {
        format!(
            r#"{{"version":"0","id":"9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
            "detail-type":"EC2 Instance Launch Successful","source":"aws.autoscaling",
            "account":"210987654321","time":"2020-02-03T04:05:06Z","region":"ap-south-1",
            "resources":[],"detail":{{"eventVersion":{version},"responseElements":{response}}}}}"#
        )
    }

    /// An empty string is matched by `[""]`.
    #[test]
    fn empty_string_matches_empty_string() {
        let p = r#"{"detail": {"eventVersion": [""]}}"#;
        yes(p, &launch_event(r#""""#, "null"));
        no(p, &launch_event(r#""1.0""#, "null"));
        no(p, &launch_event(r#"" ""#, "null"));
    }

    /// `null` is matched by `[null]`.
    #[test]
    fn null_matches_null() {
        let p = r#"{"detail": {"responseElements": [null]}}"#;
        yes(p, &launch_event(r#""""#, "null"));
        no(p, &launch_event(r#""""#, r#"{"ok":true}"#));
        no(p, &launch_event(r#""""#, "false"));
        no(p, &launch_event(r#""""#, "0"));
    }

    /// The note: null and the empty string are not interchangeable.
    #[test]
    fn null_and_empty_string_are_distinct() {
        no(
            r#"{"detail": {"eventVersion": [null]}}"#,
            &launch_event(r#""""#, "null"),
        );
        no(
            r#"{"detail": {"responseElements": [""]}}"#,
            &launch_event(r#""""#, "null"),
        );
        // A missing field is neither.
        no(
            r#"{"detail": {"missing": [null]}}"#,
            &launch_event(r#""""#, "null"),
        );
        no(
            r#"{"detail": {"missing": [""]}}"#,
            &launch_event(r#""""#, "null"),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// eb-event-patterns-arrays.html
// ---------------------------------------------------------------------------------------------

mod arrays_page {
    use super::*;

    const RESOURCES: &str = r#"{"resources": [
        "arn:aws:ec2:us-east-1:210987654321:instance/i-0f00ba4",
        "arn:aws:ec2:us-east-1:333344445555:instance/i-0f00ba4",
        "arn:aws:ec2:us-east-1:666677778888:instance/i-0f00ba4"
    ]}"#;

    /// An event array matches when it shares at least one value with the pattern's array: here
    /// the pattern's first value is the event's second element.
    #[test]
    fn intersection_of_pattern_and_event_arrays() {
        yes(
            RESOURCES,
            r#"{"resources": [
                "arn:aws:autoscaling:us-east-1:210987654321:autoScalingGroup:0c1d2e3f:autoScalingGroupName/web",
                "arn:aws:ec2:us-east-1:210987654321:instance/i-0f00ba4"
            ]}"#,
        );
        no(
            RESOURCES,
            r#"{"resources": [
                "arn:aws:autoscaling:us-east-1:210987654321:autoScalingGroup:0c1d2e3f:autoScalingGroupName/web",
                "arn:aws:ec2:us-east-1:210987654321:instance/i-0000000"
            ]}"#,
        );
        no(RESOURCES, r#"{"resources": []}"#);
    }

    /// A scalar in the event is compared like a one-element array.
    #[test]
    fn scalar_event_value_against_pattern_array() {
        yes(
            RESOURCES,
            r#"{"resources": "arn:aws:ec2:us-east-1:666677778888:instance/i-0f00ba4"}"#,
        );
        no(
            RESOURCES,
            r#"{"resources": "arn:aws:ec2:us-east-1:999999999999:instance/i-0f00ba4"}"#,
        );
    }

    /// The docs are silent on arrays of objects; EventBridge (event-ruler) requires fields
    /// under the same array of objects to match within one element.
    #[test]
    fn fields_under_one_array_match_within_one_element() {
        let p = r#"{"detail": {"items": {"sku": ["A-1"], "qty": [2]}}}"#;
        yes(
            p,
            &detail(r#"{"items": [{"sku": "B-2", "qty": 2}, {"sku": "A-1", "qty": 2}]}"#),
        );
        no(
            p,
            &detail(r#"{"items": [{"sku": "A-1", "qty": 1}, {"sku": "B-2", "qty": 2}]}"#),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// eb-create-pattern-operators.html ("Comparison operators" / content filtering)
// ---------------------------------------------------------------------------------------------

mod prefix {
    use super::*;

    /// "Prefix matching": the `time` field starting with a date.
    #[test]
    fn prefix_on_time() {
        let p = r#"{"time": [{"prefix": "2017-10-02"}]}"#;
        yes(p, r#"{"time": "2017-10-02T18:43:48Z"}"#);
        yes(p, r#"{"time": "2017-10-02"}"#);
        no(p, r#"{"time": "2017-10-03T00:00:00Z"}"#);
        no(p, r#"{"time": "x2017-10-02"}"#);
        // Prefix matching is for string values only.
        no(r#"{"n": [{"prefix": "12"}]}"#, r#"{"n": 1234}"#);
    }

    /// "Prefix matching example" (earlier revision): Auto Scaling events from European regions.
    #[test]
    fn prefix_on_region() {
        let p = r#"{"source": ["aws.autoscaling"], "region": [{"prefix": "eu-"}]}"#;
        yes(
            p,
            r#"{"source": "aws.autoscaling", "region": "eu-north-1"}"#,
        );
        no(p, r#"{"source": "aws.autoscaling", "region": "us-east-1"}"#);
        no(p, r#"{"source": "aws.ec2", "region": "eu-north-1"}"#);
    }

    /// "Prefix matching while ignoring case": `prefix` with `equals-ignore-case`.
    #[test]
    fn prefix_ignoring_case() {
        let p = r#"{"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}"#;
        yes(p, &detail(r#"{"service": "EventBridge"}"#));
        yes(p, &detail(r#"{"service": "eventbus"}"#));
        yes(p, &detail(r#"{"service": "EVENTB"}"#));
        no(p, &detail(r#"{"service": "MyEventBridge"}"#));
        no(p, &detail(r#"{"service": "Event"}"#));
    }
}

mod suffix {
    use super::*;

    /// "Suffix matching": file names ending in `.png`.
    #[test]
    fn suffix_on_file_name() {
        let p = r#"{"FileName": [{"suffix": ".png"}]}"#;
        yes(p, r#"{"FileName": "holiday/beach.png"}"#);
        no(p, r#"{"FileName": "holiday/beach.PNG"}"#);
        no(p, r#"{"FileName": "beach.png.tmp"}"#);
        no(p, r#"{"FileName": "beach.jpg"}"#);
    }

    /// "Suffix matching while ignoring case".
    #[test]
    fn suffix_ignoring_case() {
        let p = r#"{"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}"#;
        yes(p, &detail(r#"{"FileName": "scan.PNG"}"#));
        yes(p, &detail(r#"{"FileName": "scan.Png"}"#));
        yes(p, &detail(r#"{"FileName": "scan.png"}"#));
        no(p, &detail(r#"{"FileName": "scan.gif"}"#));
        no(p, &detail(r#"{"FileName": "scan.png.bak"}"#));
    }

    /// The operators table: a service name ending in "tbridge", any case.
    #[test]
    fn suffix_ignore_case_table_row() {
        let p = r#"{"service": [{"suffix": {"equals-ignore-case": "tbridge"}}]}"#;
        yes(p, r#"{"service": "EvenTBRIDGE"}"#);
        no(p, r#"{"service": "bridge"}"#);
    }
}

mod anything_but {
    use super::*;

    /// "Anything-but matching" with a string.
    #[test]
    fn single_string() {
        let p = r#"{"detail": {"state": [{"anything-but": "initializing"}]}}"#;
        yes(p, &detail(r#"{"state": "running"}"#));
        no(p, &detail(r#"{"state": "initializing"}"#));
        // Never matches a missing field ...
        no(p, &detail(r#"{"status": "running"}"#));
        // ... but matches values of another type and null (the issue's stated semantics,
        // which are event-ruler's).
        yes(p, &detail(r#"{"state": 7}"#));
        yes(p, &detail(r#"{"state": null}"#));
    }

    /// "Anything-but matching" with a number.
    #[test]
    fn single_number() {
        let p = r#"{"detail": {"x-limit": [{"anything-but": 123}]}}"#;
        yes(p, &detail(r#"{"x-limit": 124}"#));
        no(p, &detail(r#"{"x-limit": 123}"#));
        no(p, &detail(r#"{"x-limit": 1.23e2}"#));
        yes(p, &detail(r#"{"x-limit": "123"}"#));
    }

    /// "Anything-but matching" with a list of strings.
    #[test]
    fn list_of_strings() {
        let p = r#"{"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}"#;
        yes(p, &detail(r#"{"state": "running"}"#));
        no(p, &detail(r#"{"state": "stopped"}"#));
        no(p, &detail(r#"{"state": "overloaded"}"#));
    }

    /// "Anything-but matching" with a list of numbers.
    #[test]
    fn list_of_numbers() {
        let p = r#"{"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}"#;
        yes(p, &detail(r#"{"x-limit": 250}"#));
        no(p, &detail(r#"{"x-limit": 200}"#));
        no(p, &detail(r#"{"x-limit": 3e2}"#));
    }

    /// "Anything-but matching example" (earlier revision): everything except CloudTrail API
    /// calls, and everything not from EC2 or S3.
    #[test]
    fn exclude_detail_type_and_sources() {
        let p = r#"{"detail-type": [{"anything-but": "AWS API Call via CloudTrail"}]}"#;
        yes(
            p,
            r#"{"detail-type": "EC2 Instance State-change Notification"}"#,
        );
        no(p, r#"{"detail-type": "AWS API Call via CloudTrail"}"#);
        let p = r#"{"source": [{"anything-but": ["aws.ec2", "aws.s3"]}]}"#;
        yes(p, r#"{"source": "aws.sqs"}"#);
        no(p, r#"{"source": "aws.s3"}"#);
    }

    /// "Anything-but matching" on a prefix: `state` not starting with `init`; and the guide's
    /// own-events example, sources not starting with `aws.`.
    #[test]
    fn prefix() {
        let p = r#"{"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}"#;
        yes(p, &detail(r#"{"state": "running"}"#));
        yes(p, &detail(r#"{"state": "reinit"}"#));
        no(p, &detail(r#"{"state": "initializing"}"#));
        no(p, &detail(r#"{"state": "init"}"#));
        let p = r#"{"source": [{"anything-but": {"prefix": "aws."}}]}"#;
        yes(p, r#"{"source": "com.example.billing"}"#);
        no(p, r#"{"source": "aws.ec2"}"#);
        // The table's region example.
        let p = r#"{"Region": [{"anything-but": {"prefix": "us-"}}]}"#;
        yes(p, r#"{"Region": "ap-southeast-2"}"#);
        no(p, r#"{"Region": "us-gov-west-1"}"#);
    }

    /// An earlier revision notes that anything-but works with a single prefix, not a list.
    /// EventBridge has since accepted a list of prefixes (event-ruler's
    /// `testAnythingButPrefixSet`, part of the conformance cases), so lists are accepted here.
    #[test]
    fn prefix_list() {
        let p = r#"{"detail": {"state": [{"anything-but": {"prefix": ["init", "stop"]}}]}}"#;
        yes(p, &detail(r#"{"state": "running"}"#));
        no(p, &detail(r#"{"state": "stopping"}"#));
        no(p, &detail(r#"{"state": "initializing"}"#));
    }

    /// "Anything-but matching" on a suffix: file names not ending in `.png`.
    #[test]
    fn suffix() {
        let p = r#"{"FileName": [{"anything-but": {"suffix": ".png"}}]}"#;
        yes(p, r#"{"FileName": "notes.txt"}"#);
        yes(p, r#"{"FileName": "image.png.txt"}"#);
        no(p, r#"{"FileName": "image.png"}"#);
        no(
            r#"{"FileName": [{"anything-but": {"suffix": ".png"}}]}"#,
            r#"{"File": "a.txt"}"#,
        );
    }

    /// "Anything-but matching" ignoring case, single value and list.
    #[test]
    fn equals_ignore_case() {
        let p =
            r#"{"detail": {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}}"#;
        yes(p, &detail(r#"{"state": "running"}"#));
        no(p, &detail(r#"{"state": "INITIALIZING"}"#));
        no(p, &detail(r#"{"state": "Initializing"}"#));
        let p = r#"{"detail": {"state": [{"anything-but": {"equals-ignore-case": ["initializing", "stopped"]}}]}}"#;
        yes(p, &detail(r#"{"state": "running"}"#));
        no(p, &detail(r#"{"state": "Stopped"}"#));
        no(p, &detail(r#"{"state": "initializing"}"#));
    }

    /// "Anything-but matching using a wildcard": file paths that do not contain `/lib/`,
    /// single value and list.
    #[test]
    fn wildcard() {
        let p = r#"{"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#;
        yes(p, r#"{"FilePath": "/usr/bin/env"}"#);
        yes(p, r#"{"FilePath": "/usr/library"}"#);
        no(p, r#"{"FilePath": "/usr/lib/libc.so"}"#);
        let p = r#"{"FilePath": [{"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}]}"#;
        yes(p, r#"{"FilePath": "/etc/hosts"}"#);
        no(p, r#"{"FilePath": "/usr/bin/env"}"#);
        no(p, r#"{"FilePath": "/opt/lib/x"}"#);
    }
}

mod numeric {
    use super::*;

    const COUNTS: &str = r#"{"detail": {
        "c-count": [{"numeric": [">", 0, "<=", 5]}],
        "d-count": [{"numeric": ["<", 10]}],
        "x-limit": [{"numeric": ["=", 3.018e2]}]
    }}"#;

    /// "Numeric matching": every field's condition must hold.
    #[test]
    fn all_fields_must_hold() {
        yes(
            COUNTS,
            &detail(r#"{"c-count": 5, "d-count": 9, "x-limit": 301.8}"#),
        );
        yes(
            COUNTS,
            &detail(r#"{"c-count": 0.5, "d-count": -3, "x-limit": 3.018e2}"#),
        );
        no(
            COUNTS,
            &detail(r#"{"c-count": 0, "d-count": 9, "x-limit": 301.8}"#),
        );
        no(
            COUNTS,
            &detail(r#"{"c-count": 5.5, "d-count": 9, "x-limit": 301.8}"#),
        );
        no(
            COUNTS,
            &detail(r#"{"c-count": 5, "d-count": 10, "x-limit": 301.8}"#),
        );
        no(
            COUNTS,
            &detail(r#"{"c-count": 5, "d-count": 9, "x-limit": 301.81}"#),
        );
        no(COUNTS, &detail(r#"{"c-count": 5, "d-count": 9}"#));
    }

    /// "Numeric matching works with values that are JSON numbers": strings holding digits do
    /// not match.
    #[test]
    fn only_json_numbers() {
        no(
            COUNTS,
            &detail(r#"{"c-count": "5", "d-count": 9, "x-limit": 301.8}"#),
        );
        no(r#"{"n": [{"numeric": [">", 0]}]}"#, r#"{"n": true}"#);
        no(r#"{"n": [{"numeric": [">", 0]}]}"#, r#"{"n": null}"#);
    }

    /// The stated range and precision: values within ±5.0e9 (±1.0e9 in earlier revisions)
    /// with up to six digits after the decimal point compare exactly. (Outside that, this
    /// crate compares IEEE doubles, event-ruler 2.x's rule; see the crate docs.)
    #[test]
    fn precision_within_the_documented_range() {
        let p = r#"{"n": [{"numeric": [">", 0.000001, "<", 999999999.999999]}]}"#;
        yes(p, r#"{"n": 0.000002}"#);
        yes(p, r#"{"n": 999999999.999998}"#);
        no(p, r#"{"n": 0.000001}"#);
        no(p, r#"{"n": 999999999.999999}"#);
        let p = r#"{"n": [{"numeric": [">=", -5.0e9, "<=", 5.0e9]}]}"#;
        yes(p, r#"{"n": -5000000000}"#);
        yes(p, r#"{"n": 5e9}"#);
        no(p, r#"{"n": 5000000000.000001}"#);
    }
}

mod ip_address {
    use super::*;

    /// "IP address matching": IPv4 addresses in 10.0.0.0/24.
    #[test]
    fn ipv4_cidr() {
        let p = r#"{"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}"#;
        yes(p, &detail(r#"{"sourceIPAddress": "10.0.0.0"}"#));
        yes(p, &detail(r#"{"sourceIPAddress": "10.0.0.255"}"#));
        no(p, &detail(r#"{"sourceIPAddress": "10.0.1.0"}"#));
        no(p, &detail(r#"{"sourceIPAddress": "11.0.0.1"}"#));
        no(p, &detail(r#"{"sourceIPAddress": "not an address"}"#));
        no(p, &detail(r#"{"sourceIPAddress": 167772161}"#));
    }

    /// "IP address matching" works for IPv6 too.
    #[test]
    fn ipv6_cidr() {
        let p = r#"{"detail": {"sourceIPAddress": [{"cidr": "2001:db8:4::/48"}]}}"#;
        yes(p, &detail(r#"{"sourceIPAddress": "2001:db8:4::1"}"#));
        yes(
            p,
            &detail(r#"{"sourceIPAddress": "2001:0db8:0004:ffff:0:0:0:9"}"#),
        );
        no(p, &detail(r#"{"sourceIPAddress": "2001:db8:5::1"}"#));
        no(p, &detail(r#"{"sourceIPAddress": "10.0.0.1"}"#));
    }
}

mod exists {
    use super::*;

    /// "Exists matching": `detail.state` present.
    #[test]
    fn exists_true() {
        let p = r#"{"detail": {"state": [{"exists": true}]}}"#;
        yes(p, &ec2_event(r#""pending""#));
        yes(p, &ec2_event("null"));
        no(
            p,
            r#"{"detail-type":"EC2 Instance State-change Notification","detail":{"c-count":{"c1":100}}}"#,
        );
        no(p, r#"{"source":"aws.ec2"}"#);
    }

    /// "Exists matching" (earlier revision): `detail.c-count` absent; it also matches when
    /// `c-count` is an object, because exists applies to leaves only.
    #[test]
    fn exists_false_and_leaves_only() {
        let p = r#"{"detail": {"c-count": [{"exists": false}]}}"#;
        yes(p, &detail(r#"{"state": "running"}"#));
        yes(
            p,
            &detail(r#"{"state": "running", "c-count": {"c1": 100}}"#),
        );
        no(p, &detail(r#"{"state": "running", "c-count": 3}"#));
        no(p, &detail(r#"{"c-count": null}"#));
        // And `exists: true` is not met by an intermediate node.
        no(
            r#"{"detail": {"c-count": [{"exists": true}]}}"#,
            &detail(r#"{"c-count": {"c1": 100}}"#),
        );
    }

    /// "Existence matching example" (earlier revision): events that have a description.
    #[test]
    fn exists_description() {
        let p = r#"{"detail": {"description": [{"exists": true}]}}"#;
        yes(p, &detail(r#"{"description": "full text"}"#));
        no(p, &detail(r#"{"summary": "short"}"#));
    }
}

mod equals_ignore_case {
    use super::*;

    /// "Equals-ignore-case matching": the name Alice in any case.
    #[test]
    fn name_in_any_case() {
        let p = r#"{"detail": {"name": [{"equals-ignore-case": "alice"}]}}"#;
        yes(p, &detail(r#"{"name": "Alice"}"#));
        yes(p, &detail(r#"{"name": "ALICE"}"#));
        yes(p, &detail(r#"{"name": "alice"}"#));
        no(p, &detail(r#"{"name": "Alicia"}"#));
        no(p, &detail(r#"{"name": "alice "}"#));
        no(p, &detail(r#"{"nickname": "alice"}"#));
    }
}

mod wildcard {
    use super::*;

    /// "Wildcard matching": any event bus in one region, any account.
    #[test]
    fn event_bus_arn() {
        let p = r#"{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}"#;
        yes(
            p,
            r#"{"EventBusArn": "arn:aws:events:us-east-1:210987654321:event-bus/orders"}"#,
        );
        yes(
            p,
            r#"{"EventBusArn": "arn:aws:events:us-east-1::event-bus/"}"#,
        );
        no(
            p,
            r#"{"EventBusArn": "arn:aws:events:us-west-2:210987654321:event-bus/orders"}"#,
        );
        no(
            p,
            r#"{"EventBusArn": "arn:aws:events:us-east-1:210987654321:rule/orders"}"#,
        );
    }

    /// The operators table: `.png` files under `dir`. A `*` matches any characters, `/`
    /// included.
    #[test]
    fn png_under_dir() {
        let p = r#"{"FileName": [{"wildcard": "dir/*.png"}]}"#;
        yes(p, r#"{"FileName": "dir/photo.png"}"#);
        yes(p, r#"{"FileName": "dir/sub/photo.png"}"#);
        yes(p, r#"{"FileName": "dir/.png"}"#);
        no(p, r#"{"FileName": "dir/photo.jpg"}"#);
        no(p, r#"{"FileName": "other/dir/photo.png"}"#);
        no(p, r#"{"FileName": 7}"#);
    }

    /// A literal `*` is written `\*`, a literal backslash `\\` (in JSON, doubled again).
    #[test]
    fn escapes() {
        let p = r#"{"k": [{"wildcard": "a\\*b"}]}"#;
        yes(p, r#"{"k": "a*b"}"#);
        no(p, r#"{"k": "axb"}"#);
        let p = r#"{"k": [{"wildcard": "c:\\\\*"}]}"#;
        yes(p, r#"{"k": "c:\\temp"}"#);
        no(p, r#"{"k": "c:/temp"}"#);
    }
}

mod or {
    use super::*;

    /// "$or matching": any one of the three numeric conditions.
    #[test]
    fn or_of_numeric_conditions() {
        let p = r#"{"detail": {"$or": [
            {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
            {"d-count": [{"numeric": ["<", 10]}]},
            {"x-limit": [{"numeric": ["=", 3.018e2]}]}
        ]}}"#;
        yes(p, &detail(r#"{"c-count": 3}"#));
        yes(p, &detail(r#"{"d-count": 1}"#));
        yes(p, &detail(r#"{"c-count": 50, "x-limit": 301.8}"#));
        no(
            p,
            &detail(r#"{"c-count": 50, "d-count": 10, "x-limit": 300}"#),
        );
        no(p, &detail(r#"{"e-count": 1}"#));
    }

    /// The operators table: Location is "New York", or Day is "Monday".
    #[test]
    fn or_across_fields() {
        let p = r#"{"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}"#;
        yes(p, r#"{"Location": "New York", "Day": "Friday"}"#);
        yes(p, r#"{"Location": "Boston", "Day": "Monday"}"#);
        no(p, r#"{"Location": "Boston", "Day": "Friday"}"#);
    }

    /// "$or matching" combined with other fields and nested `$or`.
    #[test]
    fn or_with_and_and_nesting() {
        let p = r#"{
            "source": ["aws.ec2"],
            "$or": [
                {"detail-type": ["EC2 Instance State-change Notification"]},
                {"detail": {"$or": [
                    {"severity": [{"numeric": [">=", 7]}]},
                    {"category": [{"prefix": "Security"}]}
                ]}}
            ]
        }"#;
        yes(p, &ec2_event(r#""running""#));
        yes(
            p,
            r#"{"source":"aws.ec2","detail-type":"Other","detail":{"severity":8}}"#,
        );
        yes(
            p,
            r#"{"source":"aws.ec2","detail-type":"Other","detail":{"category":"SecurityHub"}}"#,
        );
        no(
            p,
            r#"{"source":"aws.ec2","detail-type":"Other","detail":{"severity":2}}"#,
        );
        no(
            p,
            r#"{"source":"aws.s3","detail-type":"EC2 Instance State-change Notification"}"#,
        );
    }
}

mod complex_example {
    use super::*;

    /// "Complex example with multiple matching": prefix, anything-but and numeric together.
    #[test]
    fn combined_operators() {
        let p = r#"{
            "time": [{"prefix": "2017-10-02"}],
            "detail": {
                "state": [{"anything-but": "initializing"}],
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"anything-but": [100, 200, 300]}]
            }
        }"#;
        let event = |time: &str, state: &str, x: &str| {
            format!(
                r#"{{"time":"{time}","detail":{{"state":"{state}","c-count":2,"d-count":4,
                "x-limit":{x}}}}}"#
            )
        };
        yes(p, &event("2017-10-02T11:12:13Z", "running", "150"));
        no(p, &event("2017-10-01T11:12:13Z", "running", "150"));
        no(p, &event("2017-10-02T11:12:13Z", "initializing", "150"));
        no(p, &event("2017-10-02T11:12:13Z", "running", "200"));
    }

    /// The note after the complex example: when a key appears twice in a pattern, the last
    /// one is used.
    #[test]
    fn repeated_key_last_one_wins() {
        let p = r#"{"detail": {
            "location": [{"prefix": "us-"}],
            "location": [{"anything-but": "us-east"}]
        }}"#;
        yes(p, &detail(r#"{"location": "eu-west"}"#));
        yes(p, &detail(r#"{"location": "us-west"}"#));
        no(p, &detail(r#"{"location": "us-east"}"#));
    }
}

// ---------------------------------------------------------------------------------------------
// Validation errors the guide mentions (and the limits the issue names)
// ---------------------------------------------------------------------------------------------

mod validation {
    use super::*;

    /// "Match values": the value to match goes in a JSON array.
    #[test]
    fn leaf_must_be_an_array() {
        let e = rejected(r#"{"source": "aws.ec2"}"#);
        assert!(e.contains("source"), "{e}");
        let e = rejected(r#"{"detail": {"state": []}}"#);
        assert!(
            e.contains("Empty arrays are not allowed") && e.contains("detail.state"),
            "{e}"
        );
        let e = rejected(r#"{"detail": {"state": [["nested"]]}}"#);
        assert!(e.contains("detail.state"), "{e}");
        rejected(r#"["source"]"#);
        rejected("not json");
    }

    /// "Anything-but": the list must hold only strings or only numbers.
    #[test]
    fn anything_but_list_types() {
        let e = rejected(r#"{"x": [{"anything-but": ["a", 1]}]}"#);
        assert!(e.contains("mixed type"), "{e}");
        rejected(r#"{"x": [{"anything-but": [true]}]}"#);
        rejected(r#"{"x": [{"anything-but": [null]}]}"#);
        rejected(r#"{"x": [{"anything-but": {"prefix": ""}}]}"#);
        rejected(r#"{"x": [{"anything-but": {"suffix": 5}}]}"#);
        rejected(r#"{"x": [{"anything-but": {"contains": "a"}}]}"#);
    }

    /// Operators the guide does not list, and operands of the wrong type.
    #[test]
    fn unknown_operators_and_operand_types() {
        let e = rejected(r#"{"detail": {"type": [{"contains": "Normal"}]}}"#);
        assert!(e.contains("contains") && e.contains("detail.type"), "{e}");
        rejected(r#"{"a": [{"prefix": 12}]}"#);
        rejected(r#"{"a": [{"suffix": ["x"]}]}"#);
        rejected(r#"{"a": [{"equals-ignore-case": 1}]}"#);
        rejected(r#"{"a": [{"exists": "yes"}]}"#);
        rejected(r#"{"a": [{"cidr": 10}]}"#);
        rejected(r#"{"a": [{"numeric": 5}]}"#);
        rejected(r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#);
    }

    /// The operators table writes a range as `"≤"`; only the ASCII operators `=`, `<`, `<=`,
    /// `>`, `>=` exist, so the table's text taken literally is rejected.
    #[test]
    fn numeric_operators_are_ascii() {
        rejected(r#"{"Price": [{"numeric": [">", 10, "≤", 20]}]}"#);
        rejected(r#"{"Price": [{"numeric": ["==", 10]}]}"#);
        rejected(r#"{"Price": [{"numeric": [">", "10"]}]}"#);
        rejected(r#"{"Price": [{"numeric": [">", 10, ">", 5]}]}"#);
        rejected(r#"{"Price": [{"numeric": ["<", 5, ">", 10]}]}"#);
        assert!(Pattern::parse(r#"{"Price": [{"numeric": [">", 10, "<=", 20]}]}"#).is_ok());
    }

    /// "IP address matching": the operand must be a CIDR block.
    #[test]
    fn cidr_must_be_valid() {
        let e = rejected(r#"{"ip": [{"cidr": "10.0.0.0/33"}]}"#);
        assert!(e.contains("ip"), "{e}");
        rejected(r#"{"ip": [{"cidr": "10.0.0/24"}]}"#);
        rejected(r#"{"ip": [{"cidr": "2001:db8::/129"}]}"#);
        rejected(r#"{"ip": [{"cidr": "example.com"}]}"#);
    }

    /// "Wildcard matching": consecutive wildcard characters are not allowed, and rules that
    /// are too complex are rejected.
    #[test]
    fn wildcard_limits() {
        let e = rejected(r#"{"k": [{"wildcard": "a**b"}]}"#);
        assert!(e.contains("k"), "{e}");
        let too_many = "x*".repeat(Limits::default().max_wildcard_stars + 1);
        let e = rejected(&format!(r#"{{"k": [{{"wildcard": "{too_many}"}}]}}"#));
        assert!(e.contains("complex"), "{e}");
        let ok = "x*".repeat(5);
        assert!(Pattern::parse(&format!(r#"{{"k": [{{"wildcard": "{ok}"}}]}}"#)).is_ok());
    }

    /// "$or matching": at least two alternatives, each an object; and a limit on the number
    /// of combinations the `$or`s multiply out to.
    #[test]
    fn or_shape_and_combinations() {
        rejected(r#"{"$or": [{"a": ["1"]}]}"#);
        rejected(r#"{"$or": {"a": ["1"]}}"#);
        rejected(r#"{"$or": [{"a": ["1"]}, "b"]}"#);
        // 4 nested levels of 10 alternatives: 10,000 combinations, over the 1,000 limit.
        let alts = |k: &str| {
            (0..10)
                .map(|i| format!(r#"{{"{k}": ["{i}"]}}"#))
                .collect::<Vec<_>>()
                .join(",")
        };
        let p = format!(
            r#"{{"a": {{"$or": [{}]}}, "b": {{"$or": [{}]}}, "c": {{"$or": [{}]}}, "d": {{"$or": [{}]}}}}"#,
            alts("x"),
            alts("y"),
            alts("z"),
            alts("w")
        );
        let e = rejected(&p);
        assert!(e.contains("$or"), "{e}");
        // Three such levels (1,000 combinations) are accepted.
        let p = format!(
            r#"{{"a": {{"$or": [{}]}}, "b": {{"$or": [{}]}}, "c": {{"$or": [{}]}}}}"#,
            alts("x"),
            alts("y"),
            alts("z")
        );
        assert!(Pattern::parse(&p).is_ok());
    }

    /// Event pattern size: 2048 characters by default, up to 4096 when raised.
    #[test]
    fn pattern_size_limit() {
        let big = format!(r#"{{"k": ["{}"]}}"#, "v".repeat(2100));
        let e = rejected(&big);
        assert!(e.contains("2048"), "{e}");
        let raised = Limits {
            max_pattern_len: 4096,
            ..Limits::default()
        };
        assert!(Pattern::parse_with(&big, &raised).is_ok());
        let bigger = format!(r#"{{"k": ["{}"]}}"#, "v".repeat(4100));
        assert!(Pattern::parse_with(&bigger, &raised).is_err());
    }
}
