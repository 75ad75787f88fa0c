//! Deliveries of topics' notifications ([`Work::Notify`] items) to their subscriptions, as SNS
//! makes them:
//!
//! * `sqs`: the JSON envelope (or, with `RawMessageDelivery`, the message itself with its
//!   attributes as the queue message's attributes), written to the queue in the same store
//!   transaction that removes the work items; FIFO queues get the publication's group and
//!   deduplication ids;
//! * `lambda`: Lambda's SNS event, handed to the function's asynchronous invocation queue
//!   (Lambda's own retries apply from there);
//! * `http`/`https`: a POST with SNS's `x-amz-sns-*` headers and the signed envelope; retried
//!   as the subscription's delivery policy says (SNS's default: 3 retries, 20 s apart), at
//!   most `throttlePolicy.maxReceivesPerSecond` a second;
//! * `eventbridge` (eddy's own protocol: an event bus's ARN): an event on the bus, `aws.sns`
//!   `SNS Notification`, whose detail is the JSON notification (or the raw message);
//! * `email`, `email-json`, `sms`: written to the log group `sns/REGION/ACCOUNT/TOPIC`, one
//!   stream per endpoint, instead of being sent (confirmation requests too, with the URL that
//!   confirms).
//!
//! A delivery that cannot succeed (the queue or function does not exist, too many attributes
//! for a raw queue message) or whose retries ran out goes to the subscription's dead-letter
//! queue (`RedrivePolicy`) with the payload it would have delivered, or, without one, to the
//! store's dead letters. A subscription removed after publishing gets nothing (as in SNS).

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_store::{NewLogEvent, WorkItem};
use serde_json::Value;

use super::retry::{self, Policy, Verdict};
use super::target::TargetKind;
use super::{Failure, ack, count, nack, stale};
use crate::Core;
use crate::core_error::CoreError;
use crate::logs::LogGroupDef;
use crate::queues::OutMessage;
use crate::topics::envelope::{self, Signed};
use crate::topics::fanout::{self, Envelopes};
use crate::topics::publish::{Kind, Notification};
use crate::topics::{SubscriptionDef, TopicDef};
use crate::work::Work;

/// What HTTP subscribers see as the sender.
const USER_AGENT: &str = "Amazon Simple Notification Service Agent";

/// One item with its notification.
struct Note {
    item: WorkItem,
    n: Notification,
}

/// Everything a delivery of one subscription needs.
struct Ctx<'a> {
    app: &'a Core,
    sub: &'a SubscriptionDef,
    arn: String,
    topic: Option<TopicDef>,
    env: Envelopes,
}

impl Ctx<'_> {
    /// The JSON envelope this subscription's protocol receives.
    fn envelope(&self, n: &Notification) -> String {
        self.env.envelope(n, &self.sub.protocol, &self.arn)
    }
}

/// Delivers a group of items for one subscription and settles each.
pub async fn deliver(app: Arc<Core>, items: Vec<WorkItem>) {
    let Some(first) = items.first() else { return };
    let Work::Notify { subscription_arn } = Work::of_item(first) else {
        return;
    };
    let arn = subscription_arn.to_owned();
    let Some(sub) = app.topics.subscription_by_arn(&arn) else {
        tracing::info!(subscription = %arn, messages = items.len(),
            "subscription removed before delivery; dropping its notifications");
        count(&app, first, "dropped", items.len());
        ack(&app, items.iter().map(WorkItem::lease).collect()).await;
        return;
    };
    let mut notes = Vec::with_capacity(items.len());
    for item in items {
        match serde_json::from_str::<Notification>(&item.body) {
            Ok(n) => notes.push(Note { item, n }),
            Err(e) => {
                let f =
                    Failure::permanent("InvalidMessage", format!("unreadable notification: {e}"));
                dead_letter(&app, &item, &f, None).await;
            }
        }
    }
    let topic = app.topics.get(&sub.region, &sub.topic);
    let fifo = topic.as_ref().is_some_and(TopicDef::fifo);
    // Only signed envelopes need the key: not FIFO topics', not raw queue messages.
    let needs_key = !(fifo || (sub.protocol == "sqs" && sub.raw()));
    let key = if needs_key {
        match app.topics.signing_key().await {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::error!(error = %e, "cannot load or make the SNS signing key");
                let f = Failure::retryable("InternalFailure", format!("no signing key: {e}"));
                for note in &notes {
                    settle(&app, &sub, note, Err(f.clone())).await;
                }
                return;
            }
        }
    } else {
        None
    };
    let env = Envelopes::new(&app.topics, topic.as_ref(), key);
    let cx = Ctx {
        app: &app,
        sub: &sub,
        arn,
        topic,
        env,
    };
    let outcomes = match sub.protocol.as_str() {
        "sqs" => to_queue(&cx, &notes).await,
        "lambda" => {
            let mut out = Vec::with_capacity(notes.len());
            for note in &notes {
                out.push(to_function(&cx, note).await);
            }
            out
        }
        "http" | "https" => join_all(notes.iter().map(|note| to_http(&cx, note)).collect()).await,
        "eventbridge" => {
            let mut out = Vec::with_capacity(notes.len());
            for note in &notes {
                out.push(to_bus(&cx, note).await);
            }
            out
        }
        _ => {
            let mut out = Vec::with_capacity(notes.len());
            for note in &notes {
                out.push(to_log(&cx, note).await);
            }
            out
        }
    };
    // Deliveries that did not settle their item themselves (HTTP) are removed in one go; a
    // crash before this repeats them (at least once), never loses them.
    let acked: Vec<_> = notes
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| matches!(o, Ok(Done::Ack)))
        .map(|(n, _)| n.item.lease())
        .collect();
    if !acked.is_empty() {
        ack(&app, acked).await;
    }
    let mut delivered = 0;
    for (note, outcome) in notes.iter().zip(outcomes) {
        delivered += usize::from(outcome.is_ok());
        settle(&app, &sub, note, outcome.map(|_| ())).await;
    }
    if let Some(note) = notes.first().filter(|_| delivered > 0) {
        count(&app, &note.item, "delivered", delivered);
    }
}

