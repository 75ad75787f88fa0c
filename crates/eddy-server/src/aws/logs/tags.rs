//! Log group tags: TagResource, UntagResource, ListTagsForResource (by ARN) and the older
//! TagLogGroup, UntagLogGroup, ListTagsLogGroup (by name).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use super::{group, group_arn, group_missing, invalid};
use crate::App;
use crate::aws::{Ctx, empty, reply};
use crate::error::ApiError;
use crate::logs::LogGroupDef;

/// Tags per resource, as CloudWatch Logs limits them.
const MAX_TAGS: usize = 50;

fn by_arn(app: &App, arn: Option<&str>) -> Result<LogGroupDef, ApiError> {
    let arn = arn.ok_or_else(|| {
        invalid(
            "1 validation error detected: Value null at 'resourceArn' failed to satisfy \
             constraint: Member must not be null",
        )
    })?;
    let (region, name) =
        group_arn(arn).ok_or_else(|| invalid(format!("Invalid resource ARN: {arn}")))?;
    app.log_groups.get(region, name).ok_or_else(group_missing)
}

async fn add(app: &App, g: LogGroupDef, tags: BTreeMap<String, String>) -> Result<(), ApiError> {
    if tags.is_empty() {
        return Err(invalid(
            "1 validation error detected: Value '{}' at 'tags' failed to satisfy constraint: \
             Member must have length greater than or equal to 1",
        ));
    }
    for (k, v) in &tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(invalid(format!("Invalid tag: {k}")));
        }
    }
    let mut merged = g.tags.clone();
    merged.extend(tags);
    if merged.len() > MAX_TAGS {
        return Err(ApiError::bad(
            "TooManyTagsException",
            format!("A resource can have no more than {MAX_TAGS} tags."),
        ));
    }
    app.log_groups
        .put(LogGroupDef { tags: merged, ..g })
        .await?;
    Ok(())
}

async fn remove(app: &App, g: LogGroupDef, keys: &[String]) -> Result<(), ApiError> {
    if keys.is_empty() {
        return Err(invalid(
            "1 validation error detected: Value '[]' at 'tagKeys' failed to satisfy \
             constraint: Member must have length greater than or equal to 1",
        ));
    }
    let mut tags = g.tags.clone();
    for k in keys {
        tags.remove(k);
    }
    if tags != g.tags {
        app.log_groups.put(LogGroupDef { tags, ..g }).await?;
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ByNameTags {
    log_group_name: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ByNameKeys {
    log_group_name: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ByArn {
    resource_arn: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    tag_keys: Vec<String>,
}

pub(super) async fn tag_log_group(
    app: &App,
    ctx: &Ctx,
    input: ByNameTags,
) -> Result<Vec<u8>, ApiError> {
    let g = group(app, ctx, input.log_group_name.as_deref())?;
    add(app, g, input.tags).await?;
    empty()
}

pub(super) async fn untag_log_group(
    app: &App,
    ctx: &Ctx,
    input: ByNameKeys,
) -> Result<Vec<u8>, ApiError> {
    let g = group(app, ctx, input.log_group_name.as_deref())?;
    remove(app, g, &input.tags).await?;
    empty()
}

pub(super) fn list_tags_log_group(
    app: &App,
    ctx: &Ctx,
    input: ByNameKeys,
) -> Result<Vec<u8>, ApiError> {
    let g = group(app, ctx, input.log_group_name.as_deref())?;
    reply(&json!({ "tags": g.tags }))
}

pub(super) async fn tag_resource(app: &App, _ctx: &Ctx, input: ByArn) -> Result<Vec<u8>, ApiError> {
    let g = by_arn(app, input.resource_arn.as_deref())?;
    add(app, g, input.tags).await?;
    empty()
}

pub(super) async fn untag_resource(
    app: &App,
    _ctx: &Ctx,
    input: ByArn,
) -> Result<Vec<u8>, ApiError> {
    let g = by_arn(app, input.resource_arn.as_deref())?;
    remove(app, g, &input.tag_keys).await?;
    empty()
}

pub(super) fn list_tags_for_resource(
    app: &App,
    _ctx: &Ctx,
    input: ByArn,
) -> Result<Vec<u8>, ApiError> {
    let g = by_arn(app, input.resource_arn.as_deref())?;
    reply(&json!({ "tags": g.tags }))
}
