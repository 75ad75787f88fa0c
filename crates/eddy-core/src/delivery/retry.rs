//! When to try a failed delivery again: EventBridge's `RetryPolicy` (at most
//! `MaximumRetryAttempts` retries, 185 by default, within `MaximumEventAgeInSeconds`, 24 hours by
//! default) with exponential backoff and full jitter.
//!
//! Pure functions of (attempts, times, a random number), so tests move time by hand.

use eddy_model::definitions::RetryPolicy;

/// The first retry waits up to this long.
pub const BASE_BACKOFF_MS: i64 = 1_000;
/// No retry waits longer than this.
pub const MAX_BACKOFF_MS: i64 = 5 * 60 * 1_000;

/// The policy in force for a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub max_retries: u32,
    pub max_age_ms: i64,
}

impl Policy {
    pub fn of(p: Option<&RetryPolicy>) -> Self {
        Self {
            max_retries: p.and_then(|p| p.maximum_retry_attempts).unwrap_or(185),
            max_age_ms: i64::from(
                p.and_then(|p| p.maximum_event_age_in_seconds)
                    .unwrap_or(86_400),
            ) * 1_000,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try again at this time.
    RetryAt(i64),
    /// Give up; the condition that ran out, as the dead-letter attribute names it.
    Exhausted(&'static str),
}

/// The wait before retry number `retry` (1-based): a uniformly random time up to
/// `min(MAX, BASE * 2^(retry-1))` ("full jitter"); `rand` is in `[0, 1)`.
pub fn backoff_ms(retry: u32, rand: f64) -> i64 {
    let exp = retry.saturating_sub(1).min(30);
    let cap = BASE_BACKOFF_MS
        .saturating_mul(1_i64 << exp)
        .min(MAX_BACKOFF_MS);
    ((cap as f64) * rand.clamp(0.0, 1.0)) as i64
}

/// Decides after attempt number `attempts` (1-based) of an event ingested at `created_ms` failed
/// at `now_ms`.
pub fn after_failure(
    policy: Policy,
    attempts: u32,
    created_ms: i64,
    now_ms: i64,
    rand: f64,
) -> Verdict {
    let retries_done = attempts.saturating_sub(1);
    if retries_done >= policy.max_retries {
        return Verdict::Exhausted("MaximumRetryAttempts");
    }
    let at = now_ms + backoff_ms(retries_done + 1, rand);
    if at - created_ms > policy.max_age_ms {
        return Verdict::Exhausted("MaximumEventAgeInSeconds");
    }
    Verdict::RetryAt(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(retries: u32, age_s: u32) -> Policy {
        Policy::of(Some(&RetryPolicy {
            maximum_retry_attempts: Some(retries),
            maximum_event_age_in_seconds: Some(age_s),
        }))
    }

    #[test]
    fn defaults_are_awss() {
        assert_eq!(
            Policy::of(None),
            Policy {
                max_retries: 185,
                max_age_ms: 86_400_000
            }
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitters_below_it() {
        assert_eq!(backoff_ms(1, 0.999_999), 999);
        assert_eq!(backoff_ms(2, 0.5), 1_000);
        assert_eq!(backoff_ms(3, 0.5), 2_000);
        assert_eq!(backoff_ms(40, 0.5), MAX_BACKOFF_MS / 2);
        assert_eq!(backoff_ms(5, 0.0), 0);
    }

    #[test]
    fn retries_run_out_after_the_maximum() {
        let p = policy(2, 3600);
        let t0 = 1_000_000;
        // Attempt 1 and 2 failed: retries left.
        assert!(matches!(
            after_failure(p, 1, t0, t0, 0.5),
            Verdict::RetryAt(_)
        ));
        assert!(matches!(
            after_failure(p, 2, t0, t0 + 1000, 0.5),
            Verdict::RetryAt(_)
        ));
        // Attempt 3 was the second retry: done.
        assert_eq!(
            after_failure(p, 3, t0, t0 + 3000, 0.5),
            Verdict::Exhausted("MaximumRetryAttempts")
        );
        // No retries at all.
        assert_eq!(
            after_failure(policy(0, 60), 1, t0, t0, 0.5),
            Verdict::Exhausted("MaximumRetryAttempts")
        );
    }

    #[test]
    fn the_event_age_bounds_the_schedule() {
        let p = policy(185, 60);
        let t0 = 0;
        // A clock driven through the schedule: every retry lands within 60 s of ingestion, and
        // the first one that would not is refused.
        let mut now = t0;
        let mut attempts = 1;
        loop {
            match after_failure(p, attempts, t0, now, 0.9) {
                Verdict::RetryAt(at) => {
                    assert!(at >= now);
                    assert!(at - t0 <= 60_000);
                    now = at;
                    attempts += 1;
                }
                Verdict::Exhausted(why) => {
                    assert_eq!(why, "MaximumEventAgeInSeconds");
                    break;
                }
            }
        }
        assert!(
            attempts > 3,
            "a few retries fit in a minute, got {attempts}"
        );
    }
}
