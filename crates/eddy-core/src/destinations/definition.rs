//! Creating, changing and deleting connections and API destinations: the one place that decides
//! whether their definitions are valid (authorization parameters, endpoints) and whether a change
//! may be made, for every caller (the EventBridge API, the manifest). Refusals are
//! [`DestinationError`]s in the core's words; the EventBridge adapter words them as AWS does.

use serde_json::{Map, Value};

use super::{ApiDestinationDef, ConnectionDef, Destinations};
use crate::core_error::CoreError;

/// A connection to create (CreateConnection).
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub name: String,
    pub description: Option<String>,
    /// `BASIC`, `API_KEY` or `OAUTH_CLIENT_CREDENTIALS`.
    pub authorization_type: String,
    pub auth_parameters: Value,
}

/// A change to a connection (UpdateConnection): what is `None` stays; parameters given are
/// merged into the stored ones block by block (all of them replaced when the type changes).
#[derive(Debug, Clone, Default)]
pub struct ConnectionUpdate {
    pub description: Option<String>,
    pub authorization_type: Option<String>,
    pub auth_parameters: Option<Value>,
}

/// An API destination to create (CreateApiDestination).
#[derive(Debug, Clone)]
pub struct NewDestination {
    pub name: String,
    pub description: Option<String>,
    pub connection_arn: String,
    pub invocation_endpoint: String,
    pub http_method: String,
    /// `None`: the default rate.
    pub invocation_rate_limit_per_second: Option<i64>,
}

/// A change to an API destination (UpdateApiDestination): what is `None` stays.
#[derive(Debug, Clone, Default)]
pub struct DestinationUpdate {
    pub description: Option<String>,
    pub connection_arn: Option<String>,
    pub invocation_endpoint: Option<String>,
    pub http_method: Option<String>,
    pub invocation_rate_limit_per_second: Option<i64>,
}

/// Why a connection or API destination operation refused.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    /// The authorization type needs this block of `AuthParameters`.
    #[error("AuthParameters.{block} is required for AuthorizationType {auth_type}")]
    AuthBlockMissing { block: String, auth_type: String },
    /// A parameter (its path, like `AuthParameters.BasicAuthParameters.Password` or
    /// `InvocationEndpoint`) is missing or not valid.
    #[error("parameter {0} is not valid")]
    InvalidParameter(String),
    #[error("connection {0} does not exist")]
    ConnectionNotFound(String),
    #[error("connection {0} already exists")]
    ConnectionExists(String),
    /// API destinations use it.
    #[error("connection {0} is in use")]
    ConnectionInUse(String),
    #[error("API destination {0} does not exist")]
    DestinationNotFound(String),
    #[error("API destination {0} already exists")]
    DestinationExists(String),
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Checks `AuthParameters` against the authorization type: the matching block must be there
/// with its required members.
fn check_auth(auth_type: &str, p: &Value) -> Result<(), DestinationError> {
    let need = |block: &str, members: &[&str]| -> Result<(), DestinationError> {
        let Some(b) = p.get(block).filter(|b| b.is_object()) else {
            return Err(DestinationError::AuthBlockMissing {
                block: block.to_owned(),
                auth_type: auth_type.to_owned(),
            });
        };
        for m in members {
            match b.get(*m) {
                Some(Value::String(s)) if !s.is_empty() && s.len() <= 2048 => {}
                Some(Value::Object(_)) => {}
                _ => {
                    return Err(DestinationError::InvalidParameter(format!(
                        "AuthParameters.{block}.{m}"
                    )));
                }
            }
        }
        Ok(())
    };
    match auth_type {
        "BASIC" => need("BasicAuthParameters", &["Username", "Password"]),
        "API_KEY" => need("ApiKeyAuthParameters", &["ApiKeyName", "ApiKeyValue"]),
        _ => {
            need(
                "OAuthParameters",
                &["ClientParameters", "AuthorizationEndpoint", "HttpMethod"],
            )?;
            let o = &p["OAuthParameters"];
            for m in ["ClientID", "ClientSecret"] {
                if !o["ClientParameters"].get(m).is_some_and(Value::is_string) {
                    return Err(DestinationError::InvalidParameter(format!(
                        "AuthParameters.OAuthParameters.ClientParameters.{m}"
                    )));
                }
            }
            if !matches!(o["HttpMethod"].as_str(), Some("GET" | "POST" | "PUT")) {
                return Err(DestinationError::InvalidParameter(
                    "AuthParameters.OAuthParameters.HttpMethod".to_owned(),
                ));
            }
            check_endpoint(
                "AuthParameters.OAuthParameters.AuthorizationEndpoint",
                o["AuthorizationEndpoint"].as_str(),
            )
        }
    }
}

