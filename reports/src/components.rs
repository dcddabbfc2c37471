//! Report components — `table`, `bar_chart`, `line_chart`, `kpi`,
//! `deal_card` and `page_break` — as template functions.
//!
//! A component must pass through the Markdown stage without its data ever
//! being read as Markdown. So each function returns a fenced code block
//! with the info string `revintel-component` whose body is one line of JSON
//! describing the component (a [`Component`]); Markdown leaves code blocks
//! alone, and `markdown` turns these fences back into document blocks.
//! Formatting of values is done here, with the formatters of `filters`.
//!
//! Not here: layout. A component says what to show, the writers decide how.

use std::sync::Arc;

use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, Value};
use serde::{Deserialize, Serialize};

use crate::document::{self, Block};
use crate::filters::{self, DeltaUnit, Format};
use crate::results::{ColumnKind, QueryResult, ResultObject};

/// The info string of a component fence.
pub const FENCE_INFO: &str = "revintel-component";

/// A component as it travels through the Markdown, serialized as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "component", rename_all = "snake_case")]
pub enum Component {
    Table {
        header: Vec<String>,
        align: Vec<Alignment>,
        rows: Vec<Vec<TableCell>>,
        caption: Option<String>,
    },
    Chart {
        kind: ChartType,
        title: String,
        labels: Vec<String>,
        series: Vec<ChartSeries>,
        y_label: Option<String>,
    },
    Kpi {
        label: String,
        value: String,
        change: Option<String>,
        trend: Option<KpiTrend>,
        up_is_good: bool,
    },
    DealCard {
        title: String,
        href: Option<String>,
        facts: Vec<(String, String)>,
        drivers: Vec<String>,
        actions: Vec<String>,
    },
    PageBreak,
}

/// Column alignment in a table component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alignment {
    Left,
    Right,
    Center,
}

/// A formatted table cell with an optional link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableCell {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

/// Bars or lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartType {
    Bar,
    Line,
}

/// One chart series; a missing value (NULL) is `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartSeries {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// Which way a KPI moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KpiTrend {
    Up,
    Down,
    Flat,
}

impl Component {
    /// The fenced block that carries this component through Markdown. It
    /// starts and ends with a line break so it always stands on its own lines.
    pub fn to_fence(&self) -> String {
        let json = serde_json::to_string(self).expect("components serialize to JSON");
        format!("\n```{FENCE_INFO}\n{json}\n```\n")
    }

    /// Reads a component fence's body.
    pub fn from_json(json: &str) -> Result<Component, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The document block for this component (a KPI becomes a one-tile row).
    pub fn into_block(self) -> Block {
        match self {
            Component::Table {
                header,
                align,
                rows,
                caption,
            } => Block::Table(document::Table {
                header,
                align: align
                    .into_iter()
                    .map(|a| match a {
                        Alignment::Left => document::Align::Left,
                        Alignment::Right => document::Align::Right,
                        Alignment::Center => document::Align::Center,
                    })
                    .collect(),
                rows: rows
                    .into_iter()
                    .map(|r| {
                        r.into_iter()
                            .map(|c| document::Cell {
                                text: c.text,
                                href: c.href,
                            })
                            .collect()
                    })
                    .collect(),
                caption,
            }),
            Component::Chart {
                kind,
                title,
                labels,
                series,
                y_label,
            } => Block::Chart(document::Chart {
                kind: match kind {
                    ChartType::Bar => document::ChartKind::Bar,
                    ChartType::Line => document::ChartKind::Line,
                },
                title,
                labels,
                series: series
                    .into_iter()
                    .map(|s| document::Series {
                        name: s.name,
                        values: s
                            .values
                            .into_iter()
                            .map(|v| v.unwrap_or(f64::NAN))
                            .collect(),
                    })
                    .collect(),
                y_label,
            }),
            Component::Kpi {
                label,
                value,
                change,
                trend,
                up_is_good,
            } => Block::Kpis(vec![document::Kpi {
                label,
                value,
                change,
                trend: trend.map(|t| match t {
                    KpiTrend::Up => document::Trend::Up,
                    KpiTrend::Down => document::Trend::Down,
                    KpiTrend::Flat => document::Trend::Flat,
                }),
                up_is_good,
            }]),
            Component::DealCard {
                title,
                href,
                facts,
                drivers,
                actions,
            } => Block::DealCard(document::DealCard {
                title,
                href,
                facts,
                drivers,
                actions,
            }),
            Component::PageBreak => Block::PageBreak,
        }
    }
}

