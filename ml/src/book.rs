//! The forecast's book: the open and won deals of a pipeline with what a
//! simulation needs, and each period's simulation, run once and then
//! remembered (so a query asking for P10, P50 and P90 simulates once).
//! Read by the `forecast_quantile` function and the forecast tables.

use crate::new_pipeline::NewPipeline;
use crate::simulation::{simulate_from, OpenDeal, Period, Simulation};
use crate::track_record::TrackRecord;
use chrono::NaiveDate;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Everything a forecast needs, and the simulations already run.
pub struct ForecastBook {
    pub as_of: NaiveDate,
    pub deals: Vec<OpenDeal>,
    /// Closed-won deals: close date and amount.
    pub won: Vec<(NaiveDate, f64)>,
    pub simulations: usize,
    pub seed: u64,
    /// Revenue expected from deals not created yet.
    pub new_pipeline: NewPipeline,
    /// Past forecasts' misses, which set the band's quarter-wide swing.
    pub track_record: TrackRecord,
    /// Identifies the inputs (data, models, seed): equal keys, equal answers.
    pub key: String,
    cache: Mutex<HashMap<Period, Arc<Simulation>>>,
    /// Simulations of an earlier book over nearly the same deals, to be
    /// updated rather than run again (see [`ForecastBook::reusing`]).
    earlier: HashMap<Period, Arc<Simulation>>,
}

impl std::fmt::Debug for ForecastBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ForecastBook({} open deals, {})",
            self.deals.len(),
            self.key
        )
    }
}

impl ForecastBook {
    pub fn new(
        as_of: NaiveDate,
        deals: Vec<OpenDeal>,
        won: Vec<(NaiveDate, f64)>,
        simulations: usize,
        seed: u64,
        key: String,
    ) -> Self {
        Self {
            as_of,
            deals,
            won,
            simulations,
            seed,
            new_pipeline: NewPipeline::none(),
            track_record: TrackRecord::default(),
            key,
            cache: Mutex::new(HashMap::new()),
            earlier: HashMap::new(),
        }
    }

    /// This book, with revenue from deals not created yet (none by default).
    pub fn with_new_pipeline(mut self, new_pipeline: NewPipeline) -> Self {
        self.new_pipeline = new_pipeline;
        self
    }

    /// This book, with the quarter-wide swing learned from `record` (none
    /// by default). The caller keeps `key` telling records apart.
    pub fn with_track_record(mut self, record: TrackRecord) -> Self {
        self.track_record = record;
        self
    }

    /// This book, with the simulations `earlier` has run so far to start
    /// from when they describe the same as-of date, runs and seed: a live
    /// rebuild after one deal changed then draws again only for the deals
    /// whose chances changed, with the same result as running everything.
    pub fn reusing(mut self, earlier: &ForecastBook) -> Self {
        if (earlier.as_of, earlier.simulations, earlier.seed)
            == (self.as_of, self.simulations, self.seed)
        {
            self.earlier = earlier
                .cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
        }
        self
    }

    /// Revenue closed-won inside the period up to the as-of date.
    pub fn closed_won(&self, period: Period) -> f64 {
        self.won
            .iter()
            .filter(|(d, _)| *d >= period.start && *d <= period.end && *d <= self.as_of)
            .fold(0.0, |total, (_, a)| total + a)
    }

    /// The period's simulation, run once and then remembered.
    pub fn simulation(&self, period: Period) -> Arc<Simulation> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(period)
            .or_insert_with(|| {
                let closed_won = self.closed_won(period);
                let existing = simulate_from(
                    self.earlier.get(&period).map(Arc::as_ref),
                    &self.deals,
                    self.as_of,
                    period,
                    closed_won,
                    self.simulations,
                    self.seed,
                );
                let draws =
                    self.new_pipeline
                        .draws(self.as_of, period, self.simulations, self.seed);
                let expected = self.new_pipeline.expected(self.as_of, period);
                let swing = self.track_record.swing(self.as_of, period);
                Arc::new(
                    existing
                        .adding_new(draws, expected)
                        .with_swing(swing.variance, self.seed),
                )
            })
            .clone()
    }
}
