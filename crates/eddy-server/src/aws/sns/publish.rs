//! SNS's Publish and PublishBatch: reading a publication (its message attributes as
//! `MessageAttributes.entry.N.Name` / `.Value.DataType` / `.Value.StringValue|BinaryValue`),
//! and answering with the message ids (and FIFO sequence numbers).
//!
//! As in SNS, a batch with one bad entry fails as a whole (nothing is published), and a
//! publication's own mistakes are reported before a missing topic.

use std::collections::{BTreeMap, HashSet};

use axum::http::StatusCode;
use eddy_core::topics::publish::{self as rules, MAX_MESSAGE_BYTES};
use eddy_core::topics::{MessageAttribute, Publication, TopicDef};

use super::{Answer, Ctx, Params, Xml, invalid, not_found, topic_error, topic_name};
use crate::App;
use crate::error::ApiError;

/// Most entries in one PublishBatch.
const MAX_BATCH: usize = 10;
/// Longest batch entry id.
const MAX_ENTRY_ID: usize = 80;

/// A publication's message attributes; `path` names them in the validation message SNS gives
/// for a missing data type.
fn attributes(p: &Params, path: &str) -> Result<BTreeMap<String, MessageAttribute>, ApiError> {
    let mut out = BTreeMap::new();
    for e in p.indexed("MessageAttributes.entry") {
        let name = e.get("Name").unwrap_or_default().to_owned();
        let v = e.nested("Value");
        let Some(data_type) = v.get("DataType") else {
            return Err(ApiError::bad(
                "ValidationError",
                format!(
                    "1 validation error detected: Value null at '{path}.{name}.member.dataType' \
                     failed to satisfy constraint: Member must not be null"
                ),
            ));
        };
        out.insert(
            name,
            MessageAttribute {
                data_type: data_type.to_owned(),
                string_value: v.get("StringValue").map(str::to_owned),
                binary_value: v.get("BinaryValue").map(str::to_owned),
            },
        );
    }
    Ok(out)
}

fn publication(p: &Params, path: &str) -> Result<Publication, ApiError> {
    Ok(Publication {
        message: p.get("Message").unwrap_or_default().to_owned(),
        subject: p.get("Subject").map(str::to_owned),
        structure: p.get("MessageStructure").map(str::to_owned),
        attributes: attributes(p, path)?,
        group_id: p.get("MessageGroupId").map(str::to_owned),
        dedup_id: p.get("MessageDeduplicationId").map(str::to_owned),
    })
}

/// The topic a publication goes to, checked: the publication's own mistakes first (as SNS
/// reports them), then the topic's existence.
fn target(app: &App, ctx: &Ctx, name: &str, ps: &[Publication]) -> Result<TopicDef, ApiError> {
    let topic = app.topics.get(&ctx.region, name);
    let (fifo, content_dedup) = match &topic {
        Some(t) => (t.fifo(), t.content_based_dedup()),
        // Checked as the name says the topic would be, before the topic is missed.
        None => (name.ends_with(".fifo"), true),
    };
    for p in ps {
        rules::check(p, fifo, content_dedup).map_err(topic_error)?;
    }
    topic.ok_or_else(|| not_found("Topic does not exist"))
}

pub async fn publish(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    if p.get("PhoneNumber").is_some() {
        return Err(invalid(
            "Invalid parameter: PhoneNumber Reason: eddy does not send SMS messages to phone \
             numbers directly; subscribe the number to a topic (protocol sms) and publish to \
             the topic, and eddy writes the message to the topic's log group",
        ));
    }
    let param = if p.get("TopicArn").is_some() {
        "TopicArn"
    } else if p.get("TargetArn").is_some() {
        "TargetArn"
    } else {
        return Err(invalid(
            "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter",
        ));
    };
    let name = topic_name(ctx, p, param)?;
    let publication = publication(p, "messageAttributes")?;
    let topic = target(app, ctx, &name, std::slice::from_ref(&publication))?;
    let mut answers = app
        .publish(&ctx.region, &topic.name, vec![publication], Vec::new())
        .await
        .map_err(topic_error)?;
    let published = match answers.pop() {
        Some(Ok(published)) => published,
        Some(Err(e)) => return Err(topic_error(e)),
        None => return Err(ApiError::internal("the publication was not answered")),
    };
    let mut x = Xml::default();
    x.text("MessageId", &published.message_id);
    if let Some(seq) = &published.sequence_number {
        x.text("SequenceNumber", seq);
    }
    Ok(Some(x))
}