/// Adds the component functions to `env`.
pub fn register(env: &mut Environment<'_>) {
    env.add_function("table", table);
    env.add_function("bar_chart", |result: Value, kwargs: Kwargs| {
        chart("bar_chart", ChartType::Bar, result, kwargs)
    });
    env.add_function("line_chart", |result: Value, kwargs: Kwargs| {
        chart("line_chart", ChartType::Line, result, kwargs)
    });
    env.add_function("kpi", kpi);
    env.add_function("deal_card", deal_card);
    env.add_function("page_break", || {
        Value::from_safe_string(Component::PageBreak.to_fence())
    });
}

fn fail(function: &str, message: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("{function}: {message}"),
    )
}

/// Reads keyword argument `name`, naming the function in any error.
fn kwarg<'a, T>(function: &str, kwargs: &'a Kwargs, name: &'a str) -> Result<T, Error>
where
    T: minijinja::value::ArgType<'a, Output = T>,
{
    kwargs.get::<T>(name).map_err(|e| {
        let detail = e.detail().unwrap_or("invalid value").to_string();
        fail(function, format!("argument {name}: {detail}"))
    })
}

fn all_used(function: &str, kwargs: &Kwargs) -> Result<(), Error> {
    kwargs
        .assert_all_used()
        .map_err(|e| fail(function, e.detail().unwrap_or("unexpected argument")))
}

/// The query result passed as a component's first argument.
fn result_arg(function: &str, value: &Value) -> Result<Arc<QueryResult>, Error> {
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            format!("{function}: its first argument is undefined"),
        ));
    }
    value
        .downcast_object_ref::<ResultObject>()
        .map(|r| r.result.clone())
        .ok_or_else(|| {
            fail(
                function,
                format!(
                    "expected a query result (the name of a SQL fence), got {}",
                    value.kind()
                ),
            )
        })
}

fn column(function: &str, result: &QueryResult, name: &str) -> Result<usize, Error> {
    result.column_index(name).ok_or_else(|| {
        fail(
            function,
            format!(
                "no column {name:?} in the result (columns: {})",
                result.columns.join(", ")
            ),
        )
    })
}

