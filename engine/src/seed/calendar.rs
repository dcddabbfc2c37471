//! Days as plain integers, and the calendar facts the simulation needs.
//!
//! The simulation does millions of date computations, so a date is an `i32`
//! (`NaiveDate::num_days_from_ce`), and the `YYYY-MM-DD` text of every day the
//! output can mention is rendered once up front. This module also owns the
//! creation schedule: how many deals are opened on each day of the three-year
//! window (weekday-heavy, a mild growth trend, day-to-day noise), fixed before
//! any deal is simulated so that deal `i`'s creation day is known without
//! simulating deals `0..i`.

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand_distr::StandardNormal;

use super::SeedError;

/// A calendar day, counted as in `NaiveDate::num_days_from_ce`.
pub(crate) type Day = i32;

/// Length of the window in which deals are created, ending on the as-of date.
pub(crate) const WINDOW_DAYS: i32 = 1095;
/// How far before the window the date table reaches (rep start dates).
const TABLE_BEFORE: i32 = 12 * 366;
/// How far after the as-of date the table reaches (expected close dates).
const TABLE_AFTER: i32 = 3 * 366;
/// Yearly growth factor of deal creation.
const YEARLY_GROWTH: f64 = 1.3;
/// Relative volume of deal creation on a Saturday or Sunday.
const WEEKEND_WEIGHT: f64 = 0.08;

/// The as-of date, the creation window and pre-rendered date strings.
pub(crate) struct Calendar {
    /// The as-of date: nothing later happens in the data.
    pub(crate) as_of: Day,
    /// First day of the creation window.
    pub(crate) window_start: Day,
    table_start: Day,
    text: Vec<[u8; 10]>,
}

impl Calendar {
    /// Builds the calendar for `as_of`, rejecting dates too close to the ends
    /// of the supported range.
    pub(crate) fn new(as_of: NaiveDate) -> Result<Self, SeedError> {
        let as_of_day = as_of.num_days_from_ce();
        let window_start = as_of_day - WINDOW_DAYS + 1;
        let table_start = window_start - TABLE_BEFORE;
        let table_end = as_of_day + TABLE_AFTER;
        // Two years of history before it and close dates after it must stay
        // within the dates a load accepts (1970-01-01 to 2099-12-31).
        if as_of.year() < 1975 || as_of.year() > 2095 {
            return Err(SeedError::InvalidOptions(format!(
                "as-of date {as_of} is outside the supported years 1975..=2095"
            )));
        }
        let mut text = Vec::with_capacity((table_end - table_start + 1) as usize);
        for day in table_start..=table_end {
            text.push(render(day));
        }
        Ok(Self {
            as_of: as_of_day,
            window_start,
            table_start,
            text,
        })
    }

    /// `YYYY-MM-DD` for `day`.
    pub(crate) fn text(&self, day: Day) -> [u8; 10] {
        match usize::try_from(day - self.table_start)
            .ok()
            .and_then(|i| self.text.get(i))
        {
            Some(t) => *t,
            None => render(day),
        }
    }
}

fn render(day: Day) -> [u8; 10] {
    let date = to_date(day);
    let mut out = [b'0'; 10];
    let (y, m, d) = (date.year(), date.month(), date.day());
    let digits = |v: u32, buf: &mut [u8]| {
        let mut v = v;
        for slot in buf.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    digits(y.clamp(0, 9999) as u32, &mut out[0..4]);
    out[4] = b'-';
    digits(m, &mut out[5..7]);
    out[7] = b'-';
    digits(d, &mut out[8..10]);
    out
}

fn to_date(day: Day) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).expect("days stay within years 1888..=9994")
}

/// 0 = Monday … 6 = Sunday (day 1 of the common era was a Monday).
pub(crate) fn weekday(day: Day) -> i32 {
    (day - 1).rem_euclid(7)
}

/// Moves a Saturday or Sunday to the `k`-th working day (0 = Monday) of the
/// week after; uniformly drawn `k` spreads weekend events over the whole
/// working week instead of piling them up on Mondays.
pub(crate) fn working_day(day: Day, k: i32) -> Day {
    match weekday(day) {
        w @ 5..=6 => day + (7 - w) + k.clamp(0, 4),
        _ => day,
    }
}

/// Last day of `day`'s month.
pub(crate) fn month_end(day: Day) -> Day {
    let d = to_date(day);
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .expect("first of a month exists")
        .num_days_from_ce()
        - 1
}

/// Last day of `day`'s calendar quarter.
pub(crate) fn quarter_end(day: Day) -> Day {
    let d = to_date(day);
    let last_month = (d.month0() / 3) * 3 + 3;
    let (y, m) = if last_month == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), last_month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .expect("first of a month exists")
        .num_days_from_ce()
        - 1
}

