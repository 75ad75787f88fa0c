//! Published versions, aliases and qualified invocations of a function.
//!
//! A version is a snapshot of `$LATEST` (configuration and code) under the next number; it never
//! changes afterwards, and its code's revision directory is kept as long as the version is. An
//! alias names one version, optionally with a second one taking a share of invocations
//! (`RoutingConfig`). Both live inside the function's definition, so they are created, changed
//! and deleted with it, atomically, and every node sees them through the change feed.
//!
//! [`Functions::resolve`] turns a name and a qualifier (none, `$LATEST`, a version number or an
//! alias) into what to run: the version's definition and its pool (`NAME:N` in the pools).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{FunctionDef, FunctionError, Functions};
use crate::registry;

/// `$LATEST`, the unpublished version.
pub const LATEST: &str = "$LATEST";

/// One alias of a function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alias {
    pub name: String,
    /// A version number or `$LATEST`.
    pub function_version: String,
    #[serde(default)]
    pub description: String,
    /// `RoutingConfig.AdditionalVersionWeights`: another version and the share (0-1) of
    /// invocations it takes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routing: BTreeMap<String, f64>,
    pub revision_id: String,
}

/// What an alias change sets (`None` keeps what is there, on update).
#[derive(Debug, Clone, Default)]
pub struct AliasUpdate {
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing: Option<BTreeMap<String, f64>>,
}

/// A function invocation's target: which version runs, and what the caller named.
#[derive(Clone)]
pub struct Resolved {
    /// The version's definition (`$LATEST`'s, or the published snapshot).
    pub def: FunctionDef,
    /// `$LATEST` or the version number that runs.
    pub version: String,
    /// The ARN as the caller qualified it (unqualified when no qualifier was given).
    pub invoked_arn: String,
    pub pool: Arc<eddy_runtime::Pool>,
}

/// Why a qualifier names nothing.
fn missing(name: &str, qualifier: &str) -> FunctionError {
    FunctionError::QualifierNotFound {
        name: name.to_owned(),
        qualifier: qualifier.to_owned(),
    }
}

/// A version number as the API gives it (`1`, `2`, ...), in its one spelling (no leading
/// zeros: `01` is no version, so an alias and a delete always compare the same text).
pub fn version_number(q: &str) -> Option<u32> {
    (!q.is_empty() && q.len() <= 10 && q.bytes().all(|b| b.is_ascii_digit()) && !q.starts_with('0'))
        .then(|| q.parse().ok())
        .flatten()
        .filter(|n| *n > 0)
}

/// The pool key of a published version.
pub(super) fn version_key(region: &str, name: &str, version: u32) -> String {
    format!("{}:{version}", registry::key(region, name))
}

/// An alias name: `(?!^[0-9]+$)([a-zA-Z0-9-_]+)`, 1-128 characters.
fn check_alias_name(name: &str) -> Result<(), FunctionError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(FunctionError::AliasName(name.to_owned()))
    }
}

impl FunctionDef {
    /// The snapshot a new version keeps: this definition without what belongs to the function
    /// as a whole (versions, aliases, permissions, URLs, tags).
    fn snapshot(&self, description: String) -> FunctionDef {
        FunctionDef {
            description,
            versions: BTreeMap::new(),
            aliases: BTreeMap::new(),
            policy: BTreeMap::new(),
            urls: BTreeMap::new(),
            tags: BTreeMap::new(),
            last_version: 0,
            ..self.clone()
        }
    }

    /// Whether `version` is `$LATEST` or a published version of this function.
    pub fn has_version(&self, version: &str) -> bool {
        version == LATEST || version_number(version).is_some_and(|n| self.versions.contains_key(&n))
    }

    /// Whether `qualifier` (a version or an alias) exists.
    pub fn has_qualifier(&self, qualifier: &str) -> bool {
        self.has_version(qualifier) || self.aliases.contains_key(qualifier)
    }

    /// The definition of a version (`$LATEST` or a number); `None` when there is no such version.
    pub fn version_def(&self, version: &str) -> Option<&FunctionDef> {
        if version == LATEST {
            return Some(self);
        }
        self.versions.get(&version_number(version)?)
    }

    /// The version an alias sends one invocation to, honouring its routing weights. `draw` is
    /// a number in [0, 1).
    pub fn alias_version(alias: &Alias, draw: f64) -> &str {
        let mut acc = 0.0;
        for (v, w) in &alias.routing {
            acc += w;
            if draw < acc {
                return v;
            }
        }
        &alias.function_version
    }
}

/// A uniform number in [0, 1) (48 random bits of a v4 uuid).
fn draw() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u64_pair().0 >> 16;
    bits as f64 / (1_u64 << 48) as f64
}