/// `join_all` without another dependency: polls every future until all are done.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// What a delivery left to do: nothing (the work item went with it), or remove the item.
enum Done {
    Settled,
    Ack,
}

/// The queue message a notification makes for this subscription.
fn queue_message(cx: &Ctx<'_>, note: &Note, queue_fifo: bool) -> Result<OutMessage, Failure> {
    let n = &note.n;
    fanout::queue_message(
        cx.sub,
        n,
        queue_fifo,
        || cx.envelope(n),
        // Per work item: a redelivery of the same item is a duplicate, a second subscription
        // of the same queue is not.
        || format!("{}-{}", n.message_id, note.item.id),
    )
    .map_err(|why| Failure::permanent("InvalidParameter", why))
}

/// Delivers to an eddy queue: the messages and the items' removal in one transaction.
async fn to_queue(cx: &Ctx<'_>, notes: &[Note]) -> Vec<Result<Done, Failure>> {
    let TargetKind::Queue { region, name } = TargetKind::of(&cx.sub.endpoint) else {
        let f = Failure::permanent("InvalidParameter", "the endpoint is not a queue's ARN");
        return notes.iter().map(|_| Err(f.clone())).collect();
    };
    let Some(queue) = cx.app.queues.get(&region, &name) else {
        let f = Failure::permanent(
            "AWS.SimpleQueueService.NonExistentQueue",
            format!("queue {name} does not exist in {region}"),
        );
        return notes.iter().map(|_| Err(f.clone())).collect();
    };
    let mut outcomes: Vec<Option<Result<Done, Failure>>> = notes.iter().map(|_| None).collect();
    let mut index = Vec::new();
    let mut messages = Vec::new();
    for (i, note) in notes.iter().enumerate() {
        match queue_message(cx, note, queue.fifo()) {
            Ok(m) => {
                index.push(i);
                messages.push(m);
            }
            Err(f) => outcomes[i] = Some(Err(f)),
        }
    }
    if !messages.is_empty() {
        let leases = index.iter().map(|&i| notes[i].item.lease()).collect();
        let r = cx.app.queues.send_acking(&queue, messages, leases).await;
        match r {
            Ok(_) => {
                for &i in &index {
                    outcomes[i] = Some(Ok(Done::Settled));
                }
            }
            Err(CoreError::Store(eddy_store::StoreError::LeaseLost(lost_leases))) => {
                // Send the others alone; the lost ones are another attempt's now.
                stale(cx.app, lost_leases.len());
                for &i in &index {
                    let lost = lost_leases.iter().any(|l| l.id == notes[i].item.id);
                    outcomes[i] = Some(if lost {
                        Err(Failure::lease_lost())
                    } else {
                        match queue_message(cx, &notes[i], queue.fifo()) {
                            Ok(m) => cx
                                .app
                                .queues
                                .send_acking(&queue, vec![m], vec![notes[i].item.lease()])
                                .await
                                .map(|_| Done::Settled)
                                .map_err(|e| Failure::core(&e)),
                            Err(f) => Err(f),
                        }
                    });
                }
            }
            Err(e) => {
                let f = Failure::core(&e);
                for &i in &index {
                    outcomes[i] = Some(Err(f.clone()));
                }
            }
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err(Failure::retryable("InternalFailure", "not attempted"))))
        .collect()
}

