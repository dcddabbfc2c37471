//! When a delivery is due: its cron pattern read in its time zone (croner
//! and chrono-tz do the calendar; nothing here counts days).

use crate::delivery_config::Schedule;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// The latest scheduled time at or before `now`, in the schedule's zone.
pub fn latest(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Tz>> {
    let local = now.with_timezone(&schedule.zone);
    schedule.cron.find_previous_occurrence(&local, true).ok()
}

/// The next scheduled time after `now`.
pub fn next(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Tz>> {
    let local = now.with_timezone(&schedule.zone);
    schedule.cron.find_next_occurrence(&local, false).ok()
}

/// A scheduled time as the ledger keys it.
pub fn period_key(at: &DateTime<Tz>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn monday_seven_berlin() -> Schedule {
        Schedule {
            pattern: "0 7 * * MON".into(),
            cron: croner::Cron::from_str("0 7 * * MON").unwrap(),
            zone: chrono_tz::Europe::Berlin,
        }
    }

    #[test]
    fn due_times_follow_the_zone_across_daylight_saving() {
        let s = monday_seven_berlin();
        // Tuesday 2026-03-31: the latest run is Monday 30 March 07:00 CEST (05:00 UTC).
        let now = DateTime::parse_from_rfc3339("2026-03-31T12:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            period_key(&latest(&s, now).unwrap()),
            "2026-03-30T07:00:00+02:00"
        );
        // A week earlier it was still winter time (06:00 UTC).
        let now = DateTime::parse_from_rfc3339("2026-03-24T12:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            period_key(&latest(&s, now).unwrap()),
            "2026-03-23T07:00:00+01:00"
        );
        assert_eq!(
            period_key(&next(&s, now).unwrap()),
            "2026-03-30T07:00:00+02:00"
        );
        // At the very minute, it is due.
        let now = DateTime::parse_from_rfc3339("2026-03-23T06:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            period_key(&latest(&s, now).unwrap()),
            "2026-03-23T07:00:00+01:00"
        );
    }
}
