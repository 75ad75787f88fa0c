//! Validation of a target's input options when it is put (`PutTargets`, and `eddy.toml`'s
//! targets through the same function), with AWS's error messages.
//!
//! [`check_target`] (and the pieces it uses) enforce: only one of `Input`/`InputPath`/
//! `InputTransformer` (AWS's exact message); `Input` is JSON; paths ≤ 256 characters and in the
//! subset [`path`](super::path) describes; `InputTemplate` 1–8192 characters; ≤ 100
//! `InputPathsMap` entries whose keys match `[A-Za-z0-9_-]{1,256}` and do not start with `aws.`; every `<name>` placeholder defined
//! (AWS's exact message); no bare placeholder as an object key of a template that is a JSON
//! object. The wording of messages other than the two AWS-recorded ones is eddy's.

use std::collections::BTreeMap;

use super::path::parse_path;
use super::template::{Tok, tokenize};
use super::tree::parse_json;
use super::{
    MAX_PATH_LEN, MAX_TEMPLATE_LEN, MAX_VARIABLE_NAME_LEN, MAX_VARIABLES, PREDEFINED,
    TransformError,
};
use crate::definitions::{InputTransformer, TargetDef};

/// Validates a JSON path as EventBridge accepts it in InputPath / InputPathsMap values (for
/// PutTargets): at most 256 characters, in the subset the `path` module describes.
pub fn check_path(path: &str) -> Result<(), TransformError> {
    if path.chars().count() > MAX_PATH_LEN {
        return Err(TransformError::new(format!(
            "Invalid JSON path {path:?}: longer than {MAX_PATH_LEN} characters."
        )));
    }
    parse_path(path).map(drop)
}

/// Validates an InputTransformer at PutTargets time: template length, the number and form of
/// `InputPathsMap` keys (reserved `aws.` prefix), its paths, undefined placeholders, and no
/// placeholder as an object key. Messages name no target; [`check_target`] words them with one.
pub fn check_transformer(t: &InputTransformer) -> Result<(), TransformError> {
    check_transformer_for(t, None)
}

/// Validates a whole target's input options at PutTargets time: only one of Input, InputPath
/// and InputTransformer; Input is JSON text; then [`check_path`] / [`check_transformer`], with
/// messages naming the target as AWS does.
pub fn check_target(target: &TargetDef) -> Result<(), TransformError> {
    let id = target.id.as_str();
    let set = usize::from(target.input.is_some())
        + usize::from(target.input_path.is_some())
        + usize::from(target.input_transformer.is_some());
    if set > 1 {
        return Err(TransformError::new(format!(
            "Only one of Input, InputPath, or InputTransformer must be provided for target {id}."
        )));
    }
    // A `\u` escape of a lone UTF-16 surrogate is refused too: the JSON readers downstream
    // (serde_json, in function destinations' records) refuse it, so it could not be delivered
    // as the same JSON.
    if let Some(input) = &target.input
        && (parse_json(input).is_err()
            || eddy_pattern::json::validate(input, usize::MAX)
                .is_err_and(|e| e.reason == eddy_pattern::json::LONE_SURROGATE))
    {
        return Err(TransformError::new(format!(
            "Input for target {id} is not valid JSON text."
        )));
    }
    if let Some(path) = &target.input_path
        && let Err(e) = check_path(path)
    {
        return Err(TransformError::new(format!(
            "InputPath for target {id} is invalid: {e}"
        )));
    }
    if let Some(t) = &target.input_transformer {
        check_transformer_for(t, Some(id))?;
    }
    Ok(())
}

fn check_transformer_for(
    t: &InputTransformer,
    target_id: Option<&str>,
) -> Result<(), TransformError> {
    let for_target = target_id
        .map(|id| format!(" for target {id}"))
        .unwrap_or_default();
    let template = t.input_template.as_str();
    let len = template.chars().count();
    if len == 0 || len > MAX_TEMPLATE_LEN {
        return Err(TransformError::new(format!(
            "InputTemplate{for_target} must be between 1 and {MAX_TEMPLATE_LEN} characters long."
        )));
    }
    let empty = BTreeMap::new();
    let map = t.input_paths_map.as_ref().unwrap_or(&empty);
    if map.len() > MAX_VARIABLES {
        return Err(TransformError::new(format!(
            "InputPathsMap{for_target} has {} entries; at most {MAX_VARIABLES} are allowed.",
            map.len()
        )));
    }
    for (key, path) in map {
        if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws.")) {
            return Err(TransformError::new(format!(
                "InputPathsMap{for_target} key {key} is reserved: keys cannot start with \"aws.\"."
            )));
        }
        if key.is_empty()
            || key.len() > MAX_VARIABLE_NAME_LEN
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(TransformError::new(format!(
                "InputPathsMap{for_target} key {key:?} is invalid: keys must be 1 to \
                 {MAX_VARIABLE_NAME_LEN} characters of [A-Za-z0-9_-]."
            )));
        }
        if let Err(e) = check_path(path) {
            return Err(TransformError::new(format!(
                "InputPathsMap{for_target} value for key {key} is invalid: {e}"
            )));
        }
    }
    let tokens = tokenize(template, |_| true);
    for tok in &tokens {
        if let Tok::Var { name, .. } = tok
            && !map.contains_key(*name)
            && !PREDEFINED.contains(name)
        {
            return Err(TransformError::new(format!(
                "InputTemplate{for_target} contains invalid placeholder {name}."
            )));
        }
    }
    if template.trim_start().starts_with('{') {
        for (i, tok) in tokens.iter().enumerate() {
            if let Tok::Var {
                name,
                in_string: false,
            } = tok
                && tokens
                    .get(i + 1)
                    .and_then(|next| match next {
                        Tok::Lit(text) => text.trim_start().chars().next(),
                        Tok::Var { .. } => None,
                    })
                    .is_some_and(|c| c == ':')
            {
                return Err(TransformError::new(format!(
                    "InputTemplate{for_target} uses placeholder {name} as an object key; \
                     a placeholder cannot be used as an object key."
                )));
            }
        }
    }
    Ok(())
}
