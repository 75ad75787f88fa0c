//! The orders example manifest (issue 8) parses, and planning it is idempotent.

use std::path::Path;

use eddy_manifest::{Action, Change, Kind, Manifest, Resources, Scope, Source, parse, plan};

const ORDERS: &str = include_str!("data/orders.toml");

/// Parses `text` with its code directories present in a temporary directory.
fn parse_with_code(text: &str) -> Manifest {
    let dir = tempfile::tempdir().unwrap();
    for f in ["place_order", "get_order", "notify", "store", "summary"] {
        std::fs::create_dir_all(dir.path().join("functions").join(f)).unwrap();
    }
    let source = Source {
        name: "orders.toml",
        text,
        base_dir: Some(dir.path()),
    };
    match parse(&source) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

fn scope() -> Scope {
    Scope::new("us-east-1", "123456789012")
}

fn actions(changes: &[Change]) -> Vec<(Kind, &str, Action)> {
    changes
        .iter()
        .map(|c| (c.kind, c.name.as_str(), c.action))
        .collect()
}

#[test]
fn the_orders_manifest_is_valid() {
    let m = parse_with_code(ORDERS);
    assert_eq!(
        m.summary(),
        "1 bus, 4 queues, 1 api destination, 5 functions, 5 rules, 1 schedule, 1 api, 2 routes"
    );
    let big = &m.rules["big-orders"];
    assert_eq!(
        big.pattern_json().unwrap(),
        r#"{"detail":{"total":[{"numeric":[">",1000]}]},"detail-type":["OrderPlaced"],"source":["shop.orders"]}"#
    );
    // A pattern given as a JSON string and one given as a table are the same rule.
    assert_eq!(
        m.rules["order-placed-store"].pattern_json(),
        m.rules["order-placed-notify"].pattern_json()
    );
    assert_eq!(m.apis["shop"].routes[1].route, "GET /orders/{id}");
}

#[test]
fn the_orders_manifest_needs_its_code() {
    let source = Source {
        name: "orders.toml",
        text: ORDERS,
        base_dir: Some(Path::new("/nonexistent-eddy-dir")),
    };
    let errs = parse(&source).unwrap_err();
    assert_eq!(errs.0.len(), 5, "{errs}");
    assert_eq!(
        errs.0[0].to_string(),
        "orders.toml:26:8: code directory `functions/place_order` of function `place-order` does not exist next to the manifest; create it or fix the path"
    );
}

#[test]
fn resources_are_aws_shaped_with_arns() {
    let r = parse_with_code(ORDERS).resources(&scope());
    let webhook = &r.rules["orders/order-placed-webhook"];
    assert_eq!(
        webhook["Targets"][0],
        serde_json::json!({
            "Id": "crm",
            "Arn": "arn:aws:events:us-east-1:123456789012:api-destination/crm-webhook",
            "InputTransformer": {
                "InputPathsMap": { "id": "$.detail.id", "total": "$.detail.total" },
                "InputTemplate": "{\"order\": <id>, \"amount\": <total>}"
            },
            "RetryPolicy": { "MaximumRetryAttempts": 2 },
            "DeadLetterConfig": { "Arn": "arn:aws:sqs:us-east-1:123456789012:webhook-dlq" }
        })
    );
    assert_eq!(
        r.queues["review"]["Attributes"]["RedrivePolicy"],
        r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:review-dlq","maxReceiveCount":3}"#
    );
    let nightly = &r.schedules["default/nightly-summary"];
    assert_eq!(nightly["ScheduleExpressionTimezone"], "Europe/Berlin");
    assert_eq!(nightly["Target"]["Input"], r#"{"report":"daily"}"#);
    assert_eq!(
        r.functions["notify"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"],
        "arn:aws:sqs:us-east-1:123456789012:webhook-dlq"
    );
}

#[test]
fn first_plan_creates_everything_in_dependency_order() {
    let desired = parse_with_code(ORDERS).resources(&scope());
    let changes = plan(&desired, &Resources::default());
    assert!(changes.iter().all(|c| c.action == Action::Create));
    let kinds: Vec<Kind> = changes.iter().map(|c| c.kind).collect();
    let mut sorted = kinds.clone();
    sorted.sort();
    assert_eq!(kinds, sorted, "kinds in creation order");
    let queues: Vec<&str> = changes
        .iter()
        .filter(|c| c.kind == Kind::Queue)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        queues,
        ["notifications", "review-dlq", "review", "webhook-dlq"]
    );
}

#[test]
fn applying_twice_changes_nothing() {
    let desired = parse_with_code(ORDERS).resources(&scope());
    // After an apply, the current resources are the desired ones.
    let current = desired.clone();
    let changes = plan(&desired, &current);
    assert_eq!(changes.len(), 18);
    assert!(
        changes.iter().all(|c| c.action == Action::Unchanged),
        "{:?}",
        actions(&changes)
    );
}

#[test]
fn edits_update_and_removals_delete_in_reverse_order() {
    let before = parse_with_code(ORDERS).resources(&scope());
    let edited = ORDERS
        .replace("memory = 256", "memory = 512")
        .replace(
            "[queues.review]\nvisibility_timeout = 60\nredrive = { dead_letter_queue = \"review-dlq\", max_receive_count = 3 }\n\n[queues.review-dlq]\nmessage_retention = 1209600\n",
            "",
        )
        .replace(
            "[rules.big-orders]\nbus = \"orders\"\npattern = { source = [\"shop.orders\"], \"detail-type\" = [\"OrderPlaced\"], detail = { total = [{ numeric = [\">\", 1000] }] } }\n\n[[rules.big-orders.targets]]\nqueue = \"review\"\ninput_path = \"$.detail\"\n",
            "",
        );
    let after = parse_with_code(&edited).resources(&scope());
    let changes = plan(&after, &before);
    let changed: Vec<(Kind, &str, Action)> = actions(&changes)
        .into_iter()
        .filter(|(_, _, a)| *a != Action::Unchanged)
        .collect();
    assert_eq!(
        changed,
        [
            (Kind::Function, "notify", Action::Update),
            (Kind::Rule, "orders/big-orders", Action::Delete),
            (Kind::Queue, "review", Action::Delete),
            (Kind::Queue, "review-dlq", Action::Delete),
        ]
    );
}

#[test]
fn the_default_bus_is_never_deleted() {
    let mut current = Resources::default();
    current
        .buses
        .insert("default".into(), serde_json::json!({ "Name": "default" }));
    current
        .buses
        .insert("old".into(), serde_json::json!({ "Name": "old" }));
    let changes = plan(&Resources::default(), &current);
    assert_eq!(actions(&changes), [(Kind::Bus, "old", Action::Delete)]);
}
