//! A function's resource-based policy (AddPermission, RemovePermission, GetPolicy): the
//! statements Lambda builds from a permission, one policy per qualifier (the function itself,
//! a version or an alias). Stored and returned as AWS builds them; evaluated once requests are
//! authenticated (the identity work).

use serde_json::{Map, Value, json};

use super::{FunctionDef, FunctionError, Functions};

/// The largest policy document of one qualifier (Lambda's 20 KB quota).
pub const MAX_POLICY_BYTES: usize = 20_480;

/// One AddPermission request.
#[derive(Debug, Clone, Default)]
pub struct Permission {
    pub statement_id: String,
    pub action: String,
    pub principal: String,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
    pub event_source_token: Option<String>,
    pub principal_org_id: Option<String>,
    pub function_url_auth_type: Option<String>,
    pub invoked_via_function_url: Option<bool>,
}

/// `([a-zA-Z0-9-_]+)`, 1-100 characters (the model's pattern; refused before the core).
fn check_action(action: &str) -> Result<(), FunctionError> {
    let ok = action == "*"
        || action == "lambda:*"
        || action
            .strip_prefix("lambda:")
            .is_some_and(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphabetic()));
    if ok {
        Ok(())
    } else {
        Err(FunctionError::Permission(format!(
            "1 validation error detected: Value '{action}' at 'action' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: \
             (lambda:[*]|lambda:[a-zA-Z]+|[*])"
        )))
    }
}

/// The statement's `Principal`: `*`, a service (`events.amazonaws.com`), an account id (as its
/// root user's ARN) or an ARN.
fn principal(p: &str) -> Result<Value, FunctionError> {
    if p == "*" {
        return Ok(json!("*"));
    }
    if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(json!({"AWS": format!("arn:aws:iam::{p}:root")}));
    }
    if p.starts_with("arn:") {
        return Ok(json!({"AWS": p}));
    }
    if p.ends_with(".amazonaws.com") || p.ends_with(".amazon.com") {
        return Ok(json!({"Service": p}));
    }
    Err(FunctionError::Permission(format!(
        "The provided principal was invalid. Please check the principal and try again. ({p})"
    )))
}

impl Permission {
    /// The policy statement Lambda makes of this permission on `resource` (the function's ARN,
    /// qualified as the request was).
    pub fn statement(&self, resource: &str) -> Result<Value, FunctionError> {
        check_action(&self.action)?;
        let principal = principal(&self.principal)?;
        let mut condition = Map::new();
        let mut add = |op: &str, key: &str, value: &str| {
            let entry = condition
                .entry(op.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                m.insert(key.to_owned(), json!(value));
            }
        };
        if let Some(a) = &self.source_account {
            add("StringEquals", "AWS:SourceAccount", a);
        }
        if let Some(t) = &self.event_source_token {
            add("StringEquals", "lambda:EventSourceToken", t);
        }
        if let Some(o) = &self.principal_org_id {
            add("StringEquals", "aws:PrincipalOrgID", o);
        }
        if let Some(t) = &self.function_url_auth_type {
            add("StringEquals", "lambda:FunctionUrlAuthType", t);
        }
        if self.invoked_via_function_url == Some(true) {
            add("Bool", "lambda:InvokedViaFunctionUrl", "true");
        }
        if let Some(a) = &self.source_arn {
            add("ArnLike", "AWS:SourceArn", a);
        }
        let mut s = json!({
            "Sid": self.statement_id,
            "Effect": "Allow",
            "Principal": principal,
            "Action": self.action,
            "Resource": resource,
        });
        if !condition.is_empty() {
            s["Condition"] = Value::Object(condition);
        }
        Ok(s)
    }
}

/// The policy document of a qualifier's statements (`Version`, `Id`, `Statement`).
pub fn document(statements: &[Value]) -> Value {
    json!({"Version": "2012-10-17", "Id": "default", "Statement": statements})
}

/// The resource a statement names: the function's ARN with the qualifier, if any.
fn resource(def: &FunctionDef, account: &str, qualifier: &str) -> String {
    if qualifier.is_empty() {
        def.arn(account)
    } else {
        format!("{}:{qualifier}", def.arn(account))
    }
}

