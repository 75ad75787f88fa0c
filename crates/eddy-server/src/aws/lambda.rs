//! The Lambda API (rest-json): functions' definitions and code, invocations, concurrency and
//! asynchronous invocation settings. botocore's `lambda/2015-03-31` model is the reference for
//! paths, members and status codes; messages follow AWS's texts.
//!
//! Code comes as `Code.ZipFile` (unpacked safely, see `eddy_runtime::code`) or, for
//! development, as a local directory used in place: `Code = {S3Bucket: "hot-reload", S3Key:
//! "/abs/path"}` (the convention LocalStack users know; eddy has no S3).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use eddy_runtime::{Invocation, InvokeError, RuntimeKind, spec::SUPPORTED_RUNTIMES};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Ctx;
use super::rest::{self, RestRequest};
use crate::App;
use crate::error::{ApiError, Violations};
use crate::functions::{self, CodeLocation, EventInvokeConfig, FunctionDef};

/// The largest request the Lambda API takes (a 50 MB zip, base64-encoded, in JSON).
pub const MAX_REQUEST_BYTES: usize = 70 * 1024 * 1024;
/// Invoke payload limits: 6 MB synchronous, 1 MB asynchronous.
const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
const MAX_ASYNC_PAYLOAD: usize = 1024 * 1024;
/// The bucket name that means "a local directory" in `Code.S3Bucket`.
const LOCAL_BUCKET: &str = "hot-reload";

type Reply = (&'static str, Result<Response, ApiError>);

/// Answers one Lambda API call: the operation's name (for metrics) and its response.
pub async fn call(app: &Arc<App>, ctx: &Ctx, req: RestRequest) -> Reply {
    let path = req.path();
    let m = &req.method;
    match path.as_slice() {
        [_, "functions"] if *m == Method::POST => ("CreateFunction", create(app, ctx, &req).await),
        [_, "functions"] if *m == Method::GET => ("ListFunctions", list(app, ctx, &req)),
        [_, "functions", f] if *m == Method::GET => ("GetFunction", get(app, ctx, f, &req)),
        [_, "functions", f] if *m == Method::DELETE => {
            ("DeleteFunction", delete(app, ctx, f, &req).await)
        }
        [_, "functions", f, "configuration"] if *m == Method::GET => (
            "GetFunctionConfiguration",
            find(app, ctx, f, &req).and_then(|d| rest::json(StatusCode::OK, &config(app, &d))),
        ),
        [_, "functions", f, "configuration"] if *m == Method::PUT => (
            "UpdateFunctionConfiguration",
            update_config(app, ctx, f, &req).await,
        ),
        [_, "functions", f, "code"] if *m == Method::PUT => {
            ("UpdateFunctionCode", update_code(app, ctx, f, &req).await)
        }
        [_, "functions", f, "invocations"] if *m == Method::POST => {
            ("Invoke", invoke(app, ctx, f, &req).await)
        }
        [_, "functions", f, "concurrency"] if *m == Method::PUT => (
            "PutFunctionConcurrency",
            put_concurrency(app, ctx, f, &req).await,
        ),
        [_, "functions", f, "concurrency"] if *m == Method::GET => (
            "GetFunctionConcurrency",
            find(app, ctx, f, &req).and_then(|d| {
                let mut v = json!({});
                if let Some(n) = d.reserved_concurrency {
                    v["ReservedConcurrentExecutions"] = json!(n);
                }
                rest::json(StatusCode::OK, &v)
            }),
        ),
        [_, "functions", f, "concurrency"] if *m == Method::DELETE => (
            "DeleteFunctionConcurrency",
            delete_concurrency(app, ctx, f, &req).await,
        ),
        [_, "functions", f, "event-invoke-config"] => (
            "FunctionEventInvokeConfig",
            event_invoke_config(app, ctx, f, &req).await,
        ),
        [_, "tags", arn] => ("Tags", tags(app, ctx, arn, &req).await),
        [_, "account-settings"] if *m == Method::GET => (
            "GetAccountSettings",
            rest::json(
                StatusCode::OK,
                &json!({
                    "AccountLimit": {
                        "TotalCodeSize": 80_530_636_800_u64,
                        "CodeSizeUnzipped": 262_144_000,
                        "CodeSizeZipped": 52_428_800,
                        "ConcurrentExecutions": app.functions.default_concurrency(),
                        "UnreservedConcurrentExecutions": app.functions.default_concurrency(),
                    },
                    "AccountUsage": {
                        "TotalCodeSize": 0,
                        "FunctionCount": app.functions.list(&ctx.region).len(),
                    },
                }),
            ),
        ),
        _ => (
            "unknown",
            Err(ApiError::new(
                "UnknownOperationException",
                StatusCode::NOT_FOUND,
                format!("Unknown operation {} /{}", req.method, path.join("/")),
            )),
        ),
    }
}

/// `FunctionName` as the API accepts it: a name, a partial ARN (`ACCOUNT:function:NAME`) or a
/// full ARN, optionally with a qualifier. Returns the name and the qualifier.
fn parse_name(raw: &str) -> Option<(String, Option<String>)> {
    let rest = raw
        .strip_prefix("arn:aws:lambda:")
        .map(|r| {
            // REGION:ACCOUNT:function:NAME[:QUALIFIER]
            r.splitn(3, ':').nth(2).unwrap_or("")
        })
        .unwrap_or(raw);
    let rest = match rest.split_once(":function:") {
        Some((acct, r)) if acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit()) => r,
        _ => rest.strip_prefix("function:").unwrap_or(rest),
    };
    let (name, qualifier) = match rest.split_once(':') {
        Some((n, q)) => (n, Some(q.to_owned())),
        None => (rest, None),
    };
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| (name.to_owned(), qualifier))
}

