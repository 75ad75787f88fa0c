//! Each kind of manifest mistake gives the exact `file:line:column: message`.

use eddy_manifest::{Source, parse};

/// Every diagnostic for `src`, without file-system checks.
fn errors(src: &str) -> Vec<String> {
    let source = Source {
        name: "eddy.toml",
        text: src,
        base_dir: None,
    };
    match parse(&source) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

/// The single diagnostic for `src`.
fn one(src: &str) -> String {
    let errs = errors(src);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    errs.into_iter().next().unwrap_or_default()
}

/// A valid function body.
const FN: &str = "code = \"f\"\nruntime = \"provided.al2023\"\n";

#[test]
fn syntax_errors_point_at_the_spot() {
    assert_eq!(
        one("version = 1\n[functions.a]\ncode = \n"),
        "eddy.toml:3:8: invalid TOML: string values must be quoted, expected literal string"
    );
    assert_eq!(
        one("version = 1\n[buses.a]\n[buses.a]\n"),
        "eddy.toml:3:8: duplicate key: this key is already defined above; remove or rename one"
    );
}

#[test]
fn version_is_required_and_must_be_1() {
    assert_eq!(
        one("[buses.a]\n"),
        "eddy.toml:1:1: missing `version = 1`; add it as the first line of the file"
    );
    assert_eq!(
        one("# eddy\n\nversion = 2\n"),
        "eddy.toml:3:11: version 2 is not supported; this eddy reads version = 1"
    );
    assert_eq!(
        one("version = \"1\"\n"),
        "eddy.toml:1:11: `version` must be the integer 1, not a string"
    );
}

#[test]
fn unknown_keys_get_a_suggestion() {
    assert_eq!(
        one("version = 1\n[function.a]\ncode = \"x\"\n"),
        "eddy.toml:2:2: unknown top-level key `function`; did you mean `functions`?"
    );
    let src = format!("version = 1\n\n[functions.notify]\n{FN}timout = 3\n");
    assert_eq!(
        one(&src),
        "eddy.toml:6:1: unknown key `timout` in function `notify`; did you mean `timeout`?"
    );
    let src =
        format!("version = 1\n[functions.notify]\n{FN}async = {{ maximum_retry_attempt = 1 }}\n");
    assert_eq!(
        one(&src),
        "eddy.toml:5:11: unknown key `async.maximum_retry_attempt` in function `notify`; did you mean `async.maximum_retry_attempts`?"
    );
    let src = "version = 1\n[queues.q]\nzzz = 1\n";
    assert_eq!(
        one(src),
        "eddy.toml:3:1: unknown key `zzz` in queue `q`; expected one of `fifo`, `content_based_deduplication`, `visibility_timeout`, `message_retention`, `delay`, `redrive`"
    );
}

#[test]
fn unknown_keys_in_arrays_of_tables_name_the_element() {
    let src = "version = 1\n[queues.q]\n[rules.r]\npattern = { source = [\"a\"] }\n[[rules.r.targets]]\nqueue = \"q\"\n[[rules.r.targets]]\nqueu = \"q\"\n";
    assert_eq!(
        one(src),
        "eddy.toml:8:1: unknown key `targets[1].queu` in rule `r`; did you mean `targets[1].queue`?"
    );
}

#[test]
fn missing_keys_and_wrong_types() {
    assert_eq!(
        one("version = 1\n[functions.notify]\nruntime = \"python3.12\"\nhandler = \"a.b\"\n"),
        "eddy.toml:2:1: missing required key `code` in function `notify`"
    );
    assert_eq!(
        one(&format!(
            "version = 1\n[functions.notify]\n{FN}timeout = \"3\"\n"
        )),
        "eddy.toml:5:11: `timeout` in function `notify` must be a non-negative integer, not string \"3\""
    );
    assert_eq!(
        one("version = 1\n[rules.r]\nschedule = \"rate(1 day)\"\nstate = \"enabled\"\n"),
        "eddy.toml:4:9: `state` in rule `r` must be `ENABLED` or `DISABLED`, not `enabled`; did you mean `ENABLED`?"
    );
    assert_eq!(
        one("version = 1\nfunctions = 3\n"),
        "eddy.toml:2:13: `functions` must be a table of named functions, like `[functions.NAME]`, not a integer"
    );
}

#[test]
fn every_error_is_reported_in_file_order() {
    let src = format!(
        "version = 1\n[functions.a]\n{FN}timeout = 901\n[functions.b]\n{FN}memory = 64\n[rules.r]\nschedule = \"rate(1 day)\"\n[[rules.r.targets]]\nfunction = \"c\"\n[queues.q]\ndelai = 3\n"
    );
    assert_eq!(
        errors(&src),
        [
            "eddy.toml:5:11: `timeout` in function `a` must be between 1 and 900, not 901",
            "eddy.toml:9:10: `memory` in function `b` must be between 128 and 10240, not 64",
            "eddy.toml:13:12: target `c` of rule `r` refers to function `c`, which is not defined; declare `[functions.c]` or use a full ARN",
            "eddy.toml:15:1: unknown key `delai` in queue `q`; did you mean `delay`?",
        ]
    );
}

#[test]
fn references_must_resolve() {
    let src =
        "version = 1\n[buses.orders]\n[rules.r]\nbus = \"ordrs\"\npattern = { source = [\"a\"] }\n";
    assert_eq!(
        one(src),
        "eddy.toml:4:7: rule `r` refers to bus `ordrs`, which is not defined; did you mean `orders`?"
    );
    let src = "version = 1\n[queues.review]\nredrive = { dead_letter_queue = \"reviw-dlq\", max_receive_count = 3 }\n";
    assert_eq!(
        one(src),
        "eddy.toml:3:33: queue `review` refers to queue `reviw-dlq`, which is not defined; declare `[queues.reviw-dlq]` or use a full ARN"
    );
    let src = "version = 1\n[rules.r]\npattern = { source = [\"a\"] }\n[[rules.r.targets]]\narn = \"arn:aws:sqs:us-east-1:123456789012:q\"\n[[rules.r.targets]]\narn = \"q\"\n";
    assert_eq!(
        one(src),
        "eddy.toml:7:7: `targets[1].arn` in target `target-1` of rule `r` is not a valid ARN: expected `arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE` (or use `queue`, `function`, `bus` for resources of this manifest)"
    );
    let src = format!("version = 1\n[functions.f]\n{FN}async = {{ on_failure = \"dlq\" }}\n");
    assert_eq!(
        one(&src),
        "eddy.toml:5:24: `async.on_failure` in function `f` must be `queue:NAME`, `function:NAME`, `bus:NAME` or an ARN, not `dlq`"
    );
}

#[test]
fn targets_need_exactly_one_kind() {
    let src = "version = 1\n[queues.q]\n[rules.r]\npattern = { source = [\"a\"] }\n[[rules.r.targets]]\nid = \"t\"\n[[rules.r.targets]]\nqueue = \"q\"\nbus = \"default\"\n";
    assert_eq!(
        errors(src),
        [
            "eddy.toml:5:1: target `t` of rule `r` needs one of `arn`, `queue`, `function`, `bus`, `api_destination`, `topic`",
            "eddy.toml:7:1: target `q` of rule `r` sets both `queue` and `bus`; keep one",
        ]
    );
}

#[test]
fn names_follow_aws_rules() {
    assert_eq!(
        one("version = 1\n[buses.\"my bus\"]\n"),
        "eddy.toml:2:8: bus name `my bus` is not valid: use 1 to 256 characters from `[\\.\\-_A-Za-z0-9]`"
    );
    assert_eq!(
        one(&format!("version = 1\n[functions.\"a.b\"]\n{FN}")),
        "eddy.toml:2:12: function name `a.b` is not valid: use 1 to 64 characters from `[a-zA-Z0-9-_]`"
    );
    let long = "r".repeat(65);
    assert_eq!(
        one(&format!(
            "version = 1\n[rules.{long}]\nschedule = \"rate(1 day)\"\n"
        )),
        format!(
            "eddy.toml:2:8: rule name `{long}` is not valid: use 1 to 64 characters from `[\\.\\-_A-Za-z0-9]`"
        )
    );
    assert_eq!(
        one("version = 1\n[buses.default]\n"),
        "eddy.toml:2:8: bus `default` always exists; remove `[buses.default]`"
    );
}

#[test]
fn fifo_queues_end_in_dot_fifo() {
    assert_eq!(
        one("version = 1\n[queues.jobs]\nfifo = true\n"),
        "eddy.toml:2:9: FIFO queue `jobs` must have a name ending in `.fifo`; rename it `[queues.\"jobs.fifo\"]`"
    );
    assert_eq!(
        one("version = 1\n[queues.\"jobs.fifo\"]\n"),
        "eddy.toml:2:9: queue `jobs.fifo` ends in `.fifo` but is not FIFO; add `fifo = true`"
    );
    assert_eq!(
        one(
            "version = 1\n[queues.\"jobs.fifo\"]\nfifo = true\nredrive = { dead_letter_queue = \"dlq\", max_receive_count = 3 }\n[queues.dlq]\n"
        ),
        "eddy.toml:4:33: the dead-letter queue of FIFO queue `jobs.fifo` must be a FIFO queue too; `dlq` is not"
    );
    assert_eq!(
        one(
            "version = 1\n[queues.\"jobs.fifo\"]\nfifo = true\n[rules.r]\npattern = { source = [\"a\"] }\n[[rules.r.targets]]\nqueue = \"jobs.fifo\"\n"
        ),
        "eddy.toml:6:1: target `jobs.fifo` of rule `r` sends to FIFO queue `jobs.fifo` and needs a `message_group_id`"
    );
}

#[test]
fn patterns_are_validated_by_eddy_pattern() {
    let src = "version = 1\n[rules.r]\npattern = { detail = { total = [{ numeric = [\">\", \"x\"] }] } }\n";
    assert_eq!(
        one(src),
        "eddy.toml:3:32: `pattern` of rule `r` is not valid: Value of > must be numeric (field 'detail.total')"
    );
    let src = "version = 1\n[rules.r]\npattern = '{\"source\": \"shop\"}'\n";
    let err = one(src);
    assert!(
        err.starts_with("eddy.toml:3:11: `pattern` of rule `r` is not valid: "),
        "{err}"
    );
    assert_eq!(
        one("version = 1\n[rules.r]\nstate = \"DISABLED\"\n"),
        "eddy.toml:2:8: rule `r` needs one of `pattern`, `schedule`"
    );
}

#[test]
fn schedule_expressions_are_validated_by_eddy_schedule() {
    assert_eq!(
        one("version = 1\n[rules.r]\nschedule = \"rate(5 minute)\"\n"),
        "eddy.toml:3:12: `schedule` of rule `r` is not valid: rate unit `minute` does not agree with value 5: use the singular unit iff the value is 1"
    );
    assert_eq!(
        one("version = 1\n[rules.r]\nschedule = \"at(2030-01-01T00:00:00)\"\n"),
        "eddy.toml:3:12: rule `r` cannot use `at(...)`: rules take `rate(...)` or `cron(...)`; declare a `[schedules.NAME]` for a one-time schedule"
    );
    assert_eq!(
        one("version = 1\n[buses.b]\n[rules.r]\nbus = \"b\"\nschedule = \"rate(1 day)\"\n"),
        "eddy.toml:5:12: scheduled rule `r` must be on the `default` bus, not `b`; remove `bus` or use a `[schedules.NAME]`"
    );
    let src = "version = 1\n[queues.q]\n[schedules.s]\nexpression = \"cron(0 2 * * *)\"\ntimezone = \"Europe/Berln\"\ntarget = { queue = \"q\" }\n";
    assert_eq!(
        errors(src),
        [
            "eddy.toml:4:14: `expression` of schedule `s` is not valid: cron expression must have 6 fields (minutes hours day-of-month month day-of-week year), found 5",
            "eddy.toml:5:12: unknown time zone `Europe/Berln` in schedule `s`; use an IANA name like `Europe/Berlin` or `UTC`",
        ]
    );
    let src = "version = 1\n[schedules.s]\nexpression = \"rate(1 day)\"\ntarget = { bus = \"default\" }\n";
    assert_eq!(
        errors(src),
        [
            "eddy.toml:4:10: the target of schedule `s` puts events on bus `default` and needs `detail_type`",
            "eddy.toml:4:10: the target of schedule `s` puts events on bus `default` and needs `source`",
        ]
    );
}

#[test]
fn input_shaping_is_validated_by_eddy_model() {
    let src = "version = 1\n[queues.q]\n[rules.r]\npattern = { source = [\"a\"] }\n[[rules.r.targets]]\nqueue = \"q\"\ninput = \"{not json\"\n";
    let err = one(src);
    assert!(
        err.starts_with(
            "eddy.toml:7:9: `targets[0].input` in target `q` of rule `r` is not valid JSON text"
        ),
        "{err}"
    );
    let src = "version = 1\n[queues.q]\n[rules.r]\npattern = { source = [\"a\"] }\n[[rules.r.targets]]\nqueue = \"q\"\ninput_transformer = { paths = { id = \"$.detail.id\" }, template = '{\"a\": <missing>}' }\n";
    let err = one(src);
    assert!(err.starts_with("eddy.toml:7:21: rule `r`: "), "{err}");
}

#[test]
fn routes_parse_and_do_not_collide() {
    let src = format!(
        "version = 1\n[functions.f]\n{FN}[apis.shop]\n[[apis.shop.routes]]\nroute = \"GET /orders/{{id}}\"\nfunction = \"f\"\n[[apis.shop.routes]]\nroute = \"GET /orders/{{orderId}}\"\nfunction = \"f\"\n[[apis.shop.routes]]\nroute = \"get /x\"\nfunction = \"f\"\n[apis.admin]\n[[apis.admin.routes]]\nroute = \"GET /orders/{{n}}\"\nfunction = \"f\"\n"
    );
    assert_eq!(
        errors(&src),
        [
            "eddy.toml:10:9: route `GET /orders/{orderId}` of api `shop` duplicates route `GET /orders/{id}`; remove one",
            "eddy.toml:13:9: route `get /x` of api `shop` is not valid: write the method in upper case: `GET`",
            "eddy.toml:17:9: route `GET /orders/{n}` of api `admin` collides with route `GET /orders/{id}` of api `shop` (same base path `/`); change one",
        ]
    );
    let src = format!(
        "version = 1\n[functions.f]\n{FN}[apis.shop]\n[[apis.shop.routes]]\nroute = \"POST /orders\"\nbus = \"default\"\nauthorizer = \"jwt\"\n"
    );
    assert_eq!(
        errors(&src),
        [
            "eddy.toml:6:1: route `POST /orders` of api `shop` puts events on bus `default` and needs `detail_type`",
            "eddy.toml:6:1: route `POST /orders` of api `shop` puts events on bus `default` and needs `source`",
            "eddy.toml:9:14: route `POST /orders` of api `shop` uses authorizer `jwt`, which is not defined; declare `[apis.shop.authorizers.jwt]`",
        ]
    );
}

#[test]
fn functions_are_checked() {
    assert_eq!(
        one(
            "version = 1\n[functions.f]\ncode = \"f\"\nruntime = \"pyhton3.12\"\nhandler = \"a.b\"\n"
        ),
        "eddy.toml:4:11: runtime `pyhton3.12` of function `f` is not supported; did you mean `python3.12`?"
    );
    assert_eq!(
        one("version = 1\n[functions.f]\ncode = \"f\"\nruntime = \"python3.12\"\n"),
        "eddy.toml:2:12: function `f` uses runtime `python3.12` and needs a `handler` (like `app.handler`)"
    );
    assert_eq!(
        one(&format!(
            "version = 1\n[functions.f]\n{FN}environment = {{ AWS_REGION = \"x\" }}\n"
        )),
        "eddy.toml:5:17: environment variable `AWS_REGION` of function `f` is reserved: the runtime sets it; remove it"
    );
    assert_eq!(
        one(&format!(
            "version = 1\n[functions.f]\n{FN}async = {{ maximum_retry_attempts = 3 }}\n"
        )),
        "eddy.toml:5:36: `async.maximum_retry_attempts` in function `f` must be between 0 and 2, not 3"
    );
}

#[test]
fn code_directories_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("present")).unwrap();
    let src = "version = 1\n[functions.a]\ncode = \"present\"\nruntime = \"provided\"\n[functions.b]\ncode = \"absent\"\nruntime = \"provided\"\n[functions.c]\ncode = \"c.zip\"\nruntime = \"provided\"\n";
    let source = Source {
        name: "app/eddy.toml",
        text: src,
        base_dir: Some(dir.path()),
    };
    let errs: Vec<String> = parse(&source)
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        [
            "app/eddy.toml:6:8: code directory `absent` of function `b` does not exist next to the manifest; create it or fix the path",
            "app/eddy.toml:9:8: code archive `c.zip` of function `c` does not exist next to the manifest; create it or fix the path",
        ]
    );
}