/// Which day each deal is created on: deal `i` is created on the day `d`
/// with `first_deal[d] <= i < first_deal[d + 1]`, so ids follow creation order.
pub(crate) struct CreationSchedule {
    first_deal: Vec<usize>,
    window_start: Day,
}

impl CreationSchedule {
    /// Spreads `deals` over the window by daily weights: weekdays ≫ weekends,
    /// 30 % yearly growth, a little end-of-quarter push and log-normal noise.
    pub(crate) fn new(cal: &Calendar, deals: usize, rng: &mut impl Rng) -> Self {
        let mut cumulative = Vec::with_capacity(WINDOW_DAYS as usize + 1);
        let mut total = 0.0;
        cumulative.push(0.0);
        for offset in 0..WINDOW_DAYS {
            let day = cal.window_start + offset;
            let growth = YEARLY_GROWTH.powf(f64::from(offset) / 365.0);
            let weekday_weight = if weekday(day) >= 5 {
                WEEKEND_WEIGHT
            } else {
                1.0
            };
            let quarter_push = if quarter_end(day) - day < 14 {
                1.15
            } else {
                1.0
            };
            let z: f64 = rng.sample(StandardNormal);
            total += growth * weekday_weight * quarter_push * (0.25 * z).exp();
            cumulative.push(total);
        }
        let first_deal = cumulative
            .iter()
            .map(|c| ((c / total) * deals as f64).round() as usize)
            .map(|i| i.min(deals))
            .collect::<Vec<_>>();
        Self {
            first_deal,
            window_start: cal.window_start,
        }
    }

    /// The creation day of deal `index`.
    pub(crate) fn day_of(&self, index: usize) -> Day {
        let slot = self.first_deal.partition_point(|&first| first <= index) - 1;
        self.window_start + slot.min(WINDOW_DAYS as usize - 1) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn day(y: i32, m: u32, d: u32) -> Day {
        NaiveDate::from_ymd_opt(y, m, d).unwrap().num_days_from_ce()
    }

    #[test]
    fn weekday_and_month_arithmetic_match_chrono() {
        for offset in 0..800 {
            let d = day(2025, 1, 1) + offset;
            assert_eq!(
                weekday(d),
                to_date(d).weekday().num_days_from_monday() as i32
            );
        }
        assert_eq!(month_end(day(2024, 2, 10)), day(2024, 2, 29));
        assert_eq!(month_end(day(2026, 12, 1)), day(2026, 12, 31));
        assert_eq!(quarter_end(day(2026, 11, 23)), day(2026, 12, 31));
        assert_eq!(quarter_end(day(2026, 4, 1)), day(2026, 6, 30));
        assert_eq!(working_day(day(2026, 11, 21), 0), day(2026, 11, 23));
        assert_eq!(working_day(day(2026, 11, 22), 4), day(2026, 11, 27));
        assert_eq!(working_day(day(2026, 11, 24), 3), day(2026, 11, 24));
    }

    #[test]
    fn dates_render_as_iso() {
        let cal = Calendar::new(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()).unwrap();
        assert_eq!(&cal.text(cal.as_of), b"2026-11-23");
        assert_eq!(&cal.text(day(1990, 3, 4)), b"1990-03-04");
        assert_eq!(&cal.text(day(2031, 3, 4)), b"2031-03-04");
    }

    #[test]
    fn schedule_is_ordered_and_covers_the_window() {
        let cal = Calendar::new(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()).unwrap();
        let schedule = CreationSchedule::new(&cal, 10_000, &mut ChaCha8Rng::seed_from_u64(3));
        let days: Vec<Day> = (0..10_000).map(|i| schedule.day_of(i)).collect();
        assert!(days.windows(2).all(|w| w[0] <= w[1]));
        assert!(days[0] >= cal.window_start && days[9_999] <= cal.as_of);
        let weekend = days.iter().filter(|&&d| weekday(d) >= 5).count();
        assert!(weekend < 500, "{weekend} deals created on weekends");
        // 30% yearly growth over three years: the first year holds about
        // 1 / (1 + 1.3 + 1.69) = 25% of the deals.
        let first_year = days.iter().filter(|&&d| d < cal.window_start + 365).count();
        assert!(
            (2_200..2_800).contains(&first_year),
            "{first_year} in the first year"
        );
        // Deals are created all through every quarter: no week of the
        // window goes without.
        for week in 0..(WINDOW_DAYS / 7) {
            let from = cal.window_start + 7 * week;
            assert!(
                days.iter().any(|&d| d >= from && d < from + 7),
                "week {week} has deals"
            );
        }
    }
}