fn not_found(app: &App, ctx: &Ctx, name: &str) -> ApiError {
    ApiError::new(
        "ResourceNotFoundException",
        StatusCode::NOT_FOUND,
        format!(
            "Function not found: arn:aws:lambda:{}:{}:function:{name}",
            ctx.region,
            app.functions.account()
        ),
    )
}

fn name_error(raw: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{raw}' at 'functionName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: \
         (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
    ))
}

/// The function a path names, with the `Qualifier` of the path or query (only `$LATEST`
/// exists: eddy does not publish versions).
fn find(app: &App, ctx: &Ctx, raw: &str, req: &RestRequest) -> Result<FunctionDef, ApiError> {
    let (name, qualifier) = parse_name(raw).ok_or_else(|| name_error(raw))?;
    let qualifier = qualifier.or_else(|| req.query("Qualifier").map(str::to_owned));
    let def = app
        .functions
        .get(&ctx.region, &name)
        .ok_or_else(|| not_found(app, ctx, &name))?;
    match qualifier.as_deref() {
        None | Some("$LATEST") => Ok(def),
        Some(q) => Err(ApiError::new(
            "ResourceNotFoundException",
            StatusCode::NOT_FOUND,
            format!(
                "Function not found: {}:{q}",
                def.arn(app.functions.account())
            ),
        )),
    }
}

/// `2024-01-01T00:00:00.000+0000`.
fn last_modified(ms: i64) -> String {
    let t = eddy_model::event::format_time(ms);
    // format_time gives YYYY-MM-DDTHH:MM:SSZ.
    format!(
        "{}.{:03}+0000",
        t.trim_end_matches('Z'),
        ms.rem_euclid(1000)
    )
}