impl Functions {
    /// What to run for `name` with `qualifier` (none, `$LATEST`, a version or an alias).
    pub fn resolve(
        &self,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<Resolved, FunctionError> {
        let def = self
            .get(region, name)
            .ok_or_else(|| FunctionError::NotFound(name.to_owned()))?;
        let arn = def.arn(&self.account);
        let (version, invoked_arn) = match qualifier {
            None => (LATEST.to_owned(), arn),
            Some(q) if def.has_version(q) => (q.to_owned(), format!("{arn}:{q}")),
            Some(q) => {
                let alias = def.aliases.get(q).ok_or_else(|| missing(name, q))?;
                (
                    FunctionDef::alias_version(alias, draw()).to_owned(),
                    format!("{arn}:{q}"),
                )
            }
        };
        let vdef = def
            .version_def(&version)
            .ok_or_else(|| missing(name, &version))?
            .clone();
        let pool = match version_number(&version) {
            Some(n) => self.pools.get(&version_key(region, name, n)),
            None => self.pool(region, name),
        }
        .ok_or_else(|| FunctionError::NotFound(name.to_owned()))?;
        Ok(Resolved {
            def: vdef,
            version,
            invoked_arn,
            pool,
        })
    }

    /// PublishVersion: a new version from `$LATEST`, or the latest version when nothing
    /// changed since it was published (as Lambda answers). `code_sha256` and `revision`, when
    /// given, must be `$LATEST`'s. Returns the function and the version's number.
    pub async fn publish_version(
        &self,
        region: &str,
        name: &str,
        description: Option<String>,
        code_sha256: Option<&str>,
        revision: Option<&str>,
    ) -> Result<(FunctionDef, u32), FunctionError> {
        let now = self.clock.now_ms();
        let n = self
            .change(region, name, |d| {
                if revision.is_some_and(|r| r != d.revision_id) {
                    return Err(FunctionError::RevisionMismatch);
                }
                if let Some(sha) = code_sha256
                    && sha != d.code_sha256
                {
                    return Err(FunctionError::CodeShaMismatch {
                        given: sha.to_owned(),
                        latest: d.code_sha256.clone(),
                    });
                }
                if let Some((n, last)) = d.versions.iter().next_back()
                    && unchanged(last, d)
                {
                    let n = *n;
                    return Ok(n);
                }
                let n = d.last_version + 1;
                let mut v = d.snapshot(description.unwrap_or_else(|| d.description.clone()));
                v.last_modified_ms = now;
                v.revision_id = uuid::Uuid::new_v4().to_string();
                d.versions.insert(n, v);
                d.last_version = n;
                d.revision_id = uuid::Uuid::new_v4().to_string();
                Ok(n)
            })
            .await?;
        let d = self
            .get(region, name)
            .ok_or_else(|| FunctionError::NotFound(name.to_owned()))?;
        Ok((d, n))
    }

    /// DeleteFunction with a version qualifier: deletes one published version, unless an alias
    /// uses it.
    pub async fn delete_version(
        &self,
        region: &str,
        name: &str,
        version: &str,
    ) -> Result<(), FunctionError> {
        self.change(region, name, |d| {
            let Some(n) = version_number(version) else {
                return Err(FunctionError::DeleteLatest);
            };
            let aliases: Vec<String> = d
                .aliases
                .values()
                .filter(|a| a.function_version == version || a.routing.contains_key(version))
                .map(|a| a.name.clone())
                .collect();
            if !aliases.is_empty() {
                return Err(FunctionError::VersionInUse {
                    version: version.to_owned(),
                    aliases,
                });
            }
            d.versions.remove(&n);
            d.policy.remove(version);
            Ok(())
        })
        .await
    }

    /// CreateAlias.
    pub async fn create_alias(
        &self,
        region: &str,
        name: &str,
        alias: &str,
        update: AliasUpdate,
    ) -> Result<Alias, FunctionError> {
        check_alias_name(alias)?;
        self.change(region, name, |d| {
            if d.aliases.contains_key(alias) {
                return Err(FunctionError::AliasExists(alias.to_owned()));
            }
            let a = Alias {
                name: alias.to_owned(),
                function_version: update.function_version.unwrap_or_default(),
                description: update.description.unwrap_or_default(),
                routing: update.routing.unwrap_or_default(),
                revision_id: uuid::Uuid::new_v4().to_string(),
            };
            check_alias(d, &a)?;
            d.aliases.insert(alias.to_owned(), a.clone());
            Ok(a)
        })
        .await
    }

    /// UpdateAlias, only if `revision` (when given) is the alias's.
    pub async fn update_alias(
        &self,
        region: &str,
        name: &str,
        alias: &str,
        update: AliasUpdate,
        revision: Option<&str>,
    ) -> Result<Alias, FunctionError> {
        self.change(region, name, |d| {
            let mut a = d
                .aliases
                .get(alias)
                .cloned()
                .ok_or_else(|| FunctionError::AliasNotFound(alias.to_owned()))?;
            if revision.is_some_and(|r| r != a.revision_id) {
                return Err(FunctionError::RevisionMismatch);
            }
            if let Some(v) = update.function_version {
                a.function_version = v;
            }
            if let Some(x) = update.description {
                a.description = x;
            }
            if let Some(r) = update.routing {
                a.routing = r;
            }
            a.revision_id = uuid::Uuid::new_v4().to_string();
            check_alias(d, &a)?;
            d.aliases.insert(alias.to_owned(), a.clone());
            Ok(a)
        })
        .await
    }

    /// DeleteAlias (nothing when there is none, as Lambda answers).
    pub async fn delete_alias(
        &self,
        region: &str,
        name: &str,
        alias: &str,
    ) -> Result<(), FunctionError> {
        self.change(region, name, |d| {
            d.aliases.remove(alias);
            d.policy.remove(alias);
            d.urls.remove(alias);
            Ok(())
        })
        .await
    }
}

/// An alias's versions exist and its routing is one other version with a weight in [0, 1].
fn check_alias(d: &FunctionDef, a: &Alias) -> Result<(), FunctionError> {
    if !d.has_version(&a.function_version) {
        return Err(FunctionError::VersionNotFound(a.function_version.clone()));
    }
    if a.routing.len() > 1 {
        return Err(FunctionError::Routing(
            "Number of items in AdditionalVersionWeights cannot be greater than 1".to_owned(),
        ));
    }
    for (v, w) in &a.routing {
        if !(0.0..=1.0).contains(w) {
            return Err(FunctionError::RoutingWeight {
                version: v.clone(),
                weight: *w,
            });
        }
        if a.function_version == LATEST || v == LATEST {
            return Err(FunctionError::Routing(
                "$LATEST is not supported for an alias pointing to more than 1 version".to_owned(),
            ));
        }
        if !d.has_version(v) {
            return Err(FunctionError::VersionNotFound(v.clone()));
        }
        if *v == a.function_version {
            return Err(FunctionError::Routing(format!(
                "Invalid function version {v}. Function version {v} is already included in \
                 routing configuration."
            )));
        }
    }
    Ok(())
}

/// Whether a published version has `latest`'s code and configuration (a new version would be
/// the same).
fn unchanged(version: &FunctionDef, latest: &FunctionDef) -> bool {
    let strip = |d: &FunctionDef| FunctionDef {
        description: String::new(),
        last_modified_ms: 0,
        revision_id: String::new(),
        reserved_concurrency: None,
        event_invoke: None,
        ..d.snapshot(String::new())
    };
    strip(version) == strip(latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_numbers() {
        assert_eq!(version_number("1"), Some(1));
        assert_eq!(version_number("42"), Some(42));
        assert_eq!(version_number("0"), None);
        assert_eq!(version_number("01"), None);
        assert_eq!(version_number("$LATEST"), None);
        assert_eq!(version_number("live"), None);
        assert_eq!(version_number(""), None);
        assert_eq!(version_number("99999999999"), None);
    }

    #[test]
    fn alias_names() {
        assert!(check_alias_name("live").is_ok());
        assert!(check_alias_name("v1_blue-2").is_ok());
        assert!(check_alias_name("12").is_err());
        assert!(check_alias_name("").is_err());
        assert!(check_alias_name("a:b").is_err());
        assert!(check_alias_name(&"a".repeat(129)).is_err());
    }

    #[test]
    fn routing_weights_split_draws() {
        let a = Alias {
            name: "live".into(),
            function_version: "1".into(),
            description: String::new(),
            routing: [("2".to_owned(), 0.1)].into(),
            revision_id: String::new(),
        };
        assert_eq!(FunctionDef::alias_version(&a, 0.0), "2");
        assert_eq!(FunctionDef::alias_version(&a, 0.0999), "2");
        assert_eq!(FunctionDef::alias_version(&a, 0.1), "1");
        assert_eq!(FunctionDef::alias_version(&a, 0.999), "1");
        let draws: Vec<f64> = (0..1000).map(|_| draw()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let low = draws.iter().filter(|d| **d < 0.5).count();
        assert!((350..650).contains(&low), "{low}");
    }
}
