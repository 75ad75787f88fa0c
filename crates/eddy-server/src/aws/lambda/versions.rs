//! Versions and aliases through the Lambda API: PublishVersion, ListVersionsByFunction,
//! CreateAlias, GetAlias, ListAliases, UpdateAlias, DeleteAlias (botocore's
//! `lambda/2015-03-31`; messages as AWS words them).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Qualified, find, function_arn, function_error, name_error, not_found, not_found_404, parse_name,
};
use crate::App;
use crate::aws::Ctx;
use crate::aws::rest::{self, RestRequest};
use crate::error::ApiError;
use crate::functions::{Alias, AliasUpdate, FunctionDef, FunctionError, LATEST};

/// A core refusal about `name`'s aliases or versions, with the ARNs AWS puts in the message.
pub(super) fn error(app: &App, ctx: &Ctx, name: &str, e: FunctionError) -> ApiError {
    let arn = |q: &str| function_arn(app, ctx, &format!("{name}:{q}"));
    match e {
        FunctionError::AliasExists(a) => ApiError::new(
            "ResourceConflictException",
            StatusCode::CONFLICT,
            format!("Alias already exists: {}", arn(&a)),
        ),
        FunctionError::AliasNotFound(a) => not_found_404(format!("Alias not found: {}", arn(&a))),
        FunctionError::VersionNotFound(v) => {
            not_found_404(format!("Function not found: {}", arn(&v)))
        }
        e => function_error(app, ctx, e),
    }
}

/// `AliasConfiguration`.
fn alias_shape(app: &App, ctx: &Ctx, name: &str, a: &Alias) -> Value {
    let mut out = json!({
        "AliasArn": function_arn(app, ctx, &format!("{name}:{}", a.name)),
        "Name": a.name,
        "FunctionVersion": a.function_version,
        "Description": a.description,
        "RevisionId": a.revision_id,
    });
    if !a.routing.is_empty() {
        out["RoutingConfig"] = json!({"AdditionalVersionWeights": a.routing});
    }
    out
}

/// `MaxItems` (1-10000, default 50) and `Marker` of a list.
fn page_params(req: &RestRequest) -> Result<(usize, Option<&str>), ApiError> {
    let max = match req.query("MaxItems") {
        None => 50,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{s}' at 'maxItems' failed to satisfy \
                     constraint: Member must have value between 1 and 10000"
                )));
            }
        },
    };
    Ok((max, req.query("Marker")))
}

/// One page of `items` (keyed in order) after `marker`, and the next marker.
fn page<T: Clone>(
    items: Vec<(String, T)>,
    max: usize,
    marker: Option<&str>,
) -> (Vec<T>, Option<String>) {
    let start = match marker {
        Some(m) => items.iter().position(|(k, _)| k == m).map_or(0, |i| i + 1),
        None => 0,
    };
    let rest = &items[start.min(items.len())..];
    let out: Vec<T> = rest.iter().take(max).map(|(_, v)| v.clone()).collect();
    let next = (rest.len() > max).then(|| rest[max - 1].0.clone());
    (out, next)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct PublishInput {
    code_sha256: Option<String>,
    description: Option<String>,
    revision_id: Option<String>,
}

/// A version's `FunctionConfiguration`, qualified.
pub(super) fn version_config(app: &App, latest: &FunctionDef, version: &str) -> Value {
    Qualified {
        latest: latest.clone(),
        qualifier: Some(version.to_owned()),
        version: version.to_owned(),
    }
    .config(app)
}

pub(super) async fn publish(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let d = find(app, ctx, raw, req)?;
    let input: PublishInput = rest::parse(&req.body)?;
    if let Some(desc) = &input.description {
        check_description(desc)?;
    }
    let (d, n) = app
        .functions
        .publish_version(
            &d.region,
            &d.name,
            input.description,
            input.code_sha256.as_deref(),
            input.revision_id.as_deref(),
        )
        .await
        .map_err(|e| error(app, ctx, &d.name, e))?;
    rest::json(
        StatusCode::CREATED,
        &version_config(app, &d, &n.to_string()),
    )
}

pub(super) fn list(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let (name, _) = parse_name(raw).ok_or_else(|| name_error(raw))?;
    let d = app
        .functions
        .get(&ctx.region, &name)
        .ok_or_else(|| not_found(app, ctx, &name))?;
    let (max, marker) = page_params(req)?;
    let all: Vec<(String, String)> = std::iter::once(LATEST.to_owned())
        .chain(d.versions.keys().map(u32::to_string))
        .map(|v| (v.clone(), v))
        .collect();
    let (versions, next) = page(all, max, marker);
    let mut out = json!({
        "Versions": versions
            .iter()
            .map(|v| list_item(version_config(app, &d, v)))
            .collect::<Vec<_>>(),
    });
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    rest::json(StatusCode::OK, &out)
}

/// A configuration as list operations give it (without the state members).
pub(super) fn list_item(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        for k in [
            "State",
            "StateReason",
            "StateReasonCode",
            "LastUpdateStatus",
            "LastUpdateStatusReason",
            "LastUpdateStatusReasonCode",
            "RuntimeVersionConfig",
        ] {
            m.remove(k);
        }
    }
    v
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RoutingInput {
    #[serde(default)]
    additional_version_weights: BTreeMap<String, f64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct AliasInput {
    name: Option<String>,
    function_version: Option<String>,
    description: Option<String>,
    routing_config: Option<RoutingInput>,
    revision_id: Option<String>,
}

fn check_description(d: &str) -> Result<(), ApiError> {
    if d.chars().count() > 256 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{d}' at 'description' failed to satisfy \
             constraint: Member must have length less than or equal to 256"
        )));
    }
    Ok(())
}

