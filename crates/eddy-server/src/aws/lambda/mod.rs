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
//! * `event_source_mappings`: SQS queues polled for functions (over `eddy_core::sources`);
//! * `versions`: published versions and aliases;
//! * `policy`: resource-based policies (AddPermission, RemovePermission, GetPolicy);
//! * `urls`: function URL configurations (the URLs themselves are served by the gateway);
//! * `layers`: layer versions (PublishLayerVersion and friends).

mod event_source_mappings;
mod functions;
mod invoke;
mod layers;
mod policy;
mod urls;
mod versions;

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
use crate::functions::{FunctionDef, FunctionError, LATEST};

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
            find_qualified(app, ctx, f, &req)
                .and_then(|q| rest::json(StatusCode::OK, &q.config(app))),
        ),
        [_, "functions", f, "versions"] if *m == Method::POST => {
            ("PublishVersion", versions::publish(app, ctx, f, &req).await)
        }
        [_, "functions", f, "versions"] if *m == Method::GET => {
            ("ListVersionsByFunction", versions::list(app, ctx, f, &req))
        }
        [_, "functions", f, "aliases"] if *m == Method::POST => (
            "CreateAlias",
            versions::create_alias(app, ctx, f, &req).await,
        ),
        [_, "functions", f, "aliases"] if *m == Method::GET => {
            ("ListAliases", versions::list_aliases(app, ctx, f, &req))
        }
        [_, "functions", f, "aliases", a] if *m == Method::GET => {
            ("GetAlias", versions::get_alias(app, ctx, f, a, &req))
        }
        [_, "functions", f, "aliases", a] if *m == Method::PUT => (
            "UpdateAlias",
            versions::update_alias(app, ctx, f, a, &req).await,
        ),
        [_, "functions", f, "aliases", a] if *m == Method::DELETE => (
            "DeleteAlias",
            versions::delete_alias(app, ctx, f, a, &req).await,
        ),
        [_, "functions", f, "policy"] if *m == Method::POST => {
            ("AddPermission", policy::add(app, ctx, f, &req).await)
        }
        [_, "functions", f, "policy"] if *m == Method::GET => {
            ("GetPolicy", policy::get(app, ctx, f, &req))
        }
        [_, "functions", f, "policy", sid] if *m == Method::DELETE => (
            "RemovePermission",
            policy::remove(app, ctx, f, sid, &req).await,
        ),
        [_, "functions", f, "url"] if *m == Method::POST => (
            "CreateFunctionUrlConfig",
            urls::create(app, ctx, f, &req).await,
        ),
        [_, "functions", f, "url"] if *m == Method::GET => {
            ("GetFunctionUrlConfig", urls::get(app, ctx, f, &req))
        }
        [_, "functions", f, "url"] if *m == Method::PUT => (
            "UpdateFunctionUrlConfig",
            urls::update(app, ctx, f, &req).await,
        ),
        [_, "functions", f, "url"] if *m == Method::DELETE => (
            "DeleteFunctionUrlConfig",
            urls::delete(app, ctx, f, &req).await,
        ),
        [_, "functions", f, "urls"] if *m == Method::GET => {
            ("ListFunctionUrlConfigs", urls::list(app, ctx, f, &req))
        }
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
        [_, "layers"] if *m == Method::GET && req.query("find") == Some("LayerVersion") => {
            ("GetLayerVersionByArn", layers::get_by_arn(app, ctx, &req))
        }
        [_, "layers"] if *m == Method::GET => ("ListLayers", layers::list_layers(app, ctx, &req)),
        [_, "layers", l, "versions"] if *m == Method::POST => (
            "PublishLayerVersion",
            layers::publish(app, ctx, l, &req).await,
        ),
        [_, "layers", l, "versions"] if *m == Method::GET => (
            "ListLayerVersions",
            layers::list_versions(app, ctx, l, &req),
        ),
        [_, "layers", l, "versions", n] if *m == Method::GET => {
            ("GetLayerVersion", layers::get(app, ctx, l, n))
        }
        [_, "layers", l, "versions", n] if *m == Method::DELETE => {
            ("DeleteLayerVersion", layers::delete(app, ctx, l, n).await)
        }
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
        FunctionError::QualifierNotFound { name, qualifier } => not_found_404(format!(
            "Function not found: {}:{qualifier}",
            function_arn(app, ctx, &name)
        )),
        FunctionError::CodeShaMismatch { given, latest } => invalid(format!(
            "CodeSHA256 ({given}) is different from current CodeSHA256 in $LATEST ({latest}). \
             Please try again with the CodeSHA256 in $LATEST."
        )),
        FunctionError::DeleteLatest => {
            invalid("$LATEST version cannot be deleted without deleting the function.".to_owned())
        }
        FunctionError::VersionInUse { aliases, .. } => ApiError::new(
            "ResourceConflictException",
            StatusCode::CONFLICT,
            format!(
                "Unable to delete version because the following aliases reference it: [{}]",
                aliases.join(", ")
            ),
        ),
        FunctionError::AliasName(n) => ApiError::validation(format!(
            "1 validation error detected: Value '{n}' at 'name' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        )),
        // The caller words these with the alias's ARN (see `versions`).
        FunctionError::AliasExists(a) => ApiError::new(
            "ResourceConflictException",
            StatusCode::CONFLICT,
            format!("Alias already exists: {a}"),
        ),
        FunctionError::AliasNotFound(a) => not_found_404(format!("Alias not found: {a}")),
        FunctionError::VersionNotFound(v) => not_found_404(format!("Function not found: {v}")),
        FunctionError::Routing(m) => invalid(m),
        FunctionError::RoutingWeight { version, weight } => ApiError::validation(format!(
            "1 validation error detected: Value '{{{version}={weight:?}}}' at \
             'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value \
             must satisfy constraint: [Member must have value less than or equal to 1.0, Member \
             must have value greater than or equal to 0.0, Member must not be null]"
        )),
        FunctionError::StatementExists(sid) => ApiError::new(
            "ResourceConflictException",
            StatusCode::CONFLICT,
            format!(
                "The statement id ({sid}) provided already exists. Please provide a new \
                 statement id, or remove the existing statement."
            ),
        ),
        FunctionError::StatementNotFound(sid) => {
            not_found_404(format!("Statement {sid} is not found in resource policy."))
        }
        FunctionError::NoPolicy => not_found_404("The resource you requested does not exist."),
        FunctionError::Permission(m) => invalid(m),
        FunctionError::PolicyTooLong(size) => ApiError::bad(
            "PolicyLengthExceededException",
            format!(
                "The final policy size ({size}) is bigger than the limit ({}).",
                crate::functions::permissions::MAX_POLICY_BYTES
            ),
        ),
        FunctionError::UrlExists(name) => ApiError::new(
            "ResourceConflictException",
            StatusCode::CONFLICT,
            format!(
                "Failed to create function url config for [functionArn = {}]. Error message:  \
                 FunctionUrlConfig exists for this Lambda function",
                function_arn(app, ctx, &name)
            ),
        ),
        FunctionError::UrlNotFound(_) => {
            not_found_404("The resource you requested does not exist.")
        }
        FunctionError::UrlQualifier(q) => ApiError::validation(format!(
            "1 validation error detected: Value '{q}' at 'qualifier' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: \
             ((?!^\\d+$)^[0-9a-zA-Z-_]+$)"
        )),
        FunctionError::Layer(m) if m.starts_with("1 validation error") => ApiError::validation(m),
        FunctionError::Layer(m) => invalid(m),
        FunctionError::Core(e) => e.into(),
    }
}

