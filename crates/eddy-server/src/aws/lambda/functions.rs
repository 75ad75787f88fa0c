//! Function definitions through the Lambda API: CreateFunction, GetFunction, ListFunctions,
//! UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction, and the checks their
//! members get (AWS's constraints and messages).

use std::borrow::Cow;
use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use eddy_model::limits;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    LOCAL_BUCKET, config, find, find_qualified, function_error, name_error, parse_name,
    qualifier_of,
};
use crate::App;
use crate::aws::Ctx;
use crate::aws::rest::{self, RestRequest};
use crate::error::{ApiError, Violations};
use crate::functions::{CapacityProvider, CodeSource, FunctionDef, FunctionSettings};

/// `ZipFile`'s base64 text, borrowed from the request body when it has no escapes (it may be
/// tens of megabytes). A newtype, because serde borrows a `Cow` only as a field of its own.
#[derive(Debug, Deserialize)]
struct ZipText<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CodeInput<'a> {
    #[serde(borrow)]
    zip_file: Option<ZipText<'a>>,
    #[serde(rename = "S3Bucket")]
    s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    s3_key: Option<String>,
    #[serde(rename = "S3ObjectVersion")]
    s3_object_version: Option<String>,
    image_uri: Option<String>,
    #[serde(default)]
    publish: Option<bool>,
    #[serde(default)]
    dry_run: Option<bool>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    revision_id: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct EnvironmentInput {
    #[serde(default)]
    variables: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct TracingInput {
    mode: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct StorageInput {
    size: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CapacityProviderInput {
    lambda_managed_instances_capacity_provider_config: Option<ManagedInstancesInput>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManagedInstancesInput {
    capacity_provider_arn: Option<String>,
    per_execution_environment_max_concurrency: Option<i64>,
    #[serde(rename = "ExecutionEnvironmentMemoryGiBPerVCpu")]
    memory_gib_per_vcpu: Option<f64>,
}

impl CapacityProviderInput {
    /// The stored form; `None` when a required member is missing (reported by validation).
    fn to_def(&self) -> Option<CapacityProvider> {
        let m = self
            .lambda_managed_instances_capacity_provider_config
            .as_ref()?;
        Some(CapacityProvider {
            arn: m.capacity_provider_arn.clone()?,
            max_concurrency: m
                .per_execution_environment_max_concurrency
                .map(|n| n as u32),
            memory_gib_per_vcpu: m.memory_gib_per_vcpu,
        })
    }
}

/// `arn:aws[a-zA-Z-]*:lambda:REGION:ACCOUNT:capacity-provider:[a-zA-Z0-9-_]+`, as AWS checks it.
fn valid_capacity_provider_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    let [arn_, partition, service, region, account, kind, name] = parts[..] else {
        return false;
    };
    let region_ok = {
        let r = region.strip_prefix("eusc-").unwrap_or(region);
        let mut pieces = r.split('-');
        let first = pieces.next().unwrap_or("");
        let rest: Vec<&str> = pieces.collect();
        first.len() == 2
            && first.bytes().all(|b| b.is_ascii_lowercase())
            && rest.len() >= 2
            && rest[rest.len() - 1].len() == 1
            && rest[rest.len() - 1].bytes().all(|b| b.is_ascii_digit())
            && rest[..rest.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
    };
    arn.len() <= 140
        && arn_ == "arn"
        && partition
            .strip_prefix("aws")
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'))
        && service == "lambda"
        && region_ok
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && kind == "capacity-provider"
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ConfigInput<'a> {
    function_name: Option<String>,
    role: Option<String>,
    runtime: Option<String>,
    handler: Option<String>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    environment: Option<EnvironmentInput>,
    #[serde(borrow)]
    code: Option<CodeInput<'a>>,
    package_type: Option<String>,
    architectures: Option<Vec<String>>,
    ephemeral_storage: Option<StorageInput>,
    tracing_config: Option<TracingInput>,
    capacity_provider_config: Option<CapacityProviderInput>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    revision_id: Option<String>,
    publish: Option<bool>,
    layers: Option<Vec<String>>,
    #[serde(flatten)]
    _other: BTreeMap<String, Value>,
}

/// Checks the members CreateFunction and UpdateFunctionConfiguration share.
fn validate_config(input: &ConfigInput<'_>, mut v: Violations) -> Result<(), ApiError> {
    v.within("timeout", input.timeout, limits::function::TIMEOUT);
    v.within(
        "memorySize",
        input.memory_size,
        limits::function::MEMORY_SIZE,
    );
    v.length("description", input.description.as_deref(), 0, 256);
    if let Some(h) = &input.handler
        && (h.len() > 128 || h.chars().any(char::is_whitespace))
    {
        v.add(
            "handler",
            Some(h),
            "Member must satisfy regular expression pattern: [^\\s]+",
        );
    }
    if let Some(r) = &input.role
        && !valid_role(r)
    {
        v.add("role", Some(r), "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+");
    }
    if let Some(a) = &input.architectures {
        if a.len() != 1 {
            v.add(
                "architectures",
                Some(&a.join(",")),
                "Member must have length less than or equal to 1",
            );
        }
        for x in a {
            v.one_of("architectures.member", Some(x), &["x86_64", "arm64"]);
        }
    }
    if let Some(t) = &input.tracing_config {
        v.one_of(
            "tracingConfig.mode",
            t.mode.as_deref(),
            &["Active", "PassThrough"],
        );
    }
    if let Some(st) = &input.ephemeral_storage {
        v.range(
            "ephemeralStorage.size",
            Some(i64::from(st.size)),
            512,
            10240,
        );
    }
    if let Some(cp) = &input.capacity_provider_config {
        match &cp.lambda_managed_instances_capacity_provider_config {
            None => {
                v.required("capacityProviderConfig.lambdaManagedInstancesCapacityProviderConfig")
            }
            Some(m) => {
                let member = "capacityProviderConfig.lambdaManagedInstancesCapacityProviderConfig";
                match &m.capacity_provider_arn {
                    None => v.required(&format!("{member}.capacityProviderArn")),
                    Some(arn) if !valid_capacity_provider_arn(arn) => v.add(
                        &format!("{member}.capacityProviderArn"),
                        Some(arn),
                        "Member must satisfy regular expression pattern: \
                         arn:aws[a-zA-Z-]*:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:capacity-provider:[a-zA-Z0-9-_]+",
                    ),
                    Some(_) => {}
                }
                v.range(
                    &format!("{member}.perExecutionEnvironmentMaxConcurrency"),
                    m.per_execution_environment_max_concurrency,
                    1,
                    1600,
                );
                if let Some(g) = m.memory_gib_per_vcpu
                    && !(2.0..=8.0).contains(&g)
                {
                    let shown = g.to_string();
                    v.add(
                        &format!("{member}.executionEnvironmentMemoryGiBPerVCpu"),
                        Some(&shown),
                        "Member must have value less than or equal to 8.0 and greater than or equal to 2.0",
                    );
                }
            }
        }
    }
    v.finish()?;
    Ok(())
}

fn valid_role(r: &str) -> bool {
    let Some(rest) = r.strip_prefix("arn:") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(":iam::") else {
        return false;
    };
    let Some((account, role)) = rest.split_once(":role") else {
        return false;
    };
    (partition.is_empty() || partition.starts_with("aws"))
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && role.len() > 1
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@-_/".contains(&b))
}

/// The settings of a create or update, as the core takes them.
fn settings(input: &ConfigInput<'_>) -> FunctionSettings {
    FunctionSettings {
        runtime: input.runtime.clone(),
        role: input.role.clone(),
        handler: input.handler.clone(),
        description: input.description.clone(),
        timeout: input.timeout,
        memory_size: input.memory_size,
        environment: input.environment.as_ref().map(|e| e.variables.clone()),
        ephemeral_storage: input.ephemeral_storage.as_ref().map(|s| s.size),
        tracing_mode: input.tracing_config.as_ref().and_then(|t| t.mode.clone()),
        capacity_provider: input
            .capacity_provider_config
            .as_ref()
            .and_then(CapacityProviderInput::to_def),
        layers: input.layers.clone(),
    }
}

/// Whether `part` lies inside `whole`'s memory.
fn contains(whole: &[u8], part: &[u8]) -> bool {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    p >= w && p + part.len() <= w + whole.len()
}

/// The largest zip read from a bucket (Lambda's limit on a function's unzipped code).
const MAX_S3_CODE: u64 = 250 * 1024 * 1024;

/// Where the code of a create or update comes from (`body` is the request's, which `code`
/// borrows from): the request, a local directory, or an object in one of eddy's buckets.
pub(super) async fn code_source(
    app: &App,
    code: &CodeInput<'_>,
    body: &Bytes,
) -> Result<CodeSource, ApiError> {
    if let (Some(bucket), Some(key)) = (&code.s3_bucket, &code.s3_key)
        && bucket != LOCAL_BUCKET
        && code.zip_file.is_none()
        && code.image_uri.is_none()
    {
        return s3_code(app, bucket, key, code.s3_object_version.as_deref()).await;
    }
    local_code_source(code, body)
}

/// A zip archive read from an object of eddy's S3, as Lambda reads `Code.S3Bucket`/`S3Key`.
async fn s3_code(
    app: &App,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Result<CodeSource, ApiError> {
    use base64::Engine;
    use futures_util::StreamExt;
    let s3_error = |code: &str, message: &str| {
        ApiError::bad(
            "InvalidParameterValueException",
            format!(
                "Error occurred while GetObject. S3 Error Code: {code}. S3 Error Message: {message}"
            ),
        )
    };
    let reading = app
        .get_object(bucket, key, version, &Default::default(), None, None)
        .await
        .map_err(|e| s3_error(e.code(), &e.to_string()))?;
    if reading.found.record.size > MAX_S3_CODE {
        return Err(ApiError::bad(
            "InvalidParameterValueException",
            format!("Unzipped size must be smaller than {MAX_S3_CODE} bytes"),
        ));
    }
    let mut zip = Vec::with_capacity(reading.found.record.size as usize);
    let mut body = reading.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| s3_error("InternalError", &e.to_string()))?;
        zip.extend_from_slice(&chunk);
    }
    let text = base64::engine::general_purpose::STANDARD.encode(zip);
    Ok(CodeSource::ZipBase64(Bytes::from(text)))
}

/// [`code_source`] for code in the request or a local directory.
fn local_code_source(code: &CodeInput<'_>, body: &Bytes) -> Result<CodeSource, ApiError> {
    if code.image_uri.is_some() {
        return Err(ApiError::bad(
            "InvalidParameterValueException",
            "eddy runs zip packages and local directories; container images are not supported",
        ));
    }
    if let Some(zip) = &code.zip_file {
        // The text as a slice of the request body when it is one (no escapes in it), so a
        // 50 MB upload is not copied.
        let text = match &zip.0 {
            Cow::Borrowed(s) if contains(body, s.as_bytes()) => body.slice_ref(s.as_bytes()),
            other => Bytes::copy_from_slice(other.as_bytes()),
        };
        return Ok(CodeSource::ZipBase64(text));
    }
    match (&code.s3_bucket, &code.s3_key) {
        (Some(b), Some(key)) if b == LOCAL_BUCKET => {
            Ok(CodeSource::Directory(std::path::PathBuf::from(key)))
        }
        (Some(_), None) => Err(ApiError::bad(
            "InvalidParameterValueException",
            "Please provide S3Key along with S3Bucket.",
        )),
        (None, Some(_)) => Err(ApiError::bad(
            "InvalidParameterValueException",
            "Please provide S3Bucket along with S3Key.",
        )),
        (Some(_), Some(_)) => Err(ApiError::bad(
            "InvalidParameterValueException",
            "Please don't provide both ZipFile and S3Bucket/S3Key.",
        )),
        _ => Err(ApiError::bad(
            "InvalidParameterValueException",
            "Please provide a source for function code.",
        )),
    }
}

pub(super) async fn create(app: &App, ctx: &Ctx, req: &RestRequest) -> Result<Response, ApiError> {
    let input: ConfigInput = rest::parse(&req.body)?;
    let mut v = Violations::new();
    let raw = input.function_name.clone().unwrap_or_default();
    if input.function_name.is_none() {
        v.required("functionName");
    }
    if input.role.is_none() {
        v.required("role");
    }
    if input.code.is_none() {
        v.required("code");
    }
    validate_config(&input, v)?;
    let (name, _) = parse_name(&raw).ok_or_else(|| name_error(&raw))?;
    if input.package_type.as_deref().is_some_and(|p| p != "Zip") {
        return Err(ApiError::bad(
            "InvalidParameterValueException",
            "eddy runs zip packages and local directories; container images are not supported",
        ));
    }
    // A missing `Code` was reported above; without one, the source says a source is needed.
    let no_code = CodeInput::default();
    let source = code_source(app, input.code.as_ref().unwrap_or(&no_code), &req.body).await?;
    let def = app
        .create_function(
            &ctx.region,
            &name,
            settings(&input),
            source,
            input.tags.clone(),
            input.architectures.clone().unwrap_or_default(),
        )
        .await
        .map_err(|e| function_error(app, ctx, e))?;
    if input.publish == Some(true) {
        // Version 1 at once; the answer names it with the unqualified ARN, as Lambda's does.
        let (def, n) = app
            .functions
            .publish_version(&def.region, &def.name, None, None, None)
            .await
            .map_err(|e| function_error(app, ctx, e))?;
        let mut out = config(app, def.version_def(&n.to_string()).unwrap_or(&def));
        out["Version"] = json!(n.to_string());
        return rest::json(StatusCode::CREATED, &out);
    }
    rest::json(StatusCode::CREATED, &config(app, &def))
}

pub(super) fn list(app: &App, ctx: &Ctx, req: &RestRequest) -> Result<Response, ApiError> {
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
    let mut all = app.functions.list(&ctx.region);
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let start = match req.query("Marker") {
        Some(m) => all
            .iter()
            .position(|d| d.name.as_str() > m)
            .unwrap_or(all.len()),
        None => 0,
    };
    let page: Vec<&FunctionDef> = all[start..].iter().take(max).collect();
    let mut out = json!({"Functions": page.iter().map(|d| config(app, d)).collect::<Vec<_>>()});
    if start + page.len() < all.len()
        && let Some(last) = page.last()
    {
        out["NextMarker"] = json!(last.name);
    }
    rest::json(StatusCode::OK, &out)
}

pub(super) fn get(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let q = find_qualified(app, ctx, raw, req)?;
    let location = format!("file://{}", app.functions.code_dir(q.def()).display());
    let mut out = json!({
        "Configuration": q.config(app),
        "Code": {"RepositoryType": "S3", "Location": location},
    });
    let d = &q.latest;
    if !d.tags.is_empty() {
        out["Tags"] = json!(d.tags);
    }
    if let Some(n) = d.reserved_concurrency {
        out["Concurrency"] = json!({"ReservedConcurrentExecutions": n});
    }
    rest::json(StatusCode::OK, &out)
}

pub(super) async fn delete(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let (name, qualifier) = qualifier_of(raw, req)?;
    let d = app
        .functions
        .get(&ctx.region, &name)
        .ok_or_else(|| super::not_found(app, ctx, &name))?;
    match qualifier.as_deref() {
        None => app.functions.delete_function(&d.region, &d.name).await,
        Some(q) if d.aliases.contains_key(q) => {
            return Err(ApiError::bad(
                "InvalidParameterValueException",
                "Deletion of aliases is not currently supported.",
            ));
        }
        Some(q) => app.functions.delete_version(&d.region, &d.name, q).await,
    }
    .map_err(|e| function_error(app, ctx, e))?;
    Ok(rest::empty(StatusCode::NO_CONTENT))
}

pub(super) async fn update_config(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let d = find(app, ctx, raw, req)?;
    let input: ConfigInput = rest::parse(&req.body)?;
    validate_config(&input, Violations::new())?;
    let d = app
        .functions
        .update_configuration(
            &d.region,
            &d.name,
            settings(&input),
            input.revision_id.as_deref(),
        )
        .await
        .map_err(|e| function_error(app, ctx, e))?;
    rest::json(StatusCode::OK, &config(app, &d))
}

pub(super) async fn update_code(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let d = find(app, ctx, raw, req)?;
    let input: CodeInput = rest::parse(&req.body)?;
    let dry_run = input.dry_run == Some(true);
    // A dry run checks the revision only; its code is not looked at.
    let source = match code_source(app, &input, &req.body).await {
        Ok(s) => s,
        Err(_) if dry_run => CodeSource::ZipBase64(Bytes::new()),
        Err(e) => return Err(e),
    };
    let d = app
        .functions
        .update_code(
            &d.region,
            &d.name,
            source,
            input.architectures.clone(),
            input.revision_id.as_deref(),
            dry_run,
        )
        .await
        .map_err(|e| function_error(app, ctx, e))?;
    if input.publish == Some(true) && !dry_run {
        // The new version's configuration, its ARN qualified (as Lambda answers).
        let (d, n) = app
            .functions
            .publish_version(&d.region, &d.name, None, None, None)
            .await
            .map_err(|e| function_error(app, ctx, e))?;
        return rest::json(
            StatusCode::OK,
            &super::versions::version_config(app, &d, &n.to_string()),
        );
    }
    rest::json(StatusCode::OK, &config(app, &d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uploaded_zip_is_borrowed_from_the_request_body_not_copied() {
        let body = Bytes::from(
            r#"{"FunctionName":"f","Role":"r","Code":{"ZipFile":"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="},"Extra":1}"#,
        );
        let input: ConfigInput = rest::parse(&body).unwrap();
        let zip = input.code.unwrap().zip_file.unwrap().0;
        assert!(matches!(zip, Cow::Borrowed(_)));
        assert!(contains(&body, zip.as_bytes()));
        // With an escape the text is unescaped into a copy.
        let update: CodeInput = rest::parse(br#"{"ZipFile":"UEs\u0046"}"#).unwrap();
        let zip = update.zip_file.unwrap().0;
        assert!(matches!(zip, Cow::Owned(_)));
        assert_eq!(zip, "UEsF");
    }

    #[test]
    fn capacity_provider_arns() {
        for ok in [
            "arn:aws:lambda:us-east-1:123456789012:capacity-provider:fleet-1",
            "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:capacity-provider:f_2",
            "arn:aws:lambda:eusc-de-east-1:123456789012:capacity-provider:x",
        ] {
            assert!(valid_capacity_provider_arn(ok), "{ok}");
        }
        for bad in [
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "arn:aws:lambda:us-east-1:1234:capacity-provider:x",
            "arn:aws:lambda:useast1:123456789012:capacity-provider:x",
            "arn:aws:lambda:us-east-1:123456789012:capacity-provider:",
            "arn:aws:lambda:us-east-1:123456789012:capacity-provider:a:b",
            "capacity-provider",
        ] {
            assert!(!valid_capacity_provider_arn(bad), "{bad}");
        }
    }

    #[test]
    fn roles() {
        assert!(valid_role("arn:aws:iam::123456789012:role/lambda-role"));
        assert!(!valid_role("role"));
        assert!(!valid_role("arn:aws:iam::1234:role/x"));
    }
}
