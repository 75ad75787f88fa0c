//! Metric filters of log groups (PutMetricFilter and friends): each log event written to a
//! group (through PutLogEvents, a log-group target or a function's own logs) that matches a
//! filter's pattern adds the filter's `metricValue` (a number, or `$.path` of a JSON message)
//! to `eddy_log_metric_filter_value{group, filter, namespace, metric}` in `/metrics`; an event
//! that does not match adds the `defaultValue`, when there is one. The counters are the node's
//! own (as every metric), not persisted: CloudWatch metrics are not served.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::logs::{FilterPattern, LogGroupDef};
use crate::metrics::{LogFilterLabels, Metrics};

/// Metric filters per log group (CloudWatch Logs' quota).
pub const MAX_PER_GROUP: usize = 100;

/// One metric filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricFilter {
    pub filter_pattern: String,
    pub transformations: Vec<MetricTransformation>,
    pub created_ms: i64,
}

/// What a matching event adds to which metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricTransformation {
    pub metric_name: String,
    pub metric_namespace: String,
    /// A number, or `$.path` into a JSON message.
    pub metric_value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl MetricTransformation {
    /// Checks `metricValue`: a number or `$.path`.
    pub fn check(&self) -> Result<(), String> {
        if self
            .default_value
            .is_some_and(|d| !d.is_finite() || d < 0.0)
        {
            return Err("Invalid default value: a finite number, 0 or more".to_owned());
        }
        if self
            .metric_value
            .parse::<f64>()
            .is_ok_and(|n| n.is_finite() && n >= 0.0)
            || self
                .metric_value
                .strip_prefix("$.")
                .is_some_and(|p| !p.is_empty())
        {
            Ok(())
        } else {
            Err(format!(
                "Invalid metric value `{}`: eddy takes a number or a JSON selector `$.path`",
                self.metric_value
            ))
        }
    }

    /// The value a matching event adds: the number, or the number at the JSON path.
    fn value(&self, message: &str, parsed: &mut Option<Option<Value>>) -> Option<f64> {
        if let Ok(n) = self.metric_value.parse::<f64>() {
            return Some(n);
        }
        let path = self.metric_value.strip_prefix("$.")?;
        let json = parsed.get_or_insert_with(|| serde_json::from_str(message).ok());
        let mut v = json.as_ref()?;
        for key in path.split('.') {
            v = v.get(key)?;
        }
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }
}

/// Counts `messages`, written to group `g`, into the metrics of its filters.
pub fn count<'a>(metrics: &Metrics, g: &LogGroupDef, messages: impl Iterator<Item = &'a str>) {
    if g.metric_filters.is_empty() {
        return;
    }
    let compiled: Vec<(&String, &MetricFilter, FilterPattern)> = g
        .metric_filters
        .iter()
        .filter_map(|(name, f)| Some((name, f, FilterPattern::parse(&f.filter_pattern).ok()?)))
        .collect();
    let mut sums: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for message in messages {
        let mut parsed = None;
        for (i, (_, f, pattern)) in compiled.iter().enumerate() {
            let matched = pattern.matches(message);
            for (j, t) in f.transformations.iter().enumerate() {
                let add = if matched {
                    t.value(message, &mut parsed)
                } else {
                    t.default_value
                };
                // Counters only go up: values that are not finite or are below zero are skipped.
                if let Some(v) = add.filter(|v| v.is_finite() && *v >= 0.0) {
                    *sums.entry((i, j)).or_default() += v;
                }
            }
        }
    }
    for ((i, j), v) in sums {
        let (name, f, _) = &compiled[i];
        let t = &f.transformations[j];
        metrics
            .log_metric_filters
            .get_or_create(&LogFilterLabels {
                group: g.name.clone(),
                filter: (*name).clone(),
                namespace: t.metric_namespace.clone(),
                metric: t.metric_name.clone(),
            })
            .inc_by(v);
    }
}

/// TestMetricFilter: the messages (1-based numbers) a pattern matches.
pub fn test(pattern: &str, messages: &[String]) -> Result<Vec<(usize, String)>, String> {
    let p = FilterPattern::parse(pattern)?;
    Ok(messages
        .iter()
        .enumerate()
        .filter(|(_, m)| p.matches(m))
        .map(|(i, m)| (i + 1, m.clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(filters: Vec<(&str, &str, &str, Option<f64>)>) -> LogGroupDef {
        LogGroupDef {
            region: "r".into(),
            name: "/app".into(),
            retention_in_days: None,
            tags: BTreeMap::new(),
            created_ms: 0,
            streams: BTreeMap::new(),
            metric_filters: filters
                .into_iter()
                .map(|(name, pattern, value, default)| {
                    (
                        name.to_owned(),
                        MetricFilter {
                            filter_pattern: pattern.to_owned(),
                            transformations: vec![MetricTransformation {
                                metric_name: format!("{name}-metric"),
                                metric_namespace: "App".into(),
                                metric_value: value.to_owned(),
                                default_value: default,
                                unit: None,
                            }],
                            created_ms: 0,
                        },
                    )
                })
                .collect(),
            subscription_filters: BTreeMap::new(),
        }
    }

    fn value(m: &Metrics, filter: &str) -> f64 {
        m.log_metric_filters
            .get_or_create(&LogFilterLabels {
                group: "/app".into(),
                filter: filter.into(),
                namespace: "App".into(),
                metric: format!("{filter}-metric"),
            })
            .get()
    }

    #[test]
    fn matching_events_add_their_values() {
        let m = Metrics::new();
        let g = group(vec![
            ("errors", "ERROR", "1", Some(0.0)),
            ("latency", "{ $.kind = \"req\" }", "$.ms", None),
        ]);
        let messages = [
            "ERROR disk full",
            r#"{"kind":"req","ms":12.5}"#,
            r#"{"kind":"req","ms":"7"}"#,
            "ok",
            "ERROR again",
        ];
        count(&m, &g, messages.iter().copied());
        assert_eq!(value(&m, "errors"), 2.0);
        assert_eq!(value(&m, "latency"), 19.5);
        assert_eq!(
            test("ERROR", &messages.map(str::to_owned)).unwrap(),
            vec![
                (1, "ERROR disk full".to_owned()),
                (5, "ERROR again".to_owned())
            ]
        );
    }
}
