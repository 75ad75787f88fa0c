//! SNS's topic actions: CreateTopic, DeleteTopic, Get/SetTopicAttributes, ListTopics, and the
//! tag actions (TagResource, UntagResource, ListTagsForResource), which name topics.

use std::collections::BTreeMap;

use eddy_core::topics::TopicDef;
use eddy_model::definitions::Tags;

use super::{
    Answer, Ctx, Params, Xml, invalid, not_found, page, required, topic_error, topic_name,
};
use crate::App;
use crate::error::ApiError;

/// SNS's default topic policy: the owner's account may do everything.
fn default_policy(arn: &str, account: &str) -> String {
    format!(
        "{{\"Version\":\"2008-10-17\",\"Id\":\"__default_policy_ID\",\"Statement\":[{{\"Sid\":\
         \"__default_statement_ID\",\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"*\"}},\
         \"Action\":[\"SNS:GetTopicAttributes\",\"SNS:SetTopicAttributes\",\
         \"SNS:AddPermission\",\"SNS:RemovePermission\",\"SNS:DeleteTopic\",\"SNS:Subscribe\",\
         \"SNS:ListSubscriptionsByTopic\",\"SNS:Publish\"],\"Resource\":\"{arn}\",\"Condition\":\
         {{\"StringEquals\":{{\"AWS:SourceOwner\":\"{account}\"}}}}}}]}}"
    )
}

/// SNS's default delivery policy, as `EffectiveDeliveryPolicy` shows it.
pub const DEFAULT_DELIVERY_POLICY: &str = "{\"http\":{\"defaultHealthyRetryPolicy\":\
    {\"minDelayTarget\":20,\"maxDelayTarget\":20,\"numRetries\":3,\"numMaxDelayRetries\":0,\
    \"numNoDelayRetries\":0,\"numMinDelayRetries\":0,\"backoffFunction\":\"linear\"},\
    \"disableSubscriptionOverrides\":false,\"defaultRequestPolicy\":{\"headerContentType\":\
    \"text/plain; charset=UTF-8\"}}}";

/// Tags as given: `Tags.member.N.Key` / `.Value`; duplicate keys are refused.
fn tags(p: &Params) -> Result<Tags, ApiError> {
    let mut out = Tags::new();
    for t in p.structs("Tags") {
        let key = t.get("Key").unwrap_or_default();
        if key.is_empty() || key.chars().count() > 128 {
            return Err(invalid(
                "Invalid parameter: Tags Reason: a tag key must be 1 to 128 characters",
            ));
        }
        let value = t.get("Value").unwrap_or_default();
        if value.chars().count() > 256 {
            return Err(invalid(
                "Invalid parameter: Tags Reason: a tag value must be at most 256 characters",
            ));
        }
        if out.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(invalid(
                "Invalid parameter: Duplicated keys are not allowed.",
            ));
        }
    }
    Ok(out)
}

fn arn_result(arn: &str) -> Xml {
    let mut x = Xml::default();
    x.text("TopicArn", arn);
    x
}

pub async fn create(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    let name = required(p, "Name")?;
    let attributes = p.map("Attributes", "key", "value");
    let t = app
        .topics
        .create(&ctx.region, name, attributes, tags(p)?)
        .await
        .map_err(topic_error)?;
    Ok(Some(arn_result(&t.arn(app.topics.account()))))
}

pub async fn delete(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    let name = topic_name(ctx, p, "TopicArn")?;
    app.topics.delete(&ctx.region, &name).await?;
    Ok(None)
}

/// The topic a request's `TopicArn` names, which must exist.
fn existing(app: &App, ctx: &Ctx, p: &Params) -> Result<TopicDef, ApiError> {
    let name = topic_name(ctx, p, "TopicArn")?;
    app.topics
        .get(&ctx.region, &name)
        .ok_or_else(|| not_found("Topic does not exist"))
}