/// The `FunctionConfiguration` shape.
fn config(app: &App, d: &FunctionDef) -> Value {
    json!({
        "FunctionName": d.name,
        "FunctionArn": d.arn(app.functions.account()),
        "Runtime": d.runtime,
        "Role": d.role,
        "Handler": d.handler,
        "CodeSize": d.code_size,
        "Description": d.description,
        "Timeout": d.timeout,
        "MemorySize": d.memory_size,
        "LastModified": last_modified(d.last_modified_ms),
        "CodeSha256": d.code_sha256,
        "Version": "$LATEST",
        "Environment": {"Variables": d.environment},
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": d.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": if d.architectures.is_empty() { vec!["x86_64".to_owned()] } else { d.architectures.clone() },
        "EphemeralStorage": {"Size": d.ephemeral_storage.unwrap_or(512)},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", d.name)},
    })
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct CodeInput {
    zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    s3_key: Option<String>,
    #[serde(rename = "S3ObjectVersion")]
    _s3_object_version: Option<String>,
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
struct StorageInput {
    size: u32,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ConfigInput {
    function_name: Option<String>,
    role: Option<String>,
    runtime: Option<String>,
    handler: Option<String>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    environment: Option<EnvironmentInput>,
    code: Option<CodeInput>,
    package_type: Option<String>,
    architectures: Option<Vec<String>>,
    ephemeral_storage: Option<StorageInput>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    revision_id: Option<String>,
    #[serde(flatten)]
    _other: BTreeMap<String, Value>,
}

/// Checks the members CreateFunction and UpdateFunctionConfiguration share.
fn validate_config(input: &ConfigInput, mut v: Violations) -> Result<(), ApiError> {
    v.range("timeout", input.timeout, 1, 900);
    v.range("memorySize", input.memory_size, 128, 10240);
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
    if let Some(st) = &input.ephemeral_storage {
        v.range(
            "ephemeralStorage.size",
            Some(i64::from(st.size)),
            512,
            10240,
        );
    }
    v.finish()?;
    if let Some(rt) = &input.runtime
        && RuntimeKind::parse(rt).is_none()
    {
        return Err(ApiError::bad(
            "InvalidParameterValueException",
            format!(
                "The runtime parameter of {rt} is not supported by eddy. Supported runtimes: {}",
                SUPPORTED_RUNTIMES.join(", ")
            ),
        ));
    }
    if let Some(env) = &input.environment {
        validate_environment(&env.variables)?;
    }
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

fn validate_environment(vars: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let reserved = eddy_runtime::spec::reserved_in(vars.keys());
    if !reserved.is_empty() {
        return Err(ApiError::bad(
            "InvalidParameterValueException",
            format!(
                "Lambda was unable to configure your environment variables because the \
                 environment variables you have provided contains reserved keys that are \
                 currently not supported for modification. Reserved keys used in this request: {}",
                reserved.join(", ")
            ),
        ));
    }
    for k in vars.keys() {
        let mut chars = k.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && k.len() >= 2
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at 'environment.variables' failed to \
                 satisfy constraint: Map keys must satisfy constraint: [Member must satisfy \
                 regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+] (key `{k}`)"
            )));
        }
    }
    let measured = serde_json::to_string(vars).unwrap_or_default();
    if measured.len() > 4096 {
        return Err(ApiError::bad(
            "InvalidParameterValueException",
            format!(
                "Lambda was unable to configure your environment variables because the \
                 environment variables you have provided exceeded the 4KB limit. String \
                 measured: {measured}"
            ),
        ));
    }
    Ok(())
}

/// The code of a create or update: where it will run from, its hash and size.
async fn take_code(
    app: &App,
    ctx: &Ctx,
    name: &str,
    code: &CodeInput,
) -> Result<(CodeLocation, String, u64), ApiError> {
    if code.image_uri.is_some() {
        return Err(ApiError::bad(
            "InvalidParameterValueException",
            "eddy runs zip packages and local directories; container images are not supported",
        ));
    }
    if let Some(zip) = &code.zip_file {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(zip.trim())
            .map_err(|_| {
                ApiError::bad(
                    "InvalidParameterValueException",
                    "Could not decode ZipFile: it must be base64-encoded zip bytes",
                )
            })?;
        let sha = eddy_runtime::code::sha256_base64(&bytes);
        let size = bytes.len() as u64;
        let root = app.functions.code_root(&ctx.region, name);
        let revision = functions::unpack(&root, bytes).await?;
        return Ok((CodeLocation::Unpacked { revision }, sha, size));
    }
    match (&code.s3_bucket, &code.s3_key) {
        (Some(b), Some(key)) if b == LOCAL_BUCKET => {
            let path = std::path::PathBuf::from(key);
            if !path.is_absolute() || !path.is_dir() {
                return Err(ApiError::bad(
                    "InvalidParameterValueException",
                    format!(
                        "S3Key must be an absolute path to a local code directory when S3Bucket \
                         is `{LOCAL_BUCKET}`; `{key}` is not a directory"
                    ),
                ));
            }
            let sha = eddy_runtime::code::sha256_base64(key.as_bytes());
            Ok((CodeLocation::Local { path }, sha, 0))
        }
        (Some(_), _) | (_, Some(_)) => Err(ApiError::bad(
            "InvalidParameterValueException",
            format!(
                "eddy has no S3: pass the code as ZipFile, or a local directory as \
                 S3Bucket=`{LOCAL_BUCKET}` with S3Key=`/absolute/path`"
            ),
        )),
        _ => Err(ApiError::bad(
            "InvalidParameterValueException",
            "Please provide a source for function code.",
        )),
    }
}

