//! Amazon SQS (`AmazonSQS.*`, API 2012-11-05) over AWS JSON 1.0: queues and messages with
//! SQS's attributes, limits, error codes (including the `x-amzn-query-error` codes SDKs report)
//! and messages. State lives in [`crate::queues`] and the store.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use eddy_model::definitions::Tags;
use eddy_model::limits::queue as limits;
use eddy_store::Message;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Ctx, empty, parse, reply};
use crate::App;
use crate::error::ApiError;
use crate::queues::{OutMessage, QueueDef, QueueError, RedriveFault, SETTABLE, StoredAttributes};

/// Runs one SQS operation for the AWS JSON protocol: errors name their type as SQS's JSON
/// protocol does (see [`json_type`]).
pub async fn call(app: &App, ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    run(app, ctx, op, body).await.map_err(|mut e| {
        e.code = json_type(e.code);
        e
    })
}

/// The `__type` SQS's AWS JSON protocol gives an error: the shape's Smithy id,
/// `com.amazonaws.sqs#QueueDoesNotExist` (SDKs keep what follows the `#`, then, SQS being
/// `awsQueryCompatible`, take the code users know from `x-amzn-query-error`). Codes of no SQS
/// shape stay as they are: the protocol's own `SerializationException`, eddy's store errors,
/// and `UnsupportedOperation`, which the endpoint rewords for operations eddy does not serve.
fn json_type(code: &'static str) -> &'static str {
    macro_rules! sqs {
        ($($code:literal),* $(,)?) => {
            match code {
                $($code => concat!("com.amazonaws.sqs#", $code),)*
                other => other,
            }
        };
    }
    sqs!(
        "BatchEntryIdsNotDistinct",
        "BatchRequestTooLong",
        "EmptyBatchRequest",
        "InvalidAttributeName",
        "InvalidAttributeValue",
        "InvalidBatchEntryId",
        "InvalidMessageContents",
        "InvalidParameterValueException",
        "MessageNotInflight",
        "MissingRequiredParameterException",
        "OverLimit",
        "QueueDoesNotExist",
        "QueueNameExists",
        "ReceiptHandleIsInvalid",
        "TooManyEntriesInBatchRequest",
    )
}

/// Runs one SQS operation; errors carry SQS's short codes (the query protocol's translator,
/// [`super::sqs_query`], calls this too).
pub async fn run(app: &App, ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    match op {
        "CreateQueue" => create_queue(app, ctx, parse(body)?).await,
        "GetQueueUrl" => get_queue_url(app, ctx, parse(body)?),
        "ListQueues" => list_queues(app, ctx, parse(body)?),
        "DeleteQueue" => delete_queue(app, ctx, parse(body)?).await,
        "GetQueueAttributes" => get_queue_attributes(app, ctx, parse(body)?).await,
        "SetQueueAttributes" => set_queue_attributes(app, ctx, parse(body)?).await,
        "SendMessage" => send_message(app, ctx, parse_send(body)?).await,
        "SendMessageBatch" => send_message_batch(app, ctx, parse_send(body)?).await,
        "ReceiveMessage" => receive_message(app, ctx, parse(body)?).await,
        "DeleteMessage" => delete_message(app, ctx, parse(body)?).await,
        "DeleteMessageBatch" => delete_message_batch(app, ctx, parse(body)?).await,
        "ChangeMessageVisibility" => change_visibility(app, ctx, parse(body)?).await,
        "ChangeMessageVisibilityBatch" => change_visibility_batch(app, ctx, parse(body)?).await,
        "PurgeQueue" => purge_queue(app, ctx, parse(body)?).await,
        "TagQueue" => tag_queue(app, ctx, parse(body)?).await,
        "UntagQueue" => untag_queue(app, ctx, parse(body)?).await,
        "ListQueueTags" => list_queue_tags(app, ctx, parse(body)?),
        "ListDeadLetterSourceQueues" => list_dead_letter_sources(app, ctx, parse(body)?),
        "AddPermission" => add_permission(app, ctx, parse(body)?).await,
        "RemovePermission" => remove_permission(app, ctx, parse(body)?).await,
        _ => Err(ApiError::bad(
            "UnsupportedOperation",
            format!("Unknown operation AmazonSQS.{op}"),
        )
        .with_query_code("AWS.SimpleQueueService.UnsupportedOperation")),
    }
}

/// Parses a SendMessage(Batch) request. JSON with a `\u` escape of a lone UTF-16 surrogate is
/// no request any Rust string can hold; SQS's JSON reader keeps such a string, and its character
/// check then refuses the message, so it is answered as SQS does: `InvalidMessageContents`.
fn parse_send<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    parse(body).map_err(|e| {
        let lone = std::str::from_utf8(body).is_ok_and(|text| {
            eddy_pattern::json::validate(text, usize::MAX)
                .is_err_and(|j| j.reason == eddy_pattern::json::LONE_SURROGATE)
        });
        if lone { invalid_contents() } else { e }
    })
}

// ---------------------------------------------------------------------------------------------
// Errors, as SQS words them

fn invalid_contents() -> ApiError {
    ApiError::bad(
        "InvalidMessageContents",
        "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to \
         #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
    )
    .with_query_code("InvalidMessageContents")
}

fn queue_missing() -> ApiError {
    ApiError::bad("QueueDoesNotExist", "The specified queue does not exist.")
        .with_query_code("AWS.SimpleQueueService.NonExistentQueue")
}

fn invalid_param(message: impl Into<String>) -> ApiError {
    ApiError::bad("InvalidParameterValueException", message)
        .with_query_code("InvalidParameterValue")
}

fn missing_param(name: &str) -> ApiError {
    ApiError::bad(
        "MissingRequiredParameterException",
        format!("The request must contain the parameter {name}."),
    )
    .with_query_code("MissingParameter")
}

fn invalid_attribute_value(name: &str) -> ApiError {
    ApiError::bad(
        "InvalidAttributeValue",
        format!("Invalid value for the parameter {name}."),
    )
    .with_query_code("InvalidAttributeValue")
}

