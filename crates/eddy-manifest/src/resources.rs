//! The manifest as resources: one canonical JSON definition per resource, keyed by kind and
//! name, which is what [`crate::plan()`] compares. This module owns the canonical forms.
//!
//! Canonical means: AWS's request shapes and member names where AWS has one (`CreateQueue`
//! attributes as strings, `PutRule` + `PutTargets` targets, `CreateFunction`,
//! `CreateSchedule`, `CreateApiDestination`, S3's `PutBucketVersioning`, `PutBucketCors`,
//! `PutBucketTagging` and `PutBucketNotificationConfiguration` bodies), defaults filled in where the server would report
//! them (function `Timeout` 3 and `MemorySize` 128, queue attributes), absent optional members
//! left out, every reference resolved to an ARN. Whoever describes the current resources must
//! produce the same forms; two definitions are equal iff their JSON values are equal.
//!
//! Keys: rules are keyed `BUS/NAME` and schedules `GROUP/NAME` (names are unique only within
//! a bus or group; moving a rule to another bus is therefore a delete and a create, which is
//! what AWS requires anyway). Everything else is keyed by its name.

use std::collections::BTreeMap;

use eddy_model::definitions::{DeadLetterConfig, RetryPolicy, TargetDef};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use eddy_model::names::Scope;

use crate::model::{Manifest, Retry, json_text};
use crate::validate::{notification_id, target_id};

/// Resources by kind: name → canonical JSON definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    #[serde(default)]
    pub queues: BTreeMap<String, Value>,
    #[serde(default)]
    pub buses: BTreeMap<String, Value>,
    #[serde(default)]
    pub api_destinations: BTreeMap<String, Value>,
    #[serde(default)]
    pub functions: BTreeMap<String, Value>,
    #[serde(default)]
    pub topics: BTreeMap<String, Value>,
    /// Keyed by bucket name (global, as in S3).
    #[serde(default)]
    pub buckets: BTreeMap<String, Value>,
    /// Keyed `FUNCTION/QUEUE` (the queue's name, or its ARN when it is not this manifest's).
    #[serde(default)]
    pub event_source_mappings: BTreeMap<String, Value>,
    /// Keyed `BUS/NAME`.
    #[serde(default)]
    pub rules: BTreeMap<String, Value>,
    /// Keyed `GROUP/NAME`.
    #[serde(default)]
    pub schedules: BTreeMap<String, Value>,
    #[serde(default)]
    pub apis: BTreeMap<String, Value>,
}

struct Arns<'a> {
    scope: &'a Scope,
}

impl Arns<'_> {
    fn prefix(&self, service: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}",
            self.scope.partition, self.scope.region, self.scope.account
        )
    }

    fn resolve(&self, reference: &str, make: impl FnOnce(&str) -> String) -> String {
        if reference.starts_with("arn:") {
            reference.to_owned()
        } else {
            make(reference)
        }
    }

    fn queue(&self, name: &str) -> String {
        self.resolve(name, |n| format!("{}:{n}", self.prefix("sqs")))
    }

    fn function(&self, name: &str) -> String {
        self.resolve(name, |n| format!("{}:function:{n}", self.prefix("lambda")))
    }

    fn bus(&self, name: &str) -> String {
        self.resolve(name, |n| self.scope.bus_arn(n))
    }

    fn topic(&self, name: &str) -> String {
        self.resolve(name, |n| format!("{}:{n}", self.prefix("sns")))
    }

    fn api_destination(&self, name: &str) -> String {
        self.resolve(name, |n| {
            format!("{}:api-destination/{n}", self.prefix("events"))
        })
    }

    /// The ARN of a target given as exactly one of an ARN or a queue, function, bus or API
    /// destination name (validation checked that one is set).
    fn target(
        &self,
        arn: Option<&str>,
        queue: Option<&str>,
        function: Option<&str>,
        bus: Option<&str>,
        api_destination: Option<&str>,
        topic: Option<&str>,
    ) -> String {
        match (arn, queue, function, bus, api_destination, topic) {
            (Some(a), ..) => a.to_owned(),
            (_, Some(q), ..) => self.queue(q),
            (_, _, Some(f), ..) => self.function(f),
            (_, _, _, Some(b), ..) => self.bus(b),
            (.., Some(t)) => self.topic(t),
            (.., d, None) => self.api_destination(d.unwrap_or_default()),
        }
    }

    /// `queue:NAME`, `function:NAME`, `bus:NAME` or an ARN.
    fn destination(&self, d: &str) -> String {
        match d.split_once(':') {
            Some(("queue", n)) => self.queue(n),
            Some(("function", n)) => self.function(n),
            Some(("bus", n)) => self.bus(n),
            _ => d.to_owned(),
        }
    }
}

