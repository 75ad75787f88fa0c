//! Work kinds: what each durable work item is for.
//!
//! The store keeps a work item as two strings beside its event, `rule` and `target`
//! ([`eddy_store::NewWork`]). This module is the one place that writes them and reads them back,
//! so the bus, the scheduler, asynchronous invocations and the delivery engine speak in kinds:
//!
//! | kind | `rule` | `target` |
//! |---|---|---|
//! | [`Work::RuleTarget`] | the rule's ARN (read back as ids, [`RuleRef`]) | the target's id |
//! | [`Work::ScheduleTick`] | the Scheduler schedule's ARN | [`SCHEDULE_TARGET`] |
//! | [`Work::AsyncInvoke`] | the function's ARN | [`ASYNC_INVOKE`] |
//! | [`Work::Notify`] | the subscription's ARN | [`NOTIFY`] |
//! | [`Work::BucketNotify`] | the destination's ARN (queue, topic, function) | [`BUCKET_NOTIFY`] |
//!
//! The strings are what dead letters, logs and metrics show, and what earlier stores hold, so
//! they are kept as they were. A schedule tick is told apart by its ARN's service
//! (`scheduler`), never by its target id alone: a rule's target may be called
//! `schedule-target` too. `$async-invoke` cannot be a target id (ids cannot hold `$`).

use eddy_model::DEFAULT_BUS;
use eddy_model::names::Arn;
use eddy_store::{NewWork, WorkItem};

/// The rule a [`Work::RuleTarget`] item is for, as ids: read from the rule's ARN, which is how
/// the store keeps it, here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleRef<'a> {
    pub region: &'a str,
    pub bus: &'a str,
    pub name: &'a str,
}

impl<'a> RuleRef<'a> {
    /// The rule an ARN names (`arn:aws:events:REGION:ACCOUNT:rule/[BUS/]NAME`; no bus is the
    /// default bus). `None` for anything else.
    pub fn of_arn(arn: &'a str) -> Option<Self> {
        let a = Arn::parse(arn)?;
        if a.service != "events" {
            return None;
        }
        let rest = a.resource.strip_prefix("rule/")?;
        let (bus, name) = rest.rsplit_once('/').unwrap_or((DEFAULT_BUS, rest));
        Some(Self {
            region: a.region,
            bus,
            name,
        })
    }
}

/// The target of a Scheduler schedule's work items.
pub const SCHEDULE_TARGET: &str = "schedule-target";
/// The target of asynchronous invocation work items.
pub const ASYNC_INVOKE: &str = "$async-invoke";
/// The target of a topic's deliveries to its subscriptions.
pub const NOTIFY: &str = "$notify";
/// The target of a bucket's notifications to a queue, topic or function.
pub const BUCKET_NOTIFY: &str = "$s3-notify";

