//! Log groups: where log-group targets write delivered events, readable with the CloudWatch Logs
//! calls. Group definitions live in the store's definitions; log events in its log table.

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_store::{Definition, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core_error::CoreError;
use crate::registry::{self, Named, Registry};

/// A log group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogGroupDef {
    pub region: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<i64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub created_ms: i64,
}

impl LogGroupDef {
    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:logs:{}:{account}:log-group:{}",
            self.region, self.name
        )
    }

    /// The key log events are stored under.
    pub fn key(&self) -> String {
        registry::key(&self.region, &self.name)
    }
}

impl Named for LogGroupDef {
    const KIND: &'static str = "log-group";

    fn region(&self) -> &str {
        &self.region
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// See the module docs.
pub struct LogGroups {
    store: Arc<dyn Store>,
    groups: Registry<LogGroupDef>,
}

impl LogGroups {
    pub fn load(store: Arc<dyn Store>, definitions: &[Definition]) -> anyhow::Result<Self> {
        Ok(Self {
            groups: Registry::load(store.clone(), definitions)?,
            store,
        })
    }

    pub fn get(&self, region: &str, name: &str) -> Option<LogGroupDef> {
        self.groups.get(region, name)
    }

    pub fn list(&self, region: &str) -> Vec<LogGroupDef> {
        self.groups.list(region)
    }

    pub async fn put(&self, g: LogGroupDef) -> Result<(), CoreError> {
        self.groups.put(g).await
    }

    /// Deletes a group and its log events.
    pub async fn delete(&self, g: &LogGroupDef) -> Result<(), CoreError> {
        self.groups.delete(&g.region, &g.name).await?;
        self.store.logs_delete_group(g.key()).await?;
        Ok(())
    }

    /// Forgets everything (after the store was reset).
    pub fn clear(&self) {
        self.groups.clear();
    }
}

/// A CloudWatch Logs filter pattern, in the subset eddy supports: empty (everything), terms
/// that must all appear (`ERROR timeout`, `"exact phrase"`), or a JSON condition
/// `{ $.a.b = "v" }` / `{ $.n = 5 }` / `!=`, joined with `&&`.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterPattern {
    All,
    Terms(Vec<String>),
    Json(Vec<(Vec<String>, bool, Value)>),
}

impl FilterPattern {
    pub fn parse(src: &str) -> Result<Self, String> {
        let s = src.trim();
        if s.is_empty() {
            return Ok(FilterPattern::All);
        }
        if let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            let mut conds = Vec::new();
            for clause in inner.split("&&") {
                let clause = clause.trim();
                let (path, eq, value) = if let Some((p, v)) = clause.split_once("!=") {
                    (p, false, v)
                } else if let Some((p, v)) = clause.split_once('=') {
                    (p, true, v)
                } else {
                    return Err(format!("unsupported filter clause `{clause}`"));
                };
                let path = path
                    .trim()
                    .strip_prefix("$.")
                    .ok_or("a JSON filter path starts with `$.`")?;
                let value: Value = serde_json::from_str(value.trim())
                    .map_err(|_| format!("unsupported filter value `{}`", value.trim()))?;
                conds.push((path.split('.').map(str::to_owned).collect(), eq, value));
            }
            return Ok(FilterPattern::Json(conds));
        }
        let mut terms = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix('"') {
                let end = r.find('"').ok_or("unterminated quoted term")?;
                terms.push(r[..end].to_owned());
                rest = &r[end + 1..];
            } else {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                terms.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
        terms.retain(|t| !t.is_empty());
        Ok(FilterPattern::Terms(terms))
    }

    pub fn matches(&self, message: &str) -> bool {
        match self {
            FilterPattern::All => true,
            FilterPattern::Terms(t) => t.iter().all(|t| message.contains(t.as_str())),
            FilterPattern::Json(conds) => {
                let Ok(v) = serde_json::from_str::<Value>(message) else {
                    return false;
                };
                conds.iter().all(|(path, eq, want)| {
                    let got = path.iter().try_fold(&v, |v, k| v.get(k));
                    let same = got.is_some_and(|g| match (g, want) {
                        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                        (a, b) => a == b,
                    });
                    same == *eq
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_patterns() {
        assert!(FilterPattern::parse("").unwrap().matches("anything"));
        let t = FilterPattern::parse(r#"ERROR "disk full""#).unwrap();
        assert!(t.matches("ERROR: disk full on /"));
        assert!(!t.matches("ERROR: disk almost full"));
        let j = FilterPattern::parse(r#"{ $.detail.state = "NEW" && $.detail.n != 3 }"#).unwrap();
        assert!(j.matches(r#"{"detail":{"state":"NEW","n":4}}"#));
        assert!(!j.matches(r#"{"detail":{"state":"NEW","n":3.0}}"#));
        assert!(!j.matches("not json"));
        assert!(FilterPattern::parse("{ $.a > 1 }").is_err());
    }
}
