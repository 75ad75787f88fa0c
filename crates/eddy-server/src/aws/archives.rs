//! EventBridge archives and replays over AWS JSON 1.1 (`AWSEvents.CreateArchive` …): request
//! shapes, validation with AWS's codes and messages (moto's texts where it asserts them), and
//! replies. The state and the replay tasks live in [`crate::archives`].

use eddy_model::names::{Arn, NameRule, RULE_NAME};
use eddy_pattern::Pattern;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ctx, Page, empty, parse, reply};
use crate::App;
use crate::archives::{
    ArchiveDef, ArchiveStats, PatternEpoch, ReplayDef, ReplayDestination, ReplayState,
};
use crate::catalog::Change;
use crate::error::{ApiError, Violations};
use eddy_model::definitions::{InputTransformer, RuleDef, RuleState, TargetDef};

/// Archive names: 1–48 of `[\.\-_A-Za-z0-9]`.
const ARCHIVE_NAME: NameRule = NameRule {
    min: 1,
    max: 48,
    pattern: RULE_NAME.pattern,
    allowed: RULE_NAME.allowed,
};
/// Replay names: 1–64 of `[\.\-_A-Za-z0-9]`.
const REPLAY_NAME: NameRule = RULE_NAME;

/// The model's pattern for `EventBusArn` and `ArchiveArn`.
const EVENTS_ARN_PATTERN: &str =
    "^arn:aws([a-z]|\\-)*:events:([a-z]|\\d|\\-)*:([0-9]{12})?:.+\\/.+$";

/// Archive states, in the order of AWS's enum message.
const ARCHIVE_STATES: [&str; 6] = [
    "ENABLED",
    "DISABLED",
    "CREATING",
    "UPDATING",
    "CREATE_FAILED",
    "UPDATE_FAILED",
];

/// Runs one archive or replay operation.
pub async fn call(app: &App, ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    // Replays interrupted by a restart resume once the archives know the bus.
    app.archives.attach(&app.bus, app.catalog.limits());
    match op {
        "CreateArchive" => create_archive(app, ctx, parse(body)?).await,
        "DescribeArchive" => describe_archive(app, ctx, parse(body)?).await,
        "ListArchives" => list_archives(app, ctx, parse(body)?).await,
        "UpdateArchive" => update_archive(app, ctx, parse(body)?).await,
        "DeleteArchive" => delete_archive(app, ctx, parse(body)?).await,
        "StartReplay" => start_replay(app, ctx, parse(body)?).await,
        "DescribeReplay" => describe_replay(app, ctx, parse(body)?).await,
        "ListReplays" => list_replays(app, ctx, parse(body)?).await,
        "CancelReplay" => cancel_replay(app, ctx, parse(body)?).await,
        _ => Err(ApiError::unknown_operation(format!(
            "Unknown operation AWSEvents.{op}: eddy does not implement it"
        ))),
    }
}

fn epoch_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// Whether `s` matches [`EVENTS_ARN_PATTERN`].
fn events_arn_ok(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:aws") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(':') else {
        return false;
    };
    if !partition
        .chars()
        .all(|c| c.is_ascii_lowercase() || c == '-')
    {
        return false;
    }
    let Some(rest) = rest.strip_prefix("events:") else {
        return false;
    };
    let Some((region, rest)) = rest.split_once(':') else {
        return false;
    };
    if !region
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return false;
    }
    let Some((account, resource)) = rest.split_once(':') else {
        return false;
    };
    if !(account.is_empty() || (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())))
    {
        return false;
    }
    // `.+\/.+`: some slash with something on both sides.
    resource
        .char_indices()
        .any(|(i, c)| c == '/' && i > 0 && i + 1 < resource.len())
}

fn check_events_arn(v: &mut Violations, member: &str, value: Option<&str>, required: bool) {
    match value {
        None if required => v.required(member),
        None => {}
        Some(s) => {
            v.length(member, Some(s), 1, 1600);
            if !s.is_empty() && !events_arn_ok(s) {
                v.add(
                    member,
                    Some(s),
                    format!("Member must satisfy regular expression pattern: {EVENTS_ARN_PATTERN}"),
                );
            }
        }
    }
}

fn bus_missing(name: &str) -> ApiError {
    ApiError::not_found(format!("Event bus {name} does not exist."))
}