async fn create(app: &App, ctx: &Ctx, req: &RestRequest) -> Result<Response, ApiError> {
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
    let Some(runtime) = input.runtime.clone() else {
        return Err(ApiError::bad(
            "InvalidParameterValueException",
            "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
        ));
    };
    let handler = input.handler.clone().unwrap_or_default();
    if handler.is_empty() && runtime.starts_with("python") {
        return Err(ApiError::bad(
            "InvalidParameterValueException",
            "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
        ));
    }
    if app.functions.get(&ctx.region, &name).is_some() {
        return Err(ApiError::new(
            "ResourceConflictException",
            StatusCode::CONFLICT,
            format!("Function already exist: {name}"),
        ));
    }
    let code = input.code.as_ref().unwrap_or_else(|| unreachable_code());
    let (location, sha, size) = take_code(app, ctx, &name, code).await?;
    let now = crate::now_ms();
    let def = FunctionDef {
        region: ctx.region.clone(),
        name: name.clone(),
        runtime,
        role: input.role.clone().unwrap_or_default(),
        handler,
        description: input.description.clone().unwrap_or_default(),
        timeout: input.timeout.unwrap_or(3) as u32,
        memory_size: input.memory_size.unwrap_or(128) as u32,
        environment: input.environment.map(|e| e.variables).unwrap_or_default(),
        code: location,
        code_sha256: sha,
        code_size: size,
        last_modified_ms: now,
        revision_id: uuid::Uuid::new_v4().to_string(),
        reserved_concurrency: None,
        event_invoke: None,
        tags: input.tags,
        architectures: input.architectures.unwrap_or_default(),
        ephemeral_storage: input.ephemeral_storage.map(|s| s.size),
    };
    // A second create racing this one loses here rather than overwriting.
    if app.functions.get(&ctx.region, &name).is_some() {
        return Err(ApiError::new(
            "ResourceConflictException",
            StatusCode::CONFLICT,
            format!("Function already exist: {name}"),
        ));
    }
    ensure_log_group(app, ctx, &name).await;
    app.functions.put(def.clone()).await?;
    rest::json(StatusCode::CREATED, &config(app, &def))
}

fn unreachable_code() -> &'static CodeInput {
    static EMPTY: std::sync::OnceLock<CodeInput> = std::sync::OnceLock::new();
    EMPTY.get_or_init(CodeInput::default)
}

/// Creates `/aws/lambda/NAME` so the CloudWatch Logs calls can read the function's logs.
async fn ensure_log_group(app: &App, ctx: &Ctx, name: &str) {
    let group = format!("/aws/lambda/{name}");
    if app.log_groups.get(&ctx.region, &group).is_none() {
        let def = crate::logs::LogGroupDef {
            region: ctx.region.clone(),
            name: group,
            retention_in_days: None,
            tags: BTreeMap::new(),
            created_ms: crate::now_ms(),
        };
        if let Err(e) = app.log_groups.put(def).await {
            tracing::warn!(error = %e.message, "cannot create the function's log group");
        }
    }
}

