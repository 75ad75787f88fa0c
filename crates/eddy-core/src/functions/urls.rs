//! Function URLs: a function (or one of its aliases) answering HTTP requests at its own
//! address on the HTTP listener, `http://URL_ID.lambda-url.REGION.localhost:PORT/` (Lambda's
//! `https://URL_ID.lambda-url.REGION.on.aws/`, with the listener's address). The configuration
//! lives in the function's definition; the index from URL ids to functions follows the change
//! feed, so every node serves every URL.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{FunctionDef, FunctionError, Functions};

/// One function URL's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UrlConfig {
    /// 32 lowercase letters and digits, the URL's first label.
    pub url_id: String,
    /// `NONE` or `AWS_IAM`.
    pub auth_type: String,
    /// `BUFFERED` or `RESPONSE_STREAM`.
    pub invoke_mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<UrlCors>,
    pub created_ms: i64,
    pub last_modified_ms: i64,
}

/// A function URL's CORS settings (Lambda's `Cors`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UrlCors {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_origins: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u32>,
}

/// What Create/UpdateFunctionUrlConfig set (`None` keeps what is there, on update).
#[derive(Debug, Clone, Default)]
pub struct UrlUpdate {
    pub auth_type: Option<String>,
    pub invoke_mode: Option<String>,
    pub cors: Option<UrlCors>,
}

/// Where a URL id leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTarget {
    pub region: String,
    pub function: String,
    /// `None` for the function's own URL, else the alias.
    pub qualifier: Option<String>,
}

/// URL ids of every function's URLs.
#[derive(Default)]
pub(super) struct UrlIndex {
    ids: HashMap<String, UrlTarget>,
}

impl UrlIndex {
    /// Forgets `before`'s URLs and learns `after`'s.
    pub(super) fn changed(&mut self, before: Option<&FunctionDef>, after: Option<&FunctionDef>) {
        if let Some(b) = before {
            for u in b.urls.values() {
                self.ids.remove(&u.url_id);
            }
        }
        if let Some(a) = after {
            for (q, u) in &a.urls {
                self.ids.insert(
                    u.url_id.clone(),
                    UrlTarget {
                        region: a.region.clone(),
                        function: a.name.clone(),
                        qualifier: (!q.is_empty()).then(|| q.clone()),
                    },
                );
            }
        }
    }
}

/// A new URL id: 32 lowercase letters and digits.
fn new_url_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let (a, b) = uuid::Uuid::new_v4().as_u64_pair();
    let (c, d) = uuid::Uuid::new_v4().as_u64_pair();
    let mut bits = [a, b, c, d].into_iter().flat_map(u64::to_le_bytes);
    (0..32)
        .map(|_| {
            let x = bits.next().unwrap_or(0);
            char::from(ALPHABET[usize::from(x) % ALPHABET.len()])
        })
        .collect()
}

fn check_update(u: &UrlUpdate) -> Result<(), FunctionError> {
    if let Some(a) = &u.auth_type
        && a != "NONE"
        && a != "AWS_IAM"
    {
        return Err(FunctionError::Permission(format!(
            "1 validation error detected: Value '{a}' at 'authType' failed to satisfy \
             constraint: Member must satisfy enum value set: [NONE, AWS_IAM]"
        )));
    }
    if let Some(m) = &u.invoke_mode
        && m != "BUFFERED"
        && m != "RESPONSE_STREAM"
    {
        return Err(FunctionError::Permission(format!(
            "1 validation error detected: Value '{m}' at 'invokeMode' failed to satisfy \
             constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]"
        )));
    }
    Ok(())
}

/// The URL config key of a qualifier: `""` for none, an alias's name, or a refusal (versions
/// and `$LATEST` by name cannot have URLs).
fn url_key(d: &FunctionDef, name: &str, qualifier: Option<&str>) -> Result<String, FunctionError> {
    match qualifier {
        None => Ok(String::new()),
        Some(q) if d.aliases.contains_key(q) => Ok(q.to_owned()),
        Some(q) if d.has_version(q) => Err(FunctionError::UrlQualifier(q.to_owned())),
        Some(q) => Err(FunctionError::QualifierNotFound {
            name: name.to_owned(),
            qualifier: q.to_owned(),
        }),
    }
}