fn archive_missing(name: &str) -> ApiError {
    ApiError::not_found(format!("Archive {name} does not exist."))
}

/// The bus a bus ARN names in this region and account, when it exists; else AWS's not-found
/// error (naming the ARN's last segment, as AWS does).
async fn existing_bus(app: &App, ctx: &Ctx, arn: &str) -> Result<String, ApiError> {
    let parsed = Arn::parse(arn);
    let name = match parsed
        .as_ref()
        .and_then(|a| a.resource.strip_prefix("event-bus/"))
    {
        Some(n) => n.to_owned(),
        None => arn.rsplit('/').next().unwrap_or(arn).to_owned(),
    };
    let here = parsed.is_some_and(|a| {
        a.service == "events"
            && a.region == ctx.region
            && (a.account.is_empty() || a.account == app.catalog.account())
            && a.resource.starts_with("event-bus/")
    });
    let exists = here
        && app
            .catalog
            .read(|d| d.bus(&ctx.region, &name).is_some())
            .await;
    if exists {
        Ok(name)
    } else {
        Err(bus_missing(&name))
    }
}

fn compile_pattern(app: &App, src: &str) -> Result<(), ApiError> {
    Pattern::parse_with(src, app.catalog.limits())
        .map(drop)
        .map_err(|e| ApiError::invalid_pattern(e.to_string()))
}

/// Who manages an archive's rule (AWS's value).
const ARCHIVE_RULE_MANAGER: &str = "prod.vhs.events.aws.internal";

fn archive_arn(app: &App, a: &ArchiveDef) -> String {
    format!(
        "arn:aws:events:{}:{}:archive/{}",
        a.region,
        app.catalog.account(),
        a.name
    )
}

/// The name of an archive's managed rule.
fn archive_rule_name(archive: &str) -> String {
    format!("Events-Archive-{archive}")
}