fn list(app: &App, ctx: &Ctx, req: &RestRequest) -> Result<Response, ApiError> {
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

fn get(app: &App, ctx: &Ctx, raw: &str, req: &RestRequest) -> Result<Response, ApiError> {
    let d = find(app, ctx, raw, req)?;
    let location = match &d.code {
        CodeLocation::Unpacked { .. } => format!("file://{}", app.functions.code_dir(&d).display()),
        CodeLocation::Local { path } => format!("file://{}", path.display()),
    };
    let mut out = json!({
        "Configuration": config(app, &d),
        "Code": {"RepositoryType": "S3", "Location": location},
        "Tags": d.tags,
    });
    if let Some(n) = d.reserved_concurrency {
        out["Concurrency"] = json!({"ReservedConcurrentExecutions": n});
    }
    rest::json(StatusCode::OK, &out)
}

async fn delete(app: &App, ctx: &Ctx, raw: &str, req: &RestRequest) -> Result<Response, ApiError> {
    let d = find(app, ctx, raw, req)?;
    app.functions.delete(&d).await?;
    Ok(rest::empty(StatusCode::NO_CONTENT))
}

fn check_revision(d: &FunctionDef, revision: Option<&str>) -> Result<(), ApiError> {
    match revision {
        Some(r) if r != d.revision_id => Err(ApiError::bad(
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. Call the \
             GetFunction/GetAlias API to retrieve the latest Revision Id",
        )
        .with_status(StatusCode::PRECONDITION_FAILED)),
        _ => Ok(()),
    }
}

async fn update_config(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let mut d = find(app, ctx, raw, req)?;
    let input: ConfigInput = rest::parse(&req.body)?;
    validate_config(&input, Violations::new())?;
    check_revision(&d, input.revision_id.as_deref())?;
    if let Some(r) = input.runtime {
        d.runtime = r;
    }
    if let Some(r) = input.role {
        d.role = r;
    }
    if let Some(h) = input.handler {
        d.handler = h;
    }
    if let Some(x) = input.description {
        d.description = x;
    }
    if let Some(t) = input.timeout {
        d.timeout = t as u32;
    }
    if let Some(m) = input.memory_size {
        d.memory_size = m as u32;
    }
    if let Some(e) = input.environment {
        d.environment = e.variables;
    }
    if let Some(s) = input.ephemeral_storage {
        d.ephemeral_storage = Some(s.size);
    }
    d.last_modified_ms = crate::now_ms();
    d.revision_id = uuid::Uuid::new_v4().to_string();
    app.functions.put(d.clone()).await?;
    rest::json(StatusCode::OK, &config(app, &d))
}

async fn update_code(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let mut d = find(app, ctx, raw, req)?;
    let input: CodeInput = rest::parse(&req.body)?;
    check_revision(&d, input.revision_id.as_deref())?;
    if let Some(a) = &input.architectures {
        d.architectures = a.clone();
    }
    let _publish = input.publish;
    if input.dry_run == Some(true) {
        return rest::json(StatusCode::OK, &config(app, &d));
    }
    let (location, sha, size) = take_code(app, ctx, &d.name.clone(), &input).await?;
    d.code = location;
    d.code_sha256 = sha;
    d.code_size = size;
    d.last_modified_ms = crate::now_ms();
    d.revision_id = uuid::Uuid::new_v4().to_string();
    app.functions.put(d.clone()).await?;
    rest::json(StatusCode::OK, &config(app, &d))
}

async fn invoke(app: &App, ctx: &Ctx, raw: &str, req: &RestRequest) -> Result<Response, ApiError> {
    let d = find(app, ctx, raw, req)?;
    let kind = req
        .header("x-amz-invocation-type")
        .unwrap_or("RequestResponse");
    let log_type = req.header("x-amz-log-type").unwrap_or("None");
    if !matches!(kind, "RequestResponse" | "Event" | "DryRun") {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{kind}' at 'invocationType' failed to satisfy \
             constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        )));
    }
    if !matches!(log_type, "None" | "Tail") {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{log_type}' at 'logType' failed to satisfy \
             constraint: Member must satisfy enum value set: [Tail, None]"
        )));
    }
    let payload: Bytes = if req.body.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"{}")
    } else {
        req.body.clone()
    };
    let limit = if kind == "Event" {
        MAX_ASYNC_PAYLOAD
    } else {
        MAX_SYNC_PAYLOAD
    };
    if payload.len() > limit {
        return Err(ApiError::new(
            "RequestTooLargeException",
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
        ));
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(&payload).is_err() {
        return Err(ApiError::bad(
            "InvalidRequestContentException",
            "Could not parse request body into json: Could not parse payload into json: \
             Unexpected character: was expecting a JSON value",
        ));
    }
    match kind {
        "DryRun" => return Ok(rest::empty(StatusCode::NO_CONTENT)),
        "Event" => {
            let text = String::from_utf8_lossy(&payload).into_owned();
            let id = crate::delivery::function::enqueue(app, &d, text, Vec::new()).await?;
            let mut res = StatusCode::ACCEPTED.into_response();
            if let Ok(v) = HeaderValue::from_str(&id) {
                res.headers_mut().insert("x-amzn-requestid", v);
            }
            return Ok(res);
        }
        _ => {}
    }
    let client_context = match req.header("x-amz-client-context") {
        Some(b64) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|s| serde_json::from_str::<Value>(s).is_ok_and(|v| v.is_object()));
            match decoded {
                Some(s) => Some(s),
                None => {
                    return Err(ApiError::bad(
                        "InvalidRequestContentException",
                        "Client context must be a valid Base64-encoded JSON object.",
                    ));
                }
            }
        }
        None => None,
    };
    let pool = app
        .functions
        .pool(&d.region, &d.name)
        .ok_or_else(|| not_found(app, ctx, &d.name))?;
    let invoked_arn = if raw.starts_with("arn:") {
        raw.to_owned()
    } else {
        d.arn(app.functions.account())
    };
    let inv = Invocation {
        payload,
        invoked_arn,
        client_context,
        ..Invocation::default()
    };
    let outcome = pool.invoke(inv).await.map_err(|e| match e {
        InvokeError::TooManyRequests => ApiError::new(
            "TooManyRequestsException",
            StatusCode::TOO_MANY_REQUESTS,
            "Rate Exceeded.",
        ),
    })?;
    let mut res = (
        StatusCode::OK,
        [("content-type", "application/json")],
        outcome.payload,
    )
        .into_response();
    let h = res.headers_mut();
    h.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    if let Ok(v) = HeaderValue::from_str(&outcome.request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if let Some(fe) = outcome.function_error {
        h.insert("x-amz-function-error", HeaderValue::from_static(fe));
    }
    if log_type == "Tail" {
        let b64 = base64::engine::general_purpose::STANDARD.encode(outcome.log_tail.as_bytes());
        if let Ok(v) = HeaderValue::from_str(&b64) {
            h.insert("x-amz-log-result", v);
        }
    }
    Ok(res)
}

