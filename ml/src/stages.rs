//! The sales stages revintel understands, in funnel order.
//!
//! Importers map a CRM's own stage names onto these; features and reports
//! rely on the order (stage index) and on the two terminal stages.

/// Open stages in funnel order; a stage's position is its `stage_index`.
pub const OPEN_STAGES: [&str; 4] = ["Prospecting", "Qualification", "Proposal", "Negotiation"];
/// The terminal stage of a won deal.
pub const WON: &str = "Closed Won";
/// The terminal stage of a lost deal.
pub const LOST: &str = "Closed Lost";

/// The funnel position of an open stage, `None` for closed or unknown ones.
pub fn stage_index(stage: &str) -> Option<usize> {
    OPEN_STAGES.iter().position(|s| *s == stage)
}

/// The forecast category a stage implies when the CRM gives none.
pub fn forecast_category(stage: &str) -> &'static str {
    match stage {
        "Prospecting" | "Qualification" => "Pipeline",
        "Proposal" => "Best Case",
        "Negotiation" => "Commit",
        WON => "Closed",
        _ => "Omitted",
    }
}
