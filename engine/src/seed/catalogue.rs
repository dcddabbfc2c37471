//! What the demo seller sells and whom it sells to: its product catalogue
//! and the sectors its customers are in.
//!
//! Besides what `products.csv` shows, each product carries how it shifts a
//! deal's amount, sales cycle and win chance (suites are big, slow and hard
//! to win; add-ons small, quick and easy). Sectors carry a typical revenue
//! per employee, from which account revenue is derived.

pub(crate) const SECTORS: [(&str, f64); 12] = [
    ("Technology", 320_000.0),
    ("Financial Services", 450_000.0),
    ("Healthcare", 180_000.0),
    ("Manufacturing", 260_000.0),
    ("Retail", 150_000.0),
    ("Logistics", 210_000.0),
    ("Energy", 520_000.0),
    ("Education", 110_000.0),
    ("Media", 240_000.0),
    ("Public Sector", 130_000.0),
    ("Telecommunications", 380_000.0),
    ("Professional Services", 200_000.0),
];

/// One product of the seller's catalogue.
pub(crate) struct Product {
    pub(crate) name: &'static str,
    pub(crate) series: &'static str,
    pub(crate) list_price: f64,
    /// Multiplies the segment's typical amount.
    pub(crate) amount_factor: f64,
    /// Multiplies the segment's typical sales cycle.
    pub(crate) cycle_factor: f64,
    /// Logit shift of the win chance.
    pub(crate) win_shift: f64,
    /// How often SMB, Mid-Market and Enterprise deals are for this product.
    pub(crate) mix: [f64; 3],
}

/// The catalogue: a B2B analytics vendor with a core product line, a pro
/// line, an enterprise suite and add-ons.
#[rustfmt::skip]
pub(crate) const PRODUCTS: [Product; 8] = [
    Product { name: "Core Starter", series: "Core", list_price: 9_600.0,
              amount_factor: 0.7, cycle_factor: 0.8, win_shift: 0.15, mix: [0.30, 0.08, 0.02] },
    Product { name: "Core Professional", series: "Core", list_price: 24_000.0,
              amount_factor: 1.0, cycle_factor: 0.9, win_shift: 0.05, mix: [0.28, 0.20, 0.08] },
    Product { name: "Pipeline Pro", series: "Pro", list_price: 36_000.0,
              amount_factor: 1.15, cycle_factor: 1.0, win_shift: 0.0, mix: [0.14, 0.22, 0.15] },
    Product { name: "Forecast Pro", series: "Pro", list_price: 48_000.0,
              amount_factor: 1.3, cycle_factor: 1.1, win_shift: -0.1, mix: [0.06, 0.18, 0.17] },
    Product { name: "Insights Suite", series: "Suite", list_price: 96_000.0,
              amount_factor: 1.6, cycle_factor: 1.3, win_shift: -0.25, mix: [0.02, 0.10, 0.22] },
    Product { name: "Insights Suite Enterprise", series: "Suite", list_price: 180_000.0,
              amount_factor: 2.0, cycle_factor: 1.45, win_shift: -0.35, mix: [0.0, 0.04, 0.16] },
    Product { name: "Data Connect", series: "Add-on", list_price: 12_000.0,
              amount_factor: 0.55, cycle_factor: 0.6, win_shift: 0.3, mix: [0.12, 0.11, 0.12] },
    Product { name: "Premium Support", series: "Add-on", list_price: 8_000.0,
              amount_factor: 0.45, cycle_factor: 0.5, win_shift: 0.35, mix: [0.08, 0.07, 0.08] },
];