fn bad_value(name: &str, value: impl std::fmt::Display, reason: &str) -> ApiError {
    invalid_param(format!(
        "Value {value} for parameter {name} is invalid. Reason: {reason}"
    ))
}

// ---------------------------------------------------------------------------------------------
// Queue names and URLs

fn queue_url(app: &App, ctx: &Ctx, q: &QueueDef) -> String {
    format!("http://{}/{}/{}", ctx.host, app.config.account_id, q.name)
}

/// The queue a `QueueUrl` names (its last path segment), in the caller's region.
fn resolve(app: &App, ctx: &Ctx, url: Option<&str>) -> Result<QueueDef, ApiError> {
    let url = url.ok_or_else(|| missing_param("QueueUrl"))?;
    let name = url.trim_end_matches('/').rsplit('/').next().unwrap_or(url);
    app.queues.get(&ctx.region, name).ok_or_else(queue_missing)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueueRef {
    queue_url: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Attributes

/// SQS's words for the core's refusals of queue definitions.
impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::InvalidName { fifo: true } => invalid_param(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or \
                 underscores, must end with .fifo suffix and be 1 to 80 in length.",
            ),
            QueueError::InvalidName { fifo: false } => invalid_param(
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in \
                 length",
            ),
            QueueError::UnknownAttribute(name) => {
                ApiError::bad("InvalidAttributeName", format!("Unknown Attribute {name}."))
                    .with_query_code("InvalidAttributeName")
            }
            QueueError::InvalidAttributeValue(name) => invalid_attribute_value(&name),
            QueueError::Redrive {
                value,
                fault: RedriveFault::NotJson,
            } => invalid_param(format!(
                "Value {value} for parameter RedrivePolicy is invalid. Reason: Invalid JSON."
            )),
            QueueError::Redrive { value, fault } => {
                let reason = match fault {
                    RedriveFault::NotJson | RedriveFault::NotQueueArn => {
                        "Dead-letter target ARN must be an SQS queue ARN."
                    }
                    RedriveFault::MaxReceiveCount => {
                        "Redrive policy maxReceiveCount must be between 1 and 1000."
                    }
                    RedriveFault::OtherRegion => {
                        "Dead-letter target must be in same region as the source."
                    }
                    // SQS's wording for this case could not be found; it follows SQS's other
                    // `RedrivePolicy` reasons.
                    RedriveFault::ItSelf => {
                        "Dead-letter target must not be the source queue itself."
                    }
                    RedriveFault::Missing => "Dead letter target does not exist.",
                    // SQS's message ends with two periods.
                    RedriveFault::OtherKind => {
                        "Dead-letter queue must be same type of queue as the source.."
                    }
                };
                bad_value("RedrivePolicy", value, reason)
            }
            QueueError::Exists { attribute } => ApiError::bad(
                "QueueNameExists",
                format!(
                    "A queue already exists with the same name and a different value for \
                     attribute {attribute}"
                ),
            )
            .with_query_code("QueueAlreadyExists"),
            QueueError::NotFound => queue_missing(),
            QueueError::Core(e) => e.into(),
        }
    }
}