/// Hands Lambda's SNS event to the function's asynchronous invocation queue.
async fn to_function(cx: &Ctx<'_>, note: &Note) -> Result<Done, Failure> {
    let TargetKind::Function {
        region,
        name,
        qualifier,
    } = TargetKind::of(&cx.sub.endpoint)
    else {
        return Err(Failure::permanent(
            "InvalidParameter",
            "the endpoint is not a function's ARN",
        ));
    };
    let Some(def) = cx.app.functions.get(&region, &name) else {
        return Err(Failure::permanent(
            "ResourceNotFoundException",
            format!(
                "Function not found: arn:aws:lambda:{region}:{}:function:{name}",
                cx.app.functions.account()
            ),
        ));
    };
    let n = &note.n;
    let message = n.message_for("lambda");
    // Lambda's records carry SignatureVersion 1 whatever the topic says (as SNS sends them).
    let signed = cx.env.signed(n, &message, "1").unwrap_or(Signed {
        version: "1",
        signature: String::new(),
    });
    let event = envelope::lambda_event(n, &message, &cx.arn, cx.env.urls(), &signed);
    super::function::enqueue(
        cx.app,
        &def,
        qualifier.as_deref(),
        event,
        vec![note.item.lease()],
    )
    .await
    .map(|_| Done::Settled)
    .map_err(|e| Failure::core(&e))
}

/// Puts the notification on an event bus (eddy's `eventbridge` protocol): source `aws.sns`,
/// detail type `SNS Notification`, the topic as the event's resource, and as detail the JSON
/// notification, or (raw) the message itself, which must then be a JSON object.
async fn to_bus(cx: &Ctx<'_>, note: &Note) -> Result<Done, Failure> {
    let TargetKind::Bus { region, name } = TargetKind::of(&cx.sub.endpoint) else {
        return Err(Failure::permanent(
            "InvalidParameter",
            "the endpoint is not an event bus's ARN",
        ));
    };
    let n = &note.n;
    let detail = if cx.sub.raw() {
        let message = n.message_for("eventbridge");
        if !serde_json::from_str::<Value>(&message).is_ok_and(|v| v.is_object()) {
            return Err(Failure::permanent(
                "InvalidParameter",
                "a raw delivery to a bus needs a message that is a JSON object",
            ));
        }
        message
    } else {
        cx.envelope(n)
    };
    let event = crate::bus::PreparedEvent {
        bus: name,
        source: "aws.sns".to_owned(),
        detail_type: "SNS Notification".to_owned(),
        detail,
        resources: vec![n.topic_arn.clone()],
        time_ms: Some(n.timestamp_ms),
    };
    let now = cx.app.clock.now_ms();
    match cx
        .app
        .bus
        .put_acking(&region, vec![Ok(event)], vec![note.item.lease()], now)
        .await
    {
        Ok(mut r) => match r.pop() {
            Some(Ok(_)) => Ok(Done::Settled),
            Some(Err(e)) => Err(Failure::permanent(e.code, e.message)),
            None => Err(Failure::retryable("InternalFailure", "no answer")),
        },
        Err(e) => Err(Failure::core(&e)),
    }
}

/// POSTs the notification to an HTTP(S) endpoint.
async fn to_http(cx: &Ctx<'_>, note: &Note) -> Result<Done, Failure> {
    let n = &note.n;
    let raw = cx.sub.raw() && n.kind == Kind::Notification;
    let body = if raw {
        n.message_for(&cx.sub.protocol)
    } else {
        cx.envelope(n)
    };
    let mut headers = vec![
        (
            "x-amz-sns-message-type".to_owned(),
            n.kind.as_str().to_owned(),
        ),
        ("x-amz-sns-message-id".to_owned(), n.message_id.clone()),
        ("x-amz-sns-topic-arn".to_owned(), n.topic_arn.clone()),
        ("content-type".to_owned(), content_type(cx, n)),
        ("user-agent".to_owned(), USER_AGENT.to_owned()),
    ];
    if n.kind != Kind::SubscriptionConfirmation {
        headers.push(("x-amz-sns-subscription-arn".to_owned(), cx.arn.clone()));
    }
    if raw {
        headers.push(("x-amz-sns-rawdelivery".to_owned(), "true".to_owned()));
    }
    if let Some(rate) = throttle(cx) {
        cx.app
            .http
            .take_token(&cx.arn, rate, || throttle(cx).unwrap_or(rate))
            .await;
    }
    cx.app
        .http
        .post(&cx.sub.endpoint, headers, body)
        .await
        .map(|()| Done::Ack)
}

