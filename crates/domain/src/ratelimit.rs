//! Per-user rate limits (bot.md "Security"): 5 commands a minute, 3 generations per 5 minutes.
//!
//! The rule is a pure function over the times of recent actions; the engine keeps those times in
//! the database so every replica sees the same history.

use chrono::{DateTime, Duration, Utc};

/// At most `max` actions in any sliding `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRule {
    pub max: usize,
    pub window: Duration,
}

pub const COMMANDS: RateRule = RateRule {
    max: 5,
    window: Duration::seconds(60),
};
pub const GENERATIONS: RateRule = RateRule {
    max: 3,
    window: Duration::seconds(300),
};

/// Over the limit; the action is allowed again at `retry_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_at: DateTime<Utc>,
}

impl Limited {
    /// Whole seconds to wait, at least one.
    pub fn wait_seconds(&self, now: DateTime<Utc>) -> i64 {
        ((self.retry_at - now).num_milliseconds() + 999)
            .div_euclid(1000)
            .max(1)
    }
}

impl RateRule {
    /// Decides one more action at `now` given the times of earlier ones. On success returns the
    /// history to keep (old entries dropped, `now` added).
    pub fn admit(
        &self,
        history: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, Limited> {
        let since = now - self.window;
        let mut recent: Vec<DateTime<Utc>> = history
            .iter()
            .copied()
            .filter(|t| *t > since && *t <= now)
            .collect();
        recent.sort();
        if recent.len() >= self.max {
            let oldest_that_counts = recent[recent.len() - self.max];
            return Err(Limited {
                retry_at: oldest_that_counts + self.window,
            });
        }
        recent.push(now);
        Ok(recent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_command_in_a_minute_is_refused_until_the_first_leaves_the_window() {
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut h = Vec::new();
        for i in 0..5 {
            h = COMMANDS.admit(&h, t0 + Duration::seconds(i * 5)).unwrap();
        }
        let refused = COMMANDS.admit(&h, t0 + Duration::seconds(30)).unwrap_err();
        assert_eq!(refused.retry_at, t0 + Duration::seconds(60));
        assert_eq!(refused.wait_seconds(t0 + Duration::seconds(30)), 30);
        assert!(COMMANDS.admit(&h, t0 + Duration::seconds(61)).is_ok());
    }

    #[test]
    fn three_generations_per_five_minutes() {
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let h = GENERATIONS.admit(&[], t0).unwrap();
        let h = GENERATIONS.admit(&h, t0 + Duration::seconds(1)).unwrap();
        let h = GENERATIONS.admit(&h, t0 + Duration::seconds(2)).unwrap();
        assert!(GENERATIONS.admit(&h, t0 + Duration::seconds(299)).is_err());
        // At 301 s the first two have left the window: the third and the new one remain.
        assert_eq!(
            GENERATIONS
                .admit(&h, t0 + Duration::seconds(301))
                .unwrap()
                .len(),
            2
        );
    }
}
