//! Tags of buses and rules: TagResource, UntagResource, ListTagsForResource.

use super::*;

/// What a `ResourceARN` names.
pub(super) enum Tagged {
    Bus(String),
    Rule { bus: String, name: String },
}

pub(super) fn tagged(arn: &str, region: &str) -> Result<Tagged, ApiError> {
    let parsed = Arn::parse(arn).filter(|a| a.service == "events" && a.region == region);
    let bad = || {
        ApiError::validation(format!(
            "Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."
        ))
    };
    let a = parsed.ok_or_else(bad)?;
    if let Some(bus) = a.resource.strip_prefix("event-bus/") {
        return Ok(Tagged::Bus(bus.to_owned()));
    }
    if let Some(rest) = a.resource.strip_prefix("rule/") {
        return Ok(match rest.rsplit_once('/') {
            Some((bus, name)) => Tagged::Rule {
                bus: bus.to_owned(),
                name: name.to_owned(),
            },
            None => Tagged::Rule {
                bus: DEFAULT_BUS.to_owned(),
                name: rest.to_owned(),
            },
        });
    }
    Err(bad())
}

/// Reads the tags of a bus or rule, or edits them with `edit`.
pub(super) async fn with_tags(
    app: &App,
    region: &str,
    arn: &str,
    edit: Option<&(dyn Fn(&mut Tags) + Sync)>,
) -> Result<Tags, ApiError> {
    let target = tagged(arn, region)?;
    let now = app.clock.now_ms();
    app.catalog
        .mutate(|d: &Defs| match &target {
            Tagged::Bus(name) => {
                let mut bus = d.bus(region, name).ok_or_else(|| bus_missing(name))?;
                let Some(edit) = edit else {
                    return Ok((bus.tags, vec![]));
                };
                edit(&mut bus.tags);
                bus.modified_ms = now;
                Ok((bus.tags.clone(), vec![Change::PutBus(bus)]))
            }
            Tagged::Rule { bus, name } => {
                let rule = d
                    .rule(region, bus, name)
                    .ok_or_else(|| rule_missing_on_bus(name, bus))?;
                let Some(edit) = edit else {
                    return Ok((rule.tags.clone(), vec![]));
                };
                let mut rule = rule.clone();
                edit(&mut rule.tags);
                Ok((rule.tags.clone(), vec![Change::PutRule(rule)]))
            }
        })
        .await
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tags: Option<Vec<TagWire>>,
}

pub(super) async fn tag_resource(
    app: &App,
    ctx: &Ctx,
    input: TagResourceInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    if input.resource_arn.is_none() {
        v.required("resourceARN");
    }
    v.length("resourceARN", input.resource_arn.as_deref(), 1, 1600);
    if input.tags.is_none() {
        v.required("tags");
    }
    let tags = check_tags(&mut v, "tags", input.tags);
    v.finish()?;
    let arn = input.resource_arn.unwrap_or_default();
    let add = |t: &mut Tags| t.extend(tags.clone());
    with_tags(app, &ctx.region, &arn, Some(&add)).await?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UntagResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub(super) async fn untag_resource(
    app: &App,
    ctx: &Ctx,
    input: UntagResourceInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    if input.resource_arn.is_none() {
        v.required("resourceARN");
    }
    v.length("resourceARN", input.resource_arn.as_deref(), 1, 1600);
    if input.tag_keys.is_none() {
        v.required("tagKeys");
    }
    v.finish()?;
    let arn = input.resource_arn.unwrap_or_default();
    let keys = input.tag_keys.unwrap_or_default();
    let remove = |t: &mut Tags| {
        for k in &keys {
            t.remove(k);
        }
    };
    with_tags(app, &ctx.region, &arn, Some(&remove)).await?;
    empty()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListTagsInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
}

pub(super) async fn list_tags_for_resource(
    app: &App,
    ctx: &Ctx,
    input: ListTagsInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    if input.resource_arn.is_none() {
        v.required("resourceARN");
    }
    v.length("resourceARN", input.resource_arn.as_deref(), 1, 1600);
    v.finish()?;
    let arn = input.resource_arn.unwrap_or_default();
    let tags = with_tags(app, &ctx.region, &arn, None).await?;
    reply(&json!({ "Tags": tags_wire(&tags) }))
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_arns() {
        assert!(matches!(
            tagged("arn:aws:events:us-east-1:123456789012:rule/r", "us-east-1"),
            Ok(Tagged::Rule { ref bus, ref name }) if bus == "default" && name == "r"
        ));
        assert!(matches!(
            tagged("arn:aws:events:us-east-1:123456789012:rule/b/r", "us-east-1"),
            Ok(Tagged::Rule { ref bus, ref name }) if bus == "b" && name == "r"
        ));
        assert!(matches!(
            tagged("arn:aws:events:us-east-1:123456789012:event-bus/b", "us-east-1"),
            Ok(Tagged::Bus(ref b)) if b == "b"
        ));
        assert!(tagged("nope", "us-east-1").is_err());
    }
}