fn insert_opt(m: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(key.to_owned(), v);
    }
}

fn retry_policy(r: &Retry) -> RetryPolicy {
    RetryPolicy {
        maximum_retry_attempts: r.maximum_retry_attempts,
        maximum_event_age_in_seconds: r.maximum_event_age_seconds,
    }
}

impl Manifest {
    /// Every resource of the manifest in canonical form (see the module docs), with ARNs in
    /// `scope`.
    pub fn resources(&self, scope: &Scope) -> Resources {
        let arns = Arns { scope };
        let mut out = Resources::default();
        for (name, q) in &self.queues {
            let mut attrs = Map::new();
            let attr = |v: u32| Value::String(v.to_string());
            if q.fifo {
                attrs.insert("FifoQueue".into(), "true".into());
                let cbd = q.content_based_deduplication.unwrap_or(false);
                attrs.insert("ContentBasedDeduplication".into(), cbd.to_string().into());
            }
            attrs.insert(
                "VisibilityTimeout".into(),
                attr(q.visibility_timeout.unwrap_or(30)),
            );
            attrs.insert(
                "MessageRetentionPeriod".into(),
                attr(q.message_retention.unwrap_or(345_600)),
            );
            attrs.insert("DelaySeconds".into(), attr(q.delay.unwrap_or(0)));
            if let Some(r) = &q.redrive {
                let policy = json!({
                    "deadLetterTargetArn": arns.queue(&r.dead_letter_queue),
                    "maxReceiveCount": r.max_receive_count,
                });
                attrs.insert("RedrivePolicy".into(), policy.to_string().into());
            }
            out.queues.insert(
                name.clone(),
                json!({ "QueueName": name, "Attributes": attrs }),
            );
        }
        for (name, b) in &self.buses {
            let mut m = Map::new();
            m.insert("Name".into(), name.clone().into());
            insert_opt(
                &mut m,
                "Description",
                b.description.clone().map(Value::from),
            );
            out.buses.insert(name.clone(), Value::Object(m));
        }
        for (name, d) in &self.api_destinations {
            out.api_destinations.insert(
                name.clone(),
                json!({
                    "Name": name,
                    "InvocationEndpoint": d.endpoint,
                    "HttpMethod": d.method,
                    "InvocationRateLimitPerSecond": d.rate_limit.unwrap_or(300),
                }),
            );
        }
        for (name, f) in &self.functions {
            let code = if f.code.ends_with(".zip") {
                json!({ "ZipFile": f.code })
            } else {
                json!({ "Directory": f.code })
            };
            let mut m = Map::new();
            m.insert("FunctionName".into(), name.clone().into());
            m.insert("Runtime".into(), f.runtime.clone().into());
            insert_opt(&mut m, "Handler", f.handler.clone().map(Value::from));
            m.insert("Code".into(), code);
            m.insert("Environment".into(), json!({ "Variables": f.environment }));
            m.insert("Timeout".into(), f.timeout.unwrap_or(3).into());
            m.insert("MemorySize".into(), f.memory.unwrap_or(128).into());
            insert_opt(
                &mut m,
                "ReservedConcurrentExecutions",
                f.concurrency.map(Value::from),
            );
            if let Some(a) = &f.async_invoke {
                let mut cfg = Map::new();
                cfg.insert(
                    "MaximumRetryAttempts".into(),
                    a.maximum_retry_attempts.unwrap_or(2).into(),
                );
                cfg.insert(
                    "MaximumEventAgeInSeconds".into(),
                    a.maximum_event_age_seconds.unwrap_or(21_600).into(),
                );
                let mut dest = Map::new();
                for (key, d) in [("OnSuccess", &a.on_success), ("OnFailure", &a.on_failure)] {
                    insert_opt(
                        &mut dest,
                        key,
                        d.as_ref()
                            .map(|d| json!({ "Destination": arns.destination(d) })),
                    );
                }
                if !dest.is_empty() {
                    cfg.insert("DestinationConfig".into(), Value::Object(dest));
                }
                m.insert("EventInvokeConfig".into(), Value::Object(cfg));
            }
            out.functions.insert(name.clone(), Value::Object(m));
            for src in &f.sources {
                let mut e = Map::new();
                e.insert("FunctionName".into(), name.clone().into());
                e.insert("EventSourceArn".into(), arns.queue(&src.queue).into());
                e.insert("BatchSize".into(), src.batch_size.unwrap_or(10).into());
                e.insert(
                    "MaximumBatchingWindowInSeconds".into(),
                    src.batching_window.unwrap_or(0).into(),
                );
                insert_opt(
                    &mut e,
                    "ScalingConfig",
                    src.maximum_concurrency
                        .map(|c| json!({ "MaximumConcurrency": c })),
                );
                if !src.filters.is_empty() {
                    let filters: Vec<Value> = src
                        .filters
                        .iter()
                        .map(|f| json!({ "Pattern": json_text(f) }))
                        .collect();
                    e.insert("FilterCriteria".into(), json!({ "Filters": filters }));
                }
                if src.report_batch_item_failures {
                    e.insert(
                        "FunctionResponseTypes".into(),
                        json!(["ReportBatchItemFailures"]),
                    );
                }
                e.insert("Enabled".into(), src.enabled.into());
                out.event_source_mappings
                    .insert(format!("{name}/{}", src.queue), Value::Object(e));
            }
        }
        for (name, t) in &self.topics {
            let mut attrs = Map::new();
            if t.fifo {
                attrs.insert("FifoTopic".into(), "true".into());
                let cbd = t.content_based_deduplication.unwrap_or(false);
                attrs.insert("ContentBasedDeduplication".into(), cbd.to_string().into());
            }
            insert_opt(
                &mut attrs,
                "DisplayName",
                t.display_name.clone().map(Value::from),
            );
            let subs: Vec<Value> = t
                .subscriptions
                .iter()
                .filter_map(|s| {
                    let (protocol, endpoint) = *s.endpoints().first()?;
                    let endpoint = match protocol {
                        "sqs" => arns.queue(endpoint),
                        "lambda" => arns.function(endpoint),
                        "eventbridge" => arns.bus(endpoint),
                        _ => endpoint.to_owned(),
                    };
                    let mut a = Map::new();
                    if s.raw {
                        a.insert("RawMessageDelivery".into(), "true".into());
                    }
                    insert_opt(
                        &mut a,
                        "FilterPolicy",
                        s.filter.as_ref().map(|f| json_text(f).into()),
                    );
                    insert_opt(
                        &mut a,
                        "FilterPolicyScope",
                        s.filter_scope.clone().map(Value::from),
                    );
                    insert_opt(
                        &mut a,
                        "RedrivePolicy",
                        s.dead_letter_queue.as_ref().map(|d| {
                            json!({ "deadLetterTargetArn": arns.queue(d) })
                                .to_string()
                                .into()
                        }),
                    );
                    Some(json!({
                        "Protocol": protocol, "Endpoint": endpoint, "Attributes": a,
                    }))
                })
                .collect();
            out.topics.insert(
                name.clone(),
                json!({ "Name": name, "Attributes": attrs, "Subscriptions": subs }),
            );
        }
        for (name, b) in &self.buckets {
            out.buckets.insert(name.clone(), bucket(name, b, &arns));
        }
        for (name, r) in &self.rules {
            let targets: Vec<Value> = r
                .targets
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let arn = arns.target(
                        t.arn.as_deref(),
                        t.queue.as_deref(),
                        t.function.as_deref(),
                        t.bus.as_deref(),
                        t.api_destination.as_deref(),
                        t.topic.as_deref(),
                    );
                    let mut other = BTreeMap::new();
                    if let Some(g) = &t.message_group_id {
                        other.insert("SqsParameters".into(), json!({ "MessageGroupId": g }));
                    }
                    let def = TargetDef {
                        id: target_id(t, i),
                        arn,
                        role_arn: None,
                        input: t.input.as_ref().map(json_text),
                        input_path: t.input_path.clone(),
                        input_transformer: t.input_transformer.as_ref().map(|x| {
                            eddy_model::definitions::InputTransformer {
                                input_paths_map: (!x.paths.is_empty()).then(|| x.paths.clone()),
                                input_template: x.template.clone(),
                            }
                        }),
                        retry_policy: t.retry.as_ref().map(retry_policy),
                        dead_letter_config: t.dead_letter_queue.as_ref().map(|d| {
                            DeadLetterConfig {
                                arn: Some(arns.queue(d)),
                            }
                        }),
                        other,
                    };
                    serde_json::to_value(def).unwrap_or(Value::Null)
                })
                .collect();
            let mut m = Map::new();
            m.insert("Name".into(), name.clone().into());
            m.insert("EventBusName".into(), r.bus.clone().into());
            insert_opt(
                &mut m,
                "Description",
                r.description.clone().map(Value::from),
            );
            insert_opt(&mut m, "EventPattern", r.pattern_json().map(Value::from));
            insert_opt(
                &mut m,
                "ScheduleExpression",
                r.schedule.clone().map(Value::from),
            );
            m.insert("State".into(), r.state.as_str().into());
            m.insert("Targets".into(), Value::Array(targets));
            out.rules
                .insert(format!("{}/{name}", r.bus), Value::Object(m));
        }
        for (name, s) in &self.schedules {
            let t = &s.target;
            let arn = arns.target(
                t.arn.as_deref(),
                t.queue.as_deref(),
                t.function.as_deref(),
                t.bus.as_deref(),
                None,
                None,
            );
            let mut target = Map::new();
            target.insert("Arn".into(), arn.into());
            insert_opt(
                &mut target,
                "Input",
                s.input.as_ref().map(|i| json_text(i).into()),
            );
            insert_opt(
                &mut target,
                "RetryPolicy",
                t.retry.as_ref().map(|r| {
                    json!({
                        "MaximumRetryAttempts": r.maximum_retry_attempts.unwrap_or(185),
                        "MaximumEventAgeInSeconds": r.maximum_event_age_seconds.unwrap_or(86_400),
                    })
                }),
            );
            insert_opt(
                &mut target,
                "DeadLetterConfig",
                t.dead_letter_queue
                    .as_ref()
                    .map(|d| json!({ "Arn": arns.queue(d) })),
            );
            if t.bus.is_some() {
                target.insert(
                    "EventBridgeParameters".into(),
                    json!({ "DetailType": t.detail_type, "Source": t.source }),
                );
            }
            insert_opt(
                &mut target,
                "SqsParameters",
                t.message_group_id
                    .as_ref()
                    .map(|g| json!({ "MessageGroupId": g })),
            );
            let window = match s.flexible_window_minutes {
                Some(n) => json!({ "Mode": "FLEXIBLE", "MaximumWindowInMinutes": n }),
                None => json!({ "Mode": "OFF" }),
            };
            let mut m = Map::new();
            m.insert("Name".into(), name.clone().into());
            m.insert("GroupName".into(), s.group.clone().into());
            m.insert("ScheduleExpression".into(), s.expression.clone().into());
            m.insert(
                "ScheduleExpressionTimezone".into(),
                s.timezone.clone().unwrap_or_else(|| "UTC".into()).into(),
            );
            insert_opt(
                &mut m,
                "Description",
                s.description.clone().map(Value::from),
            );
            m.insert("State".into(), s.state.as_str().into());
            m.insert("FlexibleTimeWindow".into(), window);
            m.insert("Target".into(), Value::Object(target));
            m.insert("MissedTicks".into(), s.missed.as_str().into());
            out.schedules
                .insert(format!("{}/{name}", s.group), Value::Object(m));
        }
        for (name, a) in &self.apis {
            let throttle = |t: &crate::model::Throttle| json!({ "Rate": t.rate, "Burst": t.burst });
            let routes: Vec<Value> = a
                .routes
                .iter()
                .map(|r| {
                    let integration = if let Some(f) = &r.function {
                        json!({ "Function": arns.function(f) })
                    } else if let Some(b) = &r.bus {
                        json!({ "Bus": arns.bus(b), "Source": r.source, "DetailType": r.detail_type })
                    } else {
                        let mut q = Map::new();
                        q.insert(
                            "Queue".into(),
                            arns.queue(r.queue.as_deref().unwrap_or_default()).into(),
                        );
                        insert_opt(
                            &mut q,
                            "MessageGroupId",
                            r.message_group_id.clone().map(Value::from),
                        );
                        Value::Object(q)
                    };
                    let mut m = Map::new();
                    m.insert("RouteKey".into(), r.route.clone().into());
                    m.insert("Integration".into(), integration);
                    insert_opt(&mut m, "Authorizer", r.authorizer.clone().map(Value::from));
                    insert_opt(&mut m, "Throttle", r.throttle.as_ref().map(throttle));
                    Value::Object(m)
                })
                .collect();
            let authorizers: Map<String, Value> = a
                .authorizers
                .iter()
                .map(|(n, au)| {
                    let mut m = Map::new();
                    m.insert(
                        "IdentitySource".into(),
                        au.identity_source
                            .clone()
                            .unwrap_or_else(|| "$request.header.Authorization".into())
                            .into(),
                    );
                    if let Some(j) = &au.jwt {
                        let mut jm = Map::new();
                        jm.insert("Issuer".into(), j.issuer.clone().into());
                        jm.insert("Audience".into(), j.audience.clone().into());
                        insert_opt(&mut jm, "JwksFile", j.jwks_file.clone().map(Value::from));
                        insert_opt(&mut jm, "JwksUrl", j.jwks_url.clone().map(Value::from));
                        m.insert("Jwt".into(), Value::Object(jm));
                    }
                    if let Some(f) = &au.function {
                        m.insert("Function".into(), arns.function(f).into());
                    }
                    (n.clone(), Value::Object(m))
                })
                .collect();
            let mut m = Map::new();
            m.insert("Name".into(), name.clone().into());
            m.insert("BasePath".into(), a.base_path.clone().into());
            if let Some(c) = &a.cors {
                let mut cm = Map::new();
                cm.insert("AllowOrigins".into(), c.allow_origins.clone().into());
                cm.insert("AllowMethods".into(), c.allow_methods.clone().into());
                cm.insert("AllowHeaders".into(), c.allow_headers.clone().into());
                cm.insert("ExposeHeaders".into(), c.expose_headers.clone().into());
                insert_opt(&mut cm, "MaxAge", c.max_age.map(Value::from));
                insert_opt(
                    &mut cm,
                    "AllowCredentials",
                    c.allow_credentials.map(Value::from),
                );
                m.insert("Cors".into(), Value::Object(cm));
            }
            insert_opt(&mut m, "Throttle", a.throttle.as_ref().map(throttle));
            m.insert("Routes".into(), Value::Array(routes));
            m.insert("Authorizers".into(), Value::Object(authorizers));
            out.apis.insert(name.clone(), Value::Object(m));
        }
        out
    }
}

