//! Semantic checks on the typed manifest: AWS's name rules and numeric ranges, references
//! between resources, event patterns (`eddy-pattern`), schedule expressions (`eddy-schedule`),
//! input shaping (`eddy-model`), routes, and that code paths exist. Each finding is located by
//! key path in the spanned document, so it carries the line and column of the value it is
//! about.

use std::collections::BTreeMap;

use eddy_model::definitions::TargetDef;
use eddy_model::limits;
use eddy_model::names::{
    API_NAME, Arn, CUSTOM_BUS_NAME, DESTINATION_NAME, FUNCTION_NAME, NameRule, QUEUE_NAME_MAX,
    RULE_NAME, SCHEDULE_NAME, TARGET_ID, valid_queue_name,
};
use serde_json::Value;

use crate::model::{
    Api, Bucket, DEFAULT_BUS, Function, Manifest, Queue, Retry, Rule, Schedule, Target, Throttle,
    Topic,
};
use crate::parse::{Declared, Doc, Seg, closest, key_path};

/// Routes seen so far, by base path and clash key: (offset, api, route).
type Routes = BTreeMap<(String, String), (usize, String, String)>;

/// Environment variables Lambda sets itself and does not let a function override.
use eddy_model::function::RESERVED_VARIABLES as RESERVED_ENV;
/// Lambda runtimes eddy knows how to start.
use eddy_model::function::SUPPORTED_RUNTIMES as RUNTIMES;

const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// The event types S3 notification configurations accept.
use eddy_model::names::S3_EVENT_TYPES as BUCKET_EVENT_TYPES;

/// The methods a bucket's CORS rule may allow (S3's `PutBucketCors`).
const BUCKET_CORS_METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];
/// Most CORS rules on a bucket.
const BUCKET_CORS_RULES: usize = 100;
/// Most tags on a bucket.
const BUCKET_TAGS: usize = 50;
/// The longest key filter (an object key's limit), in bytes.
const BUCKET_FILTER_BYTES: usize = 1024;

pub(crate) fn check(doc: &mut Doc<'_>, m: &Manifest, declared: &Declared) {
    let mut c = Checker { doc, m, declared };
    for name in m.buses.keys() {
        c.bus(name);
    }
    for (name, q) in &m.queues {
        c.queue(name, q);
    }
    for (name, d) in &m.api_destinations {
        c.name(
            "api_destinations",
            "api destination",
            name,
            &DESTINATION_NAME,
        );
        let p = key_path!["api_destinations", name, "endpoint"];
        if !(d.endpoint.starts_with("https://") || d.endpoint.starts_with("http://")) {
            c.doc.error(
                &p,
                format!(
                    "`endpoint` of api destination `{name}` must be an `http://` or `https://` URL, not `{}`",
                    d.endpoint
                ),
            );
        }
        let methods = &limits::api_destination::HTTP_METHODS;
        if !methods.contains(&d.method.as_str()) {
            c.doc.error(
                &key_path!["api_destinations", name, "method"],
                format!(
                    "`method` of api destination `{name}` must be one of {}, not `{}`",
                    quoted(methods),
                    d.method
                ),
            );
        }
        let what = format!("api destination `{name}`");
        c.range(
            &key_path!["api_destinations", name, "rate_limit"],
            &what,
            d.rate_limit,
            limits::api_destination::INVOCATION_RATE,
        );
    }
    for (name, f) in &m.functions {
        c.function(name, f);
        c.sources(name, f);
    }
    for (name, t) in &m.topics {
        c.topic(name, t);
    }
    for (name, b) in &m.buckets {
        c.bucket(name, b);
    }
    for (name, r) in &m.rules {
        c.rule(name, r);
    }
    for (name, s) in &m.schedules {
        c.schedule(name, s);
    }
    let mut routes = BTreeMap::new();
    for (name, a) in &m.apis {
        c.api(name, a, &mut routes);
    }
}

struct Checker<'d, 'i, 'm> {
    doc: &'d mut Doc<'i>,
    m: &'m Manifest,
    declared: &'m Declared,
}

