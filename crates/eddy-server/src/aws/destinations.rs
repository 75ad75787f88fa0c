//! EventBridge connections and API destinations over AWS JSON 1.1 (`AWSEvents.CreateConnection`
//! … `AWSEvents.DeleteApiDestination`).

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ctx, Page, empty, parse, reply};
use crate::App;
use crate::destinations::{
    ApiDestinationDef, ConnectionDef, ConnectionUpdate, DestinationError, DestinationUpdate,
    NewConnection, NewDestination,
};
use crate::error::{ApiError, Violations};
use eddy_model::names::RULE_NAME;

const AUTH_TYPES: [&str; 3] = ["BASIC", "OAUTH_CLIENT_CREDENTIALS", "API_KEY"];

/// The operations this module answers.
const OPERATIONS: [&str; 11] = [
    "CreateConnection",
    "DescribeConnection",
    "ListConnections",
    "UpdateConnection",
    "DeleteConnection",
    "DeauthorizeConnection",
    "CreateApiDestination",
    "DescribeApiDestination",
    "ListApiDestinations",
    "UpdateApiDestination",
    "DeleteApiDestination",
];

/// Runs one connection or API destination operation; `None` when `op` is not one of them.
pub async fn call(
    app: &App,
    ctx: &Ctx,
    op: &str,
    body: &[u8],
) -> Option<Result<Vec<u8>, ApiError>> {
    if !OPERATIONS.contains(&op) {
        return None;
    }
    Some(run(app, ctx, op, body).await)
}

