//! `[buckets.NAME]`: what is accepted, the exact message for each mistake, the canonical form
//! and where buckets come in a plan.

use eddy_manifest::{Action, Kind, Resources, Scope, Source, parse, plan};
use serde_json::json;

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

fn one(src: &str) -> String {
    let errs = errors(src);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    errs.into_iter().next().unwrap_or_default()
}

const FN: &str = "[functions.thumbs]\ncode = \"f\"\nruntime = \"provided.al2023\"\n";

const UPLOADS: &str = r#"version = 1

[queues.jobs]

[topics.news]

[functions.thumbs]
code = "f"
runtime = "provided.al2023"

[buckets.uploads]
versioning = true
eventbridge = true
tags = { team = "media" }

[[buckets.uploads.notifications]]
function = "thumbs"
prefix = "uploads/"
suffix = ".jpg"

[[buckets.uploads.notifications]]
queue = "jobs"
events = ["s3:ObjectRemoved:*"]

[[buckets.uploads.notifications]]
id = "audit"
topic = "arn:aws:sns:us-east-1:123456789012:audit"
events = ["s3:ObjectTagging:*"]

[[buckets.uploads.cors]]
allowed_origins = ["https://app.example.com"]
allowed_methods = ["PUT", "GET"]
allowed_headers = ["*"]
max_age = 600
"#;

#[test]
fn a_full_bucket_parses_and_has_its_canonical_form() {
    let m = parse(&Source {
        name: "eddy.toml",
        text: UPLOADS,
        base_dir: None,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.summary(), "1 queue, 1 function, 1 topic, 1 bucket");
    let r = m.resources(&Scope::new("us-east-1", "123456789012"));
    assert_eq!(
        r.buckets["uploads"],
        json!({
            "Bucket": "uploads",
            "VersioningConfiguration": { "Status": "Enabled" },
            "Tagging": { "TagSet": [{ "Key": "team", "Value": "media" }] },
            "CORSConfiguration": { "CORSRules": [{
                "AllowedOrigins": ["https://app.example.com"],
                "AllowedMethods": ["PUT", "GET"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": [],
                "MaxAgeSeconds": 600,
            }]},
            "NotificationConfiguration": {
                "EventBridgeConfiguration": {},
                "QueueConfigurations": [{
                    "Id": "jobs",
                    "QueueArn": "arn:aws:sqs:us-east-1:123456789012:jobs",
                    "Events": ["s3:ObjectRemoved:*"],
                }],
                "TopicConfigurations": [{
                    "Id": "audit",
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:audit",
                    "Events": ["s3:ObjectTagging:*"],
                }],
                "LambdaFunctionConfigurations": [{
                    "Id": "thumbs",
                    "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:thumbs",
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": { "Key": { "FilterRules": [
                        { "Name": "Prefix", "Value": "uploads/" },
                        { "Name": "Suffix", "Value": ".jpg" },
                    ]}},
                }],
            },
        })
    );
}