#[test]
fn columns_count_characters() {
    let src = "version = 1\n[queues.q]\nredrive = { dead_letter_queue = \"ünïcödé\", max_receive_count = \"x\" }\n";
    assert_eq!(
        one(src),
        "eddy.toml:3:64: `redrive.max_receive_count` in queue `q` must be a non-negative integer, not string \"x\""
    );
}

#[test]
fn nested_and_whole_resource_shapes() {
    assert_eq!(
        one("version = 1\n[queues.q]\nredrive = { dead_letter_queue = \"d\" }\n[queues.d]\n"),
        "eddy.toml:3:11: missing required key `redrive.max_receive_count` in queue `q`"
    );
    assert_eq!(
        one("version = 1\n[functions]\nnotify = 3\n"),
        "eddy.toml:3:10: function `notify` must be a table, not integer `3`"
    );
    assert_eq!(
        one("version = 1\n[apis.a]\nroutes = { route = \"GET /\" }\n"),
        "eddy.toml:3:10: `routes` in api `a` must be an array, not a table"
    );
}

#[test]
fn authorizers_are_checked() {
    let src = format!(
        "version = 1\n[functions.f]\n{FN}[apis.a]\n[apis.a.authorizers.both]\nfunction = \"f\"\njwt = {{ issuer = \"https://i/\", jwks_url = \"https://i/jwks\" }}\n[apis.a.authorizers.jwt]\njwt = {{ issuer = \"i\" }}\n"
    );
    assert_eq!(
        errors(&src),
        [
            "eddy.toml:6:21: authorizer `both` of api `a` sets both `jwt` and `function`; keep one",
            "eddy.toml:10:1: the `jwt` of authorizer `jwt` of api `a` needs one of `jwks_file`, `jwks_url`",
            "eddy.toml:10:18: `jwt.issuer` of authorizer `jwt` of api `a` must be an `https://` URL, not `i`",
        ]
    );
}
