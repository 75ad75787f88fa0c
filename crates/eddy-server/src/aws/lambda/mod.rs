//! The Lambda API (rest-json): functions' definitions and code, invocations, concurrency and
//! asynchronous invocation settings. botocore's `lambda/2015-03-31` model is the reference for
//! paths, members and status codes; messages follow AWS's texts.
//!
//! Code comes as `Code.ZipFile` (unpacked safely, see `eddy_runtime::code`), as an object of
//! eddy's own S3 (`Code.S3Bucket`/`S3Key`, read and unpacked the same way) or, for
//! development, as a local directory used in place: `Code = {S3Bucket: "hot-reload", S3Key:
//! "/abs/path"}` (the convention LocalStack users know; `hot-reload` is therefore not a bucket
//! name eddy's S3 serves code from).
//!
//! * `functions`: create, read, update, delete, and the checks of a function's configuration;
//! * `invoke`: invocations, concurrency and asynchronous invocation settings;
//! * `event_source_mappings`: SQS queues polled for functions (over `eddy_core::sources`).

mod event_source_mappings;
mod functions;
mod invoke;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use super::Ctx;
use super::rest::{self, RestRequest};
use crate::App;
use crate::error::ApiError;
use crate::functions::{FunctionDef, FunctionError};

/// The largest request the Lambda API takes (a 50 MB zip, base64-encoded, in JSON).
pub const MAX_REQUEST_BYTES: usize = 70 * 1024 * 1024;

