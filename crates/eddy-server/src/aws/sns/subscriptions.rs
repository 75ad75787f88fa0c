//! SNS's subscription actions: Subscribe, Unsubscribe, ConfirmSubscription,
//! ListSubscriptions(ByTopic), Get/SetSubscriptionAttributes.

use std::collections::BTreeMap;

use eddy_core::topics::SubscriptionDef;

use super::topics::DEFAULT_DELIVERY_POLICY;
use super::{
    Answer, Ctx, Params, Xml, invalid, not_found, page, required, subscription_id, topic_error,
    topic_name,
};
use crate::App;
use crate::error::ApiError;

fn arn_result(arn: &str) -> Xml {
    let mut x = Xml::default();
    x.text("SubscriptionArn", arn);
    x
}

pub async fn subscribe(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    let topic = topic_name(ctx, p, "TopicArn")?;
    let protocol = required(p, "Protocol")?;
    let endpoint = p.get("Endpoint").unwrap_or_default();
    let attributes = p.map("Attributes", "key", "value");
    let sub = app
        .topics
        .subscribe(&ctx.region, &topic, protocol, endpoint, attributes)
        .await
        .map_err(topic_error)?;
    let return_arn = p
        .get("ReturnSubscriptionArn")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let arn = if sub.confirmed || return_arn {
        sub.arn(app.topics.account())
    } else {
        "pending confirmation".to_owned()
    };
    Ok(Some(arn_result(&arn)))
}

pub async fn unsubscribe(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    // Idempotent: a subscription that is not there (of this topic) is already gone.
    let (topic, id) = subscription_id(ctx, p)?;
    if app
        .topics
        .subscription(&ctx.region, &id)
        .is_some_and(|s| s.topic == topic)
    {
        app.topics.unsubscribe(&ctx.region, &id).await?;
    }
    Ok(None)
}

pub async fn confirm(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    let topic = topic_name(ctx, p, "TopicArn").map_err(|_| invalid("Invalid parameter: Topic"))?;
    let token = required(p, "Token")?;
    let arn = app
        .topics
        .confirm(&ctx.region, &topic, token)
        .await
        .map_err(topic_error)?;
    Ok(Some(arn_result(&arn)))
}

pub fn list(app: &App, ctx: &Ctx, p: &Params, by_topic: bool) -> Answer {
    let account = app.topics.account().to_owned();
    let topic = if by_topic {
        let name = topic_name(ctx, p, "TopicArn")?;
        if app.topics.get(&ctx.region, &name).is_none() {
            return Err(not_found("Topic does not exist"));
        }
        Some(name)
    } else {
        None
    };
    let mut subs = app.topics.subscriptions(&ctx.region, topic.as_deref());
    subs.sort_by_key(|s| s.arn(&account));
    let (subs, token) = page(p, subs, |s| s.arn(&account))?;
    let mut x = Xml::default();
    x.open("Subscriptions");
    for s in &subs {
        let arn = if s.confirmed {
            s.arn(&account)
        } else {
            "PendingConfirmation".to_owned()
        };
        x.open("member")
            .text("SubscriptionArn", &arn)
            .text("Owner", &account)
            .text("Protocol", &s.protocol)
            .text("Endpoint", &s.endpoint)
            .text(
                "TopicArn",
                &eddy_core::topics::topic_arn(&s.region, &account, &s.topic),
            )
            .close("member");
    }
    x.close("Subscriptions");
    if let Some(t) = token {
        x.text("NextToken", &t);
    }
    Ok(Some(x))
}

/// The subscription a request's `SubscriptionArn` names, which must exist.
fn existing(app: &App, ctx: &Ctx, p: &Params) -> Result<SubscriptionDef, ApiError> {
    let (topic, id) = subscription_id(ctx, p)?;
    app.topics
        .subscription(&ctx.region, &id)
        .filter(|s| s.topic == topic)
        .ok_or_else(|| not_found("Subscription does not exist"))
}

pub fn get_attributes(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    let s = existing(app, ctx, p)?;
    let account = app.topics.account();
    let mut attrs: BTreeMap<String, String> = BTreeMap::new();
    attrs.insert("SubscriptionArn".into(), s.arn(account));
    attrs.insert(
        "TopicArn".into(),
        eddy_core::topics::topic_arn(&s.region, account, &s.topic),
    );
    attrs.insert("Owner".into(), account.to_owned());
    attrs.insert("Protocol".into(), s.protocol.clone());
    attrs.insert("Endpoint".into(), s.endpoint.clone());
    attrs.insert("PendingConfirmation".into(), (!s.confirmed).to_string());
    attrs.insert(
        "ConfirmationWasAuthenticated".into(),
        s.confirmed.to_string(),
    );
    attrs.insert("RawMessageDelivery".into(), "false".into());
    attrs.insert(
        "SubscriptionPrincipal".into(),
        format!("arn:aws:iam::{account}:user/eddy"),
    );
    for (k, v) in &s.attributes {
        attrs.insert(k.clone(), v.clone());
    }
    if s.attributes.contains_key("FilterPolicy") {
        attrs
            .entry("FilterPolicyScope".into())
            .or_insert_with(|| "MessageAttributes".into());
    } else {
        attrs.remove("FilterPolicyScope");
    }
    if matches!(s.protocol.as_str(), "http" | "https") {
        attrs.insert(
            "EffectiveDeliveryPolicy".into(),
            effective(s.attributes.get("DeliveryPolicy")),
        );
    }
    let mut x = Xml::default();
    x.map(
        "Attributes",
        attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    Ok(Some(x))
}

/// An HTTP subscription's delivery policy over SNS's defaults.
fn effective(policy: Option<&String>) -> String {
    let defaults: serde_json::Value =
        serde_json::from_str(DEFAULT_DELIVERY_POLICY).unwrap_or_default();
    let healthy = defaults["http"]["defaultHealthyRetryPolicy"].clone();
    let given: serde_json::Value = policy
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default();
    let mut healthy = healthy;
    if let (Some(h), Some(g)) = (
        healthy.as_object_mut(),
        given.get("healthyRetryPolicy").and_then(|g| g.as_object()),
    ) {
        for (k, v) in g {
            h.insert(k.clone(), v.clone());
        }
    }
    serde_json::json!({
        "healthyRetryPolicy": healthy,
        "sicklyRetryPolicy": given.get("sicklyRetryPolicy").cloned().unwrap_or_default(),
        "throttlePolicy": given.get("throttlePolicy").cloned().unwrap_or_default(),
        "requestPolicy": given.get("requestPolicy").cloned().unwrap_or_else(
            || serde_json::json!({"headerContentType": "text/plain; charset=UTF-8"})
        ),
        "guaranteed": false,
    })
    .to_string()
}

pub async fn set_attributes(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    let id = existing(app, ctx, p)?.id;
    let attribute = required(p, "AttributeName")?;
    let value = p.get("AttributeValue").unwrap_or_default();
    app.topics
        .set_subscription_attribute(&ctx.region, &id, attribute, value)
        .await
        .map_err(topic_error)?;
    Ok(None)
}
