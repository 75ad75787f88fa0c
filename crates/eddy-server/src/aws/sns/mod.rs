//! Amazon SNS (API 2010-03-31) over the AWS query protocol ([`super::query`]): topics,
//! subscriptions, publishing and tags, with SNS's parameter names, XML shapes, error codes and
//! messages. What topics and subscriptions are, and what publishing does, is the core's
//! ([`eddy_core::topics`]); this module reads requests and words answers.
//!
//! * [`topics`]: CreateTopic, DeleteTopic, Get/SetTopicAttributes, ListTopics and tags;
//! * [`subscriptions`]: Subscribe, Unsubscribe, ConfirmSubscription, ListSubscriptions(ByTopic),
//!   Get/SetSubscriptionAttributes;
//! * [`publish`]: Publish and PublishBatch.

mod publish;
mod subscriptions;
mod topics;

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;

use super::Ctx;
use super::query::{Params, Xml};
use crate::App;
use crate::error::ApiError;
use eddy_core::topics::TopicError;

/// SNS's XML namespace.
pub const NAMESPACE: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

/// Most items a list operation answers per page.
const PAGE: usize = 100;

/// The actions eddy's SNS answers.
pub const ACTIONS: &[&str] = &[
    "CreateTopic",
    "DeleteTopic",
    "GetTopicAttributes",
    "SetTopicAttributes",
    "ListTopics",
    "Subscribe",
    "Unsubscribe",
    "ConfirmSubscription",
    "ListSubscriptions",
    "ListSubscriptionsByTopic",
    "GetSubscriptionAttributes",
    "SetSubscriptionAttributes",
    "Publish",
    "PublishBatch",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

/// The answer of one action: its result element's content (`None` for actions without
/// output).
type Answer = Result<Option<Xml>, ApiError>;

/// Runs one SNS action. Answers the action's name for the metrics (`unknown` for one eddy does
/// not know), its outcome (`ok` or the error code) and the response.
pub async fn call(
    app: &App,
    ctx: &Ctx,
    action: &str,
    p: &Params,
) -> (&'static str, &'static str, Response) {
    let (name, result): (&'static str, Answer) = match action {
        "CreateTopic" => ("CreateTopic", topics::create(app, ctx, p).await),
        "DeleteTopic" => ("DeleteTopic", topics::delete(app, ctx, p).await),
        "GetTopicAttributes" => ("GetTopicAttributes", topics::get_attributes(app, ctx, p)),
        "SetTopicAttributes" => (
            "SetTopicAttributes",
            topics::set_attributes(app, ctx, p).await,
        ),
        "ListTopics" => ("ListTopics", topics::list(app, ctx, p)),
        "TagResource" => ("TagResource", topics::tag(app, ctx, p).await),
        "UntagResource" => ("UntagResource", topics::untag(app, ctx, p).await),
        "ListTagsForResource" => ("ListTagsForResource", topics::list_tags(app, ctx, p)),
        "Subscribe" => ("Subscribe", subscriptions::subscribe(app, ctx, p).await),
        "Unsubscribe" => ("Unsubscribe", subscriptions::unsubscribe(app, ctx, p).await),
        "ConfirmSubscription" => (
            "ConfirmSubscription",
            subscriptions::confirm(app, ctx, p).await,
        ),
        "ListSubscriptions" => ("ListSubscriptions", subscriptions::list(app, ctx, p, false)),
        "ListSubscriptionsByTopic" => (
            "ListSubscriptionsByTopic",
            subscriptions::list(app, ctx, p, true),
        ),
        "GetSubscriptionAttributes" => (
            "GetSubscriptionAttributes",
            subscriptions::get_attributes(app, ctx, p),
        ),
        "SetSubscriptionAttributes" => (
            "SetSubscriptionAttributes",
            subscriptions::set_attributes(app, ctx, p).await,
        ),
        "Publish" => ("Publish", publish::publish(app, ctx, p).await),
        "PublishBatch" => ("PublishBatch", publish::publish_batch(app, ctx, p).await),
        _ => (
            "unknown",
            Err(ApiError::bad(
                "InvalidAction",
                super::unsupported::operation_message("SNS", action),
            )),
        ),
    };
    match result {
        Ok(xml) => (name, "ok", super::query::respond(NAMESPACE, action, xml)),
        Err(e) => (name, e.code, super::unsupported::query_error(&e)),
    }
}

/// `InvalidParameter` (400) with SNS's whole message.
pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad("InvalidParameter", message)
}

fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new("NotFound", StatusCode::NOT_FOUND, message)
}

/// A required parameter that is missing or empty.
fn required<'a>(p: &'a Params, name: &str) -> Result<&'a str, ApiError> {
    match p.get(name) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(invalid(format!(
            "Invalid parameter: {name} Reason: no value for required parameter"
        ))),
    }
}

