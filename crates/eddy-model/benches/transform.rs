//! Benchmarks for target input shaping: rendering `InputPath` and `InputTransformer` for one
//! event (the delivery path, once per matched target) and validating a target (PutTargets).
//!
//! ```text
//! cargo bench -p eddy-model --bench transform
//! ```

use std::collections::BTreeMap;

use eddy_model::definitions::{InputTransformer, TargetDef};
use eddy_model::transform::{TransformContext, check_target, render_input};

fn main() {
    divan::main();
}

/// The user guide's EC2 event, as eddy writes envelopes (compact).
const EC2_EVENT: &str = r#"{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],"detail":{"instance-id":"i-0123456789","state":"RUNNING"}}"#;

/// An order event of about 1.3 KB with nested objects, arrays, numbers and escapes.
const ORDER_EVENT: &str = r#"{"version":"0","id":"5c2e9a4e-7a1f-4b8e-9c1d-3f2b6a7d8e90","detail-type":"Order Placed","source":"shop.orders","account":"123456789012","time":"2026-11-11T21:29:54Z","region":"us-east-1","resources":[],"detail":{"orderId":"o-918273645","customer":{"id":"c-5512","name":"Zo\u00eb \"Z\" Martin","email":"zoe@example.com","tier":"gold","address":{"street":"12 Rue de la Paix","city":"Paris","zip":"75002","country":"FR"}},"items":[{"sku":"SKU-001","title":"Espresso cups, set of 4","qty":2,"price":19.9,"tags":["kitchen","gift"]},{"sku":"SKU-017","title":"Milk frother","qty":1,"price":34.5,"tags":["kitchen"]},{"sku":"SKU-233","title":"Beans 1kg \/ dark roast","qty":3,"price":22.0,"tags":["coffee","bulk"]}],"total":171.3,"currency":"EUR","paid":true,"coupon":null,"notes":"Leave at the door.\nRing twice.","metrics":{"latencyMs":12.5,"retries":0,"path":["web","api","orders"]},"flags":{"fragile":false,"express":true,"giftWrap":false}}}"#;

fn cx() -> TransformContext<'static> {
    TransformContext {
        rule_arn: "arn:aws:events:us-east-1:123456789012:rule/orders",
        rule_name: "orders",
        ingestion_time_ms: 1_795_000_000_000,
    }
}

fn target(input_path: Option<&str>, transformer: Option<(&[(&str, &str)], &str)>) -> TargetDef {
    TargetDef {
        id: "t1".into(),
        arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
        role_arn: None,
        input: None,
        input_path: input_path.map(str::to_owned),
        input_transformer: transformer.map(|(paths, template)| InputTransformer {
            input_paths_map: Some(
                paths
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            input_template: template.to_owned(),
        }),
        retry_policy: None,
        dead_letter_config: None,
        other: BTreeMap::new(),
    }
}

const GUIDE_PATHS: &[(&str, &str)] = &[
    ("timestamp", "$.time"),
    ("instance", "$.detail.instance-id"),
    ("state", "$.detail.state"),
    ("resource", "$.resources[0]"),
];

const ORDER_PATHS: &[(&str, &str)] = &[
    ("order", "$.detail.orderId"),
    ("customer", "$.detail.customer"),
    ("skus", "$.detail.items[*].sku"),
    ("total", "$.detail.total"),
    ("city", "$['detail']['customer']['address']['city']"),
    ("notes", "$.detail.notes"),
];

#[divan::bench]
fn input_path_detail_ec2() -> String {
    let t = target(Some("$.detail"), None);
    render_input(&t, divan::black_box(EC2_EVENT), &cx()).unwrap_or_default()
}

#[divan::bench]
fn input_path_detail_order() -> String {
    let t = target(Some("$.detail"), None);
    render_input(&t, divan::black_box(ORDER_EVENT), &cx()).unwrap_or_default()
}

#[divan::bench]
fn template_json_guide(bencher: divan::Bencher) {
    let t = target(
        None,
        Some((
            GUIDE_PATHS,
            "{\"instance\": <instance>, \"state\": [9, <state>, true], \"at\": \"<timestamp>\", \"resource\": <resource>, \"rule\": <aws.events.rule-name>}",
        )),
    );
    bencher.bench(|| render_input(&t, divan::black_box(EC2_EVENT), &cx()).unwrap_or_default());
}

#[divan::bench]
fn template_text_guide(bencher: divan::Bencher) {
    let t = target(
        None,
        Some((
            GUIDE_PATHS,
            "instance <instance> is in <state> since <timestamp>",
        )),
    );
    bencher.bench(|| render_input(&t, divan::black_box(EC2_EVENT), &cx()).unwrap_or_default());
}

#[divan::bench]
fn template_json_order(bencher: divan::Bencher) {
    let t = target(
        None,
        Some((
            ORDER_PATHS,
            "{\"order\": <order>, \"who\": <customer>, \"skus\": <skus>, \"total\": <total>, \"line\": \"<order> to <city>: <customer>\", \"notes\": <notes>, \"event\": <aws.events.event>}",
        )),
    );
    bencher.bench(|| render_input(&t, divan::black_box(ORDER_EVENT), &cx()).unwrap_or_default());
}

#[divan::bench]
fn check_target_order(bencher: divan::Bencher) {
    let t = target(
        None,
        Some((
            ORDER_PATHS,
            "{\"order\": <order>, \"who\": <customer>, \"skus\": <skus>, \"total\": <total>, \"line\": \"<order> to <city>: <customer>\", \"notes\": <notes>, \"event\": <aws.events.event>}",
        )),
    );
    bencher.bench(|| check_target(divan::black_box(&t)).is_ok());
}
