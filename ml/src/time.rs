//! Calendar days as Arrow's `Date32` counts them (days since 1970-01-01).

use chrono::NaiveDate;

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("the Unix epoch is a valid date")
}

/// Days since 1970-01-01.
pub fn date_to_days(date: NaiveDate) -> i32 {
    (date - epoch()).num_days() as i32
}

/// The date `days` after 1970-01-01 (for days from loaded or computed
/// data, which stay within the years a load accepts).
pub fn days_to_date(days: i32) -> NaiveDate {
    epoch() + chrono::Duration::days(i64::from(days))
}

/// The date `days` after 1970-01-01, or None beyond the calendar's range
/// (for values a user typed, such as a date literal in SQL).
pub fn checked_days_to_date(days: i32) -> Option<NaiveDate> {
    epoch().checked_add_signed(chrono::Duration::try_days(i64::from(days))?)
}