#[test]
fn a_bare_bucket_sets_only_its_name() {
    let m = parse(&Source {
        name: "eddy.toml",
        text: "version = 1\n[buckets.plain]\nversioning = false\n",
        base_dir: None,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let r = m.resources(&Scope::new("eu-west-1", "123456789012"));
    assert_eq!(
        r.buckets["plain"],
        json!({
            "Bucket": "plain",
            "VersioningConfiguration": { "Status": "Suspended" },
            "NotificationConfiguration": {},
        })
    );
}

#[test]
fn default_ids_are_the_names_unless_shared() {
    let src = format!(
        "version = 1\n{FN}[buckets.pics]\n\
         [[buckets.pics.notifications]]\nfunction = \"thumbs\"\nsuffix = \".jpg\"\n\
         [[buckets.pics.notifications]]\nfunction = \"thumbs\"\nsuffix = \".png\"\n\
         [[buckets.pics.notifications]]\nfunction = \"arn:aws:lambda:us-east-1:1:function:x\"\nevents = [\"s3:ObjectRemoved:*\"]\n"
    );
    let m = parse(&Source {
        name: "eddy.toml",
        text: &src,
        base_dir: None,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let r = m.resources(&Scope::new("us-east-1", "123456789012"));
    let ids: Vec<&str> =
        r.buckets["pics"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["Id"].as_str())
            .collect();
    assert_eq!(ids, ["thumbs-1", "thumbs-2", "notification-3"]);
}

#[test]
fn bucket_names_follow_s3s_rules() {
    assert_eq!(
        one("version = 1\n[buckets.My-Bucket]\n"),
        "eddy.toml:2:10: bucket name `My-Bucket` is not valid: it may hold only lowercase letters, digits, `.` and `-`; use 3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit"
    );
    assert_eq!(
        one("version = 1\n[buckets.ab]\n"),
        "eddy.toml:2:10: bucket name `ab` is not valid: it must be 3 to 63 characters long; use 3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit"
    );
    for (name, why) in [
        ("\"-abc\"", "it must start and end with a letter or digit"),
        ("\"a..b\"", "`..`, `.-` and `-.` are not allowed"),
        ("\"192.168.5.4\"", "it must not look like an IP address"),
        (
            "xn--abc",
            "the prefixes `xn--`, `sthree-` and `amzn-s3-demo-` are reserved",
        ),
    ] {
        let e = one(&format!("version = 1\n[buckets.{name}]\n"));
        assert!(e.contains(why), "{name}: {e}");
    }
    for ok in ["abc", "my-bucket", "\"my.bucket.1\"", "1ab"] {
        assert_eq!(
            errors(&format!("version = 1\n[buckets.{ok}]\n")),
            Vec::<String>::new(),
            "{ok}"
        );
    }
}

#[test]
fn unknown_and_mistyped_keys() {
    assert_eq!(
        one("version = 1\n[buckets.pics]\nversoning = true\n"),
        "eddy.toml:3:1: unknown key `versoning` in bucket `pics`; did you mean `versioning`?"
    );
    assert_eq!(
        one("version = 1\n[buckets.pics]\nversioning = \"Enabled\"\n"),
        "eddy.toml:3:14: `versioning` in bucket `pics` must be a boolean, not string \"Enabled\""
    );
    assert_eq!(
        one("version = 1\n[[buckets.pics.cors]]\nallowed_origins = [\"*\"]\n"),
        "eddy.toml:2:1: missing required key `cors[0].allowed_methods` in bucket `pics`"
    );
    assert_eq!(
        one("version = 1\n[[buckets.pics.notifications]]\nqueue = \"q\"\nsufix = \".jpg\"\n"),
        "eddy.toml:4:1: unknown key `notifications[0].sufix` in bucket `pics`; did you mean `notifications[0].suffix`?"
    );
}

#[test]
fn a_notification_names_exactly_one_existing_target() {
    assert_eq!(
        one("version = 1\n[[buckets.pics.notifications]]\nevents = [\"s3:ObjectCreated:*\"]\n"),
        "eddy.toml:2:1: notification 1 of bucket `pics` needs one of `queue`, `topic`, `function`"
    );
    assert_eq!(
        one(&format!(
            "version = 1\n[queues.jobs]\n{FN}[[buckets.pics.notifications]]\nqueue = \"jobs\"\nfunction = \"thumbs\"\n"
        )),
        "eddy.toml:6:1: notification 1 of bucket `pics` sets both `queue` and `function`; keep one"
    );
    assert_eq!(
        one("version = 1\n[queues.jobs]\n[[buckets.pics.notifications]]\nqueue = \"jobz\"\n"),
        "eddy.toml:4:9: notification 1 of bucket `pics` refers to queue `jobz`, which is not defined; did you mean `jobs`?"
    );
    assert_eq!(
        one("version = 1\n[[buckets.pics.notifications]]\ntopic = \"news\"\n"),
        "eddy.toml:3:9: notification 1 of bucket `pics` refers to topic `news`, which is not defined; declare `[topics.news]` or use a full ARN"
    );
    assert_eq!(
        one(
            "version = 1\n[[buckets.pics.notifications]]\nqueue = \"arn:aws:sns:us-east-1:123456789012:news\"\n"
        ),
        "eddy.toml:3:9: `notifications[0].queue` in notification 1 of bucket `pics` must be a queue of this manifest or an SQS queue ARN (`arn:aws:sqs:...`), not an `sns` ARN"
    );
    assert_eq!(
        one(
            "version = 1\n[queues.\"jobs.fifo\"]\nfifo = true\n[[buckets.pics.notifications]]\nqueue = \"jobs.fifo\"\n"
        ),
        "eddy.toml:5:9: notification 1 of bucket `pics` names FIFO queue `jobs.fifo`; S3 notifies standard queues and topics only"
    );
}

#[test]
fn events_and_filters_are_checked() {
    let head = "version = 1\n[queues.jobs]\n[[buckets.pics.notifications]]\nqueue = \"jobs\"\n";
    assert_eq!(
        one(&format!("{head}events = [\"ObjectCreated:*\"]\n")),
        "eddy.toml:5:11: event type `ObjectCreated:*` of notification 1 of bucket `pics` is not one S3 sends; did you mean `s3:ObjectCreated:*`?"
    );
    assert_eq!(
        one(&format!("{head}events = []\n")),
        "eddy.toml:5:10: `events` of notification 1 of bucket `pics` is empty; name at least one event type, like `s3:ObjectCreated:*` (or remove `events` for that default)"
    );
    assert_eq!(
        one(&format!("{head}prefix = \"\"\n")),
        "eddy.toml:5:10: `prefix` of notification 1 of bucket `pics` is empty; remove it to match every key"
    );
}

#[test]
fn ids_are_unique_and_notifications_do_not_overlap() {
    let src = "version = 1\n[queues.a]\n[queues.b]\n\
        [[buckets.pics.notifications]]\nid = \"x\"\nqueue = \"a\"\nprefix = \"a/\"\n\
        [[buckets.pics.notifications]]\nid = \"x\"\nqueue = \"b\"\nprefix = \"b/\"\n";
    assert_eq!(
        one(src),
        "eddy.toml:8:1: bucket `pics` has two notifications with id `x` (notifications 1 and 2); set a different `id`"
    );
    let src = "version = 1\n[queues.a]\n[queues.b]\n\
        [[buckets.pics.notifications]]\nqueue = \"a\"\nprefix = \"img/\"\n\
        [[buckets.pics.notifications]]\nqueue = \"b\"\nprefix = \"img/thumbs/\"\nevents = [\"s3:ObjectCreated:Put\"]\n";
    assert_eq!(
        one(src),
        "eddy.toml:7:1: notifications 1 and 2 of bucket `pics` overlap: they share an event type and their prefixes and suffixes overlap, so S3 would refuse them; give them different `prefix` or `suffix` filters, or merge them"
    );
    // Different suffixes, or different event types, do not overlap.
    let ok = "version = 1\n[queues.a]\n[queues.b]\n\
        [[buckets.pics.notifications]]\nqueue = \"a\"\nsuffix = \".jpg\"\n\
        [[buckets.pics.notifications]]\nqueue = \"b\"\nsuffix = \".png\"\n\
        [[buckets.pics.notifications]]\nqueue = \"b\"\nevents = [\"s3:ObjectRemoved:*\"]\n";
    assert_eq!(errors(ok), Vec::<String>::new());
}

#[test]
fn cors_rules_and_tags_are_checked() {
    assert_eq!(
        one(
            "version = 1\n[[buckets.pics.cors]]\nallowed_origins = [\"*\"]\nallowed_methods = [\"put\"]\n"
        ),
        "eddy.toml:4:20: method `put` in CORS rule 1 of bucket `pics` is not one S3 CORS allows; write it in upper case: `PUT`"
    );
    assert_eq!(
        one(
            "version = 1\n[[buckets.pics.cors]]\nallowed_origins = []\nallowed_methods = [\"GET\"]\n"
        ),
        "eddy.toml:3:19: `allowed_origins` of CORS rule 1 of bucket `pics` is empty; name at least one"
    );
    assert_eq!(
        one(
            "version = 1\n[[buckets.pics.cors]]\nallowed_origins = [\"https://*.*.example.com\"]\nallowed_methods = [\"GET\"]\n"
        ),
        "eddy.toml:3:20: `https://*.*.example.com` in `allowed_origins` of CORS rule 1 of bucket `pics` has more than one `*`; S3 allows one wildcard"
    );
    assert_eq!(
        one("version = 1\n[buckets.pics]\ntags = { \"aws:owner\" = \"me\" }\n"),
        "eddy.toml:3:10: tag key `aws:owner` of bucket `pics` is reserved: keys may not start with `aws:`"
    );
}

#[test]
fn buckets_come_after_their_destinations_and_go_before_them() {
    let desired = parse(&Source {
        name: "eddy.toml",
        text: UPLOADS,
        base_dir: None,
    })
    .unwrap_or_else(|e| panic!("{e}"))
    .resources(&Scope::new("us-east-1", "123456789012"));
    let changes = plan(&desired, &Resources::default());
    let pos = |k: Kind| changes.iter().position(|c| c.kind == k);
    assert!(pos(Kind::Queue) < pos(Kind::Bucket));
    assert!(pos(Kind::Function) < pos(Kind::Bucket));
    assert!(pos(Kind::Topic) < pos(Kind::Bucket));
    assert!(
        plan(&desired, &desired)
            .iter()
            .all(|c| c.action == Action::Unchanged)
    );
    let changes = plan(&Resources::default(), &desired);
    let pos = |k: Kind| changes.iter().position(|c| c.kind == k);
    assert!(pos(Kind::Bucket) < pos(Kind::Queue));
    assert!(pos(Kind::Bucket) < pos(Kind::Function));
    assert!(changes.iter().all(|c| c.action == Action::Delete));
}