async fn put_concurrency(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Input {
        reserved_concurrent_executions: Option<i64>,
    }
    let mut d = find(app, ctx, raw, req)?;
    let input: Input = rest::parse(&req.body)?;
    let Some(n) = input.reserved_concurrent_executions else {
        return Err(ApiError::validation(
            "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed \
             to satisfy constraint: Member must not be null",
        ));
    };
    if n < 0 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{n}' at 'reservedConcurrentExecutions' failed \
             to satisfy constraint: Member must have value greater than or equal to 0"
        )));
    }
    let limit = i64::from(app.functions.default_concurrency()).max(1000);
    if n > limit {
        return Err(ApiError::bad(
            "InvalidParameterValueException",
            format!(
                "Specified ReservedConcurrentExecutions for function decreases account's \
                 UnreservedConcurrentExecution below its minimum value of [100]. ({n} > {limit})"
            ),
        ));
    }
    d.reserved_concurrency = Some(n as u32);
    app.functions.put(d).await?;
    rest::json(StatusCode::OK, &json!({"ReservedConcurrentExecutions": n}))
}

async fn delete_concurrency(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let mut d = find(app, ctx, raw, req)?;
    d.reserved_concurrency = None;
    app.functions.put(d).await?;
    Ok(rest::empty(StatusCode::NO_CONTENT))
}

fn event_invoke_shape(app: &App, d: &FunctionDef, c: &EventInvokeConfig) -> Value {
    let mut dest = json!({});
    if let Some(s) = &c.on_success {
        dest["OnSuccess"] = json!({"Destination": s});
    }
    if let Some(f) = &c.on_failure {
        dest["OnFailure"] = json!({"Destination": f});
    }
    let mut out = json!({
        "LastModified": c.last_modified_ms as f64 / 1000.0,
        "FunctionArn": format!("{}:$LATEST", d.arn(app.functions.account())),
        "DestinationConfig": dest,
    });
    if let Some(n) = c.maximum_retry_attempts {
        out["MaximumRetryAttempts"] = json!(n);
    }
    if let Some(n) = c.maximum_event_age_in_seconds {
        out["MaximumEventAgeInSeconds"] = json!(n);
    }
    out
}