pub fn get_attributes(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    let t = existing(app, ctx, p)?;
    let account = app.topics.account();
    let arn = t.arn(account);
    let subs = app.topics.subscriptions(&ctx.region, Some(&t.name));
    let confirmed = subs.iter().filter(|s| s.confirmed).count();
    let mut attrs: BTreeMap<String, String> = BTreeMap::new();
    attrs.insert("Owner".into(), account.to_owned());
    attrs.insert("TopicArn".into(), arn.clone());
    attrs.insert("DisplayName".into(), String::new());
    attrs.insert("Policy".into(), default_policy(&arn, account));
    attrs.insert("SubscriptionsConfirmed".into(), confirmed.to_string());
    attrs.insert(
        "SubscriptionsPending".into(),
        (subs.len() - confirmed).to_string(),
    );
    attrs.insert("SubscriptionsDeleted".into(), "0".into());
    attrs.insert(
        "EffectiveDeliveryPolicy".into(),
        DEFAULT_DELIVERY_POLICY.to_owned(),
    );
    if t.fifo() {
        attrs.insert("ContentBasedDeduplication".into(), "false".into());
    }
    for (k, v) in &t.attributes {
        attrs.insert(k.clone(), v.clone());
    }
    if let Some(d) = t.attributes.get("DeliveryPolicy") {
        attrs.insert("EffectiveDeliveryPolicy".into(), effective(d));
    }
    let mut x = Xml::default();
    x.map(
        "Attributes",
        attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    Ok(Some(x))
}

/// A topic's delivery policy over SNS's defaults.
fn effective(policy: &str) -> String {
    let mut base: serde_json::Value =
        serde_json::from_str(DEFAULT_DELIVERY_POLICY).unwrap_or_default();
    if let Ok(serde_json::Value::Object(given)) = serde_json::from_str(policy) {
        merge(&mut base, &serde_json::Value::Object(given));
    }
    base.to_string()
}

fn merge(base: &mut serde_json::Value, over: &serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

pub async fn set_attributes(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    let name = topic_name(ctx, p, "TopicArn")?;
    let attribute = required(p, "AttributeName")?;
    let value = p.get("AttributeValue").unwrap_or_default();
    app.topics
        .set_attribute(&ctx.region, &name, attribute, value)
        .await
        .map_err(topic_error)?;
    Ok(None)
}

pub fn list(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    let account = app.topics.account().to_owned();
    let mut arns: Vec<String> = app
        .topics
        .list(&ctx.region)
        .iter()
        .map(|t| t.arn(&account))
        .collect();
    arns.sort();
    let (arns, token) = page(p, arns, Clone::clone)?;
    let mut x = Xml::default();
    x.open("Topics");
    for arn in &arns {
        x.open("member").text("TopicArn", arn).close("member");
    }
    x.close("Topics");
    if let Some(t) = token {
        x.text("NextToken", &t);
    }
    Ok(Some(x))
}

/// The topic a tag action's `ResourceArn` names.
fn resource(ctx: &Ctx, p: &Params) -> Result<String, ApiError> {
    topic_name(ctx, p, "ResourceArn")
}

pub async fn tag(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    let name = resource(ctx, p)?;
    let add = tags(p)?;
    app.topics
        .tag(&ctx.region, &name, add, &[])
        .await
        .map_err(topic_error)?;
    Ok(Some(Xml::default()))
}

pub async fn untag(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    let name = resource(ctx, p)?;
    let keys = p.strings("TagKeys");
    app.topics
        .tag(&ctx.region, &name, Tags::new(), &keys)
        .await
        .map_err(topic_error)?;
    Ok(Some(Xml::default()))
}

pub fn list_tags(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    let name = resource(ctx, p)?;
    let Some(t) = app.topics.get(&ctx.region, &name) else {
        return Err(topic_error(eddy_core::topics::TopicError::ResourceNotFound));
    };
    let mut x = Xml::default();
    x.open("Tags");
    for (k, v) in &t.tags {
        x.open("member")
            .text("Key", k)
            .text("Value", v)
            .close("member");
    }
    x.close("Tags");
    Ok(Some(x))
}