fn quoted(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a.b[0].c` for the part of a path below `[section.name]`.
fn rel(p: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for seg in p.iter().skip(2) {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

impl Checker<'_, '_, '_> {
    fn name(&mut self, section: &str, label: &str, name: &str, rule: &NameRule) {
        if rule.check(name).is_err() {
            self.doc.error_key(
                &key_path![section, name],
                format!(
                    "{label} name `{name}` is not valid: use {} to {} characters from `{}`",
                    rule.min,
                    rule.max,
                    rule.class()
                ),
            );
        }
    }

    /// Checks `v` against one of `eddy_model::limits` (the API checks the same ranges).
    fn range<N: Into<i64> + Copy + std::fmt::Display>(
        &mut self,
        p: &[Seg<'_>],
        what: &str,
        v: Option<N>,
        limits: std::ops::RangeInclusive<i64>,
    ) {
        let Some(v) = v else { return };
        if limits.contains(&v.into()) {
            return;
        }
        let (lo, hi) = (limits.start(), limits.end());
        let bound = if *hi == i64::MAX {
            format!("at least {lo}")
        } else {
            format!("between {lo} and {hi}")
        };
        self.doc.error(
            p,
            format!("`{}` in {what} must be {bound}, not {v}", rel(p)),
        );
    }

    /// Exactly one of `options` is set; otherwise reports at `at`.
    fn one_of(&mut self, at: &[Seg<'_>], what: &str, options: &[(&str, bool)]) -> bool {
        let set: Vec<&str> = options
            .iter()
            .filter(|(_, s)| *s)
            .map(|(k, _)| *k)
            .collect();
        let names: Vec<&str> = options.iter().map(|(k, _)| *k).collect();
        match set.as_slice() {
            [_] => true,
            [] => {
                self.doc
                    .error_key(at, format!("{what} needs one of {}", quoted(&names)));
                false
            }
            [a, b, ..] => {
                self.doc
                    .error_key(at, format!("{what} sets both `{a}` and `{b}`; keep one"));
                false
            }
        }
    }

    /// A reference to a resource of this manifest (or, with `arn_ok`, any ARN).
    fn reference(
        &mut self,
        p: &[Seg<'_>],
        what: &str,
        section: &str,
        label: &str,
        target: &str,
    ) -> bool {
        if target.starts_with("arn:") {
            if Arn::parse(target).is_none() {
                self.doc.error(
                    p,
                    format!(
                        "`{}` in {what} is not a valid ARN: expected `arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE`",
                        rel(p)
                    ),
                );
                return false;
            }
            return true;
        }
        if self.declared.has(section, target) || (section == "buses" && target == DEFAULT_BUS) {
            return true;
        }
        let known: Vec<String> = self
            .declared
            .0
            .get(section)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let hint = match closest(target, &known) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("declare `[{section}.{target}]` or use a full ARN"),
        };
        self.doc.error(
            p,
            format!("{what} refers to {label} `{target}`, which is not defined; {hint}"),
        );
        false
    }

    /// A full ARN given as `arn`.
    fn arn(&mut self, p: &[Seg<'_>], what: &str, arn: &str) {
        if Arn::parse(arn).is_none() {
            self.doc.error(
                p,
                format!(
                    "`{}` in {what} is not a valid ARN: expected `arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE` (or use `queue`, `function`, `bus` for resources of this manifest)",
                    rel(p)
                ),
            );
        }
    }

    fn bus(&mut self, name: &str) {
        if name == DEFAULT_BUS {
            self.doc.error_key(
                &key_path!["buses", name],
                "bus `default` always exists; remove `[buses.default]`".to_owned(),
            );
            return;
        }
        self.name("buses", "bus", name, &CUSTOM_BUS_NAME);
    }

    fn queue(&mut self, name: &str, q: &Queue) {
        let what = format!("queue `{name}`");
        if !valid_queue_name(name, name.ends_with(".fifo")) {
            self.doc.error_key(
                &key_path!["queues", name],
                format!(
                    "queue name `{name}` is not valid: use 1 to {QUEUE_NAME_MAX} characters from `{}`, ending in `.fifo` for a FIFO queue",
                    FUNCTION_NAME.class()
                ),
            );
        } else if q.fifo != name.ends_with(".fifo") {
            let message = if q.fifo {
                format!(
                    "FIFO queue `{name}` must have a name ending in `.fifo`; rename it `[queues.\"{name}.fifo\"]`"
                )
            } else {
                format!("queue `{name}` ends in `.fifo` but is not FIFO; add `fifo = true`")
            };
            self.doc.error_key(&key_path!["queues", name], message);
        }
        if q.content_based_deduplication.is_some() && !q.fifo {
            self.doc.error(
                &key_path!["queues", name, "content_based_deduplication"],
                format!(
                    "`content_based_deduplication` needs a FIFO queue; add `fifo = true` to {what}"
                ),
            );
        }
        self.range(
            &key_path!["queues", name, "visibility_timeout"],
            &what,
            q.visibility_timeout,
            limits::queue::VISIBILITY_TIMEOUT,
        );
        self.range(
            &key_path!["queues", name, "message_retention"],
            &what,
            q.message_retention,
            limits::queue::MESSAGE_RETENTION_PERIOD,
        );
        self.range(
            &key_path!["queues", name, "delay"],
            &what,
            q.delay,
            limits::queue::DELAY_SECONDS,
        );
        if let Some(r) = &q.redrive {
            let p = key_path!["queues", name, "redrive", "dead_letter_queue"];
            let dlq = r.dead_letter_queue.as_str();
            if dlq == name {
                self.doc
                    .error(&p, format!("{what} cannot be its own dead-letter queue"));
            } else if self.reference(&p, &what, "queues", "queue", dlq)
                && let Some(d) = self.m.queues.get(dlq)
                && d.fifo != q.fifo
            {
                let kind = if q.fifo { "FIFO" } else { "standard" };
                self.doc.error(
                    &p,
                    format!(
                        "the dead-letter queue of {kind} queue `{name}` must be a {kind} queue too; `{dlq}` is not"
                    ),
                );
            }
            self.range(
                &key_path!["queues", name, "redrive", "max_receive_count"],
                &what,
                Some(r.max_receive_count),
                limits::queue::MAX_RECEIVE_COUNT,
            );
        }
    }

    fn function(&mut self, name: &str, f: &Function) {
        self.name("functions", "function", name, &FUNCTION_NAME);
        let what = format!("function `{name}`");
        if let Some(base) = self.doc.source.base_dir {
            let full = base.join(&f.code);
            let zip = f.code.ends_with(".zip");
            let ok = if zip { full.is_file() } else { full.is_dir() };
            if !ok {
                let kind = if zip {
                    "code archive"
                } else {
                    "code directory"
                };
                self.doc.error(
                    &key_path!["functions", name, "code"],
                    format!(
                        "{kind} `{}` of {what} does not exist next to the manifest; create it or fix the path",
                        f.code
                    ),
                );
            }
        }
        if !RUNTIMES.contains(&f.runtime.as_str()) {
            let known: Vec<String> = RUNTIMES.iter().map(|s| (*s).to_owned()).collect();
            let hint = match closest(&f.runtime, &known) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("use one of {}", quoted(RUNTIMES)),
            };
            self.doc.error(
                &key_path!["functions", name, "runtime"],
                format!("runtime `{}` of {what} is not supported; {hint}", f.runtime),
            );
        } else if f.handler.is_none() && !f.runtime.starts_with("provided") {
            self.doc.error_key(
                &key_path!["functions", name],
                format!(
                    "{what} uses runtime `{}` and needs a `handler` (like `app.handler`)",
                    f.runtime
                ),
            );
        }
        self.range(
            &key_path!["functions", name, "timeout"],
            &what,
            f.timeout,
            limits::function::TIMEOUT,
        );
        self.range(
            &key_path!["functions", name, "memory"],
            &what,
            f.memory,
            limits::function::MEMORY_SIZE,
        );
        self.range(
            &key_path!["functions", name, "concurrency"],
            &what,
            f.concurrency,
            limits::function::RESERVED_CONCURRENCY,
        );
        for key in f.environment.keys() {
            let p = key_path!["functions", name, "environment", key];
            let mut chars = key.chars();
            let valid = key.len() >= 2
                && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.doc.error_key(
                    &p,
                    format!(
                        "environment variable name `{key}` of {what} is not valid: use a letter followed by letters, digits or `_`"
                    ),
                );
            } else if RESERVED_ENV.contains(&key.as_str()) {
                self.doc.error_key(
                    &p,
                    format!("environment variable `{key}` of {what} is reserved: the runtime sets it; remove it"),
                );
            }
        }
        if let Some(a) = &f.async_invoke {
            self.range(
                &key_path!["functions", name, "async", "maximum_retry_attempts"],
                &what,
                a.maximum_retry_attempts,
                limits::function::ASYNC_RETRY_ATTEMPTS,
            );
            self.range(
                &key_path!["functions", name, "async", "maximum_event_age_seconds"],
                &what,
                a.maximum_event_age_seconds,
                limits::function::ASYNC_EVENT_AGE,
            );
            for (key, dest) in [("on_success", &a.on_success), ("on_failure", &a.on_failure)] {
                if let Some(dest) = dest {
                    self.destination(&key_path!["functions", name, "async", key], &what, dest);
                }
            }
        }
    }

    /// `queue:NAME`, `function:NAME`, `bus:NAME` or an ARN.
    fn destination(&mut self, p: &[Seg<'_>], what: &str, dest: &str) {
        if dest.starts_with("arn:") {
            self.reference(p, what, "queues", "queue", dest);
            return;
        }
        let resolved = match dest.split_once(':') {
            Some(("queue", n)) => Some(("queues", "queue", n)),
            Some(("function", n)) => Some(("functions", "function", n)),
            Some(("bus", n)) => Some(("buses", "bus", n)),
            _ => None,
        };
        match resolved {
            Some((section, label, n)) => {
                self.reference(p, what, section, label, n);
            }
            None => self.doc.error(
                p,
                format!(
                    "`{}` in {what} must be `queue:NAME`, `function:NAME`, `bus:NAME` or an ARN, not `{dest}`",
                    rel(p)
                ),
            ),
        }
    }

    fn retry(&mut self, p: &[Seg<'_>], what: &str, r: &Retry) {
        let mut a = p.to_vec();
        a.push(Seg::Key("maximum_retry_attempts"));
        self.range(
            &a,
            what,
            r.maximum_retry_attempts,
            limits::target::RETRY_ATTEMPTS,
        );
        let mut b = p.to_vec();
        b.push(Seg::Key("maximum_event_age_seconds"));
        self.range(
            &b,
            what,
            r.maximum_event_age_seconds,
            limits::target::EVENT_AGE,
        );
    }

    /// A FIFO queue target needs a message group; a standard one must not have one.
    fn message_group(&mut self, p: &[Seg<'_>], what: &str, queue: &str, group: Option<&str>) {
        let Some(q) = self.m.queues.get(queue) else {
            return;
        };
        match (q.fifo, group) {
            (true, None) => self.doc.error(
                p,
                format!("{what} sends to FIFO queue `{queue}` and needs a `message_group_id`"),
            ),
            (false, Some(_)) => {
                let mut at = p.to_vec();
                at.push(Seg::Key("message_group_id"));
                self.doc.error(
                    &at,
                    format!("`message_group_id` in {what} needs a FIFO queue; `{queue}` is a standard queue"),
                );
            }
            _ => {}
        }
    }

    /// Input given as a string must be JSON text (a table always is).
    fn json_input(&mut self, p: &[Seg<'_>], what: &str, input: Option<&Value>) {
        if let Some(Value::String(s)) = input
            && let Err(e) = serde_json::from_str::<Value>(s)
        {
            self.doc.error(
                p,
                format!(
                    "`{}` in {what} is not valid JSON text ({e}); write JSON, or use an inline table",
                    rel(p)
                ),
            );
        }
    }

    fn rule(&mut self, name: &str, r: &Rule) {
        self.name("rules", "rule", name, &RULE_NAME);
        let what = format!("rule `{name}`");
        let at = key_path!["rules", name];
        if r.bus != DEFAULT_BUS && !self.declared.has("buses", &r.bus) {
            self.reference(
                &key_path!["rules", name, "bus"],
                &what,
                "buses",
                "bus",
                &r.bus,
            );
        }
        if self.one_of(
            &at,
            &what,
            &[
                ("pattern", r.pattern.is_some()),
                ("schedule", r.schedule.is_some()),
            ],
        ) {
            if let Some(pattern) = &r.pattern {
                self.pattern(name, pattern);
            }
            if let Some(expr) = &r.schedule {
                let p = key_path!["rules", name, "schedule"];
                match eddy_schedule::ScheduleExpression::parse(expr) {
                    Err(e) => self.doc.error(&p, format!("`schedule` of {what} is not valid: {e}")),
                    Ok(s) if !s.allowed_for_rules() => self.doc.error(
                        &p,
                        format!(
                            "{what} cannot use `at(...)`: rules take `rate(...)` or `cron(...)`; declare a `[schedules.NAME]` for a one-time schedule"
                        ),
                    ),
                    Ok(_) if r.bus != DEFAULT_BUS => self.doc.error(
                        &p,
                        format!(
                            "scheduled {what} must be on the `default` bus, not `{}`; remove `bus` or use a `[schedules.NAME]`",
                            r.bus
                        ),
                    ),
                    Ok(_) => {}
                }
            }
        }
        if r.targets.len() > limits::target::PER_RULE {
            self.doc.error(
                &key_path!["rules", name, "targets", limits::target::PER_RULE],
                format!(
                    "{what} has {} targets; a rule takes at most {}",
                    r.targets.len(),
                    limits::target::PER_RULE
                ),
            );
        }
        let mut ids: BTreeMap<String, usize> = BTreeMap::new();
        for (i, t) in r.targets.iter().enumerate() {
            let id = target_id(t, i);
            let tp = key_path!["rules", name, "targets", i];
            let twhat = format!("target `{id}` of {what}");
            if let Some(prev) = ids.insert(id.clone(), i) {
                self.doc.error(
                    &tp,
                    format!("{what} has two targets with id `{id}` (targets {prev} and {i}); set a different `id`"),
                );
            }
            if TARGET_ID.check(&id).is_err() {
                self.doc.error(
                    &key_path!["rules", name, "targets", i, "id"],
                    format!(
                        "target id `{id}` of {what} is not valid: use {} to {} characters from `{}`",
                        TARGET_ID.min,
                        TARGET_ID.max,
                        TARGET_ID.class()
                    ),
                );
            }
            self.target(&tp, &twhat, t);
            if let Some(input) = &t.input {
                let mut ip = tp.to_vec();
                ip.push(Seg::Key("input"));
                self.json_input(&ip, &twhat, Some(input));
            }
            let def = TargetDef {
                id: id.clone(),
                arn: String::new(),
                role_arn: None,
                input: t.input.as_ref().map(crate::model::json_text),
                input_path: t.input_path.clone(),
                input_transformer: t.input_transformer.as_ref().map(|x| {
                    eddy_model::definitions::InputTransformer {
                        input_paths_map: (!x.paths.is_empty()).then(|| x.paths.clone()),
                        input_template: x.template.clone(),
                    }
                }),
                retry_policy: None,
                dead_letter_config: None,
                other: BTreeMap::new(),
            };
            let json_input_ok = !matches!(&t.input, Some(Value::String(s)) if serde_json::from_str::<Value>(s).is_err());
            if json_input_ok && let Err(e) = eddy_model::transform::check_target(&def) {
                let key = if t.input_transformer.is_some() {
                    "input_transformer"
                } else if t.input_path.is_some() {
                    "input_path"
                } else {
                    "input"
                };
                let mut kp = tp.to_vec();
                kp.push(Seg::Key(key));
                self.doc.error(&kp, format!("{what}: {e}"));
            }
        }
    }

    fn pattern(&mut self, name: &str, pattern: &Value) {
        let text = match pattern {
            Value::String(s) => s.clone(),
            Value::Object(_) => pattern.to_string(),
            other => {
                self.doc.error(
                    &key_path!["rules", name, "pattern"],
                    format!(
                        "`pattern` of rule `{name}` must be an inline table or a string of JSON, not {}",
                        json_type(other)
                    ),
                );
                return;
            }
        };
        if let Err(e) = eddy_pattern::Pattern::parse(&text) {
            let mut p = key_path!["rules", name, "pattern"].to_vec();
            if let (Value::Object(_), Some(field)) = (pattern, e.field()) {
                p.extend(field.split('.').map(Seg::Key));
            }
            self.doc.error(
                &p,
                format!("`pattern` of rule `{name}` is not valid: {}", e.reason()),
            );
        }
    }

    /// A topic's name and subscriptions (the rest, such as filter policies, is checked by the
    /// core when the manifest is applied, with SNS's own messages).
    fn topic(&mut self, name: &str, t: &Topic) {
        let base = if t.fifo {
            name.strip_suffix(".fifo")
        } else {
            Some(name)
        };
        let valid = name.len() <= 256
            && base.is_some_and(|b| {
                !b.is_empty()
                    && b.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if !valid {
            let fifo = if t.fifo {
                ", ending in `.fifo` for a FIFO topic"
            } else {
                ""
            };
            self.doc.error_key(
                &key_path!["topics", name],
                format!(
                    "topic name `{name}` is not valid: use 1 to 256 letters, digits, `-` and `_`{fifo}"
                ),
            );
        }
        if !t.fifo && t.content_based_deduplication == Some(true) {
            self.doc.error(
                &key_path!["topics", name, "content_based_deduplication"],
                format!("`content_based_deduplication` of topic `{name}` needs `fifo = true`"),
            );
        }
        for (i, s) in t.subscriptions.iter().enumerate() {
            let what = format!("subscription {} of topic `{name}`", i + 1);
            let sp = key_path!["topics", name, "subscriptions", i];
            let at = |k: &'static str| {
                let mut p = sp.to_vec();
                p.push(Seg::Key(k));
                p
            };
            let kinds = [
                ("queue", s.queue.is_some()),
                ("function", s.function.is_some()),
                ("http", s.http.is_some()),
                ("https", s.https.is_some()),
                ("email", s.email.is_some()),
                ("email_json", s.email_json.is_some()),
                ("sms", s.sms.is_some()),
                ("bus", s.bus.is_some()),
            ];
            if self.one_of(&sp, &what, &kinds) {
                if let Some(q) = &s.queue {
                    self.reference(&at("queue"), &what, "queues", "queue", q);
                }
                if let Some(f) = &s.function {
                    self.reference(&at("function"), &what, "functions", "function", f);
                }
                if let Some(b) = &s.bus {
                    self.reference(&at("bus"), &what, "buses", "bus", b);
                }
            }
            if let Some(d) = &s.dead_letter_queue {
                self.reference(&at("dead_letter_queue"), &what, "queues", "queue", d);
            }
            if let Some(scope) = &s.filter_scope
                && scope != "MessageAttributes"
                && scope != "MessageBody"
            {
                self.doc.error(
                    &at("filter_scope"),
                    format!(
                        "`filter_scope` of {what} must be `MessageAttributes` or `MessageBody`, not `{scope}`"
                    ),
                );
            }
        }
    }

    /// A bucket: S3's name rules, its notifications (references, event types, overlaps), CORS
    /// rules and tags.
    fn bucket(&mut self, name: &str, b: &Bucket) {
        let what = format!("bucket `{name}`");
        if let Some(why) = eddy_model::names::bucket_name_problem(name) {
            self.doc.error_key(
                &key_path!["buckets", name],
                format!(
                    "bucket name `{name}` is not valid: {why}; use 3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit"
                ),
            );
        }
        let mut ids: BTreeMap<String, usize> = BTreeMap::new();
        for (i, n) in b.notifications.iter().enumerate() {
            let np = key_path!["buckets", name, "notifications", i];
            let nwhat = format!("notification {} of {what}", i + 1);
            let at = |k: &'static str| {
                let mut p = np.to_vec();
                p.push(Seg::Key(k));
                p
            };
            let id = notification_id(b, i);
            if id.is_empty() {
                self.doc.error(
                    &at("id"),
                    format!("`id` of {nwhat} must not be empty; remove it for the default"),
                );
            } else if let Some(prev) = ids.insert(id.clone(), i) {
                self.doc.error(
                    &np,
                    format!(
                        "{what} has two notifications with id `{id}` (notifications {} and {}); set a different `id`",
                        prev + 1,
                        i + 1
                    ),
                );
            }
            let kinds = [
                ("queue", n.queue.is_some()),
                ("topic", n.topic.is_some()),
                ("function", n.function.is_some()),
            ];
            if self.one_of(&np, &nwhat, &kinds) {
                let (key, section, label, service, target) = match (&n.queue, &n.topic) {
                    (Some(q), _) => ("queue", "queues", "queue", "sqs", q.clone()),
                    (_, Some(t)) => ("topic", "topics", "topic", "sns", t.clone()),
                    _ => (
                        "function",
                        "functions",
                        "function",
                        "lambda",
                        n.function.clone().unwrap_or_default(),
                    ),
                };
                if self.reference(&at(key), &nwhat, section, label, &target) {
                    self.notification_target(&at(key), &nwhat, key, service, &target);
                }
            }
            if n.events.is_empty() {
                self.doc.error(
                    &at("events"),
                    format!(
                        "`events` of {nwhat} is empty; name at least one event type, like `s3:ObjectCreated:*` (or remove `events` for that default)"
                    ),
                );
            }
            for (j, e) in n.events.iter().enumerate() {
                if BUCKET_EVENT_TYPES.contains(&e.as_str()) {
                    continue;
                }
                let known: Vec<String> =
                    BUCKET_EVENT_TYPES.iter().map(|s| (*s).to_owned()).collect();
                let hint = match closest(e, &known) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!(
                        "use one of {}",
                        quoted(&BUCKET_EVENT_TYPES[..BUCKET_EVENT_TYPES.len().min(11)])
                    ),
                };
                let mut p = at("events");
                p.push(Seg::Index(j));
                self.doc.error(
                    &p,
                    format!("event type `{e}` of {nwhat} is not one S3 sends; {hint}"),
                );
            }
            for (key, v) in [("prefix", &n.prefix), ("suffix", &n.suffix)] {
                match v {
                    Some(v) if v.is_empty() => self.doc.error(
                        &at(key),
                        format!("`{key}` of {nwhat} is empty; remove it to match every key"),
                    ),
                    Some(v) if v.len() > BUCKET_FILTER_BYTES => self.doc.error(
                        &at(key),
                        format!(
                            "`{key}` of {nwhat} is {} bytes long; an object key, and so a filter, is at most {BUCKET_FILTER_BYTES}",
                            v.len()
                        ),
                    ),
                    _ => {}
                }
            }
        }
        self.overlaps(name, b);
        if b.cors.len() > BUCKET_CORS_RULES {
            self.doc.error(
                &key_path!["buckets", name, "cors", BUCKET_CORS_RULES],
                format!(
                    "{what} has {} CORS rules; a bucket takes at most {BUCKET_CORS_RULES}",
                    b.cors.len()
                ),
            );
        }
        for (i, c) in b.cors.iter().enumerate() {
            let cwhat = format!("CORS rule {} of {what}", i + 1);
            let cp = key_path!["buckets", name, "cors", i];
            let at = |k: &'static str| {
                let mut p = cp.to_vec();
                p.push(Seg::Key(k));
                p
            };
            for (key, list) in [
                ("allowed_origins", &c.allowed_origins),
                ("allowed_methods", &c.allowed_methods),
            ] {
                if list.is_empty() {
                    self.doc.error(
                        &at(key),
                        format!("`{key}` of {cwhat} is empty; name at least one"),
                    );
                }
            }
            for (key, list) in [
                ("allowed_origins", &c.allowed_origins),
                ("allowed_headers", &c.allowed_headers),
            ] {
                for (j, v) in list.iter().enumerate() {
                    if v.matches('*').count() > 1 {
                        let mut p = at(key);
                        p.push(Seg::Index(j));
                        self.doc.error(
                            &p,
                            format!(
                                "`{v}` in `{key}` of {cwhat} has more than one `*`; S3 allows one wildcard"
                            ),
                        );
                    }
                }
            }
            for (j, m) in c.allowed_methods.iter().enumerate() {
                if BUCKET_CORS_METHODS.contains(&m.as_str()) {
                    continue;
                }
                let upper = m.to_ascii_uppercase();
                let hint = if BUCKET_CORS_METHODS.contains(&upper.as_str()) {
                    format!("write it in upper case: `{upper}`")
                } else {
                    format!("use {}", quoted(BUCKET_CORS_METHODS))
                };
                let mut p = at("allowed_methods");
                p.push(Seg::Index(j));
                self.doc.error(
                    &p,
                    format!("method `{m}` in {cwhat} is not one S3 CORS allows; {hint}"),
                );
            }
            if let Some(age) = c.max_age
                && i32::try_from(age).is_err()
            {
                self.doc.error(
                    &at("max_age"),
                    format!(
                        "`max_age` of {cwhat} must be at most {}, not {age}",
                        i32::MAX
                    ),
                );
            }
        }
        if b.tags.len() > BUCKET_TAGS {
            self.doc.error(
                &key_path!["buckets", name, "tags"],
                format!(
                    "{what} has {} tags; a bucket takes at most {BUCKET_TAGS}",
                    b.tags.len()
                ),
            );
        }
        for (k, v) in &b.tags {
            let p = key_path!["buckets", name, "tags", k];
            if k.is_empty() || k.chars().count() > 128 {
                self.doc.error_key(
                    &p,
                    format!("tag key `{k}` of {what} must be 1 to 128 characters"),
                );
            } else if k.starts_with("aws:") {
                self.doc.error_key(
                    &p,
                    format!("tag key `{k}` of {what} is reserved: keys may not start with `aws:`"),
                );
            }
            if v.chars().count() > 256 {
                self.doc.error(
                    &p,
                    format!("the value of tag `{k}` of {what} is longer than 256 characters"),
                );
            }
        }
    }

    /// A notification's target given by ARN is of the right service, and no target is FIFO
    /// (S3 notifies standard queues and topics only).
    fn notification_target(
        &mut self,
        p: &[Seg<'_>],
        what: &str,
        key: &str,
        service: &str,
        target: &str,
    ) {
        if let Some(arn) = Arn::parse(target)
            && arn.service != service
        {
            let kind = match key {
                "queue" => "an SQS queue ARN (`arn:aws:sqs:...`)",
                "topic" => "an SNS topic ARN (`arn:aws:sns:...`)",
                _ => "a Lambda function ARN (`arn:aws:lambda:...`)",
            };
            self.doc.error(
                p,
                format!(
                    "`{}` in {what} must be a {key} of this manifest or {kind}, not an `{}` ARN",
                    rel(p),
                    arn.service
                ),
            );
            return;
        }
        let fifo = match key {
            "queue" => self
                .m
                .queues
                .get(target)
                .map_or(target.ends_with(".fifo"), |q| q.fifo),
            "topic" => self
                .m
                .topics
                .get(target)
                .map_or(target.ends_with(".fifo"), |t| t.fifo),
            _ => false,
        };
        if fifo {
            self.doc.error(
                p,
                format!(
                    "{what} names FIFO {key} `{target}`; S3 notifies standard queues and topics only"
                ),
            );
        }
    }

    /// S3 refuses two notifications of a bucket that could both take the same event for the
    /// same key: a common event type, and prefixes and suffixes that overlap.
    fn overlaps(&mut self, name: &str, b: &Bucket) {
        let group = |e: &str| e.strip_suffix(":*").map(str::to_owned);
        let share_event = |a: &[String], b: &[String]| {
            a.iter().any(|x| {
                b.iter().any(|y| {
                    x == y
                        || group(x).is_some_and(|g| y.starts_with(&format!("{g}:")))
                        || group(y).is_some_and(|g| x.starts_with(&format!("{g}:")))
                })
            })
        };
        let overlap =
            |a: &Option<String>, b: &Option<String>, f: fn(&str, &str) -> bool| match (a, b) {
                (Some(a), Some(b)) => f(a, b) || f(b, a),
                _ => true,
            };
        let n = &b.notifications;
        for j in 0..n.len() {
            for i in 0..j {
                let (x, y) = (&n[i], &n[j]);
                if share_event(&x.events, &y.events)
                    && overlap(&x.prefix, &y.prefix, |a, b| a.starts_with(b))
                    && overlap(&x.suffix, &y.suffix, |a, b| a.ends_with(b))
                {
                    self.doc.error(
                        &key_path!["buckets", name, "notifications", j],
                        format!(
                            "notifications {} and {} of bucket `{name}` overlap: they share an event type and their prefixes and suffixes overlap, so S3 would refuse them; give them different `prefix` or `suffix` filters, or merge them",
                            i + 1,
                            j + 1
                        ),
                    );
                }
            }
        }
    }

    /// A function's event sources: the queues exist, the numbers are in Lambda's ranges, the
    /// filters are event patterns.
    fn sources(&mut self, name: &str, f: &Function) {
        for (i, src) in f.sources.iter().enumerate() {
            let what = format!("source {} of function `{name}`", i + 1);
            let sp = key_path!["functions", name, "sources", i];
            let at = |k: &'static str| {
                let mut p = sp.to_vec();
                p.push(Seg::Key(k));
                p
            };
            self.reference(&at("queue"), &what, "queues", "queue", &src.queue);
            let fifo = src.queue.ends_with(".fifo");
            let max = if fifo { 10 } else { 10_000 };
            if let Some(b) = src.batch_size
                && !(1..=max).contains(&b)
            {
                self.doc.error(
                    &at("batch_size"),
                    format!("`batch_size` of {what} must be 1 to {max}, not {b}"),
                );
            }
            if let Some(w) = src.batching_window
                && w > 300
            {
                self.doc.error(
                    &at("batching_window"),
                    format!("`batching_window` of {what} must be 0 to 300 seconds, not {w}"),
                );
            }
            if src.batch_size.unwrap_or(10) > 10 && src.batching_window.unwrap_or(0) < 1 {
                self.doc.error(
                    &at("batch_size"),
                    format!(
                        "{what} has a `batch_size` over 10, which needs `batching_window` of at least 1 second"
                    ),
                );
            }
            if let Some(c) = src.maximum_concurrency
                && !(2..=1000).contains(&c)
            {
                self.doc.error(
                    &at("maximum_concurrency"),
                    format!("`maximum_concurrency` of {what} must be 2 to 1000, not {c}"),
                );
            }
            if src.filters.len() > 5 {
                self.doc.error(
                    &at("filters"),
                    format!("{what} has {} filters; at most 5", src.filters.len()),
                );
            }
            for (j, filter) in src.filters.iter().enumerate() {
                let text = crate::model::json_text(filter);
                if let Err(e) = eddy_pattern::Pattern::parse(&text) {
                    let mut p = at("filters");
                    p.push(Seg::Index(j));
                    self.doc.error(
                        &p,
                        format!(
                            "filter {} of {what} is not a valid event pattern: {}",
                            j + 1,
                            e.reason()
                        ),
                    );
                }
            }
        }
    }

    /// Checks a rule target's kind and references.
    fn target(&mut self, tp: &[Seg<'_>], what: &str, t: &Target) {
        let kinds = [
            ("arn", t.arn.is_some()),
            ("queue", t.queue.is_some()),
            ("function", t.function.is_some()),
            ("bus", t.bus.is_some()),
            ("api_destination", t.api_destination.is_some()),
            ("topic", t.topic.is_some()),
        ];
        let at = |k: &'static str| {
            let mut p = tp.to_vec();
            p.push(Seg::Key(k));
            p
        };
        if self.one_of(tp, what, &kinds) {
            if let Some(a) = &t.arn {
                self.arn(&at("arn"), what, a);
            }
            if let Some(q) = &t.queue
                && self.reference(&at("queue"), what, "queues", "queue", q)
            {
                self.message_group(tp, what, q, t.message_group_id.as_deref());
            }
            if let Some(f) = &t.function {
                self.reference(&at("function"), what, "functions", "function", f);
            }
            if let Some(b) = &t.bus {
                self.reference(&at("bus"), what, "buses", "bus", b);
            }
            if let Some(tp) = &t.topic {
                self.reference(&at("topic"), what, "topics", "topic", tp);
            }
            if let Some(d) = &t.api_destination {
                self.reference(
                    &at("api_destination"),
                    what,
                    "api_destinations",
                    "api destination",
                    d,
                );
            }
        }
        if t.message_group_id.is_some() && t.queue.is_none() && t.arn.is_none() {
            self.doc.error(
                &at("message_group_id"),
                format!("`message_group_id` in {what} applies to queue targets only; remove it"),
            );
        }
        if let Some(r) = &t.retry {
            self.retry(&at("retry"), what, r);
        }
        if let Some(d) = &t.dead_letter_queue {
            self.reference(&at("dead_letter_queue"), what, "queues", "queue", d);
        }
    }

    fn schedule(&mut self, name: &str, s: &Schedule) {
        self.name("schedules", "schedule", name, &SCHEDULE_NAME);
        let what = format!("schedule `{name}`");
        if SCHEDULE_NAME.check(&s.group).is_err() {
            self.doc.error(
                &key_path!["schedules", name, "group"],
                format!(
                    "group name `{}` of {what} is not valid: use {} to {} characters from `{}`",
                    s.group,
                    SCHEDULE_NAME.min,
                    SCHEDULE_NAME.max,
                    SCHEDULE_NAME.class()
                ),
            );
        }
        if let Err(e) = eddy_schedule::ScheduleExpression::parse(&s.expression) {
            self.doc.error(
                &key_path!["schedules", name, "expression"],
                format!("`expression` of {what} is not valid: {e}"),
            );
        }
        if let Some(tz) = &s.timezone
            && jiff::tz::TimeZone::get(tz).is_err()
        {
            self.doc.error(
                &key_path!["schedules", name, "timezone"],
                format!("unknown time zone `{tz}` in {what}; use an IANA name like `Europe/Berlin` or `UTC`"),
            );
        }
        self.range(
            &key_path!["schedules", name, "flexible_window_minutes"],
            &what,
            s.flexible_window_minutes,
            limits::schedule::FLEXIBLE_WINDOW_MINUTES,
        );
        self.json_input(
            &key_path!["schedules", name, "input"],
            &what,
            s.input.as_ref(),
        );
        let t = &s.target;
        let tp = key_path!["schedules", name, "target"];
        let at = |k: &'static str| {
            let mut p = tp.to_vec();
            p.push(Seg::Key(k));
            p
        };
        let kinds = [
            ("arn", t.arn.is_some()),
            ("queue", t.queue.is_some()),
            ("function", t.function.is_some()),
            ("bus", t.bus.is_some()),
        ];
        if self.one_of(&tp, &format!("the target of {what}"), &kinds) {
            if let Some(a) = &t.arn {
                self.arn(&at("arn"), &what, a);
            }
            if let Some(q) = &t.queue
                && self.reference(&at("queue"), &what, "queues", "queue", q)
            {
                self.message_group(&tp, &what, q, t.message_group_id.as_deref());
            }
            if let Some(f) = &t.function {
                self.reference(&at("function"), &what, "functions", "function", f);
            }
            if let Some(b) = &t.bus {
                self.reference(&at("bus"), &what, "buses", "bus", b);
                for (key, v) in [("source", &t.source), ("detail_type", &t.detail_type)] {
                    if v.is_none() {
                        self.doc.error(
                            &tp,
                            format!(
                                "the target of {what} puts events on bus `{b}` and needs `{key}`"
                            ),
                        );
                    }
                }
            }
        }
        if t.bus.is_none() {
            for (key, v) in [("source", &t.source), ("detail_type", &t.detail_type)] {
                if v.is_some() {
                    self.doc.error(
                        &at(key),
                        format!("`target.{key}` in {what} applies to bus targets only; remove it"),
                    );
                }
            }
        }
        if let Some(r) = &t.retry {
            self.retry(&at("retry"), &what, r);
        }
        if let Some(d) = &t.dead_letter_queue {
            self.reference(&at("dead_letter_queue"), &what, "queues", "queue", d);
        }
    }

    fn api(&mut self, name: &str, a: &Api, seen: &mut Routes) {
        self.name("apis", "api", name, &API_NAME);
        let what = format!("api `{name}`");
        let bp = a.base_path.as_str();
        let base_ok = bp.starts_with('/')
            && (bp == "/" || !bp.ends_with('/'))
            && !bp.contains(['{', '}', ' ', '?', '#']);
        if !base_ok {
            self.doc.error(
                &key_path!["apis", name, "base_path"],
                format!("`base_path` of {what} must start with `/`, not end with one, and hold no `{{}}`, spaces, `?` or `#`; `{bp}` does not"),
            );
        }
        if let Some(c) = &a.cors {
            for (i, m) in c.allow_methods.iter().enumerate() {
                if m != "*" && !HTTP_METHODS.contains(&m.as_str()) {
                    self.doc.error(
                        &key_path!["apis", name, "cors", "allow_methods", i],
                        format!(
                            "CORS method `{m}` of {what} is not valid; use one of {} or `*`",
                            quoted(HTTP_METHODS)
                        ),
                    );
                }
            }
            self.range(
                &key_path!["apis", name, "cors", "max_age"],
                &what,
                c.max_age,
                limits::api::CORS_MAX_AGE,
            );
        }
        if let Some(t) = &a.throttle {
            self.throttle(&key_path!["apis", name, "throttle"], &what, t);
        }
        for (auth, def) in &a.authorizers {
            let ap = key_path!["apis", name, "authorizers", auth];
            let awhat = format!("authorizer `{auth}` of {what}");
            if self.one_of(
                &ap,
                &awhat,
                &[
                    ("jwt", def.jwt.is_some()),
                    ("function", def.function.is_some()),
                ],
            ) {
                if let Some(f) = &def.function {
                    self.reference(
                        &key_path!["apis", name, "authorizers", auth, "function"],
                        &awhat,
                        "functions",
                        "function",
                        f,
                    );
                }
                if let Some(j) = &def.jwt {
                    let jp = key_path!["apis", name, "authorizers", auth, "jwt"];
                    if !(j.issuer.starts_with("https://") || j.issuer.starts_with("http://")) {
                        self.doc.error(
                            &key_path!["apis", name, "authorizers", auth, "jwt", "issuer"],
                            format!(
                                "`jwt.issuer` of {awhat} must be an `https://` URL, not `{}`",
                                j.issuer
                            ),
                        );
                    }
                    if self.one_of(
                        &jp,
                        &format!("the `jwt` of {awhat}"),
                        &[
                            ("jwks_file", j.jwks_file.is_some()),
                            ("jwks_url", j.jwks_url.is_some()),
                        ],
                    ) && let (Some(file), Some(base)) = (&j.jwks_file, self.doc.source.base_dir)
                        && !base.join(file).is_file()
                    {
                        self.doc.error(
                            &key_path!["apis", name, "authorizers", auth, "jwt", "jwks_file"],
                            format!("JWKS file `{file}` of {awhat} does not exist next to the manifest; create it or fix the path"),
                        );
                    }
                }
            }
        }
        let mut local: BTreeMap<String, String> = BTreeMap::new();
        for (i, r) in a.routes.iter().enumerate() {
            let rp = key_path!["apis", name, "routes", i];
            let rwhat = format!("route `{}` of {what}", r.route);
            let at = |k: &'static str| {
                let mut p = rp.to_vec();
                p.push(Seg::Key(k));
                p
            };
            match parse_route(&r.route) {
                Err(why) => self.doc.error(
                    &at("route"),
                    format!("route `{}` of {what} is not valid: {why}", r.route),
                ),
                Ok(key) => {
                    if let Some(prev) = local.insert(key.clone(), r.route.clone()) {
                        self.doc.error(
                            &at("route"),
                            format!(
                                "route `{}` of {what} duplicates route `{prev}`; remove one",
                                r.route
                            ),
                        );
                    } else {
                        let here = (
                            self.doc.locate(&at("route")).1.start,
                            name.to_owned(),
                            r.route.clone(),
                        );
                        if let Some(prev) = seen.insert((bp.to_owned(), key.clone()), here.clone())
                        {
                            // Report at whichever of the two comes later in the file.
                            let (first, second) = if prev.0 < here.0 {
                                (prev, here)
                            } else {
                                (here, prev)
                            };
                            seen.insert((bp.to_owned(), key), first.clone());
                            self.doc.error_at(
                                second.0,
                                format!(
                                    "route `{}` of api `{}` collides with route `{}` of api `{}` (same base path `{bp}`); change one",
                                    second.2, second.1, first.2, first.1
                                ),
                            );
                        }
                    }
                }
            }
            let kinds = [
                ("function", r.function.is_some()),
                ("bus", r.bus.is_some()),
                ("queue", r.queue.is_some()),
            ];
            if self.one_of(&rp, &rwhat, &kinds) {
                if let Some(f) = &r.function {
                    self.reference(&at("function"), &rwhat, "functions", "function", f);
                }
                if let Some(b) = &r.bus {
                    self.reference(&at("bus"), &rwhat, "buses", "bus", b);
                    for (key, v) in [("source", &r.source), ("detail_type", &r.detail_type)] {
                        if v.is_none() {
                            self.doc.error(
                                &rp,
                                format!("{rwhat} puts events on bus `{b}` and needs `{key}`"),
                            );
                        }
                    }
                }
                if let Some(q) = &r.queue
                    && self.reference(&at("queue"), &rwhat, "queues", "queue", q)
                {
                    self.message_group(&rp, &rwhat, q, r.message_group_id.as_deref());
                }
            }
            if r.bus.is_none() {
                for (key, v) in [("source", &r.source), ("detail_type", &r.detail_type)] {
                    if v.is_some() {
                        self.doc.error(
                            &at(key),
                            format!(
                                "`{key}` in {rwhat} applies to bus integrations only; remove it"
                            ),
                        );
                    }
                }
            }
            if let Some(auth) = &r.authorizer
                && !a.authorizers.contains_key(auth)
            {
                let known: Vec<String> = a.authorizers.keys().cloned().collect();
                let hint = match closest(auth, &known) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("declare `[apis.{name}.authorizers.{auth}]`"),
                };
                self.doc.error(
                    &at("authorizer"),
                    format!("{rwhat} uses authorizer `{auth}`, which is not defined; {hint}"),
                );
            }
            if let Some(t) = &r.throttle {
                self.throttle(&at("throttle"), &rwhat, t);
            }
        }
    }

    fn throttle(&mut self, p: &[Seg<'_>], what: &str, t: &Throttle) {
        if t.rate > 0 && t.burst == 0 {
            let mut bp = p.to_vec();
            bp.push(Seg::Key("burst"));
            self.doc.error(
                &bp,
                format!("`throttle.burst` in {what} must be at least 1 when `rate` is above 0"),
            );
        }
    }
}