/// Endpoints must be absolute http(s) URLs (AWS requires https; eddy also takes http for local
/// endpoints).
fn check_endpoint(member: &str, v: Option<&str>) -> Result<(), DestinationError> {
    match v {
        Some(u)
            if (u.starts_with("https://") || u.starts_with("http://"))
                && u.len() <= 2048
                && reqwest::Url::parse(u).is_ok() =>
        {
            Ok(())
        }
        _ => Err(DestinationError::InvalidParameter(member.to_owned())),
    }
}

/// Merges an update's `AuthParameters` into the stored ones, block by block.
fn merge(into: &mut Value, update: &Value) {
    match (into, update) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// The name in a connection ARN (`…:connection/NAME/UUID`), for messages.
fn connection_name(arn: &str) -> String {
    arn.rsplit('/').nth(1).unwrap_or(arn).to_owned()
}

/// The method and rate of a destination, against `eddy_model`'s limits.
fn check_call(method: Option<&str>, rate: Option<i64>) -> Result<(), DestinationError> {
    use eddy_model::limits::api_destination::{HTTP_METHODS, INVOCATION_RATE};
    if method.is_some_and(|m| !HTTP_METHODS.contains(&m)) {
        return Err(DestinationError::InvalidParameter("HttpMethod".to_owned()));
    }
    if rate.is_some_and(|r| !INVOCATION_RATE.contains(&r)) {
        return Err(DestinationError::InvalidParameter(
            "InvocationRateLimitPerSecond".to_owned(),
        ));
    }
    Ok(())
}

impl Destinations {
    fn existing_connection(
        &self,
        region: &str,
        name: &str,
    ) -> Result<ConnectionDef, DestinationError> {
        self.connection(region, name)
            .ok_or_else(|| DestinationError::ConnectionNotFound(name.to_owned()))
    }

    /// Creates a connection in `region`, authorized.
    pub async fn create_connection(
        &self,
        region: &str,
        new: NewConnection,
    ) -> Result<ConnectionDef, DestinationError> {
        check_auth(&new.authorization_type, &new.auth_parameters)?;
        if self.connection(region, &new.name).is_some() {
            return Err(DestinationError::ConnectionExists(new.name));
        }
        let now = self.clock.now_ms();
        let c = ConnectionDef {
            region: region.to_owned(),
            name: new.name,
            uuid: uuid::Uuid::new_v4().to_string(),
            description: new.description,
            authorization_type: new.authorization_type,
            auth_parameters: new.auth_parameters,
            state: "AUTHORIZED".into(),
            created_ms: now,
            modified_ms: now,
            authorized_ms: now,
        };
        self.put_connection(c.clone()).await?;
        Ok(c)
    }

    /// Changes a connection of `region`; it is authorized again.
    pub async fn update_connection(
        &self,
        region: &str,
        name: &str,
        update: ConnectionUpdate,
    ) -> Result<ConnectionDef, DestinationError> {
        let mut c = self.existing_connection(region, name)?;
        if let Some(d) = update.description {
            c.description = Some(d);
        }
        if let Some(t) = update.authorization_type {
            if t != c.authorization_type {
                c.auth_parameters = Value::Object(Map::new());
            }
            c.authorization_type = t;
        }
        if let Some(p) = update.auth_parameters {
            merge(&mut c.auth_parameters, &p);
        }
        check_auth(&c.authorization_type, &c.auth_parameters)?;
        let now = self.clock.now_ms();
        c.modified_ms = now;
        c.authorized_ms = now;
        c.state = "AUTHORIZED".into();
        self.put_connection(c.clone()).await?;
        Ok(c)
    }

    /// Deletes a connection no API destination uses; answers it as it was.
    pub async fn delete_connection(
        &self,
        region: &str,
        name: &str,
    ) -> Result<ConnectionDef, DestinationError> {
        let c = self.existing_connection(region, name)?;
        let arn = c.arn(&self.account);
        if self
            .destinations_in(region)
            .iter()
            .any(|d| d.connection_arn == arn)
        {
            return Err(DestinationError::ConnectionInUse(name.to_owned()));
        }
        self.connections.delete(region, name).await?;
        Ok(c)
    }

    /// Deauthorizes a connection (its destinations stop being called).
    pub async fn deauthorize_connection(
        &self,
        region: &str,
        name: &str,
    ) -> Result<ConnectionDef, DestinationError> {
        let mut c = self.existing_connection(region, name)?;
        c.state = "DEAUTHORIZED".into();
        c.modified_ms = self.clock.now_ms();
        self.put_connection(c.clone()).await?;
        Ok(c)
    }

    /// Creates an API destination in `region` using an existing connection.
    pub async fn create_destination(
        &self,
        region: &str,
        new: NewDestination,
    ) -> Result<ApiDestinationDef, DestinationError> {
        check_endpoint("InvocationEndpoint", Some(&new.invocation_endpoint))?;
        check_call(Some(&new.http_method), new.invocation_rate_limit_per_second)?;
        let Some(c) = self.connection_by_arn(&new.connection_arn) else {
            return Err(DestinationError::ConnectionNotFound(connection_name(
                &new.connection_arn,
            )));
        };
        if self.destination(region, &new.name).is_some() {
            return Err(DestinationError::DestinationExists(new.name));
        }
        let now = self.clock.now_ms();
        let d = ApiDestinationDef {
            region: region.to_owned(),
            name: new.name,
            uuid: uuid::Uuid::new_v4().to_string(),
            description: new.description,
            connection_arn: c.arn(&self.account),
            invocation_endpoint: new.invocation_endpoint,
            http_method: new.http_method,
            invocation_rate_limit_per_second: new
                .invocation_rate_limit_per_second
                .unwrap_or(eddy_model::limits::api_destination::DEFAULT_INVOCATION_RATE),
            created_ms: now,
            modified_ms: now,
        };
        self.put_destination(d.clone()).await?;
        Ok(d)
    }

    /// Changes an API destination of `region`.
    pub async fn update_destination(
        &self,
        region: &str,
        name: &str,
        update: DestinationUpdate,
    ) -> Result<ApiDestinationDef, DestinationError> {
        if let Some(e) = &update.invocation_endpoint {
            check_endpoint("InvocationEndpoint", Some(e))?;
        }
        check_call(
            update.http_method.as_deref(),
            update.invocation_rate_limit_per_second,
        )?;
        let mut d = self
            .destination(region, name)
            .ok_or_else(|| DestinationError::DestinationNotFound(name.to_owned()))?;
        if let Some(arn) = update.connection_arn {
            let c = self
                .connection_by_arn(&arn)
                .ok_or_else(|| DestinationError::ConnectionNotFound(connection_name(&arn)))?;
            d.connection_arn = c.arn(&self.account);
        }
        if let Some(x) = update.description {
            d.description = Some(x);
        }
        if let Some(x) = update.invocation_endpoint {
            d.invocation_endpoint = x;
        }
        if let Some(x) = update.http_method {
            d.http_method = x;
        }
        if let Some(x) = update.invocation_rate_limit_per_second {
            d.invocation_rate_limit_per_second = x;
        }
        d.modified_ms = self.clock.now_ms();
        self.put_destination(d.clone()).await?;
        Ok(d)
    }

    /// Deletes an API destination of `region`.
    pub async fn delete_destination(
        &self,
        region: &str,
        name: &str,
    ) -> Result<(), DestinationError> {
        if self.destination(region, name).is_none() {
            return Err(DestinationError::DestinationNotFound(name.to_owned()));
        }
        self.destinations.delete(region, name).await?;
        Ok(())
    }
}