/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME` (NAME may carry a qualifier).
pub(super) fn function_arn(app: &App, ctx: &Ctx, name: &str) -> String {
    format!(
        "arn:aws:lambda:{}:{}:function:{name}",
        ctx.region,
        app.functions.account()
    )
}

pub(super) fn not_found_404(message: impl Into<String>) -> ApiError {
    ApiError::new("ResourceNotFoundException", StatusCode::NOT_FOUND, message)
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

/// A function as a request qualified it: `$LATEST` (no qualifier, or `$LATEST`), a published
/// version, or an alias (and the version it points to).
pub(super) struct Qualified {
    /// The function (its `$LATEST`, with its versions and aliases).
    pub latest: FunctionDef,
    /// The qualifier as given (`None` when none was).
    pub qualifier: Option<String>,
    /// The version the qualifier names: `$LATEST` or a number (an alias's primary version).
    pub version: String,
}

impl Qualified {
    /// The definition of the version named.
    pub fn def(&self) -> &FunctionDef {
        self.latest
            .version_def(&self.version)
            .unwrap_or(&self.latest)
    }

    /// The `FunctionConfiguration` of the version named, its `FunctionArn` qualified as the
    /// request was.
    pub fn config(&self, app: &App) -> Value {
        let mut out = config(app, self.def());
        if let Some(q) = &self.qualifier {
            out["FunctionArn"] = json!(format!("{}:{q}", self.latest.arn(app.functions.account())));
        }
        out["Version"] = json!(self.version);
        out
    }
}

/// The qualifier of a request: from the function name (`NAME:Q` or a qualified ARN) or the
/// `Qualifier` query parameter; both given and different is refused, as Lambda does.
pub(super) fn qualifier_of(
    raw: &str,
    req: &RestRequest,
) -> Result<(String, Option<String>), ApiError> {
    let (name, from_name) = parse_name(raw).ok_or_else(|| name_error(raw))?;
    let from_query = req.query("Qualifier").map(str::to_owned);
    match (from_name, from_query) {
        (Some(a), Some(b)) if a != b => Err(ApiError::bad(
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified \
             qualifier.",
        )),
        (a, b) => Ok((name, a.or(b))),
    }
}

/// The function and version or alias a request names; unknown ones are `Function not found`
/// with the ARN as qualified.
pub(super) fn find_qualified(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Qualified, ApiError> {
    let (name, qualifier) = qualifier_of(raw, req)?;
    let latest = app
        .functions
        .get(&ctx.region, &name)
        .ok_or_else(|| not_found(app, ctx, &name))?;
    let version = match qualifier.as_deref() {
        None => LATEST.to_owned(),
        Some(q) if latest.has_version(q) => q.to_owned(),
        Some(q) => match latest.aliases.get(q) {
            Some(a) => a.function_version.clone(),
            None => {
                return Err(ApiError::new(
                    "ResourceNotFoundException",
                    StatusCode::NOT_FOUND,
                    format!(
                        "Function not found: {}:{q}",
                        latest.arn(app.functions.account())
                    ),
                ));
            }
        },
    };
    Ok(Qualified {
        latest,
        qualifier,
        version,
    })
}

/// The function a path names, unqualified or `$LATEST` (the operations that change `$LATEST`
/// or the function as a whole); another qualifier is `Function not found`.
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
        "TracingConfig": {"Mode": d.tracing_mode.as_deref().unwrap_or("PassThrough")},
        "RevisionId": d.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": if d.architectures.is_empty() { vec!["x86_64".to_owned()] } else { d.architectures.clone() },
        "EphemeralStorage": {"Size": d.ephemeral_storage.unwrap_or(512)},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", d.name)},
    });
    if !d.layers.is_empty() {
        out["Layers"] = json!(
            d.layers
                .iter()
                .map(|l| json!({"Arn": l.arn, "CodeSize": l.code_size}))
                .collect::<Vec<_>>()
        );
    }
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
