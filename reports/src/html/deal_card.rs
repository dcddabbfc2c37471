//! Deal cards: one bordered section per deal with its title (a link when
//! the deal has one), its facts as a definition list, then the risk drivers
//! and suggested actions side by side.
//!
//! Empty parts are left out rather than written as empty boxes: a card with
//! no facts has no fact list, and a card without drivers shows its actions
//! alone. The stylesheet keeps a card on one sheet in print.

use std::fmt::Write as _;

use crate::document::DealCard;

use super::escape;
use super::text::linked;

/// Writes one deal card.
pub(crate) fn write(out: &mut String, card: &DealCard) {
    let _ = writeln!(
        out,
        "<section class=\"deal-card\">\n<div class=\"deal-title\">{}</div>",
        linked(&card.title, card.href.as_deref())
    );
    write_facts(out, &card.facts);
    out.push_str("<div class=\"deal-cols\">\n");
    write_list(out, "Risk drivers", "drivers", &card.drivers);
    write_list(out, "Suggested actions", "actions", &card.actions);
    out.push_str("</div>\n</section>\n");
}

/// The label/value pairs, or nothing when there are none.
fn write_facts(out: &mut String, facts: &[(String, String)]) {
    if facts.is_empty() {
        return;
    }
    out.push_str("<dl class=\"facts\">");
    for (label, value) in facts {
        let _ = write!(
            out,
            "<div><dt>{}</dt><dd>{}</dd></div>",
            escape(label),
            escape(value)
        );
    }
    out.push_str("</dl>\n");
}

/// One titled column of bullet points, or nothing when `items` is empty.
fn write_list(out: &mut String, title: &str, class: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<div class=\"{class}\"><div class=\"deal-sub\">{title}</div><ul>"
    );
    for item in items {
        let _ = write!(out, "<li>{}</li>", escape(item));
    }
    out.push_str("</ul></div>\n");
}