/// Creates or updates the rule AWS manages for an archive, as users see it in ListRules,
/// DescribeRule and ListTargetsByRule: `Events-Archive-NAME` on the archive's bus, managed by
/// `prod.vhs.events.aws.internal`, whose pattern is the archive's plus
/// `"replay-name": [{"exists": false}]`, with one target whose ARN is
/// `arn:aws:events:REGION:::`. eddy's archives read the durable log directly, so that target is
/// never delivered to ([`crate::catalog::is_archive_target`]).
async fn put_archive_rule(app: &App, def: &ArchiveDef) -> Result<(), ApiError> {
    let mut pattern = match def.event_pattern() {
        Some(p) => match serde_json::from_str::<Value>(p) {
            Ok(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        },
        None => serde_json::Map::new(),
    };
    pattern.insert("replay-name".into(), json!([{"exists": false}]));
    let name = archive_rule_name(&def.name);
    let archive_arn = archive_arn(app, def);
    let target = TargetDef {
        id: name.clone(),
        arn: crate::catalog::archive_target_arn(&def.region),
        role_arn: None,
        input: None,
        input_path: None,
        input_transformer: Some(InputTransformer {
            input_paths_map: Some(Default::default()),
            input_template: format!(
                "{{\"archive-arn\": \"{archive_arn}\", \"event\": <aws.events.event.json>, \
                 \"ingestion-time\": <aws.events.event.ingestion-time>}}"
            ),
        }),
        retry_policy: None,
        dead_letter_config: None,
        other: Default::default(),
    };
    let rule = RuleDef {
        region: def.region.clone(),
        bus: def.bus.clone(),
        name,
        event_pattern: Some(Value::Object(pattern).to_string()),
        schedule_expression: None,
        state: RuleState::Enabled,
        description: None,
        role_arn: None,
        managed_by: Some(ARCHIVE_RULE_MANAGER.into()),
        tags: Default::default(),
        targets: vec![target],
        created_ms: def.created_ms,
    };
    app.catalog
        .mutate(|defs| {
            // A rule of the user's that happens to have this name is left alone.
            let changes = match defs.rule(&rule.region, &rule.bus, &rule.name) {
                Some(r) if !is_archive_rule(r) => Vec::new(),
                _ => vec![Change::PutRule(rule)],
            };
            Ok(((), changes))
        })
        .await
}

/// Whether a rule is one an archive manages.
fn is_archive_rule(rule: &RuleDef) -> bool {
    rule.managed_by.as_deref() == Some(ARCHIVE_RULE_MANAGER)
}

/// Removes an archive's managed rule (when the archive is deleted).
async fn delete_archive_rule(app: &App, def: &ArchiveDef) -> Result<(), ApiError> {
    let name = archive_rule_name(&def.name);
    app.catalog
        .mutate(|defs| {
            let changes = match defs.rule(&def.region, &def.bus, &name) {
                Some(r) if is_archive_rule(r) => vec![Change::DeleteRule {
                    region: def.region.clone(),
                    bus: def.bus.clone(),
                    name: name.clone(),
                }],
                _ => Vec::new(),
            };
            Ok(((), changes))
        })
        .await
}

fn replay_arn(app: &App, r: &ReplayDef) -> String {
    format!(
        "arn:aws:events:{}:{}:replay/{}",
        r.region,
        app.catalog.account(),
        r.name
    )
}

fn bus_arn(app: &App, region: &str, bus: &str) -> String {
    app.catalog.scope(region).bus_arn(bus)
}

/// The moto-asserted message for an over-long archive name (with its leading space).
fn archive_name_too_long(name: &str) -> ApiError {
    ApiError::validation(format!(
        " 1 validation error detected: Value '{name}' at 'archiveName' failed to satisfy \
         constraint: Member must have length less than or equal to 48"
    ))
}

fn check_archive_name(v: &mut Violations, name: Option<&str>) -> Result<(), ApiError> {
    if let Some(n) = name
        && n.chars().count() > ARCHIVE_NAME.max
    {
        return Err(archive_name_too_long(n));
    }
    v.name("archiveName", name, ARCHIVE_NAME, true);
    Ok(())
}

/// `Archive` (list item) or the whole `DescribeArchive` answer.
fn archive_wire(app: &App, a: &ArchiveDef, stats: ArchiveStats, full: bool) -> Value {
    let mut m = serde_json::Map::new();
    if full {
        m.insert("ArchiveArn".into(), json!(archive_arn(app, a)));
    }
    m.insert("ArchiveName".into(), json!(a.name));
    m.insert(
        "EventSourceArn".into(),
        json!(bus_arn(app, &a.region, &a.bus)),
    );
    if full {
        if let Some(d) = &a.description {
            m.insert("Description".into(), json!(d));
        }
        if let Some(p) = a.event_pattern() {
            m.insert("EventPattern".into(), json!(p));
        }
        if let Some(k) = &a.kms_key_identifier {
            m.insert("KmsKeyIdentifier".into(), json!(k));
        }
    }
    m.insert("State".into(), json!("ENABLED"));
    m.insert("RetentionDays".into(), json!(a.retention_days));
    m.insert("SizeBytes".into(), json!(stats.size_bytes));
    m.insert("EventCount".into(), json!(stats.event_count));
    m.insert("CreationTime".into(), json!(epoch_seconds(a.created_ms)));
    Value::Object(m)
}

// ---------------------------------------------------------------------------------------------
// Archives

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateArchiveInput {
    archive_name: Option<String>,
    event_source_arn: Option<String>,
    description: Option<String>,
    event_pattern: Option<String>,
    retention_days: Option<i64>,
    kms_key_identifier: Option<String>,
}

async fn create_archive(
    app: &App,
    ctx: &Ctx,
    input: CreateArchiveInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_archive_name(&mut v, input.archive_name.as_deref())?;
    check_events_arn(
        &mut v,
        "eventSourceArn",
        input.event_source_arn.as_deref(),
        true,
    );
    v.length("description", input.description.as_deref(), 0, 512);
    v.length("eventPattern", input.event_pattern.as_deref(), 0, 4096);
    v.range("retentionDays", input.retention_days, 0, i64::MAX);
    v.length(
        "kmsKeyIdentifier",
        input.kms_key_identifier.as_deref(),
        0,
        2048,
    );
    v.finish()?;
    let name = input.archive_name.unwrap_or_default();
    let source = input.event_source_arn.unwrap_or_default();
    let bus = existing_bus(app, ctx, &source).await?;
    if app.archives.archive(&ctx.region, &name).is_some() {
        return Err(ApiError::already_exists(format!(
            "Archive {name} already exists."
        )));
    }
    if let Some(p) = &input.event_pattern {
        compile_pattern(app, p)?;
    }
    let now = app.clock.now_ms();
    let def = ArchiveDef {
        region: ctx.region.clone(),
        name: name.clone(),
        bus,
        description: input.description,
        epochs: vec![PatternEpoch {
            since_ms: now,
            event_pattern: input.event_pattern,
        }],
        retention_days: input.retention_days.unwrap_or(0),
        kms_key_identifier: input.kms_key_identifier,
        created_ms: now,
    };
    let def = app
        .archives
        .upsert_archive(&ctx.region, &name, |cur| {
            if cur.is_some() {
                return Err(ApiError::already_exists(format!(
                    "Archive {name} already exists."
                )));
            }
            Ok((def.clone(), def))
        })
        .await?;
    put_archive_rule(app, &def).await?;
    reply(&json!({
        "ArchiveArn": archive_arn(app, &def),
        "State": "ENABLED",
        "CreationTime": epoch_seconds(def.created_ms),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveRef {
    archive_name: Option<String>,
}

fn check_archive_ref(input: &ArchiveRef) -> Result<String, ApiError> {
    let mut v = Violations::new();
    check_archive_name(&mut v, input.archive_name.as_deref())?;
    v.finish()?;
    Ok(input.archive_name.clone().unwrap_or_default())
}

async fn describe_archive(app: &App, ctx: &Ctx, input: ArchiveRef) -> Result<Vec<u8>, ApiError> {
    let name = check_archive_ref(&input)?;
    let a = app
        .archives
        .archive(&ctx.region, &name)
        .ok_or_else(|| archive_missing(&name))?;
    let stats = app
        .archives
        .stats(std::slice::from_ref(&a), app.catalog.limits())
        .await?;
    reply(&archive_wire(
        app,
        &a,
        stats.first().copied().unwrap_or_default(),
        true,
    ))
}

/// The one-filter rule of `ListArchives` and `ListReplays`.
fn at_most_one_filter(op: &str, filters: [bool; 3]) -> Result<(), ApiError> {
    if filters.iter().filter(|f| **f).count() > 1 {
        return Err(ApiError::validation(format!(
            "At most one filter is allowed for {op}. Use either : State, EventSourceArn, or \
             NamePrefix."
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    name_prefix: Option<String>,
    event_source_arn: Option<String>,
    state: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

async fn list_archives(app: &App, ctx: &Ctx, input: ListInput) -> Result<Vec<u8>, ApiError> {
    at_most_one_filter(
        "ListArchives",
        [
            input.name_prefix.is_some(),
            input.event_source_arn.is_some(),
            input.state.is_some(),
        ],
    )?;
    let mut v = Violations::new();
    v.one_of("state", input.state.as_deref(), &ARCHIVE_STATES);
    v.length("namePrefix", input.name_prefix.as_deref(), 1, 48);
    v.length("eventSourceArn", input.event_source_arn.as_deref(), 1, 1600);
    let page = Page::new(&mut v, input.next_token.as_deref(), input.limit, 100)?;
    v.finish()?;
    let archives: Vec<ArchiveDef> = app
        .archives
        .list_archives(&ctx.region)
        .into_iter()
        .filter(|a| {
            input
                .name_prefix
                .as_deref()
                .is_none_or(|p| a.name.starts_with(p))
                && input
                    .event_source_arn
                    .as_deref()
                    .is_none_or(|s| s == bus_arn(app, &a.region, &a.bus))
                && input.state.as_deref().is_none_or(|s| s == "ENABLED")
        })
        .collect();
    let (archives, token) = page.take(archives, |a| a.name.as_str());
    let stats = app.archives.stats(&archives, app.catalog.limits()).await?;
    let items: Vec<Value> = archives
        .iter()
        .zip(stats)
        .map(|(a, s)| archive_wire(app, a, s, false))
        .collect();
    let mut out = json!({ "Archives": items });
    if let Some(t) = token {
        out["NextToken"] = json!(t);
    }
    reply(&out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateArchiveInput {
    archive_name: Option<String>,
    description: Option<String>,
    event_pattern: Option<String>,
    retention_days: Option<i64>,
    kms_key_identifier: Option<String>,
}

async fn update_archive(
    app: &App,
    ctx: &Ctx,
    input: UpdateArchiveInput,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    check_archive_name(&mut v, input.archive_name.as_deref())?;
    v.length("description", input.description.as_deref(), 0, 512);
    v.length("eventPattern", input.event_pattern.as_deref(), 0, 4096);
    v.range("retentionDays", input.retention_days, 0, i64::MAX);
    v.length(
        "kmsKeyIdentifier",
        input.kms_key_identifier.as_deref(),
        0,
        2048,
    );
    v.finish()?;
    let name = input.archive_name.unwrap_or_default();
    if app.archives.archive(&ctx.region, &name).is_none() {
        return Err(archive_missing(&name));
    }
    if let Some(p) = &input.event_pattern {
        compile_pattern(app, p)?;
    }
    let now = app.clock.now_ms();
    let def = app
        .archives
        .upsert_archive(&ctx.region, &name, |cur| {
            let mut d = cur.cloned().ok_or_else(|| archive_missing(&name))?;
            if let Some(desc) = input.description {
                d.description = Some(desc);
            }
            if let Some(days) = input.retention_days {
                d.retention_days = days;
            }
            if let Some(k) = input.kms_key_identifier {
                d.kms_key_identifier = Some(k);
            }
            if let Some(p) = input.event_pattern
                && d.event_pattern() != Some(p.as_str())
            {
                // The new pattern applies to events ingested from now on.
                d.epochs.push(PatternEpoch {
                    since_ms: now,
                    event_pattern: Some(p),
                });
            }
            Ok::<_, ApiError>((d.clone(), d))
        })
        .await?;
    put_archive_rule(app, &def).await?;
    reply(&json!({
        "ArchiveArn": archive_arn(app, &def),
        "State": "ENABLED",
        "CreationTime": epoch_seconds(def.created_ms),
    }))
}

async fn delete_archive(app: &App, ctx: &Ctx, input: ArchiveRef) -> Result<Vec<u8>, ApiError> {
    let name = check_archive_ref(&input)?;
    let Some(def) = app.archives.archive(&ctx.region, &name) else {
        return Err(archive_missing(&name));
    };
    app.archives.delete_archive(&ctx.region, &name).await?;
    delete_archive_rule(app, &def).await?;
    empty()
}

// ---------------------------------------------------------------------------------------------
// Replays

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DestinationWire {
    arn: Option<String>,
    filter_arns: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartReplayInput {
    replay_name: Option<String>,
    description: Option<String>,
    event_source_arn: Option<String>,
    event_start_time: Option<f64>,
    event_end_time: Option<f64>,
    destination: Option<DestinationWire>,
}

fn time_ms(v: &mut Violations, member: &str, t: Option<f64>) -> i64 {
    match t {
        None => {
            v.required(member);
            0
        }
        Some(t) if t.is_finite() => (t * 1000.0).floor() as i64,
        Some(t) => {
            v.add(
                member,
                Some(&t.to_string()),
                "Member must be a valid timestamp",
            );
            0
        }
    }
}

/// `Destination.Arn` must name an event bus: `arn:aws:events:REGION:ACCOUNT:event-bus/…`.
fn destination_is_bus(arn: &str) -> bool {
    let Some(a) = Arn::parse(arn) else {
        return false;
    };
    a.partition == "aws"
        && a.service == "events"
        && !a.region.is_empty()
        && a.region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && a.account.len() == 12
        && a.account.chars().all(|c| c.is_ascii_digit())
        && a.resource.starts_with("event-bus/")
}

async fn start_replay(app: &App, ctx: &Ctx, input: StartReplayInput) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.name(
        "replayName",
        input.replay_name.as_deref(),
        REPLAY_NAME,
        true,
    );
    v.length("description", input.description.as_deref(), 0, 512);
    match input.event_source_arn.as_deref() {
        None => v.required("eventSourceArn"),
        Some(s) => v.length("eventSourceArn", Some(s), 1, 1600),
    }
    let start = time_ms(&mut v, "eventStartTime", input.event_start_time);
    let end = time_ms(&mut v, "eventEndTime", input.event_end_time);
    match &input.destination {
        None => v.required("destination"),
        Some(d) => {
            match d.arn.as_deref() {
                None => v.required("destination.arn"),
                Some(a) => v.length("destination.arn", Some(a), 1, 1600),
            }
            for (i, f) in d.filter_arns.iter().flatten().enumerate() {
                v.length(
                    &format!("destination.filterArns.{}.member", i + 1),
                    Some(f),
                    1,
                    1600,
                );
            }
        }
    }
    v.finish()?;
    let name = input.replay_name.unwrap_or_default();
    let source = input.event_source_arn.unwrap_or_default();
    let Some(DestinationWire {
        arn: Some(dest),
        filter_arns,
    }) = input.destination
    else {
        return Err(ApiError::internal("checked above"));
    };
    if !destination_is_bus(&dest) {
        return Err(ApiError::validation(
            "Parameter Destination.Arn is not valid. Reason: Must contain an event bus ARN.",
        ));
    }
    let dest_bus = existing_bus(app, ctx, &dest).await?;
    let archive_name = source.rsplit('/').next().unwrap_or(&source);
    let archive = app
        .archives
        .archive(&ctx.region, archive_name)
        .filter(|_| source.contains(":archive/"))
        .ok_or_else(|| {
            ApiError::validation(format!(
                "Parameter EventSourceArn is not valid. Reason: Archive {archive_name} does not \
                 exist."
            ))
        })?;
    if archive.bus != dest_bus {
        return Err(ApiError::validation(
            "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not \
             permitted.",
        ));
    }
    if start >= end {
        return Err(ApiError::validation(
            "Parameter EventEndTime is not valid. Reason: EventStartTime must be before \
             EventEndTime.",
        ));
    }
    let now = app.clock.now_ms();
    let def = ReplayDef {
        region: ctx.region.clone(),
        name: name.clone(),
        description: input.description,
        event_source_arn: archive_arn(app, &archive),
        archive,
        destination: ReplayDestination {
            arn: dest,
            filter_arns,
        },
        event_start_ms: start,
        event_end_ms: end,
        state: ReplayState::Starting,
        state_reason: None,
        replay_start_ms: now,
        replay_end_ms: None,
        event_last_replayed_ms: None,
        cursor: None,
    };
    let def = app
        .archives
        .start_replay(&ctx.region, &name, |cur| {
            if cur.is_some() {
                return Err(ApiError::already_exists(format!(
                    "Replay {name} already exists."
                )));
            }
            Ok(def)
        })
        .await?;
    reply(&json!({
        "ReplayArn": replay_arn(app, &def),
        "State": ReplayState::Starting.as_str(),
        "ReplayStartTime": epoch_seconds(def.replay_start_ms),
    }))
}

/// `Replay` (list item) or the whole `DescribeReplay` answer.
fn replay_wire(app: &App, r: &ReplayDef, full: bool) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("ReplayName".into(), json!(r.name));
    if full {
        m.insert("ReplayArn".into(), json!(replay_arn(app, r)));
        if let Some(d) = &r.description {
            m.insert("Description".into(), json!(d));
        }
    }
    m.insert("EventSourceArn".into(), json!(r.event_source_arn));
    if full {
        let mut d = json!({ "Arn": r.destination.arn });
        if let Some(f) = &r.destination.filter_arns {
            d["FilterArns"] = json!(f);
        }
        m.insert("Destination".into(), d);
    }
    m.insert("State".into(), json!(r.state.as_str()));
    if let Some(reason) = &r.state_reason {
        m.insert("StateReason".into(), json!(reason));
    }
    m.insert(
        "EventStartTime".into(),
        json!(epoch_seconds(r.event_start_ms)),
    );
    m.insert("EventEndTime".into(), json!(epoch_seconds(r.event_end_ms)));
    if let Some(t) = r.event_last_replayed_ms {
        m.insert("EventLastReplayedTime".into(), json!(epoch_seconds(t)));
    }
    m.insert(
        "ReplayStartTime".into(),
        json!(epoch_seconds(r.replay_start_ms)),
    );
    if let Some(t) = r.replay_end_ms {
        m.insert("ReplayEndTime".into(), json!(epoch_seconds(t)));
    }
    Value::Object(m)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReplayRef {
    replay_name: Option<String>,
}

fn check_replay_ref(input: &ReplayRef) -> Result<String, ApiError> {
    let mut v = Violations::new();
    v.name(
        "replayName",
        input.replay_name.as_deref(),
        REPLAY_NAME,
        true,
    );
    v.finish()?;
    Ok(input.replay_name.clone().unwrap_or_default())
}

fn replay_missing(name: &str) -> ApiError {
    ApiError::not_found(format!("Replay {name} does not exist."))
}

async fn describe_replay(app: &App, ctx: &Ctx, input: ReplayRef) -> Result<Vec<u8>, ApiError> {
    let name = check_replay_ref(&input)?;
    let r = app
        .archives
        .replay(&ctx.region, &name)
        .ok_or_else(|| replay_missing(&name))?;
    reply(&replay_wire(app, &r, true))
}

async fn list_replays(app: &App, ctx: &Ctx, input: ListInput) -> Result<Vec<u8>, ApiError> {
    at_most_one_filter(
        "ListReplays",
        [
            input.name_prefix.is_some(),
            input.event_source_arn.is_some(),
            input.state.is_some(),
        ],
    )?;
    let mut v = Violations::new();
    v.one_of("state", input.state.as_deref(), &ReplayState::ALL);
    v.length("namePrefix", input.name_prefix.as_deref(), 1, 64);
    v.length("eventSourceArn", input.event_source_arn.as_deref(), 1, 1600);
    let page = Page::new(&mut v, input.next_token.as_deref(), input.limit, 100)?;
    v.finish()?;
    let replays: Vec<ReplayDef> = app
        .archives
        .list_replays(&ctx.region)
        .into_iter()
        .filter(|r| {
            input
                .name_prefix
                .as_deref()
                .is_none_or(|p| r.name.starts_with(p))
                && input
                    .event_source_arn
                    .as_deref()
                    .is_none_or(|s| s == r.event_source_arn)
                && input.state.as_deref().is_none_or(|s| s == r.state.as_str())
        })
        .collect();
    page.reply(
        replays,
        |r| r.name.as_str(),
        "Replays",
        |r| replay_wire(app, r, false),
    )
}

async fn cancel_replay(app: &App, ctx: &Ctx, input: ReplayRef) -> Result<Vec<u8>, ApiError> {
    let name = check_replay_ref(&input)?;
    let r = app.archives.cancel_replay(&ctx.region, &name).await?;
    reply(&json!({
        "ReplayArn": replay_arn(app, &r),
        "State": ReplayState::Cancelling.as_str(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_arns_follow_the_model_pattern() {
        assert!(events_arn_ok(
            "arn:aws:events:us-east-1:123456789012:event-bus/default"
        ));
        assert!(events_arn_ok("arn:aws-cn:events:cn-north-1::event-bus/b"));
        assert!(events_arn_ok(
            "arn:aws:events:us-east-1:123456789012:archive/a"
        ));
        assert!(!events_arn_ok(
            "arn:aws:events:us-east-1:123456789012:event-bus"
        ));
        assert!(!events_arn_ok("arn:aws:sqs:us-east-1:123456789012:q/x"));
        assert!(!events_arn_ok("arn:aws:events:us-east-1:1234:event-bus/b"));
        assert!(!events_arn_ok("default"));
    }

    #[test]
    fn destinations_must_be_bus_arns() {
        assert!(destination_is_bus(
            "arn:aws:events:us-east-1:123456789012:event-bus/default"
        ));
        assert!(!destination_is_bus(
            "arn:aws:events:us-east-1:123456789012:archive/a"
        ));
        assert!(!destination_is_bus("arn:aws:events:us-east-1::event-bus/b"));
        assert!(!destination_is_bus("default"));
    }

    #[test]
    fn one_filter_message_names_the_operation() {
        assert!(at_most_one_filter("ListArchives", [true, false, false]).is_ok());
        let e = at_most_one_filter("ListReplays", [true, true, false]).unwrap_err();
        assert_eq!(e.code, "ValidationException");
        assert_eq!(
            e.message,
            "At most one filter is allowed for ListReplays. Use either : State, EventSourceArn, \
             or NamePrefix."
        );
    }

    #[test]
    fn long_archive_names_get_moto_text() {
        let mut v = Violations::new();
        let name = "a".repeat(49);
        let e = check_archive_name(&mut v, Some(&name)).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                " 1 validation error detected: Value '{name}' at 'archiveName' failed to \
                 satisfy constraint: Member must have length less than or equal to 48"
            )
        );
    }
}
