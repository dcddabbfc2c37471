//! Reading dates and numbers as CRM exports write them.
//!
//! The one place that parses a date or an amount from text, for canonical
//! files and every importer alike. A format is *declared* (by the mapping, an
//! importer's preset or the import's options), never guessed from the value:
//! `3/14/2025` and `14.03.2025` mean what the declared pattern says, and a
//! value that does not fit it is refused rather than read some other way.
//! ISO dates (`2025-03-14`) are always accepted too, as they cannot be
//! misread. Numbers may carry a currency symbol or code and thousands
//! separators, but the separators must sit where the declared locale puts
//! them — `1.200,50` under a `1,234.56` locale is an error, not 1.2005.
//!
//! A date must also be plausible for a CRM record: from [`EARLIEST_DATE`]
//! through [`LATEST_DATE`]. A deal "created" on 0001-01-01 is a data error
//! (a zero or placeholder date) and would make every date-driven loop —
//! training snapshots, backtest cut-offs — run for hours; it is rejected
//! with its row, like any other unreadable value.

use chrono::NaiveDate;

/// The earliest date a record may carry.
pub const EARLIEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// The latest date a record may carry (far enough for placeholder close dates).
pub const LATEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2099, 12, 31) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// Out-of-range dates in optional columns (a `9999-12-31` "no end" close
/// or exit date), read as empty rather than rejected: how many, and the first.
#[derive(Debug, Default, Clone)]
pub struct DatesReadAsEmpty {
    pub count: u64,
    /// The first: (field, value).
    pub first: Option<(String, String)>,
}

impl DatesReadAsEmpty {
    pub fn add(&mut self, field: &str, value: &str) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some((field.to_string(), value.to_string()));
        }
    }

    pub fn absorb(&mut self, other: DatesReadAsEmpty) {
        self.count += other.count;
        if self.first.is_none() {
            self.first = other.first;
        }
    }

    /// The load note, when there were any.
    pub fn note(&self) -> Option<String> {
        let (field, value) = self.first.as_ref()?;
        Some(format!(
            "{} date(s) outside {EARLIEST_DATE} to {LATEST_DATE} in optional columns read as empty (first: {field} = `{value}`)",
            self.count
        ))
    }
}

/// `date` if it lies within [`EARLIEST_DATE`]..=[`LATEST_DATE`], else why not.
pub fn plausible_date(date: NaiveDate) -> Result<NaiveDate, String> {
    if (EARLIEST_DATE..=LATEST_DATE).contains(&date) {
        Ok(date)
    } else {
        Err(format!(
            "the date {date} is outside the accepted range {EARLIEST_DATE} to {LATEST_DATE}"
        ))
    }
}

/// Parses `YYYY-MM-DD`, the only date layout of canonical files.
pub fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// An ISO date, optionally followed by a time (`2025-03-14T10:22:00Z`,
/// `2025-03-14 10:22`), whose day is taken as it is written.
fn parse_iso_date_time(s: &str) -> Option<NaiveDate> {
    if s.len() == 10 {
        return parse_iso_date(s);
    }
    let (day, rest) = (s.get(..10)?, &s[10..]);
    time_remainder_ok(rest)
        .then(|| parse_iso_date(day))
        .flatten()
}

/// A time after a date: a `T` or space, then a digit.
fn time_remainder_ok(rest: &str) -> bool {
    let mut chars = rest.chars();
    matches!(chars.next(), Some('T' | ' ')) && chars.next().is_some_and(|c| c.is_ascii_digit())
}

/// One piece of a compiled date pattern.
#[derive(Debug, Clone, PartialEq)]
enum DatePart {
    /// `%Y`: four digits.
    Year,
    /// `%m`: one or two digits.
    Month,
    /// `%d` or `%e`: one or two digits.
    Day,
    Literal(char),
}

/// A declared date layout, as a strftime pattern (`%m/%d/%Y`, `%d.%m.%Y`).
///
/// Patterns of only `%Y`, `%m`, `%d` and literal characters are read by a
/// small hand-written scanner (imports of a million rows read three dates a
/// row); anything else (`%b`, `%y`, …) goes to chrono. A time after the date
/// is accepted and ignored, as exports often stamp created dates with one.
#[derive(Debug, Clone, PartialEq)]
pub struct DateFormat {
    pattern: String,
    fast: Option<Vec<DatePart>>,
}