impl Functions {
    /// CreateFunctionUrlConfig.
    pub async fn create_url(
        &self,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
        update: UrlUpdate,
    ) -> Result<UrlConfig, FunctionError> {
        check_update(&update)?;
        let now = self.clock.now_ms();
        self.change(region, name, |d| {
            let q = url_key(d, name, qualifier)?;
            if d.urls.contains_key(&q) {
                return Err(FunctionError::UrlExists(
                    qualifier.map_or_else(|| name.to_owned(), |q| format!("{name}:{q}")),
                ));
            }
            let Some(auth_type) = update.auth_type else {
                return Err(FunctionError::Permission(
                    "1 validation error detected: Value null at 'authType' failed to \
                         satisfy constraint: Member must not be null"
                        .to_owned(),
                ));
            };
            let c = UrlConfig {
                url_id: new_url_id(),
                auth_type,
                invoke_mode: update.invoke_mode.unwrap_or_else(|| "BUFFERED".to_owned()),
                cors: update.cors,
                created_ms: now,
                last_modified_ms: now,
            };
            d.urls.insert(q, c.clone());
            Ok(c)
        })
        .await
    }

    /// UpdateFunctionUrlConfig.
    pub async fn update_url(
        &self,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
        update: UrlUpdate,
    ) -> Result<UrlConfig, FunctionError> {
        check_update(&update)?;
        let now = self.clock.now_ms();
        self.change(region, name, |d| {
            let q = url_key(d, name, qualifier)?;
            let c = d
                .urls
                .get_mut(&q)
                .ok_or_else(|| FunctionError::UrlNotFound(name.to_owned()))?;
            if let Some(a) = update.auth_type {
                c.auth_type = a;
            }
            if let Some(m) = update.invoke_mode {
                c.invoke_mode = m;
            }
            if let Some(cors) = update.cors {
                c.cors = Some(cors);
            }
            c.last_modified_ms = now;
            let c = c.clone();
            Ok(c)
        })
        .await
    }

    /// DeleteFunctionUrlConfig.
    pub async fn delete_url(
        &self,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(), FunctionError> {
        self.change(region, name, |d| {
            let q = url_key(d, name, qualifier)?;
            if d.urls.remove(&q).is_none() {
                return Err(FunctionError::UrlNotFound(name.to_owned()));
            }
            Ok(())
        })
        .await
    }

    /// GetFunctionUrlConfig.
    pub fn url(
        &self,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<UrlConfig, FunctionError> {
        let d = self
            .get(region, name)
            .ok_or_else(|| FunctionError::NotFound(name.to_owned()))?;
        let q = url_key(&d, name, qualifier)?;
        d.urls
            .get(&q)
            .cloned()
            .ok_or_else(|| FunctionError::UrlNotFound(name.to_owned()))
    }

    /// ListFunctionUrlConfigs: every URL of a function, by qualifier (`""` for the function's).
    pub fn urls(
        &self,
        region: &str,
        name: &str,
    ) -> Result<BTreeMap<String, UrlConfig>, FunctionError> {
        let d = self
            .get(region, name)
            .ok_or_else(|| FunctionError::NotFound(name.to_owned()))?;
        Ok(d.urls)
    }

    /// The function (and alias) a URL id leads to, with its configuration.
    pub fn url_target(&self, url_id: &str) -> Option<(UrlTarget, UrlConfig)> {
        let t = self.url_index.read().ok()?.ids.get(url_id)?.clone();
        let d = self.get(&t.region, &t.function)?;
        let c = d.urls.get(t.qualifier.as_deref().unwrap_or(""))?.clone();
        Some((t, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_ids_are_32_lowercase_letters_and_digits() {
        let a = new_url_id();
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_ne!(a, new_url_id());
    }
}
