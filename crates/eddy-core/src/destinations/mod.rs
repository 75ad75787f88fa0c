//! Connections and API destinations: the HTTP endpoints rules deliver to (EventBridge
//! `CreateConnection` / `CreateApiDestination`), persisted in the store.
//!
//! A connection holds how to authorise (API key, Basic, OAuth client credentials, plus extra
//! headers, query parameters and body parameters); an API destination is an endpoint, an HTTP
//! method and an invocation rate limit, using one connection. Secrets are kept in the store and
//! never returned by the API. Unlike AWS, endpoints may be plain `http://` (local webhooks).

use std::sync::Arc;

use eddy_store::{Definition, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::core_error::CoreError;
use crate::follow::{Feed, Follow};
use crate::registry::{Named, Registry};

mod definition;

pub use definition::{
    ConnectionUpdate, DestinationError, DestinationUpdate, NewConnection, NewDestination,
};

/// A connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionDef {
    pub region: String,
    pub name: String,
    pub uuid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub authorization_type: String,
    /// `AuthParameters` as given, secrets included.
    pub auth_parameters: Value,
    pub state: String,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub authorized_ms: i64,
}

impl ConnectionDef {
    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:events:{}:{account}:connection/{}/{}",
            self.region, self.name, self.uuid
        )
    }

    /// `AuthParameters` without secrets, as Describe returns them.
    pub fn public_auth_parameters(&self) -> Value {
        let p = &self.auth_parameters;
        let mut out = serde_json::Map::new();
        if let Some(b) = p.get("BasicAuthParameters") {
            out.insert(
                "BasicAuthParameters".into(),
                json!({ "Username": b.get("Username") }),
            );
        }
        if let Some(k) = p.get("ApiKeyAuthParameters") {
            out.insert(
                "ApiKeyAuthParameters".into(),
                json!({ "ApiKeyName": k.get("ApiKeyName") }),
            );
        }
        if let Some(o) = p.get("OAuthParameters") {
            let mut oauth = serde_json::Map::new();
            if let Some(id) = o.get("ClientParameters").and_then(|c| c.get("ClientID")) {
                oauth.insert("ClientParameters".into(), json!({ "ClientID": id }));
            }
            for k in ["AuthorizationEndpoint", "HttpMethod"] {
                if let Some(v) = o.get(k) {
                    oauth.insert(k.into(), v.clone());
                }
            }
            if let Some(h) = o.get("OAuthHttpParameters") {
                oauth.insert("OAuthHttpParameters".into(), public_http_parameters(h));
            }
            out.insert("OAuthParameters".into(), Value::Object(oauth));
        }
        if let Some(h) = p.get("InvocationHttpParameters") {
            out.insert("InvocationHttpParameters".into(), public_http_parameters(h));
        }
        Value::Object(out)
    }
}

/// Connection HTTP parameters with the values marked secret left out.
fn public_http_parameters(h: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for list in [
        "HeaderParameters",
        "QueryStringParameters",
        "BodyParameters",
    ] {
        if let Some(items) = h.get(list).and_then(Value::as_array) {
            let items: Vec<Value> = items
                .iter()
                .map(|p| {
                    let secret = p
                        .get("IsValueSecret")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    let mut v = json!({ "Key": p.get("Key"), "IsValueSecret": secret });
                    if !secret {
                        v["Value"] = p.get("Value").cloned().unwrap_or(Value::Null);
                    }
                    v
                })
                .collect();
            out.insert(list.into(), Value::Array(items));
        }
    }
    Value::Object(out)
}

/// An API destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiDestinationDef {
    pub region: String,
    pub name: String,
    pub uuid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub connection_arn: String,
    pub invocation_endpoint: String,
    pub http_method: String,
    /// Invocations per second (AWS's default is 300).
    pub invocation_rate_limit_per_second: i64,
    pub created_ms: i64,
    pub modified_ms: i64,
}

impl ApiDestinationDef {
    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:events:{}:{account}:api-destination/{}/{}",
            self.region, self.name, self.uuid
        )
    }
}

impl Named for ConnectionDef {
    const KIND: &'static str = "connection";

    fn region(&self) -> &str {
        &self.region
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for ApiDestinationDef {
    const KIND: &'static str = "api-destination";

    fn region(&self) -> &str {
        &self.region
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// See the module docs.
pub struct Destinations {
    connections: Registry<ConnectionDef>,
    destinations: Registry<ApiDestinationDef>,
    account: String,
    clock: Clock,
}

impl Destinations {
    pub fn load(
        store: Arc<dyn Store>,
        feed: Arc<Feed>,
        definitions: &[Definition],
        account: String,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            connections: Registry::load(store.clone(), feed.clone(), definitions)?,
            destinations: Registry::load(store, feed, definitions)?,
            account,
            clock,
        })
    }

    pub fn connection(&self, region: &str, name: &str) -> Option<ConnectionDef> {
        self.connections.get(region, name)
    }

    pub fn destination(&self, region: &str, name: &str) -> Option<ApiDestinationDef> {
        self.destinations.get(region, name)
    }

    pub fn connections_in(&self, region: &str) -> Vec<ConnectionDef> {
        self.connections.list(region)
    }

    pub fn destinations_in(&self, region: &str) -> Vec<ApiDestinationDef> {
        self.destinations.list(region)
    }

    /// The connection a connection ARN names (`…:connection/NAME/UUID`).
    pub fn connection_by_arn(&self, arn: &str) -> Option<ConnectionDef> {
        let a = eddy_model::names::Arn::parse(arn)?;
        let rest = a.resource.strip_prefix("connection/")?;
        let name = rest.split('/').next()?;
        self.connection(a.region, name)
    }

    /// Stores a connection (create or replace).
    async fn put_connection(&self, c: ConnectionDef) -> Result<(), CoreError> {
        self.connections.put(c).await
    }

    /// Stores an API destination (create or replace).
    async fn put_destination(&self, d: ApiDestinationDef) -> Result<(), CoreError> {
        self.destinations.put(d).await
    }
}

impl Follow for Destinations {
    fn follow(&self, changes: &[eddy_store::DefinitionChange]) {
        self.connections.follow(changes);
        self.destinations.follow(changes);
    }

    fn reload(&self, definitions: &[Definition]) {
        self.connections.reload(definitions);
        self.destinations.reload(definitions);
    }
}