/// The members' model constraints (ValidationException before the core is asked).
fn check_alias_input(input: &AliasInput) -> Result<(), ApiError> {
    if let Some(v) = &input.function_version
        && v != LATEST
        && (v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{v}' at 'functionVersion' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)"
        )));
    }
    if let Some(d) = &input.description {
        check_description(d)?;
    }
    if let Some(r) = &input.routing_config {
        for (k, w) in &r.additional_version_weights {
            if k.is_empty() || k.len() > 1024 || !k.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{{{k}={w:?}}}' at \
                     'routingConfig.additionalVersionWeights' failed to satisfy constraint: \
                     Map keys must satisfy constraint: [Member must have length less than or \
                     equal to 1024, Member must have length greater than or equal to 1, Member \
                     must satisfy regular expression pattern: [0-9]+, Member must not be null]"
                )));
            }
        }
    }
    Ok(())
}

fn update_of(input: AliasInput) -> AliasUpdate {
    AliasUpdate {
        function_version: input.function_version,
        description: input.description,
        routing: input.routing_config.map(|r| r.additional_version_weights),
    }
}

pub(super) async fn create_alias(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let d = find(app, ctx, raw, req)?;
    let input: AliasInput = rest::parse(&req.body)?;
    let mut v = crate::error::Violations::new();
    if input.name.is_none() {
        v.required("name");
    }
    if input.function_version.is_none() {
        v.required("functionVersion");
    }
    v.finish()?;
    check_alias_input(&input)?;
    let alias = input.name.clone().unwrap_or_default();
    let a = app
        .functions
        .create_alias(&d.region, &d.name, &alias, update_of(input))
        .await
        .map_err(|e| error(app, ctx, &d.name, e))?;
    rest::json(StatusCode::CREATED, &alias_shape(app, ctx, &d.name, &a))
}

pub(super) fn get_alias(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    alias: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let d = find(app, ctx, raw, req)?;
    let a = d.aliases.get(alias).ok_or_else(|| {
        not_found_404(format!(
            "Cannot find alias arn: {}",
            function_arn(app, ctx, &format!("{}:{alias}", d.name))
        ))
    })?;
    rest::json(StatusCode::OK, &alias_shape(app, ctx, &d.name, a))
}

pub(super) fn list_aliases(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let d = find(app, ctx, raw, req)?;
    let (max, marker) = page_params(req)?;
    let version = req.query("FunctionVersion");
    let all: Vec<(String, Value)> = d
        .aliases
        .values()
        .filter(|a| version.is_none_or(|v| a.function_version == v))
        .map(|a| (a.name.clone(), alias_shape(app, ctx, &d.name, a)))
        .collect();
    let (aliases, next) = page(all, max, marker);
    let mut out = json!({"Aliases": aliases});
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    rest::json(StatusCode::OK, &out)
}

pub(super) async fn update_alias(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    alias: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let d = find(app, ctx, raw, req)?;
    let input: AliasInput = rest::parse(&req.body)?;
    check_alias_input(&input)?;
    let revision = input.revision_id.clone();
    let a = app
        .functions
        .update_alias(
            &d.region,
            &d.name,
            alias,
            update_of(input),
            revision.as_deref(),
        )
        .await
        .map_err(|e| error(app, ctx, &d.name, e))?;
    rest::json(StatusCode::OK, &alias_shape(app, ctx, &d.name, &a))
}

pub(super) async fn delete_alias(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    alias: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let d = find(app, ctx, raw, req)?;
    app.functions
        .delete_alias(&d.region, &d.name, alias)
        .await
        .map_err(|e| error(app, ctx, &d.name, e))?;
    Ok(rest::empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_markers() {
        let items: Vec<(String, u32)> = (1..=5).map(|i| (i.to_string(), i)).collect();
        assert_eq!(page(items.clone(), 2, None), (vec![1, 2], Some("2".into())));
        assert_eq!(
            page(items.clone(), 2, Some("2")),
            (vec![3, 4], Some("4".into()))
        );
        assert_eq!(page(items.clone(), 2, Some("4")), (vec![5], None));
        assert_eq!(page(items, 5, None), (vec![1, 2, 3, 4, 5], None));
    }
}
