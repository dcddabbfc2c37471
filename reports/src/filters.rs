//! Display formatting of numbers, money, percentages and dates.
//!
//! The one place that decides how a value reads in a report: the template
//! filters (`money`, `pct`, `delta`, `date`, `round`, `number`), the
//! `formats=` option of `table()` and the default look of a table cell all
//! call the functions here. Conventions: NULL (and NaN) reads "—", negative
//! numbers use a true minus sign "−", thousands are separated with ",",
//! large amounts are abbreviated ($1.2M, $350k).
//!
//! Not here: escaping. Filters return plain strings; the template's
//! Markdown escaping (see `template`) and the HTML writer's escaping apply to
//! them like to any other text.

use std::fmt::Write as _;

use chrono::NaiveDate;
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, Value};

use crate::results::CellValue;
pub use utils::numbers::{money, number, pct, round_to, MAX_DECIMALS, MINUS, MISSING};

/// The default `date` format: "23 Nov 2026".
pub const DEFAULT_DATE_FORMAT: &str = "%-d %b %Y";

/// What a [`delta`] measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaUnit {
    /// A fraction shown as a percentage: 0.12 → "+12%".
    Percent,
    /// An amount of money: 1.2e6 → "+$1.2M".
    Money,
    /// A plain number: 1234 → "+1,234".
    Number,
}

/// A signed change: "+12%", "−3%", "0%"; with `arrow`, "▲ +12%" / "▼ −3%".
pub fn delta(value: f64, decimals: usize, unit: DeltaUnit, arrow: bool) -> String {
    if !value.is_finite() {
        return MISSING.to_string();
    }
    let magnitude = match unit {
        // Plain rounding: a change that rounds to nothing reads 0%, not <1%.
        DeltaUnit::Percent => format!("{}%", number(value.abs() * 100.0, Some(decimals))),
        DeltaUnit::Money => money(value.abs(), Some(decimals), "$"),
        DeltaUnit::Number => number(value.abs(), Some(decimals)),
    };
    let zero = !magnitude.bytes().any(|b| (b'1'..=b'9').contains(&b));
    let (sign, mark) = match (zero, value > 0.0) {
        (true, _) => ("", ""),
        (false, true) => ("+", "▲ "),
        (false, false) => (MINUS, "▼ "),
    };
    let mark = if arrow { mark } else { "" };
    format!("{mark}{sign}{magnitude}")
}

/// Reads the date at the start of `text` ("2026-11-23", or a timestamp
/// "2026-11-23T10:00:00Z" / "2026-11-23 10:00").
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    let head = text.get(..10)?;
    let rest = &text[10..];
    if !(rest.is_empty() || rest.starts_with('T') || rest.starts_with(' ')) {
        return None;
    }
    NaiveDate::parse_from_str(head, "%Y-%m-%d").ok()
}

/// A date in a strftime `format` (default [`DEFAULT_DATE_FORMAT`]).
pub fn date(value: NaiveDate, format: Option<&str>) -> Result<String, String> {
    let format = format.unwrap_or(DEFAULT_DATE_FORMAT);
    let mut out = String::new();
    // chrono reports a bad format only through fmt::Error.
    write!(out, "{}", value.format(format))
        .map_err(|_| format!("invalid date format {format:?}"))?;
    Ok(out)
}

/// A named display format, as in `table(..., formats={"amount": "money"})`:
/// `money`, `pct`, `delta`, `number`, `round`, `date` or `plain`, optionally
/// with an argument after a colon (`money:0`, `pct:1`, `date:%Y-%m-%d`).
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    Money(Option<usize>),
    Pct(usize),
    Delta(usize),
    Number(Option<usize>),
    Round(usize),
    Date(Option<String>),
    /// The value as is, without thousands separators.
    Plain,
}

