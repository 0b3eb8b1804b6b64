//! Plans and quota rules: which window a letter counts in, how premium is extended, how many
//! improvements a letter gets. Pure functions of the time they are given; windows are UTC.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

/// Days of premium one payment buys.
pub const PREMIUM_PERIOD_DAYS: i64 = 30;

/// A subscription plan (`subscriptions.plan_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plan {
    Free,
    Premium,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown plan type {0:?}")]
pub struct PlanError(pub String);

impl Plan {
    pub fn parse(raw: &str) -> Result<Self, PlanError> {
        match raw {
            "free" => Ok(Self::Free),
            "premium" => Ok(Self::Premium),
            other => Err(PlanError(other.chars().take(32).collect())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Premium => "premium",
        }
    }

    /// Improvements allowed per letter (bot.md: free 2, premium 3).
    pub fn max_improvements(self) -> i32 {
        match self {
            Self::Free => 2,
            Self::Premium => 3,
        }
    }
}

/// A half-open UTC interval `[start, end)` in which letters are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl QuotaWindow {
    /// The window of `plan` that contains `now`: the UTC calendar month for free, the UTC day
    /// for premium.
    pub fn containing(plan: Plan, now: DateTime<Utc>) -> Self {
        match plan {
            Plan::Free => {
                let start = month_start(now.year(), now.month());
                let (y, m) = if now.month() == 12 {
                    (now.year() + 1, 1)
                } else {
                    (now.year(), now.month() + 1)
                };
                Self {
                    start,
                    end: month_start(y, m),
                }
            }
            Plan::Premium => {
                let start = Utc
                    .from_utc_datetime(&now.date_naive().and_hms_opt(0, 0, 0).expect("midnight"));
                Self {
                    start,
                    end: start + Duration::days(1),
                }
            }
        }
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

fn month_start(year: i32, month: u32) -> DateTime<Utc> {
    let d = NaiveDate::from_ymd_opt(year, month, 1).expect("valid month");
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
}

/// The limits configured for the plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaRules {
    pub free_letters_per_month: i32,
    pub premium_letters_per_day: i32,
}

impl Default for QuotaRules {
    fn default() -> Self {
        Self {
            free_letters_per_month: 3,
            premium_letters_per_day: 20,
        }
    }
}

impl QuotaRules {
    pub fn limit(&self, plan: Plan) -> i32 {
        match plan {
            Plan::Free => self.free_letters_per_month,
            Plan::Premium => self.premium_letters_per_day,
        }
    }
}

/// The paid period after a payment of `days` at `now`: an active premium (its end still ahead) is
/// extended from its end; otherwise premium runs from now.
pub fn premium_period_after_payment(
    now: DateTime<Utc>,
    active_premium_end: Option<DateTime<Utc>>,
    days: i64,
) -> (DateTime<Utc>, DateTime<Utc>) {
    match active_premium_end {
        Some(end) if end > now => (now, end + Duration::days(days)),
        _ => (now, now + Duration::days(days)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_free_window_is_the_utc_calendar_month() {
        let w = QuotaWindow::containing(Plan::Free, t("2026-12-31T23:59:59Z"));
        assert_eq!(w.start, t("2026-12-01T00:00:00Z"));
        assert_eq!(w.end, t("2027-01-01T00:00:00Z"));
        // 01:30 in Moscow on the 1st is still the previous month in UTC.
        let w = QuotaWindow::containing(Plan::Free, t("2026-03-01T01:30:00+03:00"));
        assert_eq!(w.start, t("2026-02-01T00:00:00Z"));
    }

    #[test]
    fn the_premium_window_is_the_utc_day() {
        let w = QuotaWindow::containing(Plan::Premium, t("2026-02-28T23:00:00Z"));
        assert_eq!(w.start, t("2026-02-28T00:00:00Z"));
        assert_eq!(w.end, t("2026-03-01T00:00:00Z"));
        assert!(w.contains(t("2026-02-28T00:00:00Z")));
        assert!(!w.contains(t("2026-03-01T00:00:00Z")));
    }

    #[test]
    fn a_payment_during_active_premium_extends_it_from_its_end() {
        let now = t("2026-05-10T12:00:00Z");
        let (_, end) = premium_period_after_payment(now, Some(t("2026-05-20T00:00:00Z")), 30);
        assert_eq!(end, t("2026-06-19T00:00:00Z"));
        let (start, end) = premium_period_after_payment(now, Some(t("2026-05-01T00:00:00Z")), 30);
        assert_eq!((start, end), (now, t("2026-06-09T12:00:00Z")));
        assert_eq!(
            premium_period_after_payment(now, None, 30).1,
            t("2026-06-09T12:00:00Z")
        );
    }
}
