//! Topics: SNS-shaped topics and their subscriptions (definitions in the store, followed like
//! every other), publishing with SNS's filter policies, and the fan-out of one published
//! message to the subscriptions it passes.
//!
//! * [`definition`]: what topics and subscriptions are, and their validation;
//! * [`publish`]: what a publication must be, and the notification stored for it;
//! * delivery to each protocol is the delivery engine's ([`crate::delivery::notify`]).
//!
//! Publishing ([`crate::Core::publish`], in [`fanout`]) evaluates the filter policies of the
//! topic's confirmed subscriptions (compiled once per change, [`Route`]) and appends the
//! notification with its deliveries in one durable batch, so an acknowledged publication owes
//! every delivery: the messages of the queues subscribed to it are written in that batch
//! itself, and every other subscription gets a work item for the delivery engine.

pub mod definition;
pub mod envelope;
pub(crate) mod fanout;
pub mod publish;
pub mod signing;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use eddy_model::definitions::Tags;
use eddy_pattern::filter_policy::{FilterPolicy, Scope};
use eddy_store::{
    AppendBatch, Definition, DefinitionChange, Lease, NewEvent, QueueMessages, Store,
};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::core_error::CoreError;
use crate::follow::{Feed, Follow};
use crate::registry::Registry;
use crate::work::Work;

pub use definition::{SubscriptionDef, TopicDef, TopicError, topic_arn};
pub use publish::{MessageAttribute, Notification, Publication};

use publish::{Fifo, Kind};

/// The bus name notifications are stored under (never a real bus: names cannot hold `$`).
pub const SNS_BUS: &str = "$sns";

/// A topic as `(region, name)`.
type TopicId = (String, String);

/// One confirmed subscription of a topic, as publishing evaluates it.
pub(crate) struct Route {
    pub(crate) arn: String,
    filter: Option<FilterPolicy>,
    pub(crate) sub: SubscriptionDef,
}

impl Route {
    fn passes(&self, n: &Notification) -> bool {
        match &self.filter {
            None => true,
            Some(f) if f.scope() == Scope::MessageBody => f.matches_body(&n.message),
            Some(f) => f.matches_attributes_with(|name| n.attribute(name)),
        }
    }
}

/// Publications checked and ready to store (see [`Topics::prepare`]).
pub(crate) struct Prepared {
    pub(crate) topic: TopicDef,
    pub(crate) answers: Vec<Result<Published, TopicError>>,
    /// Each notification with the routes (subscriptions) it passes.
    pub(crate) notes: Vec<(Notification, Vec<Arc<Route>>)>,
    pub(crate) now: i64,
}

/// A published message's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub message_id: String,
    pub sequence_number: Option<String>,
}

/// See the module docs.
pub struct Topics {
    store: Arc<dyn Store>,
    clock: Clock,
    account: String,
    topics: Registry<TopicDef>,
    subscriptions: Registry<SubscriptionDef>,
    /// Confirmed subscriptions by topic `(region, name)`, rebuilt when definitions change.
    routes: RwLock<HashMap<TopicId, Arc<Vec<Arc<Route>>>>>,
    fifo: Fifo,
    work_ready: Arc<Notify>,
    signer: signing::Signer,
    /// eddy's AWS endpoint, for the URLs notifications carry.
    endpoint: String,
}