/// A bucket's canonical form: `Bucket`, and S3's configuration bodies (`VersioningConfiguration`
/// and `CORSConfiguration` and `Tagging` only when the manifest sets them;
/// `NotificationConfiguration` always, empty when nothing is notified).
fn bucket(name: &str, b: &crate::model::Bucket, arns: &Arns<'_>) -> Value {
    let mut m = Map::new();
    m.insert("Bucket".into(), name.into());
    if let Some(on) = b.versioning {
        let status = if on { "Enabled" } else { "Suspended" };
        m.insert(
            "VersioningConfiguration".into(),
            json!({ "Status": status }),
        );
    }
    if !b.cors.is_empty() {
        let rules: Vec<Value> = b
            .cors
            .iter()
            .map(|c| {
                let mut r = Map::new();
                r.insert("AllowedOrigins".into(), c.allowed_origins.clone().into());
                r.insert("AllowedMethods".into(), c.allowed_methods.clone().into());
                r.insert("AllowedHeaders".into(), c.allowed_headers.clone().into());
                r.insert("ExposeHeaders".into(), c.expose_headers.clone().into());
                insert_opt(&mut r, "MaxAgeSeconds", c.max_age.map(Value::from));
                Value::Object(r)
            })
            .collect();
        m.insert("CORSConfiguration".into(), json!({ "CORSRules": rules }));
    }
    if !b.tags.is_empty() {
        let set: Vec<Value> = b
            .tags
            .iter()
            .map(|(k, v)| json!({ "Key": k, "Value": v }))
            .collect();
        m.insert("Tagging".into(), json!({ "TagSet": set }));
    }
    let mut n = Map::new();
    if b.eventbridge {
        n.insert("EventBridgeConfiguration".into(), json!({}));
    }
    let (mut queues, mut topics, mut functions) = (Vec::new(), Vec::new(), Vec::new());
    for (i, d) in b.notifications.iter().enumerate() {
        let mut c = Map::new();
        c.insert("Id".into(), notification_id(b, i).into());
        let list = if let Some(q) = &d.queue {
            c.insert("QueueArn".into(), arns.queue(q).into());
            &mut queues
        } else if let Some(t) = &d.topic {
            c.insert("TopicArn".into(), arns.topic(t).into());
            &mut topics
        } else {
            let f = d.function.as_deref().unwrap_or_default();
            c.insert("LambdaFunctionArn".into(), arns.function(f).into());
            &mut functions
        };
        c.insert("Events".into(), d.events.clone().into());
        let rules: Vec<Value> = [("Prefix", &d.prefix), ("Suffix", &d.suffix)]
            .into_iter()
            .filter_map(|(k, v)| Some(json!({ "Name": k, "Value": v.as_ref()? })))
            .collect();
        if !rules.is_empty() {
            c.insert("Filter".into(), json!({ "Key": { "FilterRules": rules } }));
        }
        list.push(Value::Object(c));
    }
    for (key, list) in [
        ("QueueConfigurations", queues),
        ("TopicConfigurations", topics),
        ("LambdaFunctionConfigurations", functions),
    ] {
        if !list.is_empty() {
            n.insert(key.into(), Value::Array(list));
        }
    }
    m.insert("NotificationConfiguration".into(), Value::Object(n));
    Value::Object(m)
}
