//! The sandbox serves the real API on free ports, and each sandbox has its own state.

use eddy_testkit::Sandbox;
use serde_json::json;

#[tokio::test]
async fn sandboxes_are_independent_real_servers() {
    let a = Sandbox::start().await.expect("start a");
    let b = Sandbox::start().await.expect("start b");
    assert_ne!(a.aws, b.aws);
    let (status, body) = a
        .aws_call("AWSEvents.CreateEventBus", json!({"Name": "orders"}))
        .await
        .expect("call");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["EventBusArn"],
        "arn:aws:events:us-east-1:123456789012:event-bus/orders"
    );
    let (_, list) = b
        .aws_call("AWSEvents.ListEventBuses", json!({}))
        .await
        .expect("call");
    assert_eq!(
        list["EventBuses"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
    let (status, err) = a
        .aws_call("AWSEvents.CreateEventBus", json!({"Name": "orders"}))
        .await
        .expect("call");
    assert_eq!(status, 400);
    assert_eq!(err["__type"], "ResourceAlreadyExistsException");
    a.shutdown().await.expect("shutdown a");
    b.shutdown().await.expect("shutdown b");
}