impl Functions {
    /// AddPermission: adds a statement to the policy of the function or of `qualifier` (a
    /// version or an alias), only if `revision` (when given) is the function's. Returns the
    /// statement.
    pub async fn add_permission(
        &self,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
        permission: Permission,
        revision: Option<&str>,
    ) -> Result<Value, FunctionError> {
        let account = self.account.clone();
        self.change(region, name, |d| {
            let q = qualifier_key(d, name, qualifier)?;
            if revision.is_some_and(|r| r != d.revision_id) {
                return Err(FunctionError::RevisionMismatch);
            }
            let statement = permission.statement(&resource(d, &account, &q))?;
            let list = d.policy.entry(q).or_default();
            if list
                .iter()
                .any(|s| s["Sid"].as_str() == Some(&permission.statement_id))
            {
                return Err(FunctionError::StatementExists(
                    permission.statement_id.clone(),
                ));
            }
            list.push(statement.clone());
            let size = document(list).to_string().len();
            if size > MAX_POLICY_BYTES {
                return Err(FunctionError::PolicyTooLong(size));
            }
            d.revision_id = uuid::Uuid::new_v4().to_string();
            Ok(statement)
        })
        .await
    }

    /// RemovePermission.
    pub async fn remove_permission(
        &self,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
        statement_id: &str,
        revision: Option<&str>,
    ) -> Result<(), FunctionError> {
        self.change(region, name, |d| {
            let q = qualifier_key(d, name, qualifier)?;
            if revision.is_some_and(|r| r != d.revision_id) {
                return Err(FunctionError::RevisionMismatch);
            }
            let Some(list) = d.policy.get_mut(&q) else {
                return Err(FunctionError::NoPolicy);
            };
            let before = list.len();
            list.retain(|s| s["Sid"].as_str() != Some(statement_id));
            if list.len() == before {
                return Err(FunctionError::StatementNotFound(statement_id.to_owned()));
            }
            if list.is_empty() {
                d.policy.remove(&q);
            }
            d.revision_id = uuid::Uuid::new_v4().to_string();
            Ok(())
        })
        .await
    }

    /// GetPolicy: the policy document and the function's revision id.
    pub fn policy(
        &self,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(Value, String), FunctionError> {
        let d = self
            .get(region, name)
            .ok_or_else(|| FunctionError::NotFound(name.to_owned()))?;
        let q = qualifier_key(&d, name, qualifier)?;
        match d.policy.get(&q) {
            Some(list) if !list.is_empty() => Ok((document(list), d.revision_id.clone())),
            _ => Err(FunctionError::NoPolicy),
        }
    }
}

/// The policy key of a qualifier: `""` for none (or `$LATEST`), else a version or alias the
/// function has.
fn qualifier_key(
    d: &FunctionDef,
    name: &str,
    qualifier: Option<&str>,
) -> Result<String, FunctionError> {
    match qualifier {
        None | Some(super::LATEST) => Ok(String::new()),
        Some(q) if d.has_qualifier(q) => Ok(q.to_owned()),
        Some(q) => Err(FunctionError::QualifierNotFound {
            name: name.to_owned(),
            qualifier: q.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(principal: &str) -> Permission {
        Permission {
            statement_id: "s1".into(),
            action: "lambda:InvokeFunction".into(),
            principal: principal.into(),
            ..Permission::default()
        }
    }

    #[test]
    fn statements_as_lambda_builds_them() {
        let mut p = perm("events.amazonaws.com");
        p.source_arn = Some("arn:aws:events:us-east-1:123456789012:rule/r".into());
        p.source_account = Some("123456789012".into());
        let s = p
            .statement("arn:aws:lambda:us-east-1:123456789012:function:f")
            .unwrap();
        assert_eq!(
            s,
            json!({
                "Sid": "s1", "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                "Condition": {
                    "StringEquals": {"AWS:SourceAccount": "123456789012"},
                    "ArnLike": {"AWS:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/r"},
                },
            })
        );
        let s = perm("111122223333").statement("r").unwrap();
        assert_eq!(
            s["Principal"],
            json!({"AWS": "arn:aws:iam::111122223333:root"})
        );
        assert_eq!(perm("*").statement("r").unwrap()["Principal"], json!("*"));
        assert!(perm("not a principal").statement("r").is_err());
        let mut bad = perm("*");
        bad.action = "sqs:SendMessage".into();
        assert!(bad.statement("r").is_err());
        bad.action = "lambda:*".into();
        assert!(bad.statement("r").is_ok());
    }
}