async fn event_invoke_config(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "PascalCase")]
    struct Dest {
        destination: Option<String>,
    }
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "PascalCase")]
    struct Dests {
        on_success: Option<Dest>,
        on_failure: Option<Dest>,
    }
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "PascalCase")]
    struct Input {
        maximum_retry_attempts: Option<i64>,
        maximum_event_age_in_seconds: Option<i64>,
        destination_config: Option<Dests>,
    }
    let mut d = find(app, ctx, raw, req)?;
    let arn = d.arn(app.functions.account());
    match req.method {
        Method::GET => match &d.event_invoke {
            Some(c) => rest::json(StatusCode::OK, &event_invoke_shape(app, &d, c)),
            None => Err(ApiError::new(
                "ResourceNotFoundException",
                StatusCode::NOT_FOUND,
                format!("The function {arn} doesn't have an EventInvokeConfig"),
            )),
        },
        Method::DELETE => {
            if d.event_invoke.is_none() {
                return Err(ApiError::new(
                    "ResourceNotFoundException",
                    StatusCode::NOT_FOUND,
                    format!("The function {arn} doesn't have an EventInvokeConfig"),
                ));
            }
            d.event_invoke = None;
            app.functions.put(d).await?;
            Ok(rest::empty(StatusCode::NO_CONTENT))
        }
        Method::PUT | Method::POST => {
            let input: Input = rest::parse(&req.body)?;
            let mut v = Violations::new();
            v.range("maximumRetryAttempts", input.maximum_retry_attempts, 0, 2);
            v.range(
                "maximumEventAgeInSeconds",
                input.maximum_event_age_in_seconds,
                60,
                21_600,
            );
            v.finish()?;
            let dests = input.destination_config.unwrap_or_default();
            let on_success = dests.on_success.and_then(|x| x.destination);
            let on_failure = dests.on_failure.and_then(|x| x.destination);
            for dest in [&on_success, &on_failure].into_iter().flatten() {
                use crate::delivery::target::TargetKind;
                if !matches!(
                    TargetKind::of(dest),
                    TargetKind::Queue { .. } | TargetKind::Bus { .. } | TargetKind::Function { .. }
                ) {
                    return Err(ApiError::bad(
                        "InvalidParameterValueException",
                        format!(
                            "The destination ARN {dest} is invalid: eddy sends invocation records \
                             to a queue, a bus or a function"
                        ),
                    ));
                }
            }
            let base = if req.method == Method::POST {
                d.event_invoke.clone().unwrap_or_default()
            } else {
                EventInvokeConfig::default()
            };
            let c = EventInvokeConfig {
                maximum_retry_attempts: input
                    .maximum_retry_attempts
                    .map(|n| n as u32)
                    .or(base.maximum_retry_attempts),
                maximum_event_age_in_seconds: input
                    .maximum_event_age_in_seconds
                    .map(|n| n as u32)
                    .or(base.maximum_event_age_in_seconds),
                on_success: on_success.or(base.on_success),
                on_failure: on_failure.or(base.on_failure),
                last_modified_ms: crate::now_ms(),
            };
            d.event_invoke = Some(c.clone());
            let shape = event_invoke_shape(app, &d, &c);
            app.functions.put(d).await?;
            rest::json(StatusCode::OK, &shape)
        }
        _ => Err(ApiError::new(
            "UnknownOperationException",
            StatusCode::NOT_FOUND,
            "Unknown operation",
        )),
    }
}

async fn tags(app: &App, ctx: &Ctx, arn: &str, req: &RestRequest) -> Result<Response, ApiError> {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "PascalCase")]
    struct Input {
        #[serde(default)]
        tags: BTreeMap<String, String>,
    }
    let mut d = find(app, ctx, arn, req)?;
    match req.method {
        Method::GET => rest::json(StatusCode::OK, &json!({"Tags": d.tags})),
        Method::POST => {
            let input: Input = rest::parse(&req.body)?;
            d.tags.extend(input.tags);
            app.functions.put(d).await?;
            Ok(rest::empty(StatusCode::NO_CONTENT))
        }
        Method::DELETE => {
            for (k, v) in &req.query {
                if k == "tagKeys" {
                    d.tags.remove(v);
                }
            }
            app.functions.put(d).await?;
            Ok(rest::empty(StatusCode::NO_CONTENT))
        }
        _ => Err(ApiError::new(
            "UnknownOperationException",
            StatusCode::NOT_FOUND,
            "Unknown operation",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_in_every_form() {
        assert_eq!(parse_name("f"), Some(("f".into(), None)));
        assert_eq!(
            parse_name("arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"),
            Some(("f".into(), Some("$LATEST".into())))
        );
        assert_eq!(
            parse_name("123456789012:function:my-fn"),
            Some(("my-fn".into(), None))
        );
        assert_eq!(parse_name("bad name"), None);
        assert_eq!(parse_name(""), None);
    }

    #[test]
    fn roles() {
        assert!(valid_role("arn:aws:iam::123456789012:role/lambda-role"));
        assert!(!valid_role("role"));
        assert!(!valid_role("arn:aws:iam::1234:role/x"));
    }

    #[test]
    fn last_modified_shape() {
        assert_eq!(
            last_modified(1_704_067_200_123),
            "2024-01-01T00:00:00.123+0000"
        );
    }
}