impl Topics {
    pub fn load(
        store: Arc<dyn Store>,
        feed: Arc<Feed>,
        definitions: &[Definition],
        account: String,
        clock: Clock,
        work_ready: Arc<Notify>,
        endpoint: String,
    ) -> anyhow::Result<Self> {
        let t = Self {
            topics: Registry::load(store.clone(), feed.clone(), definitions)?,
            subscriptions: Registry::load(store.clone(), feed, definitions)?,
            store,
            clock,
            account,
            routes: RwLock::new(HashMap::new()),
            fifo: Fifo::default(),
            work_ready,
            signer: signing::Signer::default(),
            endpoint,
        };
        t.rebuild();
        Ok(t)
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// The signing key: loaded from the store, or made (and saved) the first time any node
    /// needs it.
    pub async fn signing_key(&self) -> anyhow::Result<Arc<signing::Key>> {
        let store = self.store.clone();
        let saving = self.store.clone();
        self.signer
            .key(
                || async move {
                    let defs = store.definitions().await?;
                    Ok(defs
                        .items
                        .into_iter()
                        .find(|(k, _, _)| k == signing::KIND)
                        .map(|(_, _, v)| v))
                },
                |file, value| async move {
                    saving
                        .apply(vec![DefinitionChange::put(signing::KIND, file, value)])
                        .await?;
                    Ok(())
                },
            )
            .await
    }

    /// The signing certificate (PEM) named `file` (`SimpleNotificationService-….pem`): this
    /// node's, or another's kept in the store.
    pub async fn certificate(&self, file: &str) -> Option<String> {
        let key = self.signing_key().await.ok()?;
        if key.cert_file == file {
            return Some(key.cert_pem.clone());
        }
        // Only a well-formed name is looked for (the link is open to anyone).
        let hex = file
            .strip_prefix("SimpleNotificationService-")
            .and_then(|f| f.strip_suffix(".pem"))?;
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let defs = self.store.definitions().await.ok()?;
        defs.items
            .into_iter()
            .find(|(k, name, _)| k == signing::KIND && name == file)
            .and_then(|(_, _, v)| signing::stored_certificate(&v))
    }

    /// The URLs notifications carry, for a signing certificate file.
    pub fn urls(&self, cert_file: &str) -> envelope::Urls {
        let base = self.endpoint.trim_end_matches('/').to_owned();
        envelope::Urls {
            cert: format!("{base}/{cert_file}"),
            base,
        }
    }

    fn rebuild(&self) {
        let mut routes: HashMap<TopicId, Vec<Arc<Route>>> = HashMap::new();
        for s in self.subscriptions.all() {
            if !s.confirmed {
                continue;
            }
            routes
                .entry((s.region.clone(), s.topic.clone()))
                .or_default()
                .push(Arc::new(Route {
                    arn: s.arn(&self.account),
                    filter: s.filter(),
                    sub: s,
                }));
        }
        let routes = routes.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
        *self.routes.write().unwrap_or_else(|e| e.into_inner()) = routes;
    }

    fn routes(&self, region: &str, topic: &str) -> Arc<Vec<Arc<Route>>> {
        self.routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(region.to_owned(), topic.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    pub fn get(&self, region: &str, name: &str) -> Option<TopicDef> {
        self.topics.get(region, name)
    }

    pub fn list(&self, region: &str) -> Vec<TopicDef> {
        self.topics.list(region)
    }

    /// Every topic of every region.
    pub fn all(&self) -> Vec<TopicDef> {
        self.topics.all()
    }

    /// A subscription by id.
    pub fn subscription(&self, region: &str, id: &str) -> Option<SubscriptionDef> {
        self.subscriptions.get(region, id)
    }

    /// The subscription an ARN names (`arn:aws:sns:REGION:ACCOUNT:TOPIC:ID`).
    pub fn subscription_by_arn(&self, arn: &str) -> Option<SubscriptionDef> {
        let a = eddy_model::names::Arn::parse(arn)?;
        if a.service != "sns" {
            return None;
        }
        let (topic, id) = a.resource.rsplit_once(':')?;
        self.subscriptions
            .get(a.region, id)
            .filter(|s| s.topic == topic)
    }

    /// The subscriptions of a region, by id; of one topic when `topic` is given.
    pub fn subscriptions(&self, region: &str, topic: Option<&str>) -> Vec<SubscriptionDef> {
        let mut subs: Vec<SubscriptionDef> = self
            .subscriptions
            .list(region)
            .into_iter()
            .filter(|s| topic.is_none_or(|t| s.topic == t))
            .collect();
        subs.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        subs
    }

    /// Creates a topic, or answers the existing one when it was created with the same
    /// attributes and tags (SNS's idempotent CreateTopic).
    pub async fn create(
        &self,
        region: &str,
        name: &str,
        attributes: BTreeMap<String, String>,
        tags: Tags,
    ) -> Result<TopicDef, TopicError> {
        let fifo = attributes
            .get("FifoTopic")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        definition::check_topic_name(name, fifo)?;
        let mut attrs = BTreeMap::new();
        for (k, v) in &attributes {
            if k == "FifoTopic" && !fifo {
                // `FifoTopic: false` is accepted and not kept (standard topics show none).
                definition::check_topic_attribute(k, v, fifo).map_err(|e| e.create())?;
                continue;
            }
            attrs.insert(
                k.clone(),
                definition::check_topic_attribute(k, v, fifo).map_err(|e| e.create())?,
            );
        }
        let now = self.clock.now_ms();
        self.topics
            .upsert(region, name, |current| match current {
                Some(t) => {
                    let same = attrs.iter().all(|(k, v)| t.attributes.get(k) == Some(v));
                    if !same {
                        return Err(definition::invalid(
                            "Attributes Reason: Topic already exists with different attributes",
                        ));
                    }
                    let tags_ok = tags.is_empty() || tags == t.tags;
                    if !tags_ok {
                        return Err(definition::invalid(
                            "Tags Reason: Topic already exists with different tags",
                        ));
                    }
                    Ok((t.clone(), t.clone()))
                }
                None => {
                    let t = TopicDef {
                        region: region.to_owned(),
                        name: name.to_owned(),
                        attributes: attrs.clone(),
                        tags: tags.clone(),
                        created_ms: now,
                    };
                    Ok((t.clone(), t))
                }
            })
            .await
    }

    /// Deletes a topic and its subscriptions (nothing when there is none).
    pub async fn delete(&self, region: &str, name: &str) -> Result<(), CoreError> {
        for s in self.subscriptions(region, Some(name)) {
            self.subscriptions.delete(region, &s.id).await?;
        }
        self.topics.delete(region, name).await
    }

    /// Sets one attribute of a topic.
    pub async fn set_attribute(
        &self,
        region: &str,
        name: &str,
        attribute: &str,
        value: &str,
    ) -> Result<(), TopicError> {
        self.topics
            .upsert(region, name, |current| {
                let Some(t) = current else {
                    return Err(TopicError::TopicNotFound);
                };
                if attribute == "FifoTopic" {
                    return Err(definition::invalid("AttributeName"));
                }
                let value = definition::check_topic_attribute(attribute, value, t.fifo())
                    .map_err(|e| e.set())?;
                let mut t = t.clone();
                if value.is_empty() && attribute != "DisplayName" {
                    t.attributes.remove(attribute);
                } else {
                    t.attributes.insert(attribute.to_owned(), value);
                }
                Ok((t, ()))
            })
            .await
    }

    /// Changes a topic's tags: `add` set, then `remove` dropped.
    pub async fn tag(
        &self,
        region: &str,
        name: &str,
        add: Tags,
        remove: &[String],
    ) -> Result<(), TopicError> {
        self.topics
            .upsert(region, name, |current| {
                let Some(t) = current else {
                    return Err(TopicError::ResourceNotFound);
                };
                let mut t = t.clone();
                t.tags.extend(add);
                for k in remove {
                    t.tags.remove(k);
                }
                if t.tags.len() > 50 {
                    return Err(TopicError::TagLimit);
                }
                Ok((t, ()))
            })
            .await
    }

    /// Subscribes an endpoint to a topic. Subscribing the same protocol and endpoint again
    /// answers the existing subscription (when its attributes agree). `sqs` and `lambda`
    /// subscriptions are confirmed at once; the others wait for their endpoint to confirm,
    /// and a confirmation request is sent to it.
    pub async fn subscribe(
        &self,
        region: &str,
        topic: &str,
        protocol: &str,
        endpoint: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<SubscriptionDef, TopicError> {
        let Some(t) = self.get(region, topic) else {
            return Err(TopicError::TopicNotFound);
        };
        let protocol = protocol.to_ascii_lowercase();
        definition::check_endpoint(&protocol, endpoint, t.fifo())?;
        let existing = self
            .subscriptions(region, Some(topic))
            .into_iter()
            .find(|s| s.protocol == protocol && s.endpoint == endpoint);
        let confirmed = matches!(protocol.as_str(), "sqs" | "lambda" | "sms" | "eventbridge");
        let mut sub = existing.clone().unwrap_or_else(|| SubscriptionDef {
            region: region.to_owned(),
            id: uuid::Uuid::new_v4().to_string(),
            topic: topic.to_owned(),
            protocol: protocol.clone(),
            endpoint: endpoint.to_owned(),
            attributes: BTreeMap::new(),
            confirmed,
            token: (!confirmed).then(new_token),
            created_ms: self.clock.now_ms(),
        });
        // Scope first, so that the policy is checked for the scope it will have.
        let mut ordered: Vec<(&String, &String)> = attributes.iter().collect();
        ordered.sort_by_key(|(k, _)| *k != "FilterPolicyScope");
        let mut changed = false;
        for (k, v) in ordered {
            let v = definition::check_subscription_attribute(&sub, k, v).map_err(|e| e.create())?;
            if existing.is_some() && sub.attributes.get(k) != Some(&v) {
                changed = true;
            }
            sub.attributes.insert(k.clone(), v);
        }
        if let Some(existing) = existing {
            if changed {
                return Err(definition::invalid(
                    "Attributes Reason: Subscription already exists with different attributes",
                ));
            }
            if !existing.confirmed {
                self.request_confirmation(&t, &existing).await?;
            }
            return Ok(existing);
        }
        self.subscriptions.put(sub.clone()).await?;
        if !sub.confirmed {
            // Committed first, then the request: a crash between the two leaves a pending
            // subscription, to which subscribing again resends the request.
            self.request_confirmation(&t, &sub).await?;
        }
        Ok(sub)
    }

    /// Sends a pending subscription its confirmation request (`SubscriptionConfirmation`).
    pub async fn request_confirmation(
        &self,
        topic: &TopicDef,
        sub: &SubscriptionDef,
    ) -> Result<(), CoreError> {
        let now = self.clock.now_ms();
        let n = Notification {
            kind: Kind::SubscriptionConfirmation,
            message_id: uuid::Uuid::new_v4().to_string(),
            topic_arn: topic.arn(&self.account),
            subject: None,
            message: format!(
                "You have chosen to subscribe to the topic {}.\nTo confirm the subscription, \
                 visit the SubscribeURL included in this message.",
                topic.arn(&self.account)
            ),
            timestamp_ms: now,
            message_attributes: BTreeMap::new(),
            structured: false,
            group_id: None,
            dedup_id: None,
            sequence_number: None,
            token: sub.token.clone(),
        };
        self.append(
            &topic.region,
            vec![(n, vec![sub.arn(&self.account)])],
            Vec::new(),
            Vec::new(),
        )
        .await
    }

    /// Confirms a pending subscription with the token its endpoint was sent; answers its ARN.
    pub async fn confirm(
        &self,
        region: &str,
        topic: &str,
        token: &str,
    ) -> Result<String, TopicError> {
        if self.get(region, topic).is_none() {
            return Err(TopicError::TopicNotFound);
        }
        let Some(sub) = self
            .subscriptions(region, Some(topic))
            .into_iter()
            .find(|s| s.token.as_deref() == Some(token) || (s.confirmed && s.id == token))
        else {
            return Err(definition::invalid("Token"));
        };
        let arn = sub.arn(&self.account);
        if sub.confirmed {
            return Ok(arn);
        }
        self.subscriptions
            .upsert(region, &sub.id, |current| {
                let Some(s) = current else {
                    return Err(TopicError::SubscriptionNotFound);
                };
                let mut s = s.clone();
                s.confirmed = true;
                Ok((s, ()))
            })
            .await?;
        Ok(arn)
    }

    /// Deletes a subscription (nothing when there is none).
    pub async fn unsubscribe(&self, region: &str, id: &str) -> Result<(), CoreError> {
        self.subscriptions.delete(region, id).await
    }

    /// Sets one attribute of a subscription.
    pub async fn set_subscription_attribute(
        &self,
        region: &str,
        id: &str,
        attribute: &str,
        value: &str,
    ) -> Result<(), TopicError> {
        self.subscriptions
            .upsert(region, id, |current| {
                let Some(s) = current else {
                    return Err(TopicError::SubscriptionNotFound);
                };
                let value = definition::check_subscription_attribute(s, attribute, value)
                    .map_err(|e| e.set())?;
                let mut s = s.clone();
                if value.is_empty() {
                    s.attributes.remove(attribute);
                } else {
                    s.attributes.insert(attribute.to_owned(), value);
                }
                Ok((s, ()))
            })
            .await
    }

    /// Puts a subscription as given (the manifest; checked by the caller).
    pub async fn put_subscription(&self, sub: SubscriptionDef) -> Result<(), CoreError> {
        self.subscriptions.put(sub).await
    }

    /// The first half of publishing ([`crate::Core::publish`] is the whole): checks each
    /// publication, applies the FIFO deduplication window, and answers the notifications to
    /// store, each with the subscriptions its filter policies pass.
    fn prepare(
        &self,
        region: &str,
        topic: &str,
        publications: Vec<Publication>,
    ) -> Result<Prepared, TopicError> {
        let Some(t) = self.get(region, topic) else {
            return Err(TopicError::TopicNotFound);
        };
        let (fifo, content_dedup) = (t.fifo(), t.content_based_dedup());
        let topic_arn = t.arn(&self.account);
        let routes = self.routes(region, topic);
        let now = self.clock.now_ms();
        let mut answers = Vec::with_capacity(publications.len());
        let mut notes = Vec::with_capacity(publications.len());
        let mut batch_dedup: HashMap<String, (String, String)> = HashMap::new();
        for p in publications {
            if let Err(e) = publish::check(&p, fifo, content_dedup) {
                answers.push(Err(e));
                continue;
            }
            let dedup_id = fifo.then(|| {
                p.dedup_id
                    .clone()
                    .unwrap_or_else(|| publish::content_dedup_id(&p.message))
            });
            // A repeat within the window, or within this batch, is the same message.
            let repeat = dedup_id.as_ref().and_then(|d| {
                self.fifo
                    .seen(&topic_arn, d, now)
                    .or_else(|| batch_dedup.get(d).cloned())
            });
            if let Some((message_id, seq)) = repeat {
                answers.push(Ok(Published {
                    message_id,
                    sequence_number: Some(seq),
                }));
                continue;
            }
            let message_id = uuid::Uuid::new_v4().to_string();
            let sequence_number = fifo.then(|| self.fifo.next_seq(now));
            if let (Some(d), Some(seq)) = (&dedup_id, &sequence_number) {
                batch_dedup.insert(d.clone(), (message_id.clone(), seq.clone()));
            }
            let n = Notification {
                kind: Kind::Notification,
                message_id: message_id.clone(),
                topic_arn: topic_arn.clone(),
                subject: p.subject,
                message: p.message,
                timestamp_ms: now,
                message_attributes: p.attributes,
                structured: p.structure.is_some(),
                group_id: p.group_id,
                dedup_id: dedup_id.clone(),
                sequence_number: sequence_number.clone(),
                token: None,
            };
            let to: Vec<Arc<Route>> = routes.iter().filter(|r| r.passes(&n)).cloned().collect();
            notes.push((n, to));
            answers.push(Ok(Published {
                message_id,
                sequence_number,
            }));
        }
        Ok(Prepared {
            topic: t,
            answers,
            notes,
            now,
        })
    }

    /// Appends notifications, each with a work item per subscription ARN, in one batch.
    /// `messages` are queue messages written in the same batch (subscribed queues').
    async fn append(
        &self,
        region: &str,
        notifications: Vec<(Notification, Vec<String>)>,
        messages: Vec<QueueMessages>,
        ack: Vec<Lease>,
    ) -> Result<(), CoreError> {
        if notifications.is_empty() && ack.is_empty() {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let mut batch = AppendBatch {
            ack,
            now_ms: Some(now),
            messages,
            ..AppendBatch::default()
        };
        let bus = format!("{region}:{SNS_BUS}");
        for (i, (n, to)) in notifications.into_iter().enumerate() {
            for arn in &to {
                batch.work.push(
                    Work::Notify {
                        subscription_arn: arn,
                    }
                    .new_work(i),
                );
            }
            batch.events.push(NewEvent {
                id: n.message_id.clone(),
                bus: bus.clone(),
                time_ms: n.timestamp_ms,
                body: serde_json::to_string(&n)?,
                hops: 0,
            });
        }
        let work = !batch.work.is_empty();
        self.store.append(batch).await?;
        if work {
            self.work_ready.notify_one();
        }
        Ok(())
    }
}

/// A confirmation token: 64 hex digits, unguessable.
fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Follow for Topics {
    fn follow(&self, changes: &[DefinitionChange]) {
        let t = self.topics.follow(changes);
        let s = self.subscriptions.follow(changes);
        if !t.is_empty() || !s.is_empty() {
            self.rebuild();
        }
    }

    fn reload(&self, definitions: &[Definition]) {
        self.topics.reload(definitions);
        self.subscriptions.reload(definitions);
        self.rebuild();
    }
}
