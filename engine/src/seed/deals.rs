//! Who a deal is with, what it is for, and how good it is.
//!
//! A new deal draws its account (bigger, "hotter" accounts more often), an
//! owner from the account's regional office who had started by then, a
//! product fitting the segment, a type, a lead source and a first amount
//! (log-normal around the segment median × product factor). From these it
//! gets a hidden quality `q`, a logit (see `params.rs` for the formula):
//! every part of it except the noise is visible in the data — the owner's
//! skill through their win record, size relative to the segment, type,
//! source, product. `q` then drives both the fate and the pace of the deal
//! in `stages.rs`.
//!
//! Each deal draws from its own ChaCha stream (seed, deal index), so the
//! output does not depend on how deals are spread over threads.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::calendar::{Calendar, CreationSchedule, Day};
use super::catalogue::PRODUCTS;
use super::lifecycle::HistoryRow;
use super::params::round_amount;
use super::params::*;
use super::stages::{walk_stages, DealPace};
use super::world::{World, SEGMENT_MEDIAN_AMOUNT, TEAMS};

/// Everything about a deal except its history rows.
pub(crate) struct Deal {
    pub(crate) account: usize,
    pub(crate) owner: usize,
    pub(crate) product: usize,
    /// Index into `DEAL_TYPES`.
    pub(crate) deal_type: usize,
    /// Index into `LEAD_SOURCES`.
    pub(crate) lead_source: usize,
    pub(crate) created: Day,
    /// Actual close day; `None` while open at the as-of date.
    pub(crate) closed: Option<Day>,
    pub(crate) last_activity: Day,
}

/// Read-only context shared by all deal workers.
pub(crate) struct DealSimulator<'a> {
    pub(crate) world: &'a World,
    pub(crate) cal: &'a Calendar,
    pub(crate) schedule: &'a CreationSchedule,
    /// Keyed by the seed, positioned at stream 0; each deal clones it and
    /// switches to its own stream.
    pub(crate) base_rng: ChaCha8Rng,
}

/// Index drawn from a table of shares that add up to one.
fn pick(shares: &[f64], rng: &mut impl Rng) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, share) in shares.iter().enumerate() {
        acc += share;
        if u < acc {
            return i;
        }
    }
    shares.len() - 1
}

impl DealSimulator<'_> {
    /// Simulates deal `index`, replacing `history` with its rows up to the as-of date.
    pub(crate) fn simulate(&self, index: usize, history: &mut Vec<HistoryRow>) -> Deal {
        let mut rng = self.base_rng.clone();
        rng.set_stream(index as u64);
        let world = self.world;
        let created = self.schedule.day_of(index);

        let account_ix = world.pick_account(&mut rng);
        let account = &world.accounts[account_ix];
        let segment = account.segment;
        let team = if rng.random_bool(OWNER_IN_REGION) {
            account.region
        } else {
            rng.random_range(0..TEAMS.len())
        };
        let owner_ix = world.pick_rep(team, created, &mut rng);
        let owner = &world.reps[owner_ix];
        let product_ix = world.pick_product(segment, &mut rng);
        let product = &PRODUCTS[product_ix];
        let deal_type = pick(&DEAL_TYPE_SHARE, &mut rng);
        let lead_source = if deal_type > 0 && rng.random_bool(EXISTING_CUSTOMER_FROM_CS) {
            LEAD_SOURCES.len() - 1
        } else {
            pick(&NEW_LEAD_SHARE, &mut rng)
        };

        let headcount = f64::from(account.employees) / SEGMENT_HEADCOUNT_REF[segment];
        let dollars = SEGMENT_MEDIAN_AMOUNT[segment]
            * product.amount_factor
            * headcount.powf(HEADCOUNT_ELASTICITY)
            * (AMOUNT_SPREAD * rng.sample::<f64, _>(StandardNormal)).exp();
        let amount = round_amount(dollars);

        let tenure = f64::from(created - owner.start);
        let ramp = -RAMP_PENALTY * (1.0 - tenure / RAMP_DAYS).max(0.0);
        let relative_size = (amount as f64 / 100.0 / SEGMENT_MEDIAN_AMOUNT[segment]).ln();
        let noise: f64 = rng.sample(StandardNormal);
        let specific = owner.skill
            + ramp
            + DEAL_TYPE_WIN[deal_type]
            + LEAD_SOURCE_WIN[lead_source]
            + product.win_shift
            + SEGMENT_WIN[segment]
            - SIZE_EFFECT * relative_size
            + QUALITY_NOISE * noise;
        let pace_noise: f64 = rng.sample(StandardNormal);
        let cycle = CYCLE_DAYS[segment] * product.cycle_factor * DEAL_TYPE_CYCLE[deal_type];
        let start_qualified = match (deal_type, lead_source) {
            (2, _) => START_QUALIFIED[0],
            (_, 0 | 4) => START_QUALIFIED[1],
            _ => START_QUALIFIED[2],
        };
        let start_stage = usize::from(rng.random_bool(start_qualified));

        let pace = DealPace {
            quality: QUALITY_INTERCEPT + specific,
            pace: (-PACE_EFFECT * specific + PACE_NOISE * pace_noise).exp(),
            usual_days: STAGE_SHARE.map(|share| share * cycle),
            optimism: owner.optimism,
        };
        let end = walk_stages(
            &mut rng,
            &pace,
            created,
            start_stage,
            amount,
            self.cal.as_of,
            history,
        );
        Deal {
            account: account_ix,
            owner: owner_ix,
            product: product_ix,
            deal_type,
            lead_source,
            created,
            closed: end.closed,
            last_activity: end.last_activity.clamp(created, self.cal.as_of),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_like_a_rep_types_them() {
        assert_eq!(round_amount(9_876.0), 988_000);
        assert_eq!(round_amount(123_456.0), 12_350_000);
        assert_eq!(round_amount(1.0), 1_000);
    }

    #[test]
    fn shares_pick_every_index() {
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(5);
        let mut seen = [0; 3];
        for _ in 0..3_000 {
            seen[pick(&DEAL_TYPE_SHARE, &mut rng)] += 1;
        }
        assert!(
            seen[0] > seen[1] && seen[1] > seen[2] && seen[2] > 300,
            "{seen:?}"
        );
    }
}