type Reply = (&'static str, Result<Response, ApiError>);

/// Answers one Lambda API call: the operation's name (for metrics) and its response.
pub async fn call(app: &Arc<App>, ctx: &Ctx, req: RestRequest) -> Reply {
    let path = req.path();
    let m = &req.method;
    match path.as_slice() {
        [_, "functions"] if *m == Method::POST => {
            ("CreateFunction", functions::create(app, ctx, &req).await)
        }
        [_, "functions"] if *m == Method::GET => ("ListFunctions", functions::list(app, ctx, &req)),
        [_, "functions", f] if *m == Method::GET => {
            ("GetFunction", functions::get(app, ctx, f, &req))
        }
        [_, "functions", f] if *m == Method::DELETE => {
            ("DeleteFunction", functions::delete(app, ctx, f, &req).await)
        }
        [_, "functions", f, "configuration"] if *m == Method::GET => (
            "GetFunctionConfiguration",
            find(app, ctx, f, &req).and_then(|d| rest::json(StatusCode::OK, &config(app, &d))),
        ),
        [_, "functions", f, "configuration"] if *m == Method::PUT => (
            "UpdateFunctionConfiguration",
            functions::update_config(app, ctx, f, &req).await,
        ),
        [_, "functions", f, "code"] if *m == Method::PUT => (
            "UpdateFunctionCode",
            functions::update_code(app, ctx, f, &req).await,
        ),
        [_, "functions", f, "invocations"] if *m == Method::POST => {
            ("Invoke", invoke::invoke(app, ctx, f, &req).await)
        }
        [_, "functions", f, "concurrency"] if *m == Method::PUT => (
            "PutFunctionConcurrency",
            invoke::put_concurrency(app, ctx, f, &req).await,
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
            invoke::delete_concurrency(app, ctx, f, &req).await,
        ),
        [_, "functions", f, "event-invoke-config"] => (
            "FunctionEventInvokeConfig",
            invoke::event_invoke_config(app, ctx, f, &req).await,
        ),
        [_, "event-source-mappings"] if *m == Method::POST => (
            "CreateEventSourceMapping",
            event_source_mappings::create(app, ctx, &req).await,
        ),
        [_, "event-source-mappings"] if *m == Method::GET => (
            "ListEventSourceMappings",
            event_source_mappings::list(app, ctx, &req),
        ),
        [_, "event-source-mappings", id] if *m == Method::GET => (
            "GetEventSourceMapping",
            event_source_mappings::get(app, ctx, id),
        ),
        [_, "event-source-mappings", id] if *m == Method::PUT => (
            "UpdateEventSourceMapping",
            event_source_mappings::update(app, ctx, id, &req).await,
        ),
        [_, "event-source-mappings", id] if *m == Method::DELETE => (
            "DeleteEventSourceMapping",
            event_source_mappings::delete(app, ctx, id).await,
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
        _ => ("unknown", Err(req.unknown_operation())),
    }
}

/// `FunctionName` as the API accepts it: a name, a partial ARN (`ACCOUNT:function:NAME`) or a
/// full ARN, optionally with a qualifier. Returns the name and the qualifier.
pub(super) fn parse_name(raw: &str) -> Option<(String, Option<String>)> {
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

pub(super) fn not_found(app: &App, ctx: &Ctx, name: &str) -> ApiError {
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

/// Lambda's words for the core's refusals of function changes (`NotFound` needs the caller's
/// region for the ARN it names).
pub(crate) fn function_error(app: &App, ctx: &Ctx, e: FunctionError) -> ApiError {
    let invalid = |m: String| ApiError::bad("InvalidParameterValueException", m);
    match e {
        FunctionError::UnsupportedRuntime(rt) => invalid(format!(
            "The runtime parameter of {rt} is not supported by eddy. Supported runtimes: {}",
            eddy_runtime::spec::SUPPORTED_RUNTIMES.join(", ")
        )),
        FunctionError::RuntimeAndHandlerRequired => invalid(
            "Runtime and Handler are mandatory parameters for functions created with deployment \
             packages."
                .to_owned(),
        ),
        FunctionError::OutOfRange { member, value } => ApiError::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
             constraint: Member must be within its limits"
        )),
        FunctionError::ReservedVariables(keys) => invalid(format!(
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided contains reserved keys that are currently not \
             supported for modification. Reserved keys used in this request: {}",
            keys.join(", ")
        )),
        FunctionError::VariableName(k) => ApiError::validation(format!(
            "1 validation error detected: Value at 'environment.variables' failed to satisfy \
             constraint: Map keys must satisfy constraint: [Member must satisfy regular \
             expression pattern: [a-zA-Z]([a-zA-Z0-9_])+] (key `{k}`)"
        )),
        FunctionError::EnvironmentTooLarge(measured) => invalid(format!(
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )),
        FunctionError::NotADirectory(path) => invalid(format!(
            "S3Key must be an absolute path to a local code directory when S3Bucket is \
             `{LOCAL_BUCKET}`; `{}` is not a directory",
            path.display()
        )),
        FunctionError::Code(m) => invalid(m),
        FunctionError::Unpack(e) => e.into(),
        FunctionError::Exists(name) => ApiError::new(
            "ResourceConflictException",
            StatusCode::CONFLICT,
            format!("Function already exist: {name}"),
        ),
        FunctionError::NotFound(name) => not_found(app, ctx, &name),
        FunctionError::RevisionMismatch => ApiError::bad(
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. Call the \
             GetFunction/GetAlias API to retrieve the latest Revision Id",
        )
        .with_status(StatusCode::PRECONDITION_FAILED),
        FunctionError::ConcurrencyAboveLimit { n, limit } => invalid(format!(
            "Specified ReservedConcurrentExecutions for function decreases account's \
             UnreservedConcurrentExecution below its minimum value of [100]. ({n} > {limit})"
        )),
        FunctionError::Destination(dest) => invalid(format!(
            "The destination ARN {dest} is invalid: eddy sends invocation records to a queue, a \
             bus or a function"
        )),
        FunctionError::NoEventInvokeConfig(name) => ApiError::new(
            "ResourceNotFoundException",
            StatusCode::NOT_FOUND,
            format!(
                "The function arn:aws:lambda:{}:{}:function:{name} doesn't have an \
                 EventInvokeConfig",
                ctx.region,
                app.functions.account()
            ),
        ),
        FunctionError::Core(e) => e.into(),
    }
}

/// The bucket name that means "a local directory" in `Code.S3Bucket`.
pub(super) const LOCAL_BUCKET: &str = "hot-reload";

pub(super) fn name_error(raw: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{raw}' at 'functionName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: \
         (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
    ))
}

/// The function a path names, with the `Qualifier` of the path or query (only `$LATEST`
/// exists: eddy does not publish versions).
pub(super) fn find(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<FunctionDef, ApiError> {
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
pub(super) fn last_modified(ms: i64) -> String {
    let t = eddy_model::event::format_time(ms);
    // format_time gives YYYY-MM-DDTHH:MM:SSZ.
    format!(
        "{}.{:03}+0000",
        t.trim_end_matches('Z'),
        ms.rem_euclid(1000)
    )
}

/// The `FunctionConfiguration` shape.
pub(super) fn config(app: &App, d: &FunctionDef) -> Value {
    let mut out = json!({
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
    });
    // A function that cannot start (no interpreter, no runtime client, no `bootstrap`) is
    // `Failed` with the reason and its fix, as Lambda reports a function it cannot run; a note
    // (another Python version) rides along on an active one.
    match app.functions.readiness(&d.region, &d.name) {
        Some(eddy_runtime::Readiness::NotReady(why)) => {
            out["State"] = json!("Failed");
            out["StateReasonCode"] = json!("InvalidRuntime");
            out["StateReason"] = json!(why);
            out["LastUpdateStatus"] = json!("Failed");
            out["LastUpdateStatusReasonCode"] = json!("InvalidRuntime");
            out["LastUpdateStatusReason"] = json!(why);
        }
        Some(eddy_runtime::Readiness::Ready(Some(note))) => {
            out["StateReason"] = json!(note);
        }
        _ => {}
    }
    if let Some(cp) = &d.capacity_provider {
        let mut m = json!({"CapacityProviderArn": cp.arn});
        if let Some(n) = cp.max_concurrency {
            m["PerExecutionEnvironmentMaxConcurrency"] = json!(n);
        }
        if let Some(g) = cp.memory_gib_per_vcpu {
            m["ExecutionEnvironmentMemoryGiBPerVCpu"] = json!(g);
        }
        out["CapacityProviderConfig"] = json!({"LambdaManagedInstancesCapacityProviderConfig": m});
    }
    out
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
    fn last_modified_shape() {
        assert_eq!(
            last_modified(1_704_067_200_123),
            "2024-01-01T00:00:00.123+0000"
        );
    }
}