/// "deal_name" → "Deal name".
pub fn humanize(column: &str) -> String {
    let text = column.replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// A link pattern such as `deal/{deal_id}.html` filled in from a row: links
/// lead to the pages of a `pages:` template, so each value becomes the page
/// name its page's file has ([`crate::page_name::page_name`]). Links always
/// reach their page, and data can never change the link's scheme or path
/// structure. `lookup` gives a field's text, or None if there is no such field.
fn fill_link(
    function: &str,
    pattern: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Error> {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| fail(function, format!("link {pattern:?}: unclosed '{{'")))?;
        let name = &rest[open + 1..open + close];
        let value = lookup(name)
            .ok_or_else(|| fail(function, format!("link {pattern:?}: no column {name:?}")))?;
        out.push_str(&percent_encode(&crate::page_name::page_name(&value)));
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn optional_strings(
    function: &str,
    kwargs: &Kwargs,
    name: &str,
) -> Result<Option<Vec<String>>, Error> {
    kwarg::<Option<Vec<String>>>(function, kwargs, name)
}

/// `table(result, columns=[...], headers=[...], limit=N, link="deal/{deal_id}.html",
/// link_column="deal_name", formats={"amount": "money"}, caption="...")`
fn table(result: Value, kwargs: Kwargs) -> Result<Value, Error> {
    const F: &str = "table";
    let data = result_arg(F, &result)?;
    let columns = optional_strings(F, &kwargs, "columns")?.unwrap_or_else(|| data.columns.clone());
    let indexes = columns
        .iter()
        .map(|c| column(F, &data, c))
        .collect::<Result<Vec<_>, _>>()?;
    let header = match optional_strings(F, &kwargs, "headers")? {
        Some(h) if h.len() != columns.len() => {
            return Err(fail(
                F,
                format!("{} headers for {} columns", h.len(), columns.len()),
            ))
        }
        Some(h) => h,
        None => columns.iter().map(|c| humanize(c)).collect(),
    };
    let mut formats: Vec<Option<Format>> = vec![None; columns.len()];
    if let Some(spec) = kwarg::<Option<Value>>(F, &kwargs, "formats")? {
        for key in spec
            .try_iter()
            .map_err(|_| fail(F, "formats must be a map like {\"amount\": \"money\"}"))?
        {
            let name = key.as_str().unwrap_or_default().to_string();
            let position = columns.iter().position(|c| *c == name).ok_or_else(|| {
                fail(
                    F,
                    format!("formats: {name:?} is not one of the table's columns"),
                )
            })?;
            let text = spec.get_item(&key)?;
            let text = text.as_str().ok_or_else(|| {
                fail(
                    F,
                    format!("formats: the format of {name:?} must be a string"),
                )
            })?;
            formats[position] = Some(Format::parse(text).map_err(|e| fail(F, e))?);
        }
    }
    let limit = kwarg::<Option<usize>>(F, &kwargs, "limit")?;
    let link = kwarg::<Option<String>>(F, &kwargs, "link")?;
    let link_column = match kwarg::<Option<String>>(F, &kwargs, "link_column")? {
        Some(name) => columns.iter().position(|c| *c == name).ok_or_else(|| {
            fail(
                F,
                format!("link_column {name:?} is not one of the table's columns"),
            )
        })?,
        None => 0,
    };
    let caption = kwarg::<Option<String>>(F, &kwargs, "caption")?;
    all_used(F, &kwargs)?;

    let align = indexes
        .iter()
        .zip(&formats)
        .map(|(&i, format)| {
            let numeric = match format {
                Some(f) => f.is_numeric(),
                None => data.kinds.get(i) == Some(&ColumnKind::Number),
            };
            if numeric {
                Alignment::Right
            } else {
                Alignment::Left
            }
        })
        .collect();
    let shown = limit.unwrap_or(data.rows.len()).min(data.rows.len());
    let mut rows = Vec::with_capacity(shown);
    for row in &data.rows[..shown] {
        let href = match &link {
            Some(pattern) => Some(fill_link(F, pattern, |name| {
                data.column_index(name).map(|i| row[i].to_string())
            })?),
            None => None,
        };
        let mut cells = Vec::with_capacity(indexes.len());
        for (position, (&i, format)) in indexes.iter().zip(&formats).enumerate() {
            let text = match format {
                Some(f) => f
                    .apply(&row[i])
                    .map_err(|e| fail(F, format!("column {:?}: {e}", columns[position])))?,
                None => filters::display(&row[i]),
            };
            let href = if position == link_column {
                href.clone()
            } else {
                None
            };
            cells.push(TableCell { text, href });
        }
        rows.push(cells);
    }
    let caption = if shown < data.rows.len() {
        let note = format!("Showing {shown} of {} rows.", data.rows.len());
        Some(caption.map_or(note.clone(), |c| format!("{c} ({note})")))
    } else {
        caption
    };
    let component = Component::Table {
        header,
        align,
        rows,
        caption,
    };
    Ok(Value::from_safe_string(component.to_fence()))
}

/// `bar_chart(result, x="deal_name", y="risk_x_value" or [...], title=..., y_label=..., limit=N)`
fn chart(function: &str, kind: ChartType, result: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let data = result_arg(function, &result)?;
    let x: String = kwarg(function, &kwargs, "x")?;
    let y: Value = kwarg(function, &kwargs, "y")?;
    let ys: Vec<String> = match y.as_str() {
        Some(one) => vec![one.to_string()],
        None => y
            .try_iter()
            .map_err(|_| fail(function, "y must be a column name or a list of them"))?
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| fail(function, "y must list column names"))
            })
            .collect::<Result<_, _>>()?,
    };
    if ys.is_empty() {
        return Err(fail(function, "y lists no columns"));
    }
    let title: Option<String> = kwarg(function, &kwargs, "title")?;
    let y_label: Option<String> = kwarg(function, &kwargs, "y_label")?;
    let limit: Option<usize> = kwarg(function, &kwargs, "limit")?;
    all_used(function, &kwargs)?;

    let xi = column(function, &data, &x)?;
    let shown = &data.rows[..limit.unwrap_or(data.rows.len()).min(data.rows.len())];
    let labels = shown.iter().map(|r| filters::display(&r[xi])).collect();
    let mut series = Vec::with_capacity(ys.len());
    for name in &ys {
        let yi = column(function, &data, name)?;
        if data.kinds.get(yi) != Some(&ColumnKind::Number) {
            return Err(fail(function, format!("column {name:?} is not numeric")));
        }
        series.push(ChartSeries {
            name: humanize(name),
            values: shown
                .iter()
                .map(|r| r[yi].as_f64().filter(|v| v.is_finite()))
                .collect(),
        });
    }
    let title = title.unwrap_or_else(|| {
        let names: Vec<String> = ys.iter().map(|y| humanize(y)).collect();
        format!("{} by {}", names.join(", "), humanize(&x).to_lowercase())
    });
    let component = Component::Chart {
        kind,
        title,
        labels,
        series,
        y_label,
    };
    Ok(Value::from_safe_string(component.to_fence()))
}