impl Format {
    /// Reads a format name such as `money` or `pct:0`.
    pub fn parse(spec: &str) -> Result<Format, String> {
        let (name, arg) = match spec.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (spec.trim(), None),
        };
        let places = |default: usize| -> Result<usize, String> {
            arg.map_or(Ok(default), |a| {
                a.parse::<usize>()
                    .ok()
                    .filter(|&n| n <= MAX_DECIMALS)
                    .ok_or_else(|| {
                        format!("format {spec:?}: {a:?} is not a number of decimals (0 to {MAX_DECIMALS})")
                    })
            })
        };
        Ok(match name {
            "money" => Format::Money(arg.map(|_| places(0)).transpose()?),
            "pct" => Format::Pct(places(1)?),
            "delta" => Format::Delta(places(0)?),
            "number" => Format::Number(arg.map(|_| places(0)).transpose()?),
            "round" => Format::Round(places(0)?),
            "date" => Format::Date(arg.map(str::to_string)),
            "plain" => Format::Plain,
            _ => {
                return Err(format!(
                    "unknown format {name:?} (use money, pct, delta, number, round, date or plain)"
                ))
            }
        })
    }

    /// Whether values in this format read as numbers (and align right).
    pub fn is_numeric(&self) -> bool {
        !matches!(self, Format::Date(_) | Format::Plain)
    }

    /// Formats one cell; NULL reads [`MISSING`].
    pub fn apply(&self, value: &CellValue) -> Result<String, String> {
        if matches!(value, CellValue::Null) {
            return Ok(MISSING.to_string());
        }
        let as_number = || {
            value
                .as_f64()
                .or_else(|| match value {
                    CellValue::Text(s) => s.trim().parse().ok(),
                    _ => None,
                })
                .ok_or_else(|| format!("{value:?} is not a number"))
        };
        Ok(match self {
            Format::Money(d) => money(as_number()?, *d, "$"),
            Format::Pct(d) => pct(as_number()?, *d),
            Format::Delta(d) => delta(as_number()?, *d, DeltaUnit::Percent, false),
            Format::Number(d) => number(as_number()?, *d),
            Format::Round(d) => number(round_to(as_number()?, *d), Some(*d)),
            Format::Date(f) => {
                let day = match value {
                    CellValue::Date(d) => *d,
                    CellValue::Timestamp { at, .. } => at.date(),
                    other => parse_date(&other.to_string())
                        .ok_or_else(|| format!("{value:?} is not a date"))?,
                };
                date(day, f.as_deref())?
            }
            Format::Plain => value.to_string(),
        })
    }
}

/// How a cell reads without an explicit format: numbers with thousands
/// separators (at most two decimals), dates ISO, booleans yes/no, NULL "—".
pub fn display(value: &CellValue) -> String {
    match value {
        CellValue::Null => MISSING.to_string(),
        CellValue::Int(i) => number(*i as f64, Some(0)),
        CellValue::Float(f) => number(*f, None),
        CellValue::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        other => other.to_string(),
    }
}

/// Adds the report filters to `env` (replacing minijinja's own `round`).
pub fn register(env: &mut Environment<'_>) {
    env.add_filter("money", money_filter);
    env.add_filter("pct", pct_filter);
    env.add_filter("delta", delta_filter);
    env.add_filter("date", date_filter);
    env.add_filter("round", round_filter);
    env.add_filter("number", number_filter);
}

fn invalid(filter: &str, message: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("{filter}: {message}"))
}

/// The number in a filter's input: None for none; numeric strings are accepted.
fn numeric_input(filter: &str, value: &Value) -> Result<Option<f64>, Error> {
    if value.is_none() {
        return Ok(None);
    }
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            format!("{filter}: the value is undefined"),
        ));
    }
    if value.is_number() {
        return f64::try_from(value.clone())
            .map(Some)
            .map_err(|_| invalid(filter, format!("{value} is not a number")));
    }
    if let Some(text) = value.as_str() {
        if let Ok(parsed) = text.trim().parse::<f64>() {
            return Ok(Some(parsed));
        }
    }
    Err(invalid(filter, format!("expected a number, got {value:?}")))
}

fn money_filter(value: Value, decimals: Option<usize>, kwargs: Kwargs) -> Result<String, Error> {
    let currency: Option<String> = kwargs.get("currency")?;
    kwargs.assert_all_used()?;
    Ok(
        numeric_input("money", &value)?.map_or(MISSING.to_string(), |v| {
            money(v, decimals, currency.as_deref().unwrap_or("$"))
        }),
    )
}

fn pct_filter(value: Value, decimals: Option<usize>) -> Result<String, Error> {
    Ok(
        numeric_input("pct", &value)?
            .map_or(MISSING.to_string(), |v| pct(v, decimals.unwrap_or(1))),
    )
}

fn delta_filter(value: Value, decimals: Option<usize>, kwargs: Kwargs) -> Result<String, Error> {
    let unit = match kwargs.get::<Option<String>>("unit")?.as_deref() {
        None | Some("pct") => DeltaUnit::Percent,
        Some("money") => DeltaUnit::Money,
        Some("number") => DeltaUnit::Number,
        Some(other) => {
            return Err(invalid(
                "delta",
                format!("unit {other:?} is not one of pct, money, number"),
            ))
        }
    };
    let arrow = kwargs.get::<Option<bool>>("arrow")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    Ok(
        numeric_input("delta", &value)?.map_or(MISSING.to_string(), |v| {
            delta(v, decimals.unwrap_or(0), unit, arrow)
        }),
    )
}