async fn run(app: &App, ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    match op {
        "CreateConnection" => create_connection(app, ctx, parse(body)?).await,
        "DescribeConnection" => describe_connection(app, ctx, parse(body)?),
        "ListConnections" => list_connections(app, ctx, parse(body)?),
        "UpdateConnection" => update_connection(app, ctx, parse(body)?).await,
        "DeleteConnection" => delete_connection(app, ctx, parse(body)?).await,
        "DeauthorizeConnection" => deauthorize_connection(app, ctx, parse(body)?).await,
        "CreateApiDestination" => create_destination(app, ctx, parse(body)?).await,
        "DescribeApiDestination" => describe_destination(app, ctx, parse(body)?),
        "ListApiDestinations" => list_destinations(app, ctx, parse(body)?),
        "UpdateApiDestination" => update_destination(app, ctx, parse(body)?).await,
        _ => delete_destination(app, ctx, parse(body)?).await,
    }
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn connection_missing(name: &str) -> ApiError {
    ApiError::not_found(format!("Connection '{name}' does not exist."))
}

fn destination_missing(name: &str) -> ApiError {
    ApiError::not_found(format!("An api-destination '{name}' does not exist."))
}

/// EventBridge's words for the core's refusals of connection and API destination changes.
impl From<DestinationError> for ApiError {
    fn from(e: DestinationError) -> Self {
        match e {
            DestinationError::AuthBlockMissing { block, auth_type } => {
                ApiError::validation(format!(
                    "Parameter AuthParameters.{block} is required for AuthorizationType \
                     {auth_type}."
                ))
            }
            DestinationError::InvalidParameter(member) => {
                ApiError::validation(format!("Parameter {member} is not valid."))
            }
            DestinationError::ConnectionNotFound(name) => connection_missing(&name),
            DestinationError::ConnectionExists(name) => {
                ApiError::already_exists(format!("Connection {name} already exists."))
            }
            DestinationError::ConnectionInUse(name) => ApiError::validation(format!(
                "Connection '{name}' is in use by API destinations and cannot be deleted."
            )),
            DestinationError::DestinationNotFound(name) => destination_missing(&name),
            DestinationError::DestinationExists(name) => {
                ApiError::already_exists(format!("An api-destination '{name}' already exists."))
            }
            DestinationError::Core(e) => e.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Connections

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConnectionInput {
    name: Option<String>,
    description: Option<String>,
    authorization_type: Option<String>,
    auth_parameters: Option<Value>,
    #[allow(dead_code)]
    kms_key_identifier: Option<String>,
}

fn connection_summary(app: &App, c: &ConnectionDef) -> Value {
    json!({
        "ConnectionArn": c.arn(&app.config.account_id),
        "Name": c.name,
        "ConnectionState": c.state,
        "AuthorizationType": c.authorization_type,
        "CreationTime": secs(c.created_ms),
        "LastModifiedTime": secs(c.modified_ms),
        "LastAuthorizedTime": secs(c.authorized_ms),
    })
}

fn state_reply(app: &App, c: &ConnectionDef) -> Result<Vec<u8>, ApiError> {
    reply(&json!({
        "ConnectionArn": c.arn(&app.config.account_id),
        "ConnectionState": c.state,
        "CreationTime": secs(c.created_ms),
        "LastModifiedTime": secs(c.modified_ms),
        "LastAuthorizedTime": secs(c.authorized_ms),
    }))
}

async fn create_connection(
    app: &App,
    ctx: &Ctx,
    input: ConnectionInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.name("name", input.name.as_deref(), RULE_NAME, true);
    v.length("description", input.description.as_deref(), 0, 512);
    if input.authorization_type.is_none() {
        v.required("authorizationType");
    }
    v.one_of(
        "authorizationType",
        input.authorization_type.as_deref(),
        &AUTH_TYPES,
    );
    if input.auth_parameters.is_none() {
        v.required("authParameters");
    }
    v.finish()?;
    let (Some(name), Some(auth_type), Some(params)) =
        (input.name, input.authorization_type, input.auth_parameters)
    else {
        return Err(ApiError::internal("checked above"));
    };
    let c = app
        .destinations
        .create_connection(
            &ctx.region,
            NewConnection {
                name,
                description: input.description,
                authorization_type: auth_type,
                auth_parameters: params,
            },
        )
        .await?;
    state_reply(app, &c)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NameInput {
    name: Option<String>,
}

fn named(input: NameInput) -> Result<String, ApiError> {
    let mut v = Violations::new();
    v.name("name", input.name.as_deref(), RULE_NAME, true);
    v.finish()?;
    Ok(input.name.unwrap_or_default())
}

fn describe_connection(app: &App, ctx: &Ctx, input: NameInput) -> Result<Vec<u8>, ApiError> {
    let name = named(input)?;
    let c = app
        .destinations
        .connection(&ctx.region, &name)
        .ok_or_else(|| connection_missing(&name))?;
    let mut out = connection_summary(app, &c);
    if let Some(d) = &c.description {
        out["Description"] = json!(d);
    }
    out["AuthParameters"] = c.public_auth_parameters();
    out["SecretArn"] = json!(format!(
        "arn:aws:secretsmanager:{}:{}:secret:events!connection/{}/{}",
        c.region, app.config.account_id, c.name, c.uuid
    ));
    reply(&out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListConnectionsInput {
    name_prefix: Option<String>,
    connection_state: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

fn list_connections(
    app: &App,
    ctx: &Ctx,
    input: ListConnectionsInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.length("namePrefix", input.name_prefix.as_deref(), 1, 64);
    let page = Page::new(&mut v, input.next_token.as_deref(), input.limit, 100)?;
    v.finish()?;
    let prefix = input.name_prefix.unwrap_or_default();
    let items: Vec<ConnectionDef> = app
        .destinations
        .connections_in(&ctx.region)
        .into_iter()
        .filter(|c| c.name.starts_with(&prefix))
        .filter(|c| {
            input
                .connection_state
                .as_ref()
                .is_none_or(|s| *s == c.state)
        })
        .collect();
    page.reply(
        items,
        |c| c.name.as_str(),
        "Connections",
        |c| connection_summary(app, c),
    )
}

async fn update_connection(
    app: &App,
    ctx: &Ctx,
    input: ConnectionInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.name("name", input.name.as_deref(), RULE_NAME, true);
    v.length("description", input.description.as_deref(), 0, 512);
    v.one_of(
        "authorizationType",
        input.authorization_type.as_deref(),
        &AUTH_TYPES,
    );
    v.finish()?;
    let name = input.name.unwrap_or_default();
    let c = app
        .destinations
        .update_connection(
            &ctx.region,
            &name,
            ConnectionUpdate {
                description: input.description,
                authorization_type: input.authorization_type,
                auth_parameters: input.auth_parameters,
            },
        )
        .await?;
    state_reply(app, &c)
}

async fn delete_connection(app: &App, ctx: &Ctx, input: NameInput) -> Result<Vec<u8>, ApiError> {
    let name = named(input)?;
    let mut c = app
        .destinations
        .delete_connection(&ctx.region, &name)
        .await?;
    c.state = "DELETING".into();
    state_reply(app, &c)
}

async fn deauthorize_connection(
    app: &App,
    ctx: &Ctx,
    input: NameInput,
) -> Result<Vec<u8>, ApiError> {
    let name = named(input)?;
    let c = app
        .destinations
        .deauthorize_connection(&ctx.region, &name)
        .await?;
    state_reply(app, &c)
}

// ---------------------------------------------------------------------------------------------
// API destinations

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DestinationInput {
    name: Option<String>,
    description: Option<String>,
    connection_arn: Option<String>,
    invocation_endpoint: Option<String>,
    http_method: Option<String>,
    invocation_rate_limit_per_second: Option<i64>,
}

fn destination_wire(app: &App, d: &ApiDestinationDef, full: bool) -> Value {
    let mut out = json!({
        "ApiDestinationArn": d.arn(&app.config.account_id),
        "Name": d.name,
        "ApiDestinationState": "ACTIVE",
        "ConnectionArn": d.connection_arn,
        "InvocationEndpoint": d.invocation_endpoint,
        "HttpMethod": d.http_method,
        "InvocationRateLimitPerSecond": d.invocation_rate_limit_per_second,
        "CreationTime": secs(d.created_ms),
        "LastModifiedTime": secs(d.modified_ms),
    });
    if full && let Some(desc) = &d.description {
        out["Description"] = json!(desc);
    }
    out
}

fn check_destination(v: &mut Violations, input: &DestinationInput, create: bool) {
    v.name("name", input.name.as_deref(), RULE_NAME, true);
    v.length("description", input.description.as_deref(), 0, 512);
    if create {
        for (m, x) in [
            ("connectionArn", &input.connection_arn),
            ("invocationEndpoint", &input.invocation_endpoint),
            ("httpMethod", &input.http_method),
        ] {
            if x.is_none() {
                v.required(m);
            }
        }
    }
    v.one_of(
        "httpMethod",
        input.http_method.as_deref(),
        &eddy_model::limits::api_destination::HTTP_METHODS,
    );
    v.within(
        "invocationRateLimitPerSecond",
        input.invocation_rate_limit_per_second,
        eddy_model::limits::api_destination::INVOCATION_RATE,
    );
}

async fn create_destination(
    app: &App,
    ctx: &Ctx,
    input: DestinationInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_destination(&mut v, &input, true);
    v.finish()?;
    let d = app
        .destinations
        .create_destination(
            &ctx.region,
            NewDestination {
                name: input.name.unwrap_or_default(),
                description: input.description,
                connection_arn: input.connection_arn.unwrap_or_default(),
                invocation_endpoint: input.invocation_endpoint.unwrap_or_default(),
                http_method: input.http_method.unwrap_or_default(),
                invocation_rate_limit_per_second: input.invocation_rate_limit_per_second,
            },
        )
        .await?;
    reply(&json!({
        "ApiDestinationArn": d.arn(&app.config.account_id),
        "ApiDestinationState": "ACTIVE",
        "CreationTime": secs(d.created_ms),
        "LastModifiedTime": secs(d.modified_ms),
    }))
}

fn describe_destination(app: &App, ctx: &Ctx, input: NameInput) -> Result<Vec<u8>, ApiError> {
    let name = named(input)?;
    let d = app
        .destinations
        .destination(&ctx.region, &name)
        .ok_or_else(|| destination_missing(&name))?;
    reply(&destination_wire(app, &d, true))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListDestinationsInput {
    name_prefix: Option<String>,
    connection_arn: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

fn list_destinations(
    app: &App,
    ctx: &Ctx,
    input: ListDestinationsInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.length("namePrefix", input.name_prefix.as_deref(), 1, 64);
    let page = Page::new(&mut v, input.next_token.as_deref(), input.limit, 100)?;
    v.finish()?;
    let prefix = input.name_prefix.unwrap_or_default();
    let items: Vec<ApiDestinationDef> = app
        .destinations
        .destinations_in(&ctx.region)
        .into_iter()
        .filter(|d| d.name.starts_with(&prefix))
        .filter(|d| {
            input
                .connection_arn
                .as_ref()
                .is_none_or(|a| *a == d.connection_arn)
        })
        .collect();
    page.reply(
        items,
        |d| d.name.as_str(),
        "ApiDestinations",
        |d| destination_wire(app, d, false),
    )
}

async fn update_destination(
    app: &App,
    ctx: &Ctx,
    input: DestinationInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_destination(&mut v, &input, false);
    v.finish()?;
    let name = input.name.unwrap_or_default();
    let d = app
        .destinations
        .update_destination(
            &ctx.region,
            &name,
            DestinationUpdate {
                description: input.description,
                connection_arn: input.connection_arn,
                invocation_endpoint: input.invocation_endpoint,
                http_method: input.http_method,
                invocation_rate_limit_per_second: input.invocation_rate_limit_per_second,
            },
        )
        .await?;
    reply(&json!({
        "ApiDestinationArn": d.arn(&app.config.account_id),
        "ApiDestinationState": "ACTIVE",
        "CreationTime": secs(d.created_ms),
        "LastModifiedTime": secs(d.modified_ms),
    }))
}

async fn delete_destination(app: &App, ctx: &Ctx, input: NameInput) -> Result<Vec<u8>, ApiError> {
    let name = named(input)?;
    app.destinations
        .delete_destination(&ctx.region, &name)
        .await?;
    empty()
}
