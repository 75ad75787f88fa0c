//! Creating, changing and deleting schedules and schedule groups: the one place that decides
//! whether a schedule's definition is valid (its expression, time window, time zone, dates) and
//! whether a change may be made, for every caller (the Scheduler API, the manifest). Refusals
//! are [`ScheduleError`]s in the core's words; the Scheduler adapter words them as AWS does.

use eddy_model::definitions::Tags;
use eddy_schedule::ScheduleExpression;

use super::{
    DEFAULT_GROUP, FlexibleTimeWindow, GroupDef, MISSED_TICKS_TAG, MissedTicks, ScheduleDef,
    ScheduleTarget, Schedules,
};
use crate::core_error::CoreError;

/// What a schedule is made of (CreateSchedule / UpdateSchedule, less its name and group).
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    pub expression: String,
    pub timezone: Option<String>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub description: Option<String>,
    /// `ENABLED` (the default) or `DISABLED`.
    pub state: Option<String>,
    pub kms_key_arn: Option<String>,
    pub flexible_time_window: FlexibleTimeWindow,
    /// `NONE` (the default) or `DELETE`.
    pub action_after_completion: Option<String>,
    pub target: ScheduleTarget,
}

/// Why a schedule or group operation refused.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The expression does not parse (`expression` as given).
    #[error("schedule expression {expression}: {error}")]
    Expression {
        expression: String,
        error: eddy_schedule::ScheduleError,
    },
    /// A `FLEXIBLE` window without its maximum.
    #[error("a flexible time window needs its maximum")]
    WindowNeedsMaximum,
    /// A maximum on a window that is `OFF`.
    #[error("a time window that is off takes no maximum")]
    WindowMaximumWhenOff,
    #[error("unknown time zone {0}")]
    TimeZone(String),
    #[error("the start date is more than 5 minutes ago")]
    StartTooEarly,
    #[error("the end date has passed")]
    EndPassed,
    #[error("the end date is not after the start date")]
    EndBeforeStart,
    /// The `eddy:missed-ticks` tag takes `latest`, `skip` or `all` (its value here).
    #[error("missed-ticks policy {0} is not latest, skip or all")]
    MissedTicks(String),
    #[error("schedule group {0} does not exist")]
    GroupNotFound(String),
    #[error("schedule group {0} already exists")]
    GroupExists(String),
    /// The `default` group always exists.
    #[error("the default schedule group cannot be deleted")]
    DeleteDefaultGroup,
    #[error("schedule {0} does not exist")]
    NotFound(String),
    #[error("schedule {0} already exists")]
    Exists(String),
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Checks a schedule's definition at `now_ms` (the callers' clock: dates are judged by it).
fn check(spec: &ScheduleSpec, now_ms: i64) -> Result<(), ScheduleError> {
    let parsed =
        ScheduleExpression::parse(&spec.expression).map_err(|error| ScheduleError::Expression {
            expression: spec.expression.clone(),
            error,
        })?;
    let window = &spec.flexible_time_window;
    if window.mode == "FLEXIBLE" && window.maximum_window_in_minutes.is_none() {
        return Err(ScheduleError::WindowNeedsMaximum);
    }
    if window.mode == "OFF" && window.maximum_window_in_minutes.is_some() {
        return Err(ScheduleError::WindowMaximumWhenOff);
    }
    if let Some(tz) = &spec.timezone
        && jiff::tz::TimeZone::get(tz).is_err()
    {
        return Err(ScheduleError::TimeZone(tz.clone()));
    }
    if parsed.is_one_time() {
        return Ok(());
    }
    if spec.start_ms.is_some_and(|s| s < now_ms - 5 * 60 * 1000) {
        return Err(ScheduleError::StartTooEarly);
    }
    if let Some(e) = spec.end_ms {
        if e <= now_ms {
            return Err(ScheduleError::EndPassed);
        }
        if spec.start_ms.is_some_and(|s| e <= s) {
            return Err(ScheduleError::EndBeforeStart);
        }
    }
    Ok(())
}

/// Checks eddy's own tags on a group.
fn check_tags(tags: &Tags) -> Result<(), ScheduleError> {
    match tags.get(MISSED_TICKS_TAG) {
        Some(v) if MissedTicks::parse(v).is_none() => Err(ScheduleError::MissedTicks(v.clone())),
        _ => Ok(()),
    }
}