/// The id a target gets when it sets none: the name it refers to, or `target-N`.
pub(crate) fn target_id(t: &Target, i: usize) -> String {
    if let Some(id) = &t.id {
        return id.clone();
    }
    t.queue
        .as_ref()
        .or(t.function.as_ref())
        .or(t.bus.as_ref())
        .or(t.api_destination.as_ref())
        .or(t.topic.as_ref())
        .filter(|n| !n.starts_with("arn:"))
        .cloned()
        .unwrap_or_else(|| format!("target-{i}"))
}

/// The id a bucket notification gets: its own `id`, else the name it refers to (`NAME-N` when
/// several of the bucket's notifications refer to that name), or `notification-N` for an ARN.
/// `N` counts from 1.
pub(crate) fn notification_id(b: &Bucket, i: usize) -> String {
    let Some(n) = b.notifications.get(i) else {
        return format!("notification-{}", i + 1);
    };
    if let Some(id) = &n.id {
        return id.clone();
    }
    match n.reference().filter(|r| !r.starts_with("arn:")) {
        Some(r) => {
            let same = b
                .notifications
                .iter()
                .filter(|o| o.id.is_none() && o.reference() == Some(r))
                .count();
            if same == 1 {
                r.to_owned()
            } else {
                format!("{r}-{}", i + 1)
            }
        }
        None => format!("notification-{}", i + 1),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

/// Parses `METHOD /path/{param}/{proxy+}` or `$default`; returns the key two routes clash on
/// (parameter names erased).
pub(crate) fn parse_route(route: &str) -> Result<String, String> {
    if route == "$default" {
        return Ok(route.to_owned());
    }
    let Some((method, path)) = route.split_once(' ') else {
        return Err("write `METHOD /path` (like `GET /orders/{id}`) or `$default`".to_owned());
    };
    let mut methods = HTTP_METHODS.to_vec();
    methods.push("ANY");
    if !methods.contains(&method) {
        let upper = method.to_ascii_uppercase();
        return Err(if methods.contains(&upper.as_str()) {
            format!("write the method in upper case: `{upper}`")
        } else {
            format!("method `{method}` must be one of {}", quoted(&methods))
        });
    }
    if !path.starts_with('/') {
        return Err(format!(
            "the path must start with `/`, like `{method} /{path}`"
        ));
    }
    if path.len() > 1 && path.ends_with('/') {
        return Err("remove the trailing `/`".to_owned());
    }
    let mut key = format!("{method} ");
    let mut params: Vec<&str> = Vec::new();
    let segs: Vec<&str> = if path == "/" {
        Vec::new()
    } else {
        path[1..].split('/').collect()
    };
    for (i, seg) in segs.iter().enumerate() {
        key.push('/');
        if seg.is_empty() {
            return Err("empty path segment (`//`)".to_owned());
        }
        if let Some(inner) = seg.strip_prefix('{') {
            let Some(inner) = inner.strip_suffix('}') else {
                return Err(format!(
                    "segment `{seg}` must be a whole `{{name}}` parameter"
                ));
            };
            let (pname, greedy) = match inner.strip_suffix('+') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            if pname.is_empty() || !pname.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "parameter `{seg}` must be named with letters, digits and `_`"
                ));
            }
            if greedy && i + 1 != segs.len() {
                return Err(format!("greedy parameter `{seg}` must be the last segment"));
            }
            if params.contains(&pname) {
                return Err(format!("parameter `{pname}` appears twice"));
            }
            params.push(pname);
            key.push_str(if greedy { "{+}" } else { "{}" });
        } else if seg.contains(['{', '}', ' ', '?', '#']) {
            return Err(format!(
                "segment `{seg}` may not contain `{{`, `}}`, spaces, `?` or `#`"
            ));
        } else {
            key.push_str(seg);
        }
    }
    if segs.is_empty() {
        key.push('/');
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_and_normalise() {
        assert_eq!(parse_route("GET /orders/{id}").unwrap(), "GET /orders/{}");
        assert_eq!(
            parse_route("GET /orders/{orderId}").unwrap(),
            "GET /orders/{}"
        );
        assert_eq!(
            parse_route("ANY /files/{proxy+}").unwrap(),
            "ANY /files/{+}"
        );
        assert_eq!(parse_route("GET /").unwrap(), "GET /");
        assert_eq!(parse_route("$default").unwrap(), "$default");
        assert!(parse_route("get /x").unwrap_err().contains("upper case"));
        assert!(parse_route("GET x").is_err());
        assert!(parse_route("GET /x/").is_err());
        assert!(parse_route("GET /{a+}/b").is_err());
        assert!(parse_route("GET /{a}/{a}").is_err());
        assert!(parse_route("FETCH /x").is_err());
    }
}