impl Default for DateFormat {
    fn default() -> Self {
        DateFormat::iso()
    }
}

impl DateFormat {
    /// `YYYY-MM-DD`.
    pub fn iso() -> DateFormat {
        DateFormat::new("%Y-%m-%d").expect("the ISO pattern is valid")
    }

    /// Compiles a strftime pattern; refuses one that has no year, month and day.
    pub fn new(pattern: &str) -> Result<DateFormat, String> {
        let has = |spec: &[&str]| spec.iter().any(|s| pattern.contains(s));
        if !has(&["%Y", "%y", "%G"]) || !has(&["%m", "%b", "%B", "%h"]) || !has(&["%d", "%e"]) {
            return Err(format!(
                "date format `{pattern}` needs a year, a month and a day (e.g. `%m/%d/%Y`)"
            ));
        }
        let mut parts = Vec::new();
        let mut chars = pattern.chars();
        let mut fast = true;
        while let Some(c) = chars.next() {
            if c != '%' {
                parts.push(DatePart::Literal(c));
                continue;
            }
            match chars.next() {
                Some('Y') => parts.push(DatePart::Year),
                Some('m') => parts.push(DatePart::Month),
                Some('d' | 'e') => parts.push(DatePart::Day),
                Some(_) | None => fast = false,
            }
        }
        // Chrono must accept it too, or the pattern is not a pattern.
        let probe = NaiveDate::from_ymd_opt(2025, 3, 14).expect("a valid date");
        let invalid = || format!("date format `{pattern}` is not a valid strftime pattern");
        if chrono::format::StrftimeItems::new(pattern)
            .any(|item| matches!(item, chrono::format::Item::Error))
        {
            return Err(invalid());
        }
        let mut text = String::new();
        std::fmt::Write::write_fmt(&mut text, format_args!("{}", probe.format(pattern)))
            .map_err(|_| invalid())?;
        if NaiveDate::parse_and_remainder(&text, pattern).map(|(d, _)| d) != Ok(probe) {
            return Err(format!(
                "date format `{pattern}` cannot be read back (it gives `{text}` for 2025-03-14)"
            ));
        }
        Ok(DateFormat {
            pattern: pattern.to_string(),
            fast: fast.then_some(parts),
        })
    }

    /// The pattern, for messages.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether this is plain ISO.
    pub fn is_iso(&self) -> bool {
        self.pattern == "%Y-%m-%d"
    }

    /// How the expected value is described to users.
    pub fn describe(&self) -> String {
        if self.is_iso() {
            "a date (YYYY-MM-DD)".into()
        } else {
            let example = NaiveDate::from_ymd_opt(2025, 3, 14)
                .expect("a valid date")
                .format(&self.pattern);
            format!("a date as `{}` (e.g. {example})", self.pattern)
        }
    }

    /// Parses `s` in this format, or as ISO.
    pub fn parse(&self, s: &str) -> Option<NaiveDate> {
        if let Some(d) = parse_iso_date_time(s) {
            return Some(d);
        }
        if self.is_iso() {
            return None;
        }
        match &self.fast {
            Some(parts) => parse_fast(parts, s),
            None => match NaiveDate::parse_and_remainder(s, &self.pattern) {
                Ok((d, rest)) if rest.is_empty() || time_remainder_ok(rest) => Some(d),
                _ => None,
            },
        }
    }
}

fn parse_fast(parts: &[DatePart], s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let mut i = 0;
    let (mut y, mut m, mut d) = (None, None, None);
    let digits = |i: &mut usize, min: usize, max: usize| -> Option<u32> {
        let start = *i;
        let mut v = 0u32;
        while *i < b.len() && *i - start < max && b[*i].is_ascii_digit() {
            v = v * 10 + u32::from(b[*i] - b'0');
            *i += 1;
        }
        (*i - start >= min).then_some(v)
    };
    for part in parts {
        match part {
            DatePart::Year => y = Some(digits(&mut i, 4, 4)?),
            DatePart::Month => m = Some(digits(&mut i, 1, 2)?),
            DatePart::Day => d = Some(digits(&mut i, 1, 2)?),
            DatePart::Literal(c) => {
                let mut buf = [0u8; 4];
                let lit = c.encode_utf8(&mut buf).as_bytes();
                if !b[i..].starts_with(lit) {
                    return None;
                }
                i += lit.len();
            }
        }
    }
    if i != b.len() && !time_remainder_ok(&s[i..]) {
        return None;
    }
    NaiveDate::from_ymd_opt(y? as i32, m?, d?)
}

