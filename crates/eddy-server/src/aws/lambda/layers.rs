//! Layers through the Lambda API (`/2018-10-31/layers`): PublishLayerVersion, GetLayerVersion,
//! GetLayerVersionByArn, ListLayers, ListLayerVersions, DeleteLayerVersion. Content comes as
//! `ZipFile` or as an object of eddy's S3, as function code does.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::functions::{CodeInput, code_source};
use super::{function_error, last_modified, not_found_404};
use crate::App;
use crate::aws::Ctx;
use crate::aws::rest::{self, RestRequest};
use crate::error::{ApiError, Violations};
use crate::functions::layers::parse_version_arn;
use crate::functions::{CodeSource, LayerDef, LayerInfo, LayerVersion};

fn gone() -> ApiError {
    not_found_404("The resource you requested does not exist.")
}

/// A layer name, or a layer's ARN (`arn:aws:lambda:REGION:ACCOUNT:layer:NAME`).
fn layer_name(raw: &str) -> Result<&str, ApiError> {
    let name = match raw.strip_prefix("arn:aws:lambda:") {
        Some(rest) => rest
            .splitn(4, ':')
            .nth(3)
            .and_then(|r| r.strip_prefix("layer:"))
            .unwrap_or(""),
        None => raw,
    };
    let ok = !name.is_empty()
        && name.len() <= 140
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(name)
    } else {
        Err(ApiError::validation(format!(
            "1 validation error detected: Value '{raw}' at 'layerName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: \
             (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{{12}}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
        )))
    }
}

fn version_number(raw: &str) -> Result<u32, ApiError> {
    match raw.parse::<i64>() {
        Ok(n) if n < 1 => Err(ApiError::bad(
            "InvalidParameterValueException",
            "Layer Version Cannot be less than 1",
        )),
        Ok(n) => u32::try_from(n).map_err(|_| gone()),
        Err(_) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{raw}' at 'versionNumber' failed to satisfy \
             constraint: Member must be a number"
        ))),
    }
}

fn put_lists(out: &mut Value, v: &LayerVersion) {
    if !v.compatible_runtimes.is_empty() {
        out["CompatibleRuntimes"] = json!(v.compatible_runtimes);
    }
    if !v.compatible_architectures.is_empty() {
        out["CompatibleArchitectures"] = json!(v.compatible_architectures);
    }
    if let Some(l) = &v.license_info {
        out["LicenseInfo"] = json!(l);
    }
}

/// `GetLayerVersionResponse` (and PublishLayerVersion's).
fn version_shape(app: &App, d: &LayerDef, v: &LayerVersion) -> Value {
    let arn = d.arn(app.functions.account());
    let mut out = json!({
        "Content": {
            "Location": format!("file://{}", app.functions.layer_dir(d, v).display()),
            "CodeSha256": v.code_sha256,
            "CodeSize": v.code_size,
        },
        "LayerArn": arn,
        "LayerVersionArn": format!("{arn}:{}", v.version),
        "Description": v.description,
        "CreatedDate": last_modified(v.created_ms),
        "Version": v.version,
    });
    put_lists(&mut out, v);
    out
}

/// `LayerVersionsListItem`.
fn list_item(app: &App, d: &LayerDef, v: &LayerVersion) -> Value {
    let mut out = json!({
        "LayerVersionArn": format!("{}:{}", d.arn(app.functions.account()), v.version),
        "Version": v.version,
        "Description": v.description,
        "CreatedDate": last_modified(v.created_ms),
    });
    put_lists(&mut out, v);
    out
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct PublishInput<'a> {
    #[serde(borrow)]
    content: Option<CodeInput<'a>>,
    description: Option<String>,
    compatible_runtimes: Option<Vec<String>>,
    compatible_architectures: Option<Vec<String>>,
    license_info: Option<String>,
}

pub(super) async fn publish(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let name = layer_name(raw)?;
    let input: PublishInput = rest::parse(&req.body)?;
    let mut v = Violations::new();
    if input.content.is_none() {
        v.required("content");
    }
    v.length("description", input.description.as_deref(), 0, 256);
    v.length("licenseInfo", input.license_info.as_deref(), 0, 512);
    if input
        .compatible_runtimes
        .as_ref()
        .is_some_and(|r| r.len() > 15)
    {
        v.add(
            "compatibleRuntimes",
            None,
            "Member must have length less than or equal to 15",
        );
    }
    for a in input.compatible_architectures.iter().flatten() {
        v.one_of(
            "compatibleArchitectures.member",
            Some(a),
            &["x86_64", "arm64"],
        );
    }
    v.finish()?;
    let content = input.content.unwrap_or_default();
    let zip = match code_source(app, &content, &req.body).await? {
        CodeSource::ZipBase64(b) => b,
        _ => {
            return Err(ApiError::bad(
                "InvalidParameterValueException",
                "A layer's content is a zip archive: ZipFile, or S3Bucket and S3Key",
            ));
        }
    };
    let info = LayerInfo {
        description: input.description,
        compatible_runtimes: input.compatible_runtimes.unwrap_or_default(),
        compatible_architectures: input.compatible_architectures.unwrap_or_default(),
        license_info: input.license_info,
    };
    let (d, n) = app
        .functions
        .publish_layer_version(&ctx.region, name, zip, info)
        .await
        .map_err(|e| function_error(app, ctx, e))?;
    let v = d.versions.get(&n).ok_or_else(gone)?;
    rest::json(StatusCode::CREATED, &version_shape(app, &d, v))
}