/// A value as a KPI shows it: text as is, numbers with separators, NULL "—".
fn kpi_text(value: &Value) -> String {
    if value.is_none() || value.is_undefined() {
        filters::MISSING.to_string()
    } else if let Some(s) = value.as_str() {
        s.to_string()
    } else if let Ok(n) = f64::try_from(value.clone()) {
        filters::number(n, None)
    } else {
        value.to_string()
    }
}

/// `kpi(value, label, change=None, trend=None, up_is_good=True)`: a number
/// given as `change` is a fraction shown as a signed percentage, and sets the trend.
fn kpi(value: Value, label: String, kwargs: Kwargs) -> Result<Value, Error> {
    const F: &str = "kpi";
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "kpi: its first argument is undefined",
        ));
    }
    let change: Option<Value> = kwarg(F, &kwargs, "change")?;
    let trend: Option<String> = kwarg(F, &kwargs, "trend")?;
    let up_is_good: Option<bool> = kwarg(F, &kwargs, "up_is_good")?;
    all_used(F, &kwargs)?;
    let mut implied = None;
    let change = match change {
        None => None,
        Some(c) if c.is_none() => None,
        Some(c) => match (c.as_str(), f64::try_from(c.clone())) {
            (Some(s), _) => Some(s.to_string()),
            (None, Ok(n)) => {
                implied = Some(if n > 0.0 {
                    KpiTrend::Up
                } else if n < 0.0 {
                    KpiTrend::Down
                } else {
                    KpiTrend::Flat
                });
                Some(filters::delta(n, 0, DeltaUnit::Percent, false))
            }
            (None, Err(_)) => Some(c.to_string()),
        },
    };
    let trend = match trend.as_deref() {
        None => implied,
        Some("up") => Some(KpiTrend::Up),
        Some("down") => Some(KpiTrend::Down),
        Some("flat") => Some(KpiTrend::Flat),
        Some(other) => {
            return Err(fail(
                F,
                format!("trend {other:?} is not one of up, down, flat"),
            ))
        }
    };
    let component = Component::Kpi {
        label,
        value: kpi_text(&value),
        change,
        trend,
        up_is_good: up_is_good.unwrap_or(true),
    };
    Ok(Value::from_safe_string(component.to_fence()))
}

/// A field of a row, or None when it is missing or NULL.
fn field(row: &Value, name: &str) -> Option<Value> {
    row.get_attr(name)
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_none())
}

