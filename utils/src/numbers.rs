//! Numbers as people read them: thousands grouped, amounts abbreviated
//! ($1.2M), fractions as percentages, halves rounded away from zero, a true
//! minus sign. The one home of these rules: the reports' filters, the
//! model's driver phrases and the command line all format through them.

/// What a missing value (NULL, NaN) reads as.
pub const MISSING: &str = "—";

/// The minus sign used in every formatted negative number.
pub const MINUS: &str = "\u{2212}";

/// The most decimals any number is shown with; a template asking for more
/// gets these (an f64 holds about 15 significant digits anyway).
pub const MAX_DECIMALS: usize = 15;

/// `value` with `decimals` decimals and "," between thousands: 1234567.8 → "1,234,567.8".
/// Without `decimals`, up to two decimals are shown and trailing zeros dropped.
pub fn number(value: f64, decimals: Option<usize>) -> String {
    if !value.is_finite() {
        return MISSING.to_string();
    }
    let places = decimals.unwrap_or(2).min(MAX_DECIMALS);
    let fixed = format!("{:.*}", places, round_to(value.abs(), places));
    let fixed = if decimals.is_none() && fixed.contains('.') {
        fixed
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        fixed
    };
    let (int, frac) = fixed.split_once('.').unwrap_or((&fixed, ""));
    let mut out = String::new();
    if value < 0.0 && fixed.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        out.push_str(MINUS);
    }
    out.push_str(&group_thousands(int));
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An amount, abbreviated: 1_234_567 → "$1.2M", 350_000 → "$350k",
/// 4_500 → "$4.5k", 900 → "$900". Default decimals: one for millions and
/// above and for thousands under 10k, none otherwise. A currency code of
/// letters ("EUR") is followed by a space; a symbol ("€") is not.
pub fn money(value: f64, decimals: Option<usize>, currency: &str) -> String {
    if !value.is_finite() {
        return MISSING.to_string();
    }
    const UNITS: [(f64, &str); 5] = [(1.0, ""), (1e3, "k"), (1e6, "M"), (1e9, "B"), (1e12, "T")];
    let amount = value.abs();
    let mut unit = UNITS
        .iter()
        .rposition(|(size, _)| amount >= *size)
        .unwrap_or(0);
    let text = loop {
        let (size, suffix) = UNITS[unit];
        let scaled = amount / size;
        let places = decimals
            .unwrap_or(match unit {
                0 => 0,
                1 if scaled < 9.95 => 1,
                1 => 0,
                _ => 1,
            })
            .min(MAX_DECIMALS);
        let text = format!("{:.places$}", round_to(scaled, places));
        // 999_960 rounds to "1000k": say "$1.0M" instead.
        let rolls_over = text.parse::<f64>().is_ok_and(|r| r >= 1000.0);
        if rolls_over && unit + 1 < UNITS.len() {
            unit += 1;
            continue;
        }
        break format!("{text}{suffix}");
    };
    let zero = !text.bytes().any(|b| (b'1'..=b'9').contains(&b));
    let sign = if value < 0.0 && !zero { MINUS } else { "" };
    let gap = if currency.chars().all(|c| c.is_ascii_alphabetic()) && !currency.is_empty() {
        " "
    } else {
        ""
    };
    format!("{sign}{currency}{gap}{text}")
}

/// A fraction as a percentage: 0.123 → "12.3%" (one decimal by default).
/// A fraction that is not 0 (or 1) but rounds to it reads "<1%" (or
/// ">99%"), so a small chance never reads as none, nor a large one as
/// certain.
pub fn pct(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return MISSING.to_string();
    }
    let places = decimals.min(MAX_DECIMALS);
    let step = 10f64.powi(-(places as i32));
    let percent = value * 100.0;
    if percent > 0.0 && round_to(percent, places) == 0.0 {
        return format!("<{}%", number(step, Some(places)));
    }
    if percent < 100.0 && round_to(percent, places) == 100.0 {
        return format!(">{}%", number(100.0 - step, Some(places)));
    }
    format!("{}%", number(percent, Some(places)))
}

/// `value` rounded to `decimals` places, halves away from zero (so 1.25
/// shows as 1.3 with one decimal, where plain formatting would give 1.2).
pub fn round_to(value: f64, decimals: usize) -> f64 {
    let factor = 10f64.powi(decimals.min(15) as i32);
    let scaled = value * factor;
    if scaled.is_finite() {
        scaled.round() / factor
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_chance_never_reads_as_none() {
        assert_eq!(pct(0.123, 1), "12.3%");
        assert_eq!(pct(0.003, 0), "<1%");
        assert_eq!(pct(0.0004, 1), "<0.1%");
        assert_eq!(pct(0.0, 0), "0%");
        assert_eq!(pct(0.998, 0), ">99%");
        assert_eq!(pct(1.0, 0), "100%");
    }
}