/// A declared number layout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumberFormat {
    /// `.` (1,234.56) or `,` (1.234,56).
    pub decimal: char,
    /// Whether thousands separators, currency symbols or codes and
    /// accounting parentheses may appear. Canonical files allow none.
    pub lenient: bool,
}

impl Default for NumberFormat {
    fn default() -> Self {
        NumberFormat::canonical()
    }
}

impl NumberFormat {
    /// Plain numbers only: `-1234.5`.
    pub fn canonical() -> NumberFormat {
        NumberFormat {
            decimal: '.',
            lenient: false,
        }
    }

    /// Export numbers with the given decimal separator: `$1,200.50`,
    /// `1.200,50 €`, `(300.00)`, `USD 12 000,00`.
    pub fn export(decimal: char) -> NumberFormat {
        NumberFormat {
            decimal,
            lenient: true,
        }
    }

    /// How the expected value is described to users.
    pub fn describe(&self) -> &'static str {
        match (self.lenient, self.decimal) {
            (false, _) => "a number",
            (true, ',') => "a number as 1.234,56",
            (true, _) => "a number as 1,234.56",
        }
    }

    /// Parses `s`, refusing anything that does not fit exactly.
    pub fn parse(&self, s: &str) -> Option<f64> {
        let s = s.trim();
        if !self.lenient
            || (self.decimal == '.'
                && s.bytes()
                    .all(|c| c.is_ascii_digit() || c == b'.' || c == b'-'))
        {
            return s.parse::<f64>().ok().filter(|v| v.is_finite());
        }
        self.parse_export(s)
    }

    fn parse_export(&self, s: &str) -> Option<f64> {
        let mut negative = false;
        let mut body = s;
        if let Some(inner) = body.strip_prefix('(').and_then(|b| b.strip_suffix(')')) {
            negative = true;
            body = inner.trim();
        }
        // Sign and currency in either order at either end: `-$1.00`, `$-1.00`, `1,00 €`, `1.00-`.
        let first_digit = body.find(|c: char| c.is_ascii_digit())?;
        let last_digit = body.rfind(|c: char| c.is_ascii_digit())?;
        let (prefix, number, suffix) = (
            &body[..first_digit],
            &body[first_digit..=last_digit],
            &body[last_digit + 1..],
        );
        let mut strip_affix = |affix: &str, leading: bool| -> Option<()> {
            let mut t = affix.trim();
            for sign in ['-', '\u{2212}'] {
                if let Some(rest) = t.strip_prefix(sign).or_else(|| t.strip_suffix(sign)) {
                    if negative {
                        return None;
                    }
                    negative = true;
                    t = rest.trim();
                }
            }
            if let Some(rest) = t.strip_prefix('+') {
                t = rest.trim();
            }
            // A leading decimal separator (`.5`, `,5`) belongs to the number.
            if leading && t.ends_with(self.decimal) {
                return None;
            }
            (t.is_empty() || is_currency(t)).then_some(())
        };
        strip_affix(prefix, true)?;
        strip_affix(suffix, false)?;
        let value = self.digits(number)?;
        Some(if negative { -value } else { value })
    }

    /// `1,234,567.89` (or `1.234.567,89`): groups of three after the first,
    /// one kind of separator, digits only after the decimal separator.
    fn digits(&self, number: &str) -> Option<f64> {
        let (int, frac) = match number.split_once(self.decimal) {
            Some((i, f)) => (i, Some(f)),
            None => (number, None),
        };
        // Digits only, on the stack: amounts are short.
        let mut buf = [0u8; 64];
        let mut len = 0usize;
        let mut push = |c: u8| -> Option<()> {
            *buf.get_mut(len)? = c;
            len += 1;
            Some(())
        };
        let mut separator = None;
        let mut group = 0usize;
        let mut first_group = true;
        for c in int.chars() {
            if c.is_ascii_digit() {
                push(c as u8)?;
                group += 1;
                continue;
            }
            let is_group_sep =
                matches!(c, ',' | '.' | ' ' | '\u{a0}' | '\u{202f}' | '\'') && c != self.decimal;
            if !is_group_sep || separator.is_some_and(|s| s != c) {
                return None;
            }
            if group == 0 || group > 3 || (!first_group && group != 3) {
                return None;
            }
            separator = Some(c);
            first_group = false;
            group = 0;
        }
        if separator.is_some() && group != 3 {
            return None;
        }
        if int.is_empty() && frac.is_none() {
            return None;
        }
        if let Some(f) = frac {
            if f.is_empty() || !f.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            push(b'.')?;
            for c in f.bytes() {
                push(c)?;
            }
        }
        std::str::from_utf8(&buf[..len])
            .ok()?
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
    }
}