fn date_filter(value: Value, format: Option<String>) -> Result<String, Error> {
    if value.is_none() {
        return Ok(MISSING.to_string());
    }
    let text = value.as_str().ok_or_else(|| {
        invalid(
            "date",
            format!("expected a date like \"2026-11-23\", got {value}"),
        )
    })?;
    let day = parse_date(text).ok_or_else(|| {
        invalid(
            "date",
            format!("{text:?} is not a date like \"2026-11-23\""),
        )
    })?;
    date(day, format.as_deref()).map_err(|e| invalid("date", e))
}

fn round_filter(value: Value, decimals: Option<usize>) -> Result<Value, Error> {
    let Some(v) = numeric_input("round", &value)? else {
        return Ok(Value::from(MISSING));
    };
    let decimals = decimals.unwrap_or(0);
    let rounded = round_to(v, decimals);
    if decimals == 0 && rounded.abs() < 9.0e15 {
        Ok(Value::from(rounded as i64))
    } else {
        Ok(Value::from(rounded))
    }
}

fn number_filter(value: Value, decimals: Option<usize>) -> Result<String, Error> {
    Ok(
        numeric_input("number", &value)?.map_or(MISSING.to_string(), |v| {
            let decimals = decimals.or(value.is_integer().then_some(0));
            number(v, decimals)
        }),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimals_are_bounded() {
        assert_eq!(number(1.5, Some(70_000)), number(1.5, Some(MAX_DECIMALS)));
        assert!(money(1.5, Some(70_000), "$").len() < 40);
        assert!(pct(0.5, 70_000).len() < 40);
        assert!(Format::parse("money:70000").is_err());
        assert!(Format::parse("pct:3").is_ok());
    }

    use super::*;

    #[test]
    fn money_abbreviates() {
        assert_eq!(money(1_234_567.0, None, "$"), "$1.2M");
        assert_eq!(money(350_000.0, None, "$"), "$350k");
        assert_eq!(money(900.0, None, "$"), "$900");
        assert_eq!(money(4_500.0, None, "$"), "$4.5k");
        assert_eq!(money(12_345_678_901.0, None, "$"), "$12.3B");
        assert_eq!(money(999_960.0, None, "$"), "$1.0M");
        assert_eq!(money(999.7, None, "$"), "$1.0k");
        assert_eq!(money(-250_000.0, None, "$"), "−$250k");
        assert_eq!(money(1_234_567.0, Some(2), "€"), "€1.23M");
        assert_eq!(money(1_500.0, Some(0), "EUR"), "EUR 2k");
        assert_eq!(money(0.0, None, "$"), "$0");
        assert_eq!(money(-0.2, None, "$"), "$0");
        assert_eq!(money(f64::NAN, None, "$"), "—");
    }

    #[test]
    fn percentages_and_deltas() {
        assert_eq!(pct(0.123, 1), "12.3%");
        assert_eq!(pct(1.0, 0), "100%");
        assert_eq!(pct(-0.05, 1), "−5.0%");
        assert_eq!(delta(0.12, 0, DeltaUnit::Percent, false), "+12%");
        assert_eq!(delta(-0.031, 0, DeltaUnit::Percent, false), "−3%");
        assert_eq!(delta(0.001, 0, DeltaUnit::Percent, false), "0%");
        assert_eq!(delta(0.125, 1, DeltaUnit::Percent, true), "▲ +12.5%");
        assert_eq!(delta(-1_200_000.0, 1, DeltaUnit::Money, true), "▼ −$1.2M");
        assert_eq!(delta(1234.0, 0, DeltaUnit::Number, false), "+1,234");
    }

    #[test]
    fn numbers_and_rounding() {
        assert_eq!(number(1_234_567.0, None), "1,234,567");
        assert_eq!(number(1_234.5, None), "1,234.5");
        assert_eq!(number(1_234.567, None), "1,234.57");
        assert_eq!(number(-1_234.0, Some(2)), "−1,234.00");
        assert_eq!(number(999.0, Some(0)), "999");
        assert_eq!(number(-0.001, Some(2)), "0.00");
        assert_eq!(number(100_000.0, Some(0)), "100,000");
        assert_eq!(round_to(2.345, 1), 2.3);
        assert_eq!(round_to(2.35, 0), 2.0);
        assert_eq!(round_to(-2.5, 0), -3.0);
        assert_eq!(round_to(f64::MAX, 2), f64::MAX);
        // Chart axes no longer use a money-style "compact": both writers
        // label ticks with `document::tick_labels`.
        assert_eq!(money(1_250_000.0, None, ""), "1.3M");
        assert_eq!(money(-7_500.0, None, ""), "−7.5k");
    }

    #[test]
    fn dates() {
        let d = parse_date("2026-11-23").expect("date");
        assert_eq!(date(d, None).expect("formats"), "23 Nov 2026");
        assert_eq!(date(d, Some("%d/%m/%Y")).expect("formats"), "23/11/2026");
        assert!(date(d, Some("%Q")).is_err());
        assert_eq!(
            parse_date("2026-01-05T10:00:00Z"),
            NaiveDate::from_ymd_opt(2026, 1, 5)
        );
        assert_eq!(parse_date("2026-01-05x"), None);
        assert_eq!(parse_date("soon"), None);
    }

    #[test]
    fn formats_by_name() {
        assert_eq!(Format::parse("money").expect("ok"), Format::Money(None));
        assert_eq!(Format::parse("pct:0").expect("ok"), Format::Pct(0));
        assert!(Format::parse("monye").is_err());
        assert!(Format::parse("pct:x").is_err());
        let cell = CellValue::Float(0.4567);
        assert_eq!(
            Format::parse("pct").expect("ok").apply(&cell).expect("ok"),
            "45.7%"
        );
        assert_eq!(
            Format::parse("round:2")
                .expect("ok")
                .apply(&cell)
                .expect("ok"),
            "0.46"
        );
        assert_eq!(
            Format::Money(None).apply(&CellValue::Null).expect("ok"),
            "—"
        );
        assert!(Format::Money(None)
            .apply(&CellValue::Text("x".into()))
            .is_err());
        let day = CellValue::Date(NaiveDate::from_ymd_opt(2026, 11, 23).expect("date"));
        assert_eq!(Format::Date(None).apply(&day).expect("ok"), "23 Nov 2026");
        assert_eq!(display(&CellValue::Int(2_026_000)), "2,026,000");
        assert_eq!(
            Format::Plain.apply(&CellValue::Int(2026)).expect("ok"),
            "2026"
        );
        assert_eq!(display(&CellValue::Float(f64::NAN)), "—");
        assert_eq!(display(&CellValue::Bool(false)), "no");
    }

    #[test]
    fn template_filters() {
        let mut env = Environment::new();
        register(&mut env);
        let render =
            |src: &str| env.render_str(src, minijinja::context! { n => (), x => 1234567.0 });
        assert_eq!(render("{{ x | money }}").expect("ok"), "$1.2M");
        assert_eq!(
            render("{{ x | money(2, currency='£') }}").expect("ok"),
            "£1.23M"
        );
        assert_eq!(render("{{ 0.123 | pct }}").expect("ok"), "12.3%");
        assert_eq!(render("{{ -0.03 | delta }}").expect("ok"), "−3%");
        assert_eq!(
            render("{{ 0.12 | delta(arrow=true) }}").expect("ok"),
            "▲ +12%"
        );
        assert_eq!(
            render("{{ '2026-11-23' | date }}").expect("ok"),
            "23 Nov 2026"
        );
        assert_eq!(
            render("{{ '2026-11-23' | date('%Y') }}").expect("ok"),
            "2026"
        );
        assert_eq!(render("{{ 2.345 | round(2) }}").expect("ok"), "2.35");
        assert_eq!(render("{{ 2.6 | round }}").expect("ok"), "3");
        assert_eq!(render("{{ 1234567 | number }}").expect("ok"), "1,234,567");
        assert_eq!(
            render("{{ '1234.5' | number(2) }}").expect("ok"),
            "1,234.50"
        );
        for f in ["money", "pct", "delta", "date", "number", "round"] {
            assert_eq!(
                render(&format!("{{{{ n | {f} }}}}")).expect("null"),
                "—",
                "{f}"
            );
        }
        let err = render("{{ 'abc' | money }}").expect_err("not a number");
        assert!(
            err.to_string().contains("money: expected a number"),
            "{err}"
        );
        assert!(render("{{ x | money(currncy='£') }}").is_err());
        assert!(render("{{ 'tomorrow' | date }}").is_err());
    }
}
