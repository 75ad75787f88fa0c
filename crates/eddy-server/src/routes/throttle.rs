//! Per-route throttling: a token bucket (`rate` tokens a second, at most `burst` saved up), as
//! API Gateway throttles routes. A request that finds the bucket empty is answered 429
//! `{"message":"Too Many Requests"}` with `Retry-After` (seconds until a token is back).

use std::sync::Mutex;
use std::time::Instant;

use super::Throttle;

/// One route's bucket.
pub struct Bucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    pub fn new(t: Throttle) -> Self {
        let burst = f64::from(t.burst.max(1));
        Self {
            rate: t.rate.max(0.0),
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes a token: `Ok` when there was one, else `Err(seconds until one is back)`.
    pub fn take(&self) -> Result<(), u64> {
        self.take_at(Instant::now())
    }

    fn take_at(&self, now: Instant) -> Result<(), u64> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(s.1).as_secs_f64();
        s.0 = (s.0 + elapsed * self.rate).min(self.burst);
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            Ok(())
        } else if self.rate <= 0.0 {
            Err(60)
        } else {
            Err(((1.0 - s.0) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_refills_at_the_rate() {
        let b = Bucket::new(Throttle {
            rate: 2.0,
            burst: 3,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(b.take_at(t0).is_ok());
        }
        assert_eq!(b.take_at(t0), Err(1));
        assert!(b.take_at(t0 + Duration::from_millis(500)).is_ok());
        assert!(b.take_at(t0 + Duration::from_millis(500)).is_err());
        let zero = Bucket::new(Throttle {
            rate: 0.0,
            burst: 1,
        });
        assert!(zero.take_at(t0).is_ok());
        assert_eq!(zero.take_at(t0 + Duration::from_secs(5)), Err(60));
    }
}