/// The delivery policy's `throttlePolicy.maxReceivesPerSecond` for an HTTP subscription: the
/// subscription's, else the topic's `http.defaultThrottlePolicy`.
fn throttle(cx: &Ctx<'_>) -> Option<i64> {
    let read = |policy: &str, path: &[&str]| {
        let mut v: Value = serde_json::from_str(policy).ok()?;
        for p in path {
            v = v.get(*p)?.clone();
        }
        v.get("maxReceivesPerSecond")?.as_i64().filter(|n| *n > 0)
    };
    read(cx.sub.attr("DeliveryPolicy"), &["throttlePolicy"]).or_else(|| {
        let topic = cx.topic.as_ref()?.attr("DeliveryPolicy").to_owned();
        read(&topic, &["http", "defaultThrottlePolicy"])
    })
}

/// The `Content-Type` of an HTTP delivery: the delivery policy's `headerContentType` for
/// notifications, `text/plain; charset=UTF-8` otherwise.
fn content_type(cx: &Ctx<'_>, n: &Notification) -> String {
    let default = "text/plain; charset=UTF-8".to_owned();
    if n.kind != Kind::Notification {
        return default;
    }
    let from = |policy: &str, path: [&str; 2]| {
        serde_json::from_str::<Value>(policy)
            .ok()?
            .get(path[0])?
            .get(path[1])?
            .get("headerContentType")?
            .as_str()
            .map(str::to_owned)
    };
    let sub = cx.sub.attr("DeliveryPolicy");
    let sub = serde_json::from_str::<Value>(sub).ok().and_then(|v| {
        v.get("requestPolicy")?
            .get("headerContentType")?
            .as_str()
            .map(str::to_owned)
    });
    sub.or_else(|| {
        let topic = cx.topic.as_ref()?.attr("DeliveryPolicy").to_owned();
        from(&topic, ["http", "defaultRequestPolicy"])
    })
    .unwrap_or(default)
}

/// Writes an email, email-json or SMS notification to the topic's log group.
async fn to_log(cx: &Ctx<'_>, note: &Note) -> Result<Done, Failure> {
    let n = &note.n;
    let app = cx.app;
    let group_name = format!(
        "sns/{}/{}/{}",
        cx.sub.region,
        app.topics.account(),
        cx.sub.topic
    );
    let group = match app.log_groups.get(&cx.sub.region, &group_name) {
        Some(g) => g,
        None => {
            let g = LogGroupDef {
                region: cx.sub.region.clone(),
                name: group_name.clone(),
                retention_in_days: None,
                tags: BTreeMap::new(),
                streams: Default::default(),
                metric_filters: Default::default(),
                subscription_filters: Default::default(),
                created_ms: app.clock.now_ms(),
            };
            app.log_groups
                .put(g.clone())
                .await
                .map_err(|e| Failure::core(&e))?;
            g
        }
    };
    let message = match cx.sub.protocol.as_str() {
        "email-json" => cx.envelope(n),
        "sms" => format!("To: {}\n{}", cx.sub.endpoint, n.message_for("sms")),
        _ => {
            let subject = n.subject.as_deref().unwrap_or("AWS Notification Message");
            let link = match n.kind {
                Kind::Notification => format!(
                    "To stop receiving these notifications, visit {}",
                    cx.env.urls().unsubscribe(&cx.arn)
                ),
                _ => format!(
                    "To confirm the subscription, visit {}",
                    cx.env
                        .urls()
                        .subscribe(&n.topic_arn, n.token.as_deref().unwrap_or_default())
                ),
            };
            format!(
                "To: {}\nSubject: {subject}\n\n{}\n\n--\n{link}",
                cx.sub.endpoint,
                n.message_for("email")
            )
        }
    };
    let stream: String = cx
        .sub
        .endpoint
        .chars()
        .map(|c| if c == ':' || c == '*' { '_' } else { c })
        .collect();
    let event = NewLogEvent {
        group: group.key(),
        stream,
        timestamp_ms: n.timestamp_ms,
        message,
    };
    app.write_logs(vec![event], app.clock.now_ms(), vec![note.item.lease()])
        .await
        .map_err(|e| Failure::core(&e))?;
    Ok(Done::Settled)
}