/// A currency symbol or ISO code as exports write them: `$`, `€`, `US$`, `EUR`.
fn is_currency(t: &str) -> bool {
    const SYMBOLS: [&str; 14] = [
        "$", "€", "£", "¥", "₹", "₩", "₽", "₺", "₪", "₫", "kr", "zł", "Fr.", "R",
    ];
    if SYMBOLS.contains(&t) {
        return true;
    }
    let letters = t.trim_end_matches('$');
    (1..=3).contains(&letters.len())
        && letters.chars().all(|c| c.is_ascii_uppercase())
        && (t.ends_with('$') || letters.len() == 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, day)
    }

    #[test]
    fn iso_dates_parse_and_reject() {
        assert_eq!(parse_iso_date("2025-03-14"), d(2025, 3, 14));
        assert_eq!(parse_iso_date("2025-02-30"), None);
        assert_eq!(parse_iso_date("3/14/2025"), None);
        let iso = DateFormat::iso();
        assert_eq!(iso.parse("2025-03-14T10:22:00Z"), d(2025, 3, 14));
        assert_eq!(iso.parse("2025-03-14 10:22"), d(2025, 3, 14));
        assert_eq!(iso.parse("2025-03-14x"), None);
    }

    #[test]
    fn declared_formats_read_what_they_declare() {
        let us = DateFormat::new("%m/%d/%Y").unwrap();
        assert_eq!(us.parse("3/14/2025"), d(2025, 3, 14));
        assert_eq!(us.parse("03/14/2025 9:05 AM"), d(2025, 3, 14));
        assert_eq!(
            us.parse("14/3/2025"),
            None,
            "month 14 is refused, not swapped"
        );
        assert_eq!(us.parse("2025-03-14"), d(2025, 3, 14), "ISO always reads");
        let de = DateFormat::new("%d.%m.%Y").unwrap();
        assert_eq!(de.parse("14.03.2025"), d(2025, 3, 14));
        assert_eq!(de.parse("14.03.25"), None);
        let named = DateFormat::new("%d %b %Y").unwrap();
        assert_eq!(named.parse("14 Mar 2025"), d(2025, 3, 14));
        assert!(DateFormat::new("%Y-%m").is_err());
        assert!(us.describe().contains("03/14/2025"), "{}", us.describe());
    }

    #[test]
    fn export_numbers_follow_the_declared_locale() {
        let us = NumberFormat::export('.');
        assert_eq!(us.parse("$1,200.50"), Some(1200.5));
        assert_eq!(us.parse("USD 1,200.50"), Some(1200.5));
        assert_eq!(us.parse("1200.5"), Some(1200.5));
        assert_eq!(us.parse("(300.00)"), Some(-300.0));
        assert_eq!(us.parse("-$1,000"), Some(-1000.0));
        assert_eq!(us.parse("1,234,567"), Some(1234567.0));
        assert_eq!(
            us.parse("1.200,50"),
            None,
            "a German amount under a US locale"
        );
        assert_eq!(us.parse("1,20"), None);
        assert_eq!(us.parse("12,34,567"), None);
        assert_eq!(us.parse("lots"), None);
        assert_eq!(us.parse("5 apples"), None);
        let de = NumberFormat::export(',');
        assert_eq!(de.parse("1.200,50 €"), Some(1200.5));
        assert_eq!(de.parse("EUR 12 000,00"), Some(12000.0));
        assert_eq!(de.parse("0,5"), Some(0.5));
        assert_eq!(
            de.parse("1.5"),
            None,
            "a decimal point under a comma locale"
        );
        assert_eq!(de.parse("1,200.50"), None);
    }

    #[test]
    fn canonical_numbers_are_plain() {
        let c = NumberFormat::canonical();
        assert_eq!(c.parse("10000.00"), Some(10000.0));
        assert_eq!(c.parse("-3"), Some(-3.0));
        assert_eq!(c.parse("$3"), None);
        assert_eq!(c.parse("1,000"), None);
        assert_eq!(c.parse("inf"), None);
    }
}
