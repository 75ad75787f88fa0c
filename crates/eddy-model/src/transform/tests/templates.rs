//! `InputTransformer` rendering: the user guide's examples, AWS-recorded behaviours, and every
//! kind of value in every position.

use super::*;

// --- the user guide's template examples ---------------------------------------------------

#[test]
fn guide_simple_string() {
    assert_eq!(
        render(r#""instance <instance> is in <state>""#),
        r#""instance i-0123456789 is in RUNNING""#
    );
}

#[test]
fn guide_string_with_escaped_quotes() {
    assert_eq!(
        render(r#""instance \"<instance>\" is in <state>""#),
        r#""instance \"i-0123456789\" is in RUNNING""#
    );
}

#[test]
fn guide_string_with_quotes_as_the_cli_sends_it() {
    // "The AWS CLI escapes the slash characters and the result is
    // "instance "i-0123456789" is in RUNNING"": not JSON, substituted textually.
    assert_eq!(
        render(r#""instance "<instance>" is in <state>""#),
        r#""instance "i-0123456789" is in RUNNING""#
    );
}

#[test]
fn guide_simple_json() {
    assert_eq!(
        render("{\n  \"instance\" : <instance>,\n  \"state\": <state>\n}"),
        r#"{"instance":"i-0123456789","state":"RUNNING"}"#
    );
}

#[test]
fn guide_json_with_strings_and_variables() {
    let out = render(
        "{\n \"instance\" : <instance>,\n \"state\": \"<state>\",\n \"instanceStatus\": \"instance \\\"<instance>\\\" is in <state>\"\n}",
    );
    assert_eq!(
        out,
        r#"{"instance":"i-0123456789","state":"RUNNING","instanceStatus":"instance \"i-0123456789\" is in RUNNING"}"#
    );
    assert_eq!(
        json(&out)["instanceStatus"],
        "instance \"i-0123456789\" is in RUNNING"
    );
}

#[test]
fn guide_json_with_a_mix_of_variables_and_static_information() {
    assert_eq!(
        render(
            "{\n  \"instance\" : <instance>,\n  \"state\": [ 9, <state>, true ],\n  \"Transformed\" : \"Yes\"\n}\n"
        ),
        r#"{"instance":"i-0123456789","state":[9,"RUNNING",true],"Transformed":"Yes"}"#
    );
}

#[test]
fn guide_reserved_variables_in_json() {
    let out = render(
        "{\n  \"instance\" : <instance>,\n  \"state\": <state>,\n  \"ruleArn\" : <aws.events.rule-arn>,\n  \"ruleName\" : <aws.events.rule-name>,\n  \"originalEvent\" : <aws.events.event>\n}",
    );
    assert_eq!(
        out,
        concat!(
            r#"{"instance":"i-0123456789","state":"RUNNING","#,
            r#""ruleArn":"arn:aws:events:us-east-2:123456789012:rule/example","#,
            r#""ruleName":"example","originalEvent":{"#,
            r#""id":"7bf73129-1428-4cd3-a780-95db273d1602","account":"123456789012","#,
            r#""detailType":"EC2 Instance State-change Notification","#,
            r#""time":"2015-11-11T21:29:54Z","source":"aws.ec2","region":"us-east-1","#,
            r#""resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],"#,
            r#""version":"0"}}"#
        )
    );
}

#[test]
fn guide_reserved_variables_in_a_string() {
    assert_eq!(
        render(r#""<aws.events.rule-name> triggered""#),
        r#""example triggered""#
    );
}

#[test]
fn guide_cloudwatch_log_group_example_quotes_the_bare_timestamp() {
    // The guide shows `"timestamp" : 2015-11-11T21:29:54Z` (invalid JSON); eddy quotes it.
    let out = render(
        "{\n  \"timestamp\" : <timestamp>,\n  \"message\": \"instance \\\"<instance>\\\" is in <state>\"\n}",
    );
    assert_eq!(
        json(&out),
        json!({"timestamp": "2015-11-11T21:29:54Z", "message": "instance \"i-0123456789\" is in RUNNING"})
    );
}

#[test]
fn guide_array_index_input_path() {
    assert_eq!(
        render("{\"resource\": <resource>}"),
        r#"{"resource":"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"}"#
    );
}

#[test]
fn api_reference_examples() {
    let paths = [
        ("instance", "$.detail.instance"),
        ("status", "$.detail.status"),
    ];
    let event = r#"{"detail":{"instance":"i-1","status":"stopped"}}"#;
    assert_eq!(
        render_with(&paths, "<instance> is in state <status>", event),
        "i-1 is in state stopped"
    );
    assert_eq!(
        render_with(&paths, "<instance> is in state \"<status>\"", event),
        "i-1 is in state \"stopped\""
    );
    assert_eq!(
        render_with(
            &paths,
            r#"{"myInstance": <instance>,"myStatus": "<instance> is in state \"<status>\""}"#,
            event
        ),
        r#"{"myInstance":"i-1","myStatus":"i-1 is in state \"stopped\""}"#
    );
}

#[test]
fn multi_line_text_templates_are_kept_as_written() {
    let out = render("\"<instance> - <state>\"\n\"Since: <timestamp>\"\n");
    assert_eq!(
        out,
        "\"i-0123456789 - RUNNING\"\n\"Since: 2015-11-11T21:29:54Z\"\n"
    );
}

// --- AWS-recorded behaviours (LocalStack snapshots) ---------------------------------------

#[test]
fn recorded_string_template_with_a_missing_variable_renders_nothing() {
    let paths = [
        ("detail-type", "$.detail-type"),
        ("timestamp", "$.time"),
        ("command", "$.detail.notinmessage"),
    ];
    let template = "\"Event of <detail-type> type, at time <timestamp>, info extracted from detail <command>\"";
    assert_eq!(
        render_with(&paths, template, EC2_EVENT),
        "\"Event of EC2 Instance State-change Notification type, at time 2015-11-11T21:29:54Z, info extracted from detail \""
    );
    let special = "\"{[/Check with special starting characters for event of <detail-type> type\"";
    assert_eq!(
        render_with(&paths, special, EC2_EVENT),
        "\"{[/Check with special starting characters for event of EC2 Instance State-change Notification type\""
    );
}

#[test]
fn recorded_json_template_with_a_missing_bare_variable_renders_empty_string() {
    let paths = [
        ("detail-type", "$.detail-type"),
        ("timestamp", "$.time"),
        ("command", "$.detail.notinmessage"),
    ];
    assert_eq!(
        render_with(
            &paths,
            r#"{"detailType": <detail-type>,  "time": <timestamp>, "command": <command>}"#,
            EC2_EVENT
        ),
        r#"{"detailType":"EC2 Instance State-change Notification","time":"2015-11-11T21:29:54Z","command":""}"#
    );
    assert_eq!(
        render_with(&paths, "[<command>, \"<command>\"]", EC2_EVENT),
        r#"["",""]"#
    );
}

#[test]
fn recorded_predefined_variables() {
    let out = render(
        "\"Message containing all pre defined variables <aws.events.rule-arn> <aws.events.rule-name> <aws.events.event.ingestion-time>\"",
    );
    assert_eq!(
        out,
        format!(
            "\"Message containing all pre defined variables {RULE_ARN} example 2015-11-11T21:29:55Z\""
        )
    );
    let out = render(
        r#"{"originalEvent": <aws.events.event>, "originalEventJson": <aws.events.event.json>}"#,
    );
    let v = json(&out);
    assert_eq!(v["originalEventJson"], json(EC2_EVENT));
    assert_eq!(
        v["originalEvent"]["detailType"],
        "EC2 Instance State-change Notification"
    );
    assert!(v["originalEvent"].get("detail").is_none());
    assert!(v["originalEvent"].get("detail-type").is_none());
}

#[test]
fn predefined_variables_beat_a_map_entry_of_the_same_name() {
    let paths = [("aws.events.rule-name", "$.source")];
    assert_eq!(
        render_with(&paths, "<aws.events.rule-name>", EC2_EVENT),
        "\"example\""
    );
}

#[test]
fn event_variable_keeps_extra_members_and_tolerates_non_objects() {
    let event = r#"{"detail-type":"d","extra":[1],"detail":{},"version":"0","id":"i"}"#;
    assert_eq!(
        render_with(&[], "<aws.events.event>", event),
        r#"{"id":"i","detailType":"d","version":"0","extra":[1]}"#
    );
    assert_eq!(render_with(&[], "<aws.events.event>", "[1, 2]"), "[1,2]");
}

// --- value kinds and positions ----------------------------------------------------------------

const KINDS: &str = r#"{"detail":{"s":"say \"hi\"\\\n\tend","n":42,"f":-0.5,"t":true,"z":null,"o":{"a":"x","b":[1,"y"]},"arr":["p","q"],"e":""}}"#;

fn kinds() -> Vec<(&'static str, &'static str)> {
    vec![
        ("s", "$.detail.s"),
        ("n", "$.detail.n"),
        ("f", "$.detail.f"),
        ("t", "$.detail.t"),
        ("z", "$.detail.z"),
        ("o", "$.detail.o"),
        ("arr", "$.detail.arr"),
        ("e", "$.detail.e"),
        ("many", "$.detail.arr[*]"),
        ("gone", "$.detail.gone"),
    ]
}

#[test]
fn bare_values_in_a_json_template_are_json() {
    let out = render_with(
        &kinds(),
        r#"{"s": <s>, "n": <n>, "f": <f>, "t": <t>, "z": <z>, "o": <o>, "arr": <arr>, "e": <e>, "many": <many>, "gone": <gone>}"#,
        KINDS,
    );
    assert_eq!(
        out,
        r#"{"s":"say \"hi\"\\\n\tend","n":42,"f":-0.5,"t":true,"z":null,"o":{"a":"x","b":[1,"y"]},"arr":["p","q"],"e":"","many":["p","q"],"gone":""}"#
    );
    assert_eq!(json(&out)["s"], "say \"hi\"\\\n\tend");
}

#[test]
fn values_inside_strings_of_a_json_template_are_text_escaped() {
    let out = render_with(
        &kinds(),
        r#"{"all": "s=<s> n=<n> f=<f> t=<t> z=<z> o=<o> arr=<arr> e=<e> gone=<gone>."}"#,
        KINDS,
    );
    assert_eq!(
        json(&out)["all"],
        "s=say \"hi\"\\\n\tend n=42 f=-0.5 t=true z=null o={a:x,b:[1,y]} arr=[p,q] e= gone=."
    );
}

#[test]
fn objects_referenced_in_a_string_lose_their_quotes() {
    let paths = [("detail", "$.detail")];
    assert_eq!(
        render_with(&paths, "\"Detail is <detail>\"", EC2_EVENT),
        "\"Detail is {instance-id:i-0123456789,state:RUNNING}\""
    );
    assert_eq!(
        render_with(&paths, "Detail is <detail>", EC2_EVENT),
        "Detail is {instance-id:i-0123456789,state:RUNNING}"
    );
    // …and keep them as a JSON value.
    assert_eq!(
        render_with(&paths, "{\"detail\": <detail>}", EC2_EVENT),
        r#"{"detail":{"instance-id":"i-0123456789","state":"RUNNING"}}"#
    );
}

#[test]
fn text_templates_insert_raw_characters() {
    let out = render_with(&kinds(), "s=<s> n=<n> o=<o> z=<z> gone=<gone>!", KINDS);
    assert_eq!(
        out,
        "s=say \"hi\"\\\n\tend n=42 o={a:x,b:[1,y]} z=null gone=!"
    );
    assert_eq!(
        render_with(&[], "event: <aws.events.event.json>", EC2_EVENT),
        format!("event: {EC2_EVENT}")
    );
}

#[test]
fn a_lone_bare_placeholder_is_a_json_template() {
    let paths = [("detail", "$.detail"), ("state", "$.detail.state")];
    assert_eq!(
        render_with(&paths, " <detail> ", EC2_EVENT),
        r#"{"instance-id":"i-0123456789","state":"RUNNING"}"#
    );
    assert_eq!(render_with(&paths, "<state>", EC2_EVENT), "\"RUNNING\"");
    assert_eq!(
        render_with(&[], "<aws.events.event.json>", EC2_EVENT),
        EC2_EVENT
    );
}

#[test]
fn event_variables_inside_a_json_string_stay_valid_json() {
    let out = render_with(&[], r#"{"e": "was <aws.events.event.json>"}"#, EC2_EVENT);
    assert_eq!(json(&out)["e"], format!("was {EC2_EVENT}"));
}

#[test]
fn ingestion_time_is_iso_8601_utc_seconds() {
    let out = render_with(
        &[],
        "{\"at\": <aws.events.event.ingestion-time>}",
        EC2_EVENT,
    );
    assert_eq!(out, r#"{"at":"2015-11-11T21:29:55Z"}"#);
    let mut t = target();
    t.input_transformer = Some(transformer(&[], "<aws.events.event.ingestion-time>"));
    let zero = TransformContext {
        ingestion_time_ms: 1_767_225_600_000,
        ..cx()
    };
    assert_eq!(
        render_input(&t, EC2_EVENT, &zero).unwrap(),
        "\"2026-01-01T00:00:00Z\""
    );
}

#[test]
fn non_placeholders_are_left_alone() {
    assert_eq!(render("\"a < b and c > d\""), "\"a < b and c > d\"");
    assert_eq!(
        render("\"<undefined> <instance>\""),
        "\"<undefined> i-0123456789\""
    );
    assert_eq!(render("<<instance>>"), "<i-0123456789>");
    assert_eq!(render("x <instance"), "x <instance");
    assert_eq!(render("{\"k\": \"<>\"}"), "{\"k\":\"<>\"}");
}

#[test]
fn json_template_output_is_minified_but_strings_keep_their_spaces() {
    assert_eq!(
        render("{ \"a\" : [ 1 , { \"b c\" : \" <state> \" } ] }"),
        r#"{"a":[1,{"b c":" RUNNING "}]}"#
    );
    assert_eq!(
        render("  \"  padded <state>  \"  "),
        "\"  padded RUNNING  \""
    );
}

#[test]
fn template_without_paths_map_and_without_placeholders() {
    let mut t = target();
    t.input_transformer = Some(InputTransformer {
        input_paths_map: None,
        input_template: "{\"static\": true}".into(),
    });
    assert_eq!(
        render_input(&t, EC2_EVENT, &cx()).unwrap(),
        r#"{"static":true}"#
    );
    t.input_transformer = Some(InputTransformer {
        input_paths_map: None,
        input_template: "plain text".into(),
    });
    assert_eq!(render_input(&t, EC2_EVENT, &cx()).unwrap(), "plain text");
}

#[test]
fn unicode_survives() {
    let event = r#"{"detail":{"name":"Zoë 🚀","esc":"\u00e9\ud83d\ude80"}}"#;
    let paths = [("name", "$.detail.name"), ("esc", "$.detail.esc")];
    assert_eq!(
        render_with(&paths, "\"¡<name>! <esc>\"", event),
        "\"¡Zoë 🚀! é🚀\""
    );
    assert_eq!(render_with(&paths, "<name>", event), "\"Zoë 🚀\"");
}

#[test]
fn template_errors() {
    let mut t = target();
    t.input_transformer = Some(transformer(&[("a", "$.detail")], "<a>"));
    assert!(render_input(&t, "{", &cx()).is_err());
    t.input_transformer = Some(transformer(&[("a", "not a path")], "<a>"));
    assert!(render_input(&t, EC2_EVENT, &cx()).is_err());
    let deep = format!(
        "{}{}",
        "[".repeat(MAX_DEPTH + 10),
        "]".repeat(MAX_DEPTH + 10)
    );
    t.input_transformer = Some(transformer(&[("a", "$")], "<a>"));
    let e = render_input(&t, &deep, &cx()).unwrap_err();
    assert!(e.to_string().contains("too deep"), "{e}");
}