pub(super) fn get(app: &App, ctx: &Ctx, raw: &str, n: &str) -> Result<Response, ApiError> {
    let name = layer_name(raw)?;
    let n = version_number(n)?;
    let d = app.functions.layer(&ctx.region, name).ok_or_else(gone)?;
    let v = d.versions.get(&n).ok_or_else(gone)?;
    rest::json(StatusCode::OK, &version_shape(app, &d, v))
}

pub(super) fn get_by_arn(app: &App, _ctx: &Ctx, req: &RestRequest) -> Result<Response, ApiError> {
    let arn = req.query("Arn").unwrap_or("");
    let (region, name, n) = parse_version_arn(arn).ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value '{arn}' at 'arn' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: \
             arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{{2}}((-gov)|(-iso(b?)))?-[a-z]+-\\d{{1}}:\\d{{12}}:layer:[a-zA-Z0-9-_]+:[0-9]+"
        ))
    })?;
    let d = app.functions.layer(region, name).ok_or_else(gone)?;
    let v = d.versions.get(&n).ok_or_else(gone)?;
    rest::json(StatusCode::OK, &version_shape(app, &d, v))
}

/// Whether a version is compatible with the runtime and architecture a list asks for.
fn compatible(v: &LayerVersion, req: &RestRequest) -> bool {
    req.query("CompatibleRuntime")
        .is_none_or(|r| v.compatible_runtimes.iter().any(|x| x == r))
        && req
            .query("CompatibleArchitecture")
            .is_none_or(|a| v.compatible_architectures.iter().any(|x| x == a))
}

fn max_items(req: &RestRequest) -> Result<usize, ApiError> {
    match req.query("MaxItems") {
        None => Ok(50),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=50).contains(&n) => Ok(n),
            _ => Err(ApiError::validation(format!(
                "1 validation error detected: Value '{s}' at 'maxItems' failed to satisfy \
                 constraint: Member must have value between 1 and 50"
            ))),
        },
    }
}

pub(super) fn list_versions(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let name = layer_name(raw)?;
    let max = max_items(req)?;
    let items: Vec<Value> = match app.functions.layer(&ctx.region, name) {
        Some(d) => d
            .versions
            .values()
            .rev()
            .filter(|v| compatible(v, req))
            .filter(|v| {
                req.query("Marker")
                    .and_then(|m| m.parse::<u32>().ok())
                    .is_none_or(|m| v.version < m)
            })
            .map(|v| (v.version, list_item(app, &d, v)))
            .take(max + 1)
            .map(|(n, v)| json!({"n": n, "v": v}))
            .collect(),
        None => Vec::new(),
    };
    let mut out = json!({
        "LayerVersions": items.iter().take(max).map(|x| x["v"].clone()).collect::<Vec<_>>(),
    });
    if items.len() > max {
        out["NextMarker"] = json!(items[max - 1]["n"].to_string());
    }
    rest::json(StatusCode::OK, &out)
}

pub(super) fn list_layers(app: &App, ctx: &Ctx, req: &RestRequest) -> Result<Response, ApiError> {
    let max = max_items(req)?;
    let mut layers = app.functions.layers_in(&ctx.region);
    layers.sort_by(|a, b| a.name.cmp(&b.name));
    let marker = req.query("Marker");
    let all: Vec<(String, Value)> = layers
        .iter()
        .filter(|d| marker.is_none_or(|m| d.name.as_str() > m))
        .filter_map(|d| {
            let latest = d.versions.values().rev().find(|v| compatible(v, req))?;
            Some((
                d.name.clone(),
                json!({
                    "LayerName": d.name,
                    "LayerArn": d.arn(app.functions.account()),
                    "LatestMatchingVersion": list_item(app, d, latest),
                }),
            ))
        })
        .collect();
    let mut out = json!({
        "Layers": all.iter().take(max).map(|(_, v)| v.clone()).collect::<Vec<_>>(),
    });
    if all.len() > max {
        out["NextMarker"] = json!(all[max - 1].0);
    }
    rest::json(StatusCode::OK, &out)
}

pub(super) async fn delete(app: &App, ctx: &Ctx, raw: &str, n: &str) -> Result<Response, ApiError> {
    let name = layer_name(raw)?;
    let n = version_number(n)?;
    app.functions
        .delete_layer_version(&ctx.region, name, n)
        .await
        .map_err(|e| function_error(app, ctx, e))?;
    Ok(rest::empty(StatusCode::NO_CONTENT))
}