/// Records one delivery's outcome: removed (when the delivery did not), retried, or
/// dead-lettered.
async fn settle(app: &Core, sub: &SubscriptionDef, note: &Note, outcome: Result<(), Failure>) {
    let item = &note.item;
    let f = match outcome {
        Ok(()) => {
            let latency = (app.clock.now_ms() - item.created_ms).max(0) as f64 / 1000.0;
            app.metrics.delivery_latency_seconds.observe(latency);
            return;
        }
        Err(f) if f.code == super::LEASE_LOST => return,
        Err(f) => f,
    };
    tracing::warn!(message = %note.n.message_id, subscription = %item.rule,
        attempt = item.attempts, code = %f.code, reason = %f.message, "notification delivery failed");
    if !f.retryable {
        dead_letter(app, item, &f, Some(sub)).await;
        return;
    }
    let now = app.clock.now_ms();
    let verdict = if matches!(sub.protocol.as_str(), "http" | "https") {
        let (retries, delay_ms) = http_retries(sub);
        if item.attempts > retries {
            Verdict::Exhausted("MaximumRetryAttempts")
        } else {
            Verdict::RetryAt(now + delay_ms)
        }
    } else {
        let rand = (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64;
        retry::after_failure(Policy::of(None), item.attempts, item.created_ms, now, rand)
    };
    match verdict {
        Verdict::RetryAt(at) => {
            count(app, item, "retried", 1);
            nack(app, item.lease(), at).await;
        }
        Verdict::Exhausted(_) => dead_letter(app, item, &f, Some(sub)).await,
    }
}

/// `(numRetries, minDelayTarget in ms)` of an HTTP subscription's delivery policy (SNS's
/// default: 3 retries, 20 s apart).
fn http_retries(sub: &SubscriptionDef) -> (u32, i64) {
    let policy: Value = serde_json::from_str(sub.attr("DeliveryPolicy")).unwrap_or(Value::Null);
    let healthy = &policy["healthyRetryPolicy"];
    let retries = healthy["numRetries"]
        .as_u64()
        .map_or(3, |n| n.min(100) as u32);
    let delay = healthy["minDelayTarget"]
        .as_i64()
        .map_or(20, |d| d.clamp(1, 3600));
    (retries, delay * 1000)
}

/// Gives up on a notification: to the subscription's dead-letter queue, with the payload it
/// would have delivered, or to the store's dead letters.
async fn dead_letter(app: &Core, item: &WorkItem, f: &Failure, sub: Option<&SubscriptionDef>) {
    let dlq = sub
        .and_then(SubscriptionDef::dead_letter_arn)
        .and_then(|arn| match TargetKind::of(&arn) {
            TargetKind::Queue { region, name } => app.queues.get(&region, &name),
            _ => None,
        });
    if let (Some(dlq), Some(sub)) = (dlq, sub)
        && let Ok(n) = serde_json::from_str::<Notification>(&item.body)
    {
        let key = app.topics.signing_key().await.ok();
        let topic = app.topics.get(&sub.region, &sub.topic);
        let cx = Ctx {
            app,
            sub,
            arn: item.rule.clone(),
            env: Envelopes::new(&app.topics, topic.as_ref(), key),
            topic,
        };
        let note = Note {
            item: item.clone(),
            n,
        };
        let mut message = match queue_message(&cx, &note, dlq.fifo()) {
            Ok(m) => m,
            Err(_) => OutMessage {
                body: cx.envelope(&note.n),
                ..OutMessage::default()
            },
        };
        if dlq.fifo() && message.group_id.is_none() {
            message.group_id = Some("eddy-dlq".to_owned());
            message.dedup_id = Some(format!("{}-{}", note.n.message_id, item.id));
        }
        if super::to_dead_letter_queue(app, item, &dlq, message).await {
            return;
        }
    }
    let reason = format!("{}: {}", f.code, f.message);
    tracing::warn!(subscription = %item.rule, %reason,
        "undeliverable notification kept in the store's dead letters (the subscription has no dead-letter queue)");
    super::to_store_dead_letters(app, item, reason).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_retries_follow_the_delivery_policy() {
        let mut sub = SubscriptionDef {
            region: "us-east-1".into(),
            id: "s".into(),
            topic: "t".into(),
            protocol: "http".into(),
            endpoint: "http://127.0.0.1:9".into(),
            attributes: BTreeMap::new(),
            confirmed: true,
            token: None,
            created_ms: 0,
        };
        assert_eq!(http_retries(&sub), (3, 20_000));
        sub.attributes.insert(
            "DeliveryPolicy".into(),
            r#"{"healthyRetryPolicy":{"numRetries":1,"minDelayTarget":2}}"#.into(),
        );
        assert_eq!(http_retries(&sub), (1, 2_000));
    }
}
