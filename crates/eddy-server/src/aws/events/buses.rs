//! Buses: CreateEventBus, DescribeEventBus, ListEventBuses, UpdateEventBus, DeleteEventBus.

use super::*;
use crate::catalog::{BusError, BusUpdate, NewBus};

/// EventBridge's words for the core's refusals of bus changes.
impl From<BusError> for ApiError {
    fn from(e: BusError) -> Self {
        match e {
            // The adapter checked the name's rule already; the core's check words it plainly.
            BusError::InvalidName(name) => {
                ApiError::validation(format!("Event bus name {name} is not valid."))
            }
            BusError::Slash => ApiError::validation("Event bus name must not contain '/'."),
            BusError::UnknownEventSource(src) => {
                ApiError::validation(format!("Event source {src} does not exist."))
            }
            BusError::Exists(name) => {
                ApiError::already_exists(format!("Event bus {name} already exists."))
            }
            BusError::NotFound(name) => bus_missing(&name),
            BusError::DeleteDefault => ApiError::validation("Cannot delete event bus default."),
            BusError::Core(e) => e.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateEventBusInput {
    name: Option<String>,
    event_source_name: Option<String>,
    description: Option<String>,
    kms_key_identifier: Option<String>,
    dead_letter_config: Option<Value>,
    tags: Option<Vec<TagWire>>,
}

pub(super) async fn create_event_bus(
    app: &App,
    ctx: &Ctx,
    input: CreateEventBusInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.name("name", input.name.as_deref(), BUS_NAME, true);
    v.length(
        "eventSourceName",
        input.event_source_name.as_deref(),
        1,
        256,
    );
    v.length("description", input.description.as_deref(), 0, 512);
    v.length(
        "kmsKeyIdentifier",
        input.kms_key_identifier.as_deref(),
        0,
        2048,
    );
    let tags = check_tags(&mut v, "tags", input.tags);
    v.finish()?;
    let name = input.name.unwrap_or_default();
    let arn = app.catalog.scope(&ctx.region).bus_arn(&name);
    let bus = app
        .catalog
        .create_bus(
            &ctx.region,
            NewBus {
                name,
                event_source_name: input.event_source_name,
                description: input.description,
                kms_key_identifier: input.kms_key_identifier,
                dead_letter_config: input.dead_letter_config,
                tags,
            },
        )
        .await?;
    let mut out = json!({ "EventBusArn": arn });
    if let Some(d) = bus.description {
        out["Description"] = json!(d);
    }
    if let Some(k) = bus.kms_key_identifier {
        out["KmsKeyIdentifier"] = json!(k);
    }
    if let Some(c) = bus.dead_letter_config {
        out["DeadLetterConfig"] = c;
    }
    reply(&out)
}

pub(super) fn bus_wire(app: &App, b: &BusDef, full: bool) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("Name".into(), json!(b.name));
    m.insert(
        "Arn".into(),
        json!(app.catalog.scope(&b.region).bus_arn(&b.name)),
    );
    if let Some(d) = &b.description {
        m.insert("Description".into(), json!(d));
    }
    if full {
        if let Some(k) = &b.kms_key_identifier {
            m.insert("KmsKeyIdentifier".into(), json!(k));
        }
        if let Some(c) = &b.dead_letter_config {
            m.insert("DeadLetterConfig".into(), c.clone());
        }
    }
    if let Some(p) = &b.policy {
        m.insert("Policy".into(), json!(p.to_string()));
    }
    m.insert("CreationTime".into(), json!(epoch_seconds(b.created_ms)));
    m.insert(
        "LastModifiedTime".into(),
        json!(epoch_seconds(b.modified_ms)),
    );
    Value::Object(m)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BusRef {
    name: Option<String>,
}

pub(super) async fn describe_event_bus(
    app: &App,
    ctx: &Ctx,
    input: BusRef,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    let name = bus_name(&mut v, "name", input.name.as_deref());
    v.finish()?;
    let bus = app
        .catalog
        .read(|d| d.bus(&ctx.region, &name).ok_or_else(|| bus_missing(&name)))
        .await?;
    reply(&bus_wire(app, &bus, true))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListEventBusesInput {
    name_prefix: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn list_event_buses(
    app: &App,
    ctx: &Ctx,
    input: ListEventBusesInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.length("namePrefix", input.name_prefix.as_deref(), 1, 256);
    let page = Page::new(&mut v, input.next_token.as_deref(), input.limit, 100)?;
    v.finish()?;
    let prefix = input.name_prefix.unwrap_or_default();
    let mut buses = app.catalog.read(|d| d.buses_in(&ctx.region)).await;
    buses.retain(|b| b.name.starts_with(&prefix));
    buses.sort_by(|a, b| a.name.cmp(&b.name));
    page.reply(
        buses,
        |b| b.name.as_str(),
        "EventBuses",
        |b| bus_wire(app, b, false),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateEventBusInput {
    name: Option<String>,
    kms_key_identifier: Option<String>,
    description: Option<String>,
    dead_letter_config: Option<Value>,
}

pub(super) async fn update_event_bus(
    app: &App,
    ctx: &Ctx,
    input: UpdateEventBusInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    let name = bus_name(&mut v, "name", input.name.as_deref());
    v.length("description", input.description.as_deref(), 0, 512);
    v.length(
        "kmsKeyIdentifier",
        input.kms_key_identifier.as_deref(),
        0,
        2048,
    );
    v.finish()?;
    let bus = app
        .catalog
        .update_bus(
            &ctx.region,
            &name,
            BusUpdate {
                description: input.description,
                kms_key_identifier: input.kms_key_identifier,
                dead_letter_config: input.dead_letter_config,
            },
        )
        .await?;
    reply(&bus_wire(app, &bus, true))
}

pub(super) async fn delete_event_bus(
    app: &App,
    ctx: &Ctx,
    input: BusRef,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    if input.name.is_none() {
        v.required("name");
    }
    let name = bus_name(&mut v, "name", input.name.as_deref());
    v.finish()?;
    app.catalog.delete_bus(&ctx.region, &name).await?;
    empty()
}

// ---------------------------------------------------------------------------------------------
