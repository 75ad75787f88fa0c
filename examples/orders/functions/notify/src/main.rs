//! The orders example's `notify` function, built on the official Rust runtime client. It turns
//! an `OrderPlaced` event into a notification message; eddy delivers the result to the
//! `notifications` queue (the function's on-success destination in `eddy.toml`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn notify(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let order = &event.payload["detail"];
    let (Some(id), Some(customer)) = (order["id"].as_str(), order["customer"].as_str()) else {
        return Err(Error::from(
            "not an OrderPlaced event: detail.id and detail.customer are required",
        ));
    };
    let total = order["total"].as_f64().unwrap_or(0.0);
    let message = format!("Hello {customer}, your order {id} ({total:.2}) is confirmed.");
    println!("notifying {customer} about {id}");
    Ok(json!({"to": customer, "order": id, "message": message}))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(notify)).await
}