pub async fn publish_batch(app: &App, ctx: &Ctx, p: &Params) -> Answer {
    let name = topic_name(ctx, p, "TopicArn")?;
    let entries = p.structs("PublishBatchRequestEntries");
    if entries.is_empty() {
        return Err(ApiError::bad(
            "EmptyBatchRequest",
            "The batch request doesn't contain any entries.",
        ));
    }
    if entries.len() > MAX_BATCH {
        return Err(ApiError::bad(
            "TooManyEntriesInBatchRequest",
            "The batch request contains more entries than permissible.",
        ));
    }
    if app.topics.get(&ctx.region, &name).is_none() {
        return Err(not_found("Topic does not exist"));
    }
    let mut ids = HashSet::new();
    for e in &entries {
        let id = e.get("Id").unwrap_or_default();
        if !ids.insert(id) {
            return Err(ApiError::bad(
                "BatchEntryIdsNotDistinct",
                "Two or more batch entries in the request have the same Id.",
            ));
        }
    }
    for e in &entries {
        let id = e.get("Id").unwrap_or_default();
        if id.len() > MAX_ENTRY_ID {
            return Err(ApiError::bad(
                "InvalidBatchEntryId",
                format!("The Id of a batch entry in the batch request is too long: {id}"),
            ));
        }
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ApiError::bad(
                "InvalidBatchEntryId",
                format!(
                    "The Id of a batch entry in the batch request contains an impermissible \
                     character: {}",
                    super::super::unsupported::echo(id)
                ),
            ));
        }
    }
    let mut publications = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let path = format!(
            "publishBatchRequestEntries.{}.member.messageAttributes",
            i + 1
        );
        publications.push(publication(e, &path)?);
    }
    let topic = target(app, ctx, &name, &publications)?;
    let total: usize = publications
        .iter()
        .map(|p| {
            p.message.len()
                + p.attributes
                    .iter()
                    .map(|(k, a)| k.len() + a.data_type.len() + a.value().len())
                    .sum::<usize>()
        })
        .sum();
    if total > MAX_MESSAGE_BYTES {
        return Err(ApiError::bad(
            "BatchRequestTooLong",
            "The length of all the messages put together is more than the limit.",
        ));
    }
    let answers = app
        .publish(&ctx.region, &topic.name, publications, Vec::new())
        .await
        .map_err(topic_error)?;
    let mut x = Xml::default();
    x.open("Successful");
    let mut failed = Xml::default();
    for (e, answer) in entries.iter().zip(answers) {
        let id = e.get("Id").unwrap_or_default();
        match answer {
            Ok(published) => {
                x.open("member")
                    .text("Id", id)
                    .text("MessageId", &published.message_id);
                if let Some(seq) = &published.sequence_number {
                    x.text("SequenceNumber", seq);
                }
                x.close("member");
            }
            Err(err) => {
                let e = topic_error(err);
                failed
                    .open("member")
                    .text("Id", id)
                    .text("Code", e.code)
                    .text("Message", &e.message)
                    .text(
                        "SenderFault",
                        if e.status == StatusCode::INTERNAL_SERVER_ERROR {
                            "false"
                        } else {
                            "true"
                        },
                    )
                    .close("member");
            }
        }
    }
    x.close("Successful");
    x.open("Failed");
    x.raw(failed);
    x.close("Failed");
    Ok(Some(x))
}
