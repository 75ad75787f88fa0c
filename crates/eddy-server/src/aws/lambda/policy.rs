//! Resource-based policies through the Lambda API: AddPermission, RemovePermission, GetPolicy
//! (botocore's `lambda/2015-03-31`; statements and messages as AWS makes them). The policy is
//! kept and returned; it is enforced once requests are authenticated.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{function_arn, not_found_404, qualifier_of, versions};
use crate::App;
use crate::aws::Ctx;
use crate::aws::rest::{self, RestRequest};
use crate::error::{ApiError, Violations};
use crate::functions::{FunctionError, LATEST, Permission};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Input {
    statement_id: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    source_arn: Option<String>,
    source_account: Option<String>,
    event_source_token: Option<String>,
    revision_id: Option<String>,
    #[serde(rename = "PrincipalOrgID")]
    principal_org_id: Option<String>,
    function_url_auth_type: Option<String>,
    invoked_via_function_url: Option<bool>,
}

/// `([a-zA-Z0-9-_]+)` (`.` too where the statement id is a path segment), 1-100 characters.
fn valid_statement_id(sid: &str, dots: bool) -> bool {
    !sid.is_empty()
        && sid.len() <= 100
        && sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (dots && b == b'.'))
}

/// `(lambda:[*]|lambda:[a-zA-Z]+|[*])`.
fn valid_action(a: &str) -> bool {
    a == "*"
        || a.strip_prefix("lambda:").is_some_and(|r| {
            r == "*" || (!r.is_empty() && r.bytes().all(|b| b.is_ascii_alphabetic()))
        })
}

/// The function and qualifier of a policy request; an unknown alias or version is refused
/// with the words Lambda uses for each.
fn target(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<(String, Option<String>), ApiError> {
    let (name, qualifier) = qualifier_of(raw, req)?;
    let d = app
        .functions
        .get(&ctx.region, &name)
        .ok_or_else(|| super::not_found(app, ctx, &name))?;
    if let Some(q) = &qualifier
        && q != LATEST
        && !d.has_qualifier(q)
    {
        let arn = function_arn(app, ctx, &format!("{name}:{q}"));
        return Err(if crate::functions::versions::version_number(q).is_some() {
            not_found_404(format!("Function not found: {arn}"))
        } else {
            not_found_404(format!("Cannot find alias arn: {arn}"))
        });
    }
    Ok((name, qualifier))
}

pub(super) async fn add(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let input: Input = rest::parse(&req.body)?;
    let mut v = Violations::new();
    match &input.statement_id {
        None => v.required("statementId"),
        Some(sid) if !valid_statement_id(sid, false) => v.add(
            "statementId",
            Some(sid),
            "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
        ),
        Some(_) => {}
    }
    match &input.action {
        None => v.required("action"),
        Some(a) if !valid_action(a) => v.add(
            "action",
            Some(a),
            "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])",
        ),
        Some(_) => {}
    }
    match &input.principal {
        None => v.required("principal"),
        Some(p) if p.is_empty() || p.chars().any(char::is_whitespace) => v.add(
            "principal",
            Some(p),
            "Member must satisfy regular expression pattern: [^\\s]+",
        ),
        Some(_) => {}
    }
    v.length("sourceArn", input.source_arn.as_deref(), 0, 1024);
    v.length("sourceAccount", input.source_account.as_deref(), 0, 12);
    v.length(
        "eventSourceToken",
        input.event_source_token.as_deref(),
        0,
        256,
    );
    v.length("principalOrgID", input.principal_org_id.as_deref(), 12, 34);
    v.one_of(
        "functionUrlAuthType",
        input.function_url_auth_type.as_deref(),
        &["NONE", "AWS_IAM"],
    );
    v.finish()?;
    let (name, qualifier) = target(app, ctx, raw, req)?;
    if qualifier.as_deref() == Some(LATEST) {
        return Err(ApiError::bad(
            "InvalidParameterValueException",
            "We currently do not support adding policies for $LATEST.",
        ));
    }
    let permission = Permission {
        statement_id: input.statement_id.unwrap_or_default(),
        action: input.action.unwrap_or_default(),
        principal: input.principal.unwrap_or_default(),
        source_arn: input.source_arn,
        source_account: input.source_account,
        event_source_token: input.event_source_token,
        principal_org_id: input.principal_org_id,
        function_url_auth_type: input.function_url_auth_type,
        invoked_via_function_url: input.invoked_via_function_url,
    };
    let statement = app
        .functions
        .add_permission(
            &ctx.region,
            &name,
            qualifier.as_deref(),
            permission,
            input.revision_id.as_deref(),
        )
        .await
        .map_err(|e| versions::error(app, ctx, &name, e))?;
    rest::json(
        StatusCode::CREATED,
        &json!({"Statement": statement.to_string()}),
    )
}

pub(super) fn get(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    let (name, qualifier) = target(app, ctx, raw, req)?;
    let (policy, revision) = app
        .functions
        .policy(&ctx.region, &name, qualifier.as_deref())
        .map_err(|e| versions::error(app, ctx, &name, e))?;
    rest::json(
        StatusCode::OK,
        &json!({"Policy": policy.to_string(), "RevisionId": revision}),
    )
}

pub(super) async fn remove(
    app: &App,
    ctx: &Ctx,
    raw: &str,
    sid: &str,
    req: &RestRequest,
) -> Result<Response, ApiError> {
    if !valid_statement_id(sid, true) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{sid}' at 'statementId' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)"
        )));
    }
    let (name, _) = qualifier_of(raw, req)?;
    if app.functions.get(&ctx.region, &name).is_none() {
        return Err(not_found_404(format!(
            "No policy found for: {}",
            function_arn(app, ctx, &name)
        )));
    }
    let (name, qualifier) = target(app, ctx, raw, req)?;
    app.functions
        .remove_permission(
            &ctx.region,
            &name,
            qualifier.as_deref(),
            sid,
            req.query("RevisionId"),
        )
        .await
        .map_err(|e| match e {
            FunctionError::NoPolicy => {
                not_found_404("No policy is associated with the given resource.")
            }
            e => versions::error(app, ctx, &name, e),
        })?;
    Ok(rest::empty(StatusCode::NO_CONTENT))
}