/// What a work item is for (borrowed from the item).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work<'a> {
    /// Deliver the event to one target of a rule that matched it (or of a scheduled rule).
    RuleTarget {
        rule_arn: &'a str,
        target_id: &'a str,
    },
    /// Deliver a tick of an EventBridge Scheduler schedule to the schedule's target.
    ScheduleTick { schedule_arn: &'a str },
    /// Invoke a function asynchronously with the event as its payload.
    AsyncInvoke { function_arn: &'a str },
    /// Deliver a topic's notification (the event) to one subscription.
    Notify { subscription_arn: &'a str },
    /// Deliver a bucket's S3 event notification (the event) to a queue, topic or function.
    BucketNotify { destination_arn: &'a str },
}

impl<'a> Work<'a> {
    /// The kind of a stored item's `(rule, target)`.
    pub fn of(rule: &'a str, target: &'a str) -> Self {
        if target == ASYNC_INVOKE {
            Work::AsyncInvoke { function_arn: rule }
        } else if target == NOTIFY {
            Work::Notify {
                subscription_arn: rule,
            }
        } else if target == BUCKET_NOTIFY {
            Work::BucketNotify {
                destination_arn: rule,
            }
        } else if target == SCHEDULE_TARGET
            && Arn::parse(rule).is_some_and(|a| a.service == "scheduler")
        {
            Work::ScheduleTick { schedule_arn: rule }
        } else {
            Work::RuleTarget {
                rule_arn: rule,
                target_id: target,
            }
        }
    }

    /// The kind of a leased item.
    pub fn of_item(item: &'a WorkItem) -> Self {
        Self::of(&item.rule, &item.target)
    }

    /// The store's form of this work for the `event`-th event of a batch.
    pub fn new_work(&self, event: usize) -> NewWork {
        let (rule, target) = match *self {
            Work::RuleTarget {
                rule_arn,
                target_id,
            } => (rule_arn, target_id),
            Work::ScheduleTick { schedule_arn } => (schedule_arn, SCHEDULE_TARGET),
            Work::AsyncInvoke { function_arn } => (function_arn, ASYNC_INVOKE),
            Work::Notify { subscription_arn } => (subscription_arn, NOTIFY),
            Work::BucketNotify { destination_arn } => (destination_arn, BUCKET_NOTIFY),
        };
        NewWork {
            event,
            rule: rule.to_owned(),
            target: target.to_owned(),
        }
    }

    /// The rule of a [`Work::RuleTarget`] item, as ids (`None` for other kinds, or a stored
    /// rule that names no rule).
    pub fn rule(&self) -> Option<RuleRef<'a>> {
        match *self {
            Work::RuleTarget { rule_arn, .. } => RuleRef::of_arn(rule_arn),
            _ => None,
        }
    }

    /// The `rule` label of delivery metrics: schedules are counted per group
    /// (`…:schedule-group/GROUP`), so 100,000 schedules do not make 100,000 series.
    pub fn metrics_rule(&self) -> String {
        match *self {
            Work::ScheduleTick { schedule_arn } => match schedule_arn.split_once(":schedule/") {
                Some((prefix, rest)) => {
                    let group = rest.split('/').next().unwrap_or_default();
                    format!("{prefix}:schedule-group/{group}")
                }
                None => schedule_arn.to_owned(),
            },
            Work::RuleTarget { rule_arn, .. } => rule_arn.to_owned(),
            Work::AsyncInvoke { function_arn } => function_arn.to_owned(),
            // Per topic, not per subscription.
            Work::Notify { subscription_arn } => subscription_arn
                .rsplit_once(':')
                .map_or(subscription_arn, |(topic, _)| topic)
                .to_owned(),
            Work::BucketNotify { destination_arn } => destination_arn.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: &str = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/nightly";
    const RULE: &str = "arn:aws:events:us-east-1:123456789012:rule/orders";
    const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

    #[test]
    fn every_kind_reads_back_as_written() {
        for w in [
            Work::RuleTarget {
                rule_arn: RULE,
                target_id: "q",
            },
            Work::ScheduleTick {
                schedule_arn: SCHEDULE,
            },
            Work::AsyncInvoke {
                function_arn: FUNCTION,
            },
            Work::Notify {
                subscription_arn: "arn:aws:sns:us-east-1:123456789012:t:0f1e",
            },
        ] {
            let stored = w.new_work(3);
            assert_eq!(stored.event, 3);
            assert_eq!(Work::of(&stored.rule, &stored.target), w);
        }
    }

    #[test]
    fn a_rule_target_names_its_rule_by_ids() {
        let on_default = Work::of(RULE, "q").rule();
        assert_eq!(
            on_default,
            Some(RuleRef {
                region: "us-east-1",
                bus: "default",
                name: "orders"
            })
        );
        let custom = "arn:aws:events:eu-west-1:123456789012:rule/shop/orders";
        assert_eq!(
            Work::of(custom, "q").rule(),
            Some(RuleRef {
                region: "eu-west-1",
                bus: "shop",
                name: "orders"
            })
        );
        assert_eq!(Work::of(SCHEDULE, SCHEDULE_TARGET).rule(), None);
        assert_eq!(Work::of(FUNCTION, ASYNC_INVOKE).rule(), None);
        for not_a_rule in [
            "nonsense",
            "arn:aws:events:us-east-1:1:event-bus/x",
            "arn:aws:sqs:us-east-1:1:rule/x",
        ] {
            assert_eq!(RuleRef::of_arn(not_a_rule), None, "{not_a_rule}");
        }
    }

    #[test]
    fn a_rule_target_named_like_the_schedule_target_stays_a_rule_target() {
        assert_eq!(
            Work::of(RULE, SCHEDULE_TARGET),
            Work::RuleTarget {
                rule_arn: RULE,
                target_id: SCHEDULE_TARGET
            }
        );
    }

    #[test]
    fn schedules_are_counted_per_group() {
        let w = Work::ScheduleTick {
            schedule_arn: SCHEDULE,
        };
        assert_eq!(
            w.metrics_rule(),
            "arn:aws:scheduler:us-east-1:123456789012:schedule-group/default"
        );
        let r = Work::RuleTarget {
            rule_arn: RULE,
            target_id: "q",
        };
        assert_eq!(r.metrics_rule(), RULE);
    }
}