/// Every attribute a GetQueueAttributes call asked for (`All` or names), defaults applied.
async fn attributes_of(
    app: &App,
    q: &QueueDef,
    names: &[String],
) -> Result<Map<String, Value>, ApiError> {
    let all = names.iter().any(|n| n == "All");
    let want = |n: &str| all || names.iter().any(|w| w == n);
    let mut out = Map::new();
    for (name, _) in SETTABLE {
        let v = q.attr(name);
        let fifo_only = matches!(
            *name,
            "FifoQueue"
                | "ContentBasedDeduplication"
                | "DeduplicationScope"
                | "FifoThroughputLimit"
        );
        if (fifo_only && !q.fifo()) || (v.is_empty()) || !want(name) {
            continue;
        }
        if *name == "KmsDataKeyReusePeriodSeconds" && q.attr("KmsMasterKeyId").is_empty() {
            continue;
        }
        out.insert((*name).to_owned(), json!(v));
    }
    if want("QueueArn") {
        out.insert("QueueArn".into(), json!(q.arn(&app.config.account_id)));
    }
    if want("CreatedTimestamp") {
        out.insert(
            "CreatedTimestamp".into(),
            json!((q.created_ms / 1000).to_string()),
        );
    }
    if want("LastModifiedTimestamp") {
        out.insert(
            "LastModifiedTimestamp".into(),
            json!((q.modified_ms / 1000).to_string()),
        );
    }
    if [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    .iter()
    .any(|n| want(n))
    {
        let s = app.queues.stats(q).await?;
        for (n, v) in [
            ("ApproximateNumberOfMessages", s.visible),
            ("ApproximateNumberOfMessagesNotVisible", s.in_flight),
            ("ApproximateNumberOfMessagesDelayed", s.delayed),
        ] {
            if want(n) {
                out.insert(n.into(), json!(v.to_string()));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Queues

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateQueueInput {
    queue_name: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
    #[serde(rename = "tags")]
    tags: Option<BTreeMap<String, String>>,
}

async fn create_queue(app: &App, ctx: &Ctx, input: CreateQueueInput) -> Result<Vec<u8>, ApiError> {
    let name = input.queue_name.ok_or_else(|| missing_param("QueueName"))?;
    let def = app
        .queues
        .create(
            &ctx.region,
            &name,
            input.attributes.unwrap_or_default(),
            input.tags.unwrap_or_default(),
        )
        .await?;
    reply(&json!({ "QueueUrl": queue_url(app, ctx, &def) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetQueueUrlInput {
    queue_name: Option<String>,
}

fn get_queue_url(app: &App, ctx: &Ctx, input: GetQueueUrlInput) -> Result<Vec<u8>, ApiError> {
    let name = input.queue_name.ok_or_else(|| missing_param("QueueName"))?;
    let q = app
        .queues
        .get(&ctx.region, &name)
        .ok_or_else(queue_missing)?;
    reply(&json!({ "QueueUrl": queue_url(app, ctx, &q) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListQueuesInput {
    queue_name_prefix: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

fn list_queues(app: &App, ctx: &Ctx, input: ListQueuesInput) -> Result<Vec<u8>, ApiError> {
    if let Some(m) = input.max_results
        && !(1..=1000).contains(&m)
    {
        return Err(bad_value(
            "MaxResults",
            m,
            "MaxResults must be an integer between 1 and 1000.",
        ));
    }
    let prefix = input.queue_name_prefix.unwrap_or_default();
    let mut queues = app.queues.list(&ctx.region);
    queues.retain(|q| q.name.starts_with(&prefix));
    let start = match &input.next_token {
        Some(t) => queues
            .iter()
            .position(|q| q.name.as_str() > t.as_str())
            .unwrap_or(queues.len()),
        None => 0,
    };
    let limit = input.max_results.map_or(1000, |m| m as usize);
    let page: Vec<&QueueDef> = queues[start..].iter().take(limit).collect();
    let mut out = Map::new();
    if !page.is_empty() {
        out.insert(
            "QueueUrls".into(),
            json!(
                page.iter()
                    .map(|q| queue_url(app, ctx, q))
                    .collect::<Vec<_>>()
            ),
        );
    }
    if input.max_results.is_some()
        && start + page.len() < queues.len()
        && let Some(last) = page.last()
    {
        out.insert("NextToken".into(), json!(last.name));
    }
    reply(&Value::Object(out))
}

async fn delete_queue(app: &App, ctx: &Ctx, input: QueueRef) -> Result<Vec<u8>, ApiError> {
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    app.queues.delete(&q.region, &q.name).await?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetQueueAttributesInput {
    queue_url: Option<String>,
    attribute_names: Option<Vec<String>>,
}

async fn get_queue_attributes(
    app: &App,
    ctx: &Ctx,
    input: GetQueueAttributesInput,
) -> Result<Vec<u8>, ApiError> {
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    let names = input.attribute_names.unwrap_or_default();
    const COMPUTED: [&str; 7] = [
        "All",
        "QueueArn",
        "CreatedTimestamp",
        "LastModifiedTimestamp",
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ];
    for n in &names {
        if !COMPUTED.contains(&n.as_str()) && !SETTABLE.iter().any(|(s, _)| s == n) {
            return Err(
                ApiError::bad("InvalidAttributeName", format!("Unknown Attribute {n}."))
                    .with_query_code("InvalidAttributeName"),
            );
        }
    }
    let attrs = attributes_of(app, &q, &names).await?;
    if attrs.is_empty() {
        return reply(&json!({}));
    }
    reply(&json!({ "Attributes": attrs }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SetQueueAttributesInput {
    queue_url: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
}

async fn set_queue_attributes(
    app: &App,
    ctx: &Ctx,
    input: SetQueueAttributesInput,
) -> Result<Vec<u8>, ApiError> {
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    let attrs = input
        .attributes
        .ok_or_else(|| missing_param("Attributes"))?;
    app.queues.set_attributes(&q.region, &q.name, attrs).await?;
    empty()
}

async fn purge_queue(app: &App, ctx: &Ctx, input: QueueRef) -> Result<Vec<u8>, ApiError> {
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    app.queues.purge(&q).await?;
    empty()
}

// ---------------------------------------------------------------------------------------------
// Tags

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagQueueInput {
    queue_url: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    tag_keys: Option<Vec<String>>,
}

async fn edit_tags(
    app: &App,
    ctx: &Ctx,
    url: Option<&str>,
    edit: impl FnOnce(&mut Tags),
) -> Result<(), ApiError> {
    let q = resolve(app, ctx, url)?;
    app.queues
        .upsert(&q.region, &q.name, |current| {
            let mut def = current.cloned().ok_or_else(queue_missing)?;
            edit(&mut def.tags);
            Ok((def, ()))
        })
        .await
}

async fn tag_queue(app: &App, ctx: &Ctx, input: TagQueueInput) -> Result<Vec<u8>, ApiError> {
    // No tags at all is refused as if the parameter were missing.
    let tags = input
        .tags
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing_param("Tags"))?;
    edit_tags(app, ctx, input.queue_url.as_deref(), |t| t.extend(tags)).await?;
    empty()
}

async fn untag_queue(app: &App, ctx: &Ctx, input: TagQueueInput) -> Result<Vec<u8>, ApiError> {
    let keys = input.tag_keys.ok_or_else(|| missing_param("TagKeys"))?;
    if keys.is_empty() {
        return Err(invalid_param(
            "Tag keys must be between 1 and 128 characters in length.",
        ));
    }
    edit_tags(app, ctx, input.queue_url.as_deref(), |t| {
        for k in &keys {
            t.remove(k);
        }
    })
    .await?;
    empty()
}

fn list_queue_tags(app: &App, ctx: &Ctx, input: QueueRef) -> Result<Vec<u8>, ApiError> {
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    if q.tags.is_empty() {
        return reply(&json!({}));
    }
    reply(&json!({ "Tags": q.tags }))
}

fn list_dead_letter_sources(app: &App, ctx: &Ctx, input: QueueRef) -> Result<Vec<u8>, ApiError> {
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    let key = q.key();
    let urls: Vec<String> = app
        .queues
        .list(&ctx.region)
        .iter()
        .filter(|s| s.redrive().is_some_and(|(dlq, _)| dlq == key))
        .map(|s| queue_url(app, ctx, s))
        .collect();
    reply(&json!({ "queueUrls": urls }))
}

// ---------------------------------------------------------------------------------------------
// Permissions: statements of the queue's `Policy`, as AddPermission writes them

/// The actions AddPermission grants (`SQS:NAME` in the statement); granting `SendMessage`,
/// `DeleteMessage` or `ChangeMessageVisibility` grants their batches too, so the batches are
/// no names of their own here.
const GRANTABLE: &[&str] = &[
    "*",
    "ChangeMessageVisibility",
    "DeleteMessage",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "PurgeQueue",
    "ReceiveMessage",
    "SendMessage",
];

/// Actions only the queue's owner may call, which AddPermission refuses to grant.
const OWNER_ONLY: &[&str] = &[
    "AddPermission",
    "CancelMessageMoveTask",
    "CreateQueue",
    "DeleteQueue",
    "ListMessageMoveTasks",
    "ListQueueTags",
    "ListQueues",
    "RemovePermission",
    "SetQueueAttributes",
    "StartMessageMoveTask",
    "TagQueue",
    "UntagQueue",
];

/// At most this many actions in one AddPermission statement.
const MAX_ACTIONS: usize = 7;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PermissionInput {
    queue_url: Option<String>,
    label: Option<String>,
    #[serde(rename = "AWSAccountIds")]
    aws_account_ids: Option<Vec<String>>,
    actions: Option<Vec<String>>,
}

fn label_refused(label: &str, reason: &str) -> ApiError {
    bad_value("Label", label, reason)
}

/// The queue's policy document without its statements, and the statements (a policy may give
/// one statement as an object rather than a list); a new document (`Version`, `Id` as AWS
/// writes them, no statements) when the queue has none, or none AddPermission can add to.
fn policy_of(q: &QueueDef, arn: &str) -> (Map<String, Value>, Vec<Value>) {
    if let Ok(Value::Object(mut p)) = serde_json::from_str::<Value>(q.attr("Policy")) {
        match p.remove("Statement") {
            Some(Value::Array(list)) => return (p, list),
            Some(one @ Value::Object(_)) => return (p, vec![one]),
            _ => {}
        }
    }
    let mut p = Map::new();
    p.insert("Version".into(), json!("2012-10-17"));
    p.insert("Id".into(), json!(format!("{arn}/SQSDefaultPolicy")));
    (p, Vec::new())
}

/// The policy document with `statements`, as the `Policy` attribute's text.
fn policy_text(mut policy: Map<String, Value>, statements: Vec<Value>) -> String {
    policy.insert("Statement".into(), Value::Array(statements));
    Value::Object(policy).to_string()
}

/// One value, or a list of several, as AWS writes a policy's principals and actions.
fn one_or_many(mut items: Vec<String>) -> Value {
    if items.len() == 1 {
        Value::String(items.remove(0))
    } else {
        json!(items)
    }
}

async fn add_permission(app: &App, ctx: &Ctx, input: PermissionInput) -> Result<Vec<u8>, ApiError> {
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    let label = input.label.ok_or_else(|| missing_param("Label"))?;
    if label.is_empty()
        || label.len() > 80
        || !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(label_refused(
            &label,
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in \
             length.",
        ));
    }
    let actions = input
        .actions
        .filter(|a| !a.is_empty())
        .ok_or_else(|| missing_param("Actions"))?;
    let accounts = input
        .aws_account_ids
        .ok_or_else(|| missing_param("AWSAccountIds"))?;
    if accounts.is_empty() {
        return Err(invalid_param(
            "Value [] for parameter PrincipalId is invalid. Reason: Unable to verify.",
        ));
    }
    if actions.len() > MAX_ACTIONS {
        return Err(ApiError::new(
            "OverLimit",
            axum::http::StatusCode::FORBIDDEN,
            format!(
                "{} Actions were found, maximum allowed is {MAX_ACTIONS}.",
                actions.len()
            ),
        )
        .with_query_code("OverLimit"));
    }
    for a in &actions {
        let reason = if OWNER_ONLY.contains(&a.as_str()) {
            "Only the queue owner is allowed to invoke this action."
        } else if !GRANTABLE.contains(&a.as_str()) {
            "Please refer to the appropriate WSDL for a list of valid actions."
        } else {
            continue;
        };
        return Err(bad_value("ActionName", format!("SQS:{a}"), reason));
    }
    let arn = q.arn(&app.config.account_id);
    let statement = json!({
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": one_or_many(
            accounts.iter().map(|a| format!("arn:aws:iam::{a}:root")).collect()
        )},
        "Action": one_or_many(actions.iter().map(|a| format!("SQS:{a}")).collect()),
        "Resource": arn,
    });
    app.queues
        .upsert(&q.region, &q.name, |current| {
            let mut def = current.cloned().ok_or_else(queue_missing)?;
            let (policy, mut list) = policy_of(&def, &arn);
            if list.iter().any(|s| s["Sid"] == label.as_str()) {
                return Err(label_refused(&label, "Already exists."));
            }
            list.push(statement);
            def.attributes
                .insert("Policy".into(), policy_text(policy, list));
            Ok((def, ()))
        })
        .await?;
    empty()
}

async fn remove_permission(
    app: &App,
    ctx: &Ctx,
    input: PermissionInput,
) -> Result<Vec<u8>, ApiError> {
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    let label = input.label.ok_or_else(|| missing_param("Label"))?;
    let arn = q.arn(&app.config.account_id);
    app.queues
        .upsert(&q.region, &q.name, |current| {
            let mut def = current.cloned().ok_or_else(queue_missing)?;
            let (policy, mut list) = policy_of(&def, &arn);
            let before = list.len();
            list.retain(|s| s["Sid"] != label.as_str());
            if list.len() == before {
                return Err(label_refused(
                    &label,
                    "can't find label on existing policy.",
                ));
            }
            // The last statement gone, the queue has no policy left.
            if list.is_empty() {
                def.attributes.remove("Policy");
            } else {
                def.attributes
                    .insert("Policy".into(), policy_text(policy, list));
            }
            Ok((def, ()))
        })
        .await?;
    empty()
}

// ---------------------------------------------------------------------------------------------
// Sending

#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
struct SendEntry {
    id: Option<String>,
    message_body: Option<String>,
    delay_seconds: Option<i64>,
    message_attributes: Option<BTreeMap<String, Value>>,
    message_system_attributes: Option<BTreeMap<String, Value>>,
    message_deduplication_id: Option<String>,
    message_group_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendMessageInput {
    queue_url: Option<String>,
    #[serde(flatten)]
    entry: SendEntry,
}

/// Characters SQS accepts in bodies and string attributes.
fn valid_sqs_text(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}')
            || ('\u{20}'..='\u{D7FF}').contains(&c)
            || ('\u{E000}'..='\u{FFFD}').contains(&c)
            || ('\u{10000}'..='\u{10FFFF}').contains(&c)
    })
}

fn check_message_attributes(attrs: &BTreeMap<String, Value>) -> Result<(), ApiError> {
    if attrs.len() > 10 {
        return Err(invalid_param(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            attrs.len()
        )));
    }
    for (name, v) in attrs {
        let ok_name = !name.is_empty()
            && name.len() <= 256
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.contains("..")
            && !name.to_ascii_lowercase().starts_with("aws.")
            && !name.to_ascii_lowercase().starts_with("amazon.");
        if !ok_name {
            return Err(invalid_param(format!(
                "Message attribute name '{name}' is invalid."
            )));
        }
        let data_type = v.get("DataType").and_then(Value::as_str).unwrap_or("");
        let base = data_type.split('.').next().unwrap_or("");
        let string = v.get("StringValue").and_then(Value::as_str);
        let binary = v.get("BinaryValue").and_then(Value::as_str);
        match base {
            "String" | "Number" => {
                let Some(s) = string else {
                    return Err(invalid_param(format!(
                        "Message attribute '{name}' must contain a non-empty message attribute \
                         value for message attribute type '{base}'."
                    )));
                };
                if s.is_empty() || !valid_sqs_text(s) {
                    return Err(invalid_param(format!(
                        "Message attribute '{name}' must contain a non-empty message attribute \
                         value for message attribute type '{base}'."
                    )));
                }
                if base == "Number" && s.parse::<f64>().is_err() {
                    return Err(invalid_param(format!(
                        "Can't cast the value of message (user) attribute '{name}' to a number."
                    )));
                }
            }
            "Binary" => {
                if binary.is_none_or(str::is_empty) {
                    return Err(invalid_param(format!(
                        "Message attribute '{name}' must contain a non-empty message attribute \
                         value for message attribute type 'Binary'."
                    )));
                }
            }
            _ => {
                return Err(invalid_param(format!(
                    "The type of message (user) attribute '{name}' is invalid. You must use only \
                     the following supported type prefixes: Binary, Number, String."
                )));
            }
        }
    }
    Ok(())
}

/// Checks that every `BinaryValue` is base64, as the AWS JSON protocol reads a blob member
/// before SQS sees the request: one that is not answers `SerializationException` for the whole
/// request (Smithy's protocol tests: "When a blob member is not properly base64 encoded, or not
/// encoded at all, the response should be a 400 SerializationException"). Without this check a
/// bad value was stored as given and its attributes' MD5 computed over nothing.
fn check_binary_values<'a>(entries: impl Iterator<Item = &'a SendEntry>) -> Result<(), ApiError> {
    use base64::Engine;
    for e in entries {
        for (name, v) in e.message_attributes.iter().flatten() {
            let valid = match v.get("BinaryValue") {
                None | Some(Value::Null) => true,
                Some(Value::String(b)) => {
                    base64::engine::general_purpose::STANDARD.decode(b).is_ok()
                }
                Some(_) => false,
            };
            if !valid {
                return Err(ApiError::serialization(format!(
                    "Value for message attribute '{name}' member BinaryValue is not valid base64"
                )));
            }
        }
    }
    Ok(())
}

/// A message's size as SQS counts it against `MaximumMessageSize`: its body and each message
/// attribute's name, data type and value (binary values decoded).
fn message_size(body: &str, attrs: Option<&BTreeMap<String, Value>>) -> usize {
    let text = |v: &Value, field: &str| v.get(field).and_then(Value::as_str).map_or(0, str::len);
    body.len()
        + attrs
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                k.len()
                    + text(v, "DataType")
                    + text(v, "StringValue")
                    + text(v, "BinaryValue") * 3 / 4
            })
            .sum::<usize>()
}

/// Checks one entry against its queue and builds the message.
fn prepare(q: &QueueDef, e: SendEntry) -> Result<OutMessage, ApiError> {
    let body = e.message_body.ok_or_else(|| missing_param("MessageBody"))?;
    if body.is_empty() {
        return Err(missing_param("MessageBody"));
    }
    if !valid_sqs_text(&body) {
        return Err(invalid_contents());
    }
    let attrs = e.message_attributes.unwrap_or_default();
    check_message_attributes(&attrs)?;
    let size = message_size(&body, Some(&attrs));
    if size > q.max_size() {
        return Err(invalid_param(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {} bytes.",
            q.max_size()
        )));
    }
    if let Some(d) = e.delay_seconds {
        // A FIFO queue has no per-message delay: SQS refuses one, but `0` (no delay, what some
        // clients always send) is accepted.
        if q.fifo() && d != 0 {
            return Err(bad_value(
                "DelaySeconds",
                d,
                "The request include parameter that is not valid for this queue type.",
            ));
        }
        if !(0..=900).contains(&d) {
            return Err(bad_value(
                "DelaySeconds",
                d,
                "DelaySeconds must be >= 0 and <= 900.",
            ));
        }
    }
    if q.fifo() {
        if e.message_group_id.is_none() {
            return Err(missing_param("MessageGroupId"));
        }
        if e.message_deduplication_id.is_none() && !q.content_based_dedup() {
            return Err(invalid_param(
                "The queue should either have ContentBasedDeduplication enabled or \
                 MessageDeduplicationId provided explicitly",
            ));
        }
    } else if e.message_deduplication_id.is_some() {
        return Err(bad_value(
            "MessageDeduplicationId",
            e.message_deduplication_id.as_deref().unwrap_or(""),
            "The request includes a parameter that is not valid for this queue type.",
        ));
    }
    for (what, v) in [
        ("MessageGroupId", &e.message_group_id),
        ("MessageDeduplicationId", &e.message_deduplication_id),
    ] {
        if let Some(v) = v
            && (v.is_empty() || v.len() > 128 || !v.chars().all(|c| c.is_ascii_graphic()))
        {
            return Err(bad_value(
                what,
                v,
                &format!(
                    "{what} can only include alphanumeric and punctuation characters. 1 to 128 in length."
                ),
            ));
        }
    }
    let mut system = BTreeMap::new();
    if let Some(trace) = e
        .message_system_attributes
        .as_ref()
        .and_then(|s| s.get("AWSTraceHeader"))
        .and_then(|v| v.get("StringValue"))
        .and_then(Value::as_str)
    {
        system.insert("AWSTraceHeader".to_owned(), trace.to_owned());
    }
    Ok(OutMessage {
        body,
        message_attributes: attrs,
        system,
        // A FIFO queue's messages take the queue's delay (a per-message `0` changes nothing).
        delay_secs: if q.fifo() { None } else { e.delay_seconds },
        group_id: e.message_group_id,
        dedup_id: e.message_deduplication_id,
    })
}

async fn send_message(app: &App, ctx: &Ctx, input: SendMessageInput) -> Result<Vec<u8>, ApiError> {
    check_binary_values(std::iter::once(&input.entry))?;
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    let m = prepare(&q, input.entry)?;
    let sent = app.queues.send(&q, vec![m]).await?;
    let s = sent
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("send returned nothing"))?;
    let mut out = json!({ "MessageId": s.message_id, "MD5OfMessageBody": s.md5_of_body });
    if let Some(m) = s.md5_of_message_attributes {
        out["MD5OfMessageAttributes"] = json!(m);
    }
    if q.fifo() {
        out["SequenceNumber"] = json!(format!("{:020}", s.seq));
    }
    reply(&out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchInput<E> {
    queue_url: Option<String>,
    entries: Option<Vec<E>>,
}

/// The checks every `*Batch` call (`op`) makes on its entry ids.
fn check_batch<'a>(
    op: &str,
    ids: impl Iterator<Item = Option<&'a str>>,
    n: usize,
) -> Result<(), ApiError> {
    if n == 0 {
        return Err(ApiError::bad(
            "EmptyBatchRequest",
            format!("There should be at least one {op}RequestEntry in the request."),
        )
        .with_query_code("AWS.SimpleQueueService.EmptyBatchRequest"));
    }
    if n > 10 {
        return Err(ApiError::bad(
            "TooManyEntriesInBatchRequest",
            format!("Maximum number of entries per request are 10. You have sent {n}."),
        )
        .with_query_code("AWS.SimpleQueueService.TooManyEntriesInBatchRequest"));
    }
    let mut seen = HashSet::new();
    for id in ids {
        let Some(id) = id else {
            return Err(missing_param("Id"));
        };
        if id.is_empty()
            || id.len() > 80
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ApiError::bad(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and \
                 underscores. It can be at most 80 letters long.",
            )
            .with_query_code("AWS.SimpleQueueService.InvalidBatchEntryId"));
        }
        if !seen.insert(id) {
            return Err(
                ApiError::bad("BatchEntryIdsNotDistinct", format!("Id {id} repeated."))
                    .with_query_code("AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
            );
        }
    }
    Ok(())
}

fn failed_entry(id: &str, e: &ApiError) -> Value {
    json!({
        "Id": id,
        "SenderFault": !e.status.is_server_error(),
        "Code": e.query_code.unwrap_or(e.code),
        "Message": e.message,
    })
}

async fn send_message_batch(
    app: &App,
    ctx: &Ctx,
    input: BatchInput<SendEntry>,
) -> Result<Vec<u8>, ApiError> {
    let entries = input.entries.unwrap_or_default();
    check_binary_values(entries.iter())?;
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    check_batch(
        "SendMessageBatch",
        entries.iter().map(|e| e.id.as_deref()),
        entries.len(),
    )?;
    // A batch is limited as a whole to the largest message any queue takes, whatever this
    // queue's own `MaximumMessageSize` (which each entry is held to).
    let total: usize = entries
        .iter()
        .map(|e| {
            message_size(
                e.message_body.as_deref().unwrap_or(""),
                e.message_attributes.as_ref(),
            )
        })
        .sum();
    let most = *limits::MAXIMUM_MESSAGE_SIZE.end();
    if total as i64 > most {
        return Err(ApiError::bad(
            "BatchRequestTooLong",
            format!(
                "Batch requests cannot be longer than {most} bytes. You have sent {total} bytes."
            ),
        )
        .with_query_code("AWS.SimpleQueueService.BatchRequestTooLong"));
    }
    // On a FIFO queue, an entry without a group id refuses the whole batch, not just itself.
    if q.fifo() && entries.iter().any(|e| e.message_group_id.is_none()) {
        return Err(missing_param("MessageGroupId"));
    }
    let mut ok_ids = Vec::new();
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for e in entries {
        let id = e.id.clone().unwrap_or_default();
        match prepare(&q, e) {
            Ok(m) => {
                ok_ids.push(id);
                ok.push(m);
            }
            Err(err) => failed.push(failed_entry(&id, &err)),
        }
    }
    let sent = if ok.is_empty() {
        Vec::new()
    } else {
        app.queues.send(&q, ok).await?
    };
    let successful: Vec<Value> = ok_ids
        .into_iter()
        .zip(sent)
        .map(|(id, s)| {
            let mut v =
                json!({ "Id": id, "MessageId": s.message_id, "MD5OfMessageBody": s.md5_of_body });
            if let Some(m) = s.md5_of_message_attributes {
                v["MD5OfMessageAttributes"] = json!(m);
            }
            if q.fifo() {
                v["SequenceNumber"] = json!(format!("{:020}", s.seq));
            }
            v
        })
        .collect();
    reply(&json!({ "Successful": successful, "Failed": failed }))
}

// ---------------------------------------------------------------------------------------------
// Receiving

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReceiveInput {
    queue_url: Option<String>,
    attribute_names: Option<Vec<String>>,
    message_system_attribute_names: Option<Vec<String>>,
    message_attribute_names: Option<Vec<String>>,
    max_number_of_messages: Option<i64>,
    visibility_timeout: Option<i64>,
    wait_time_seconds: Option<i64>,
    #[allow(dead_code)]
    receive_request_attempt_id: Option<String>,
}

/// Whether attribute names asked for in a ReceiveMessage (`MessageAttributeNames`,
/// `MessageSystemAttributeNames` or the legacy `AttributeNames`) select attribute `name`: by
/// name, `All` or `.*` (every attribute), or `PREFIX.*` (those whose name starts with
/// `PREFIX.`), as the SQS API reference describes `MessageAttributeNames`.
fn selects(asked: &[String], name: &str) -> bool {
    asked.iter().any(|w| {
        w == "All"
            || w == ".*"
            || w == name
            || w.strip_suffix(".*").is_some_and(|p| {
                name.len() > p.len() + 1 && name.starts_with(p) && name.as_bytes()[p.len()] == b'.'
            })
    })
}

fn message_wire(
    app: &App,
    q: &QueueDef,
    m: &Message,
    system_names: &[String],
    attr_names: &[String],
) -> Value {
    let stored: StoredAttributes = serde_json::from_str(&m.attributes).unwrap_or_default();
    let mut out = json!({
        "MessageId": m.message_id,
        "ReceiptHandle": m.receipt,
        "MD5OfBody": crate::queues::md5_hex(m.body.as_bytes()),
        "Body": m.body,
    });
    let want = |n: &str| selects(system_names, n);
    let mut attrs = Map::new();
    let mut put = |n: &str, v: String| {
        if want(n) {
            attrs.insert(n.to_owned(), json!(v));
        }
    };
    put("SenderId", app.config.account_id.clone());
    put("SentTimestamp", m.sent_ms.to_string());
    put("ApproximateReceiveCount", m.receive_count.to_string());
    put(
        "ApproximateFirstReceiveTimestamp",
        m.first_receive_ms.to_string(),
    );
    if let Some(t) = stored.system.get("AWSTraceHeader") {
        put("AWSTraceHeader", t.clone());
    }
    if q.fifo() {
        put("SequenceNumber", format!("{:020}", m.seq));
        if let Some(g) = &m.group_id {
            put("MessageGroupId", g.clone());
        }
        if let Some(d) = &m.dedup_id {
            put("MessageDeduplicationId", d.clone());
        }
    }
    if !attrs.is_empty() {
        out["Attributes"] = Value::Object(attrs);
    }
    let selected: Map<String, Value> = stored
        .message_attributes
        .iter()
        .filter(|(name, _)| selects(attr_names, name))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(md5) = &stored.md5_of_message_attributes {
        out["MD5OfMessageAttributes"] = json!(md5);
    }
    if !selected.is_empty() {
        out["MessageAttributes"] = Value::Object(selected);
    }
    out
}

async fn receive_message(app: &App, ctx: &Ctx, input: ReceiveInput) -> Result<Vec<u8>, ApiError> {
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    let max = input.max_number_of_messages.unwrap_or(1);
    if !(1..=10).contains(&max) {
        return Err(bad_value(
            "MaxNumberOfMessages",
            max,
            "Must be between 1 and 10, if provided.",
        ));
    }
    let visibility = input
        .visibility_timeout
        .unwrap_or_else(|| q.visibility_secs());
    if !limits::VISIBILITY_TIMEOUT.contains(&visibility) {
        return Err(bad_value(
            "VisibilityTimeout",
            visibility,
            "Must be >= 0 and <= 43200, if provided.",
        ));
    }
    let wait = input.wait_time_seconds.unwrap_or_else(|| q.wait_secs());
    if !(0..=20).contains(&wait) {
        return Err(bad_value(
            "WaitTimeSeconds",
            wait,
            "Must be >= 0 and <= 20, if provided.",
        ));
    }
    let got = app
        .queues
        .receive(
            &q,
            max as usize,
            visibility,
            Duration::from_secs(wait as u64),
        )
        .await?;
    let mut system = input.attribute_names.unwrap_or_default();
    system.extend(input.message_system_attribute_names.unwrap_or_default());
    let attr_names = input.message_attribute_names.unwrap_or_default();
    if got.is_empty() {
        return reply(&json!({}));
    }
    let messages: Vec<Value> = got
        .iter()
        .map(|m| message_wire(app, &q, m, &system, &attr_names))
        .collect();
    reply(&json!({ "Messages": messages }))
}

// ---------------------------------------------------------------------------------------------
// Deleting and visibility

/// Receipt handles eddy issues look like `SEQ.HEX32`.
fn receipt_ok(r: &str) -> bool {
    r.split_once('.').is_some_and(|(seq, rand)| {
        !seq.is_empty()
            && seq.chars().all(|c| c.is_ascii_digit())
            && rand.len() == 32
            && rand.chars().all(|c| c.is_ascii_hexdigit())
    })
}

fn receipt_invalid(r: &str) -> ApiError {
    ApiError::bad(
        "ReceiptHandleIsInvalid",
        format!("The input receipt handle \"{r}\" is not a valid receipt handle."),
    )
    .with_query_code("ReceiptHandleIsInvalid")
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteMessageInput {
    queue_url: Option<String>,
    receipt_handle: Option<String>,
}

async fn delete_message(
    app: &App,
    ctx: &Ctx,
    input: DeleteMessageInput,
) -> Result<Vec<u8>, ApiError> {
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    let r = input
        .receipt_handle
        .ok_or_else(|| missing_param("ReceiptHandle"))?;
    if !receipt_ok(&r) {
        return Err(receipt_invalid(&r));
    }
    // A handle of a message already deleted (or received again since) succeeds, as in SQS.
    app.queues.delete_messages(&q, vec![r]).await?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReceiptEntry {
    id: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

async fn delete_message_batch(
    app: &App,
    ctx: &Ctx,
    input: BatchInput<ReceiptEntry>,
) -> Result<Vec<u8>, ApiError> {
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    let entries = input.entries.unwrap_or_default();
    check_batch(
        "DeleteMessageBatch",
        entries.iter().map(|e| e.id.as_deref()),
        entries.len(),
    )?;
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    let mut receipts = Vec::new();
    for e in &entries {
        let id = e.id.clone().unwrap_or_default();
        match e.receipt_handle.as_deref() {
            Some(r) if receipt_ok(r) => {
                receipts.push(r.to_owned());
                successful.push(json!({ "Id": id }));
            }
            r => failed.push(failed_entry(&id, &receipt_invalid(r.unwrap_or("")))),
        }
    }
    if !receipts.is_empty() {
        app.queues.delete_messages(&q, receipts).await?;
    }
    reply(&json!({ "Successful": successful, "Failed": failed }))
}

fn not_inflight() -> ApiError {
    ApiError::bad(
        "MessageNotInflight",
        "Message does not exist or is not available for visibility timeout change.",
    )
    .with_query_code("AWS.SimpleQueueService.MessageNotInflight")
}

async fn change_visibility(
    app: &App,
    ctx: &Ctx,
    input: ReceiptEntryInput,
) -> Result<Vec<u8>, ApiError> {
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    let r = input
        .entry
        .receipt_handle
        .ok_or_else(|| missing_param("ReceiptHandle"))?;
    let v = input
        .entry
        .visibility_timeout
        .ok_or_else(|| missing_param("VisibilityTimeout"))?;
    if !limits::VISIBILITY_TIMEOUT.contains(&v) {
        return Err(bad_value(
            "VisibilityTimeout",
            v,
            "Must be >= 0 and <= 43200.",
        ));
    }
    if !receipt_ok(&r) {
        return Err(receipt_invalid(&r));
    }
    let done = app.queues.change_visibility(&q, vec![(r, v)]).await?;
    if !done.first().copied().unwrap_or(false) {
        return Err(not_inflight());
    }
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReceiptEntryInput {
    queue_url: Option<String>,
    #[serde(flatten)]
    entry: ReceiptEntry,
}

async fn change_visibility_batch(
    app: &App,
    ctx: &Ctx,
    input: BatchInput<ReceiptEntry>,
) -> Result<Vec<u8>, ApiError> {
    let q = resolve(app, ctx, input.queue_url.as_deref())?;
    let entries = input.entries.unwrap_or_default();
    check_batch(
        "ChangeMessageVisibilityBatch",
        entries.iter().map(|e| e.id.as_deref()),
        entries.len(),
    )?;
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for e in &entries {
        let id = e.id.clone().unwrap_or_default();
        let r = e.receipt_handle.clone().unwrap_or_default();
        let v = e.visibility_timeout.unwrap_or(0);
        if !receipt_ok(&r) {
            failed.push(failed_entry(&id, &receipt_invalid(&r)));
            continue;
        }
        if !limits::VISIBILITY_TIMEOUT.contains(&v) {
            failed.push(failed_entry(
                &id,
                &bad_value("VisibilityTimeout", v, "Must be >= 0 and <= 43200."),
            ));
            continue;
        }
        let done = app.queues.change_visibility(&q, vec![(r, v)]).await?;
        if done.first().copied().unwrap_or(false) {
            successful.push(json!({ "Id": id }));
        } else {
            failed.push(failed_entry(&id, &not_inflight()));
        }
    }
    reply(&json!({ "Successful": successful, "Failed": failed }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_name_sqs_shapes() {
        assert_eq!(
            json_type("QueueDoesNotExist"),
            "com.amazonaws.sqs#QueueDoesNotExist"
        );
        assert_eq!(json_type("OverLimit"), "com.amazonaws.sqs#OverLimit");
        assert_eq!(
            json_type("SerializationException"),
            "SerializationException"
        );
        // Reworded by the endpoint for operations eddy does not serve; not SQS's.
        assert_eq!(json_type("UnsupportedOperation"), "UnsupportedOperation");
        assert_eq!(json_type("ServiceUnavailable"), "ServiceUnavailable");
    }

    #[test]
    fn attribute_names_select_by_name_prefix_and_wildcard() {
        let asked = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert!(selects(&asked(&["All"]), "x"));
        assert!(selects(&asked(&[".*"]), "x"));
        assert!(selects(&asked(&["bar.*"]), "bar.baz"));
        assert!(!selects(&asked(&["bar.*"]), "barn"));
        assert!(!selects(&asked(&["bar.*"]), "bar"));
        assert!(selects(&asked(&["a", "b"]), "b"));
        assert!(!selects(&asked(&[]), "b"));
    }

    #[test]
    fn message_size_counts_attributes() {
        let attrs: BTreeMap<String, Value> = [
            (
                "k".to_owned(),
                json!({"DataType": "String", "StringValue": "vv"}),
            ),
            (
                "b".to_owned(),
                json!({"DataType": "Binary", "BinaryValue": "AAEC"}),
            ),
        ]
        .into();
        // body 4 + (1 + 6 + 2) + (1 + 6 + 3)
        assert_eq!(message_size("body", Some(&attrs)), 23);
        assert_eq!(message_size("body", None), 4);
    }

    #[test]
    fn receipts() {
        assert!(receipt_ok("12.0123456789abcdef0123456789abcdef"));
        assert!(!receipt_ok("12.xyz"));
        assert!(!receipt_ok("garbage"));
    }
}