impl Schedules {
    /// Creates schedule `name` in an existing `group` of `region`.
    pub async fn create_schedule(
        &self,
        region: &str,
        group: &str,
        name: &str,
        spec: ScheduleSpec,
    ) -> Result<ScheduleDef, ScheduleError> {
        self.put_schedule(region, group, name, spec, true).await
    }

    /// Replaces the definition of an existing schedule.
    pub async fn update_schedule(
        &self,
        region: &str,
        group: &str,
        name: &str,
        spec: ScheduleSpec,
    ) -> Result<ScheduleDef, ScheduleError> {
        self.put_schedule(region, group, name, spec, false).await
    }

    async fn put_schedule(
        &self,
        region: &str,
        group: &str,
        name: &str,
        spec: ScheduleSpec,
        create: bool,
    ) -> Result<ScheduleDef, ScheduleError> {
        let now = self.clock.now_ms();
        check(&spec, now)?;
        if self.group(region, group).is_none() {
            return Err(ScheduleError::GroupNotFound(group.to_owned()));
        }
        self.upsert(region, group, name, |current| {
            let created_ms = match (current, create) {
                (Some(_), true) => return Err(ScheduleError::Exists(name.to_owned())),
                (None, false) => return Err(ScheduleError::NotFound(name.to_owned())),
                (Some(c), false) => c.created_ms,
                (None, true) => now,
            };
            let def = ScheduleDef {
                region: region.to_owned(),
                group: group.to_owned(),
                name: name.to_owned(),
                schedule_expression: spec.expression,
                schedule_expression_timezone: spec.timezone,
                start_ms: spec.start_ms,
                end_ms: spec.end_ms,
                description: spec.description,
                state: spec.state.unwrap_or_else(|| "ENABLED".to_owned()),
                kms_key_arn: spec.kms_key_arn,
                flexible_time_window: spec.flexible_time_window,
                action_after_completion: spec
                    .action_after_completion
                    .unwrap_or_else(|| "NONE".to_owned()),
                target: spec.target,
                created_ms,
                modified_ms: now,
            };
            Ok((def.clone(), def))
        })
        .await
    }

    /// Deletes a schedule.
    pub async fn delete_schedule(
        &self,
        region: &str,
        group: &str,
        name: &str,
    ) -> Result<(), ScheduleError> {
        if !self.delete(region, group, name).await? {
            return Err(ScheduleError::NotFound(name.to_owned()));
        }
        Ok(())
    }

    /// Creates a schedule group with `tags`.
    pub async fn create_group(
        &self,
        region: &str,
        name: &str,
        tags: Tags,
    ) -> Result<GroupDef, ScheduleError> {
        check_tags(&tags)?;
        if self.group(region, name).is_some() {
            return Err(ScheduleError::GroupExists(name.to_owned()));
        }
        let now = self.clock.now_ms();
        let g = GroupDef {
            region: region.to_owned(),
            name: name.to_owned(),
            tags,
            created_ms: now,
            modified_ms: now,
        };
        self.put_group(g.clone()).await?;
        Ok(g)
    }

    /// Deletes a group and every schedule in it (never the `default` group).
    pub async fn delete_group(&self, region: &str, name: &str) -> Result<(), ScheduleError> {
        if name == DEFAULT_GROUP {
            return Err(ScheduleError::DeleteDefaultGroup);
        }
        if self.group(region, name).is_none() {
            return Err(ScheduleError::GroupNotFound(name.to_owned()));
        }
        Ok(self.delete_group_and_schedules(region, name).await?)
    }

    /// Adds (or replaces) tags of a group.
    pub async fn tag_group(
        &self,
        region: &str,
        name: &str,
        tags: Tags,
    ) -> Result<(), ScheduleError> {
        check_tags(&tags)?;
        let mut g = self
            .group(region, name)
            .ok_or_else(|| ScheduleError::GroupNotFound(name.to_owned()))?;
        g.tags.extend(tags);
        g.modified_ms = self.clock.now_ms();
        Ok(self.put_group(g).await?)
    }

    /// Removes tags of a group.
    pub async fn untag_group(
        &self,
        region: &str,
        name: &str,
        keys: &[&str],
    ) -> Result<(), ScheduleError> {
        let mut g = self
            .group(region, name)
            .ok_or_else(|| ScheduleError::GroupNotFound(name.to_owned()))?;
        for k in keys {
            g.tags.remove(*k);
        }
        g.modified_ms = self.clock.now_ms();
        Ok(self.put_group(g).await?)
    }
}