fn field_number(row: &Value, name: &str) -> Option<f64> {
    field(row, name).and_then(|v| f64::try_from(v).ok())
}

fn field_date(row: &Value, name: &str) -> Option<String> {
    let text = field(row, name)?.as_str()?.to_string();
    let day = filters::parse_date(&text)?;
    filters::date(day, None).ok()
}

/// `deal_card(row, link=None)`: a card for one `scored_deals` row — its
/// facts, the phrases of its drivers and its suggested actions. Fields the
/// row lacks are left out, so any row with a `deal_name` or `deal_id` works.
fn deal_card(row: Value, kwargs: Kwargs) -> Result<Value, Error> {
    const F: &str = "deal_card";
    if row.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "deal_card: its first argument is undefined",
        ));
    }
    let link: Option<String> = kwarg(F, &kwargs, "link")?;
    all_used(F, &kwargs)?;
    let text = |name: &str| field(&row, name).map(|v| v.to_string());
    let title = match (text("deal_id"), text("deal_name")) {
        (Some(id), Some(name)) => format!("{id} — {name}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => return Err(fail(F, "the row has neither deal_name nor deal_id")),
    };
    let mut facts: Vec<(String, String)> = Vec::new();
    let mut fact = |label: &str, value: Option<String>| {
        if let Some(v) = value {
            facts.push((label.to_string(), v));
        }
    };
    fact("Account", text("account_name"));
    fact("Owner", text("owner_name"));
    fact("Stage", text("stage"));
    fact(
        "Amount",
        field_number(&row, "amount").map(|v| filters::money(v, None, "$")),
    );
    fact(
        "Win probability",
        field_number(&row, "win_prob").map(|v| filters::pct(v, 0)),
    );
    fact(
        "Risk score",
        field_number(&row, "risk_score").map(|v| filters::number(v, Some(0))),
    );
    fact(
        "Risk × value",
        field_number(&row, "risk_x_value").map(|v| filters::money(v, None, "$")),
    );
    fact(
        "At stake",
        field_number(&row, "value_at_stake").map(|v| filters::money(v, None, "$")),
    );
    fact("Forecast category", text("forecast_category"));
    fact("Expected close", field_date(&row, "expected_close_date"));
    let likely = field_date(&row, "close_p50").map(|p50| {
        match (field_date(&row, "close_p10"), field_date(&row, "close_p90")) {
            (Some(p10), Some(p90)) => format!("{p50} ({p10} – {p90})"),
            _ => p50,
        }
    });
    fact("Likely close", likely);
    fact(
        "Days in stage",
        field_number(&row, "days_in_stage").map(|v| filters::number(v, Some(0))),
    );
    fact(
        "Last activity",
        field_number(&row, "days_since_last_activity").map(|v| match v.round() as i64 {
            0 => "today".to_string(),
            1 => "1 day ago".to_string(),
            _ => format!("{} days ago", filters::number(v, Some(0))),
        }),
    );

    let mut drivers = Vec::new();
    let mut driver_actions = Vec::new();
    if let Some(list) = field(&row, "drivers") {
        for item in list
            .try_iter()
            .map_err(|_| fail(F, "drivers must be a list"))?
        {
            if let Some(s) = item.as_str() {
                drivers.push(s.to_string());
                continue;
            }
            if let Some(p) = field(&item, "phrase").or_else(|| field(&item, "feature")) {
                drivers.push(p.to_string());
            }
            if let Some(a) = field(&item, "action") {
                driver_actions.push(a.to_string());
            }
        }
    }
    let mut actions: Vec<String> = match field(&row, "actions") {
        Some(list) => list
            .try_iter()
            .map_err(|_| fail(F, "actions must be a list"))?
            .map(|a| a.to_string())
            .collect(),
        None => driver_actions,
    };
    let mut seen = std::collections::HashSet::new();
    actions.retain(|a| seen.insert(a.clone()));
    let href = match link {
        Some(pattern) => Some(fill_link(F, &pattern, |name| text(name))?),
        None => None,
    };
    let component = Component::DealCard {
        title,
        href,
        facts,
        drivers,
        actions,
    };
    Ok(Value::from_safe_string(component.to_fence()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::CellValue;

    fn env_with(result: QueryResult) -> (Environment<'static>, Value) {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        crate::filters::register(&mut env);
        register(&mut env);
        (
            env,
            Value::from_object(ResultObject::new("deals", Arc::new(result))),
        )
    }

    fn deals() -> QueryResult {
        use CellValue::*;
        QueryResult {
            columns: vec![
                "deal_id".into(),
                "deal_name".into(),
                "amount".into(),
                "win_prob".into(),
            ],
            kinds: vec![
                ColumnKind::Text,
                ColumnKind::Text,
                ColumnKind::Number,
                ColumnKind::Number,
            ],
            rows: vec![
                vec![
                    Text("D 1".into()),
                    Text("a|b*c*".into()),
                    Float(1_250_000.0),
                    Float(0.42),
                ],
                vec![Text("D2".into()), Text("<script>".into()), Null, Float(0.9)],
                vec![Text("D3".into()), Text("Third".into()), Int(900), Null],
            ],
        }
    }

    /// Renders `src` and reads back the one component it produced.
    fn component(src: &str) -> Component {
        let (env, deals) = env_with(deals());
        let out = env
            .render_str(src, minijinja::context! { deals => deals })
            .expect("renders");
        let json = out
            .trim()
            .strip_prefix("```revintel-component\n")
            .and_then(|s| s.strip_suffix("\n```"))
            .unwrap_or_else(|| panic!("not a component fence: {out:?}"));
        Component::from_json(json).expect("valid JSON")
    }

    #[test]
    fn table_formats_links_and_limits() {
        let c = component(
            "{{ table(deals, columns=['deal_name', 'amount', 'win_prob'], limit=2, link='deal/{deal_id}.html', formats={'amount': 'money', 'win_prob': 'pct:0'}) }}",
        );
        let Component::Table {
            header,
            align,
            rows,
            caption,
        } = c
        else {
            panic!("a table")
        };
        assert_eq!(header, vec!["Deal name", "Amount", "Win prob"]);
        assert_eq!(
            align,
            vec![Alignment::Left, Alignment::Right, Alignment::Right]
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][0].text, "a|b*c*");
        // The page's own file name (a space is not kept in file names).
        let page = format!("deal/{}.html", crate::page_name::page_name("D 1"));
        assert_eq!(rows[0][0].href.as_deref(), Some(page.as_str()));
        assert!(page.starts_with("deal/d_1~"), "{page}");
        assert_eq!(rows[0][1].text, "$1.3M");
        assert_eq!(rows[0][2].text, "42%");
        assert_eq!(rows[1][1].text, "—");
        assert_eq!(caption.as_deref(), Some("Showing 2 of 3 rows."));
    }

    #[test]
    fn table_errors_name_the_problem() {
        let (env, deals) = env_with(deals());
        let render =
            |src: &str| env.render_str(src, minijinja::context! { deals => deals.clone() });
        let e = render("{{ table(deals, columns=['deal_nme']) }}").expect_err("bad column");
        assert!(
            e.detail().unwrap_or("").contains("no column \"deal_nme\""),
            "{e}"
        );
        let e = render("{{ table(deals, colums=['x']) }}").expect_err("bad kwarg");
        assert!(e.detail().unwrap_or("").contains("colums"), "{e}");
        let e = render("{{ table(nope) }}").expect_err("undefined");
        assert_eq!(e.kind(), ErrorKind::UndefinedError);
        let e = render("{{ table(deals, formats={'amount': 'monye'}) }}").expect_err("bad format");
        assert!(e.detail().unwrap_or("").contains("unknown format"), "{e}");
        let e = render("{{ table(3) }}").expect_err("not a result");
        assert!(
            e.detail().unwrap_or("").contains("expected a query result"),
            "{e}"
        );
    }

    #[test]
    fn charts_take_one_or_more_series() {
        let c = component("{{ bar_chart(deals, x='deal_id', y='amount') }}");
        let Component::Chart {
            kind,
            title,
            labels,
            series,
            ..
        } = c
        else {
            panic!("a chart")
        };
        assert_eq!(kind, ChartType::Bar);
        assert_eq!(title, "Amount by deal id");
        assert_eq!(labels, vec!["D 1", "D2", "D3"]);
        assert_eq!(series[0].values, vec![Some(1_250_000.0), None, Some(900.0)]);
        let c =
            component("{{ line_chart(deals, x='deal_id', y=['amount', 'win_prob'], title='T') }}");
        let Component::Chart { kind, series, .. } = c else {
            panic!("a chart")
        };
        assert_eq!((kind, series.len()), (ChartType::Line, 2));
        let (env, deals) = env_with(deals());
        let e = env
            .render_str(
                "{{ bar_chart(d, x='deal_id', y='deal_name') }}",
                minijinja::context! { d => deals },
            )
            .expect_err("text y");
        assert!(e.detail().unwrap_or("").contains("not numeric"), "{e}");
    }

    #[test]
    fn kpis_and_deal_cards() {
        let c = component("{{ kpi(1234567 | money, 'Open pipeline', change=-0.034) }}");
        assert_eq!(
            c,
            Component::Kpi {
                label: "Open pipeline".into(),
                value: "$1.2M".into(),
                change: Some("−3%".into()),
                trend: Some(KpiTrend::Down),
                up_is_good: true,
            }
        );
        let c = component("{{ kpi(42, 'Deals at risk', trend='up', up_is_good=false) }}");
        assert!(
            matches!(c, Component::Kpi { ref value, trend: Some(KpiTrend::Up), up_is_good: false, .. } if value == "42")
        );

        let mut env = Environment::new();
        register(&mut env);
        let row = minijinja::context! {
            deal_id => "D0004222", deal_name => "Acme renewal", owner_name => "Ana", amount => 120000.0,
            win_prob => 0.31, expected_close_date => "2026-12-15", close_p50 => "2027-01-10",
            close_p10 => "2026-12-20", close_p90 => "2027-03-01", days_since_last_activity => 1,
            drivers => vec![
                minijinja::context! { phrase => "41 days in Proposal, 3.0× the usual", contribution => -0.8, action => "Agree a dated next step" },
                minijinja::context! { phrase => "close date pushed 2 times", contribution => -0.3, action => "Re-qualify the timeline" },
            ],
        };
        let out = env
            .render_str(
                "{{ deal_card(row, link='deal/{deal_id}.html') }}",
                minijinja::context! { row => row },
            )
            .expect("renders");
        let json = out.trim().lines().nth(1).expect("json line");
        let Component::DealCard {
            title,
            href,
            facts,
            drivers,
            actions,
        } = Component::from_json(json).expect("json")
        else {
            panic!("a deal card")
        };
        assert_eq!(title, "D0004222 — Acme renewal");
        assert_eq!(href.as_deref(), Some("deal/D0004222.html"));
        assert!(facts.contains(&("Amount".into(), "$120k".into())));
        assert!(facts.contains(&("Win probability".into(), "31%".into())));
        assert!(facts.contains(&("Last activity".into(), "1 day ago".into())));
        assert!(facts.contains(&(
            "Likely close".into(),
            "10 Jan 2027 (20 Dec 2026 – 1 Mar 2027)".into()
        )));
        assert_eq!(drivers.len(), 2);
        assert_eq!(
            actions,
            vec!["Agree a dated next step", "Re-qualify the timeline"]
        );
    }

    #[test]
    fn components_become_blocks() {
        assert_eq!(Component::PageBreak.into_block(), Block::PageBreak);
        let chart = Component::Chart {
            kind: ChartType::Bar,
            title: "t".into(),
            labels: vec!["a".into()],
            series: vec![ChartSeries {
                name: "s".into(),
                values: vec![None],
            }],
            y_label: None,
        };
        let Block::Chart(c) = chart.into_block() else {
            panic!("a chart")
        };
        assert!(c.series[0].values[0].is_nan());
        assert_eq!(humanize("risk_x_value"), "Risk x value");
    }
}