/// How SNS words the core's refusals.
fn topic_error(e: TopicError) -> ApiError {
    match e {
        TopicError::Invalid(m) => invalid(m),
        TopicError::InvalidValue(m) => ApiError::bad("ParameterValueInvalid", m),
        e @ TopicError::TopicNotFound => not_found(e.to_string()),
        e @ TopicError::SubscriptionNotFound => not_found(e.to_string()),
        e @ TopicError::ResourceNotFound => {
            ApiError::new("ResourceNotFound", StatusCode::NOT_FOUND, e.to_string())
        }
        e @ TopicError::TagLimit => ApiError::bad("TagLimitExceeded", e.to_string()),
        TopicError::Internal(m) => {
            ApiError::new("InternalFailure", StatusCode::INTERNAL_SERVER_ERROR, m)
        }
        TopicError::Core(e) => e.into(),
    }
}

/// The topic name a topic ARN parameter names, in the request's region. SNS refuses ARNs of
/// other regions (`Invalid parameter: TopicArn`), not-ARNs and other services' ARNs.
fn topic_name(ctx: &Ctx, p: &Params, param: &str) -> Result<String, ApiError> {
    let arn = required(p, param)?;
    let parts = arn.split(':').count();
    if parts < 6 {
        return Err(invalid(format!(
            "Invalid parameter: {param} Reason: An ARN must have at least 6 elements, not \
             {parts}"
        )));
    }
    match eddy_model::names::Arn::parse(arn) {
        Some(a) if a.service == "sns" && a.region == ctx.region && !a.resource.contains(':') => {
            Ok(a.resource.to_owned())
        }
        _ => Err(invalid(format!("Invalid parameter: {param}"))),
    }
}

/// The topic and subscription id a subscription ARN names
/// (`arn:aws:sns:REGION:ACCOUNT:TOPIC:ID`).
fn subscription_id(ctx: &Ctx, p: &Params) -> Result<(String, String), ApiError> {
    let arn = required(p, "SubscriptionArn")?;
    let parts = arn.split(':').count();
    if parts < 6 {
        return Err(invalid(format!(
            "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, \
             not {parts}"
        )));
    }
    let Some(a) = eddy_model::names::Arn::parse(arn).filter(|a| a.service == "sns") else {
        return Err(invalid("Invalid parameter: SubscriptionArn"));
    };
    let Some((topic, id)) = a.resource.split_once(':') else {
        return Err(invalid("Invalid parameter: SubscriptionId"));
    };
    if a.region != ctx.region {
        return Err(invalid("Invalid parameter: SubscriptionArn"));
    }
    let uuid_like =
        !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if !uuid_like {
        return Err(invalid("Invalid parameter: SubscriptionId"));
    }
    Ok((topic.to_owned(), id.to_owned()))
}

/// Pages a sorted list: the items after `NextToken` (opaque: the last key returned, base64),
/// at most [`PAGE`], and the token for the next page.
fn page<T>(
    p: &Params,
    items: Vec<T>,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let after = match p.get("NextToken") {
        None | Some("") => None,
        Some(t) => Some(
            b64.decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| invalid("Invalid parameter: NextToken"))?,
        ),
    };
    let mut rest: Vec<T> = match &after {
        Some(a) => items.into_iter().filter(|i| key(i) > *a).collect(),
        None => items,
    };
    let more = rest.len() > PAGE;
    rest.truncate(PAGE);
    let token = more
        .then(|| rest.last().map(|i| b64.encode(key(i))))
        .flatten();
    Ok((rest, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx {
            region: "us-east-1".into(),
            host: "localhost".into(),
        }
    }

    fn params(s: &str) -> Params {
        Params::parse(None, s)
    }

    #[test]
    fn topic_arns_are_checked_as_sns_does() {
        let ok = params("TopicArn=arn:aws:sns:us-east-1:123456789012:t");
        assert_eq!(
            topic_name(&ctx(), &ok, "TopicArn").ok().as_deref(),
            Some("t")
        );
        let short = params("TopicArn=arn:aws:sns:us-east-1");
        let e = topic_name(&ctx(), &short, "TopicArn").expect_err("short");
        assert_eq!(
            e.message,
            "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 4"
        );
        let other = params("TopicArn=arn:aws:sns:eu-west-1:123456789012:t");
        assert_eq!(
            topic_name(&ctx(), &other, "TopicArn")
                .expect_err("region")
                .message,
            "Invalid parameter: TopicArn"
        );
    }

    #[test]
    fn subscription_arns_name_an_id() {
        let ok = params(
            "SubscriptionArn=arn:aws:sns:us-east-1:123456789012:t:0f1e2d3c-aaaa-bbbb-cccc-000000000000",
        );
        assert!(subscription_id(&ctx(), &ok).is_ok());
        let topic = params("SubscriptionArn=arn:aws:sns:us-east-1:123456789012:t");
        assert_eq!(
            subscription_id(&ctx(), &topic).expect_err("no id").message,
            "Invalid parameter: SubscriptionId"
        );
    }

    #[test]
    fn pages_hold_at_most_a_hundred() {
        let items: Vec<String> = (0..250).map(|i| format!("{i:03}")).collect();
        let (first, token) = page(&params(""), items.clone(), Clone::clone).expect("page");
        assert_eq!(first.len(), 100);
        let token = token.expect("token");
        let (second, _) =
            page(&params(&format!("NextToken={token}")), items, Clone::clone).expect("page");
        assert_eq!(second[0], "100");
    }
}
