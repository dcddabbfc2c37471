//! The fixed cast of the demo data: sales reps and customer accounts.
//!
//! Everything here is generated once, before any deal, from its own RNG
//! streams, and is read-only afterwards (shared by the deal workers). Reps
//! carry two latent traits that the CSV files do not show — `skill` (a logit
//! shift on every deal they own, which surfaces as their historical win rate)
//! and `optimism` (how early they set expected close dates, which surfaces as
//! close-date pushes) — plus a ramp-up penalty for new hires. Accounts carry a
//! popularity weight: larger companies see more deals.

use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::Rng;
use rand_distr::{Exp1, StandardNormal};

use super::calendar::{Calendar, Day};
use super::catalogue::{PRODUCTS, SECTORS};
use super::names::{subsidiary_name, CompanyNames, PersonNames};
use super::params::{NEW_HIRE_SHARE, REP_OPTIMISM_LOG_MEAN, REP_OPTIMISM_LOG_SD, REP_SKILL_SD};

/// Regional offices; also the regions accounts are in.
pub(crate) const TEAMS: [&str; 4] = ["East", "West", "Central", "EMEA"];
const TEAM_SHARE: [f64; 4] = [0.30, 0.25, 0.20, 0.25];

/// Customer segments by head count.
pub(crate) const SEGMENTS: [&str; 3] = ["SMB", "Mid-Market", "Enterprise"];
/// Median first-quote amount of a deal per segment, before the product factor (USD).
pub(crate) const SEGMENT_MEDIAN_AMOUNT: [f64; 3] = [14_000.0, 55_000.0, 240_000.0];
/// Share of accounts per segment, and how much more often each is in a deal.
const SEGMENT_SHARE: [f64; 3] = [0.60, 0.28, 0.12];
const SEGMENT_POPULARITY: [f64; 3] = [1.0, 1.6, 2.6];

/// A sales rep.
pub(crate) struct Rep {
    pub(crate) name: String,
    pub(crate) manager: usize,
    pub(crate) team: usize,
    pub(crate) start: Day,
    pub(crate) quota_cents: i64,
    /// Latent logit shift of the win chance of every deal the rep owns.
    pub(crate) skill: f64,
    /// Factor on the rep's close-date estimates; < 1 sets them too early.
    pub(crate) optimism: f64,
}

/// A customer account.
pub(crate) struct Account {
    pub(crate) name: String,
    pub(crate) sector: &'static str,
    pub(crate) employees: u32,
    pub(crate) revenue_cents: i64,
    pub(crate) region: usize,
    pub(crate) segment: usize,
    pub(crate) parent: Option<usize>,
}

/// Reps, managers, accounts and how deals pick among them.
pub(crate) struct World {
    pub(crate) reps: Vec<Rep>,
    pub(crate) managers: Vec<String>,
    pub(crate) accounts: Vec<Account>,
    account_picker: WeightedIndex<f64>,
    product_picker: [WeightedIndex<f64>; 3],
    /// Per team: rep indices sorted by start day, and those start days.
    team_reps: [Vec<usize>; 4],
    team_starts: [Vec<Day>; 4],
}

/// Number of reps for a given deal count: about 125 deals per rep over the window.
pub(crate) fn rep_count(deals: usize) -> usize {
    (deals / 125).max(12)
}

/// Number of accounts for a given deal count: about four deals per account.
pub(crate) fn account_count(deals: usize) -> usize {
    (deals / 4).max(50)
}

impl World {
    /// Generates the cast for `deals` deals; `rng` must be dedicated to the world.
    pub(crate) fn generate(cal: &Calendar, deals: usize, rng: &mut impl Rng) -> Self {
        let people = PersonNames::new(rng);
        let companies = CompanyNames::new(rng);
        let (reps, managers) = generate_reps(cal, rep_count(deals), &people, rng);
        let accounts = generate_accounts(account_count(deals), &companies, rng);

        let account_picker = WeightedIndex::new(accounts.iter().map(|a| {
            let z: f64 = rng.sample(StandardNormal);
            SEGMENT_POPULARITY[a.segment] * (0.7 * z).exp()
        }))
        .expect("account weights are positive and finite");
        let product_picker = [0, 1, 2].map(|segment| {
            WeightedIndex::new(PRODUCTS.iter().map(|p| p.mix[segment]))
                .expect("every segment buys some product")
        });
        let mut team_reps: [Vec<usize>; 4] = Default::default();
        for (i, rep) in reps.iter().enumerate() {
            team_reps[rep.team].push(i);
        }
        for list in &mut team_reps {
            list.sort_by_key(|&i| (reps[i].start, i));
        }
        let team_starts =
            [0, 1, 2, 3].map(|t| team_reps[t].iter().map(|&i| reps[i].start).collect());
        Self {
            reps,
            managers,
            accounts,
            account_picker,
            product_picker,
            team_reps,
            team_starts,
        }
    }

    /// Picks the account of a new deal; bigger and "hotter" accounts more often.
    pub(crate) fn pick_account(&self, rng: &mut impl Rng) -> usize {
        self.account_picker.sample(rng)
    }

    /// Picks the product of a new deal for an account of `segment`.
    pub(crate) fn pick_product(&self, segment: usize, rng: &mut impl Rng) -> usize {
        self.product_picker[segment].sample(rng)
    }

    /// Picks a rep of `team` who had started by `day` (the first two reps of
    /// every team predate the window, so there always is one).
    pub(crate) fn pick_rep(&self, team: usize, day: Day, rng: &mut impl Rng) -> usize {
        let eligible = self.team_starts[team].partition_point(|&s| s <= day).max(1);
        self.team_reps[team][rng.random_range(0..eligible)]
    }
}

fn pick_team(rng: &mut impl Rng) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (t, share) in TEAM_SHARE.iter().enumerate() {
        acc += share;
        if u < acc {
            return t;
        }
    }
    TEAMS.len() - 1
}

/// Reps: two veterans per team first, then ~28 % hired inside the window.
fn generate_reps(
    cal: &Calendar,
    n: usize,
    people: &PersonNames,
    rng: &mut impl Rng,
) -> (Vec<Rep>, Vec<String>) {
    let mut reps = Vec::with_capacity(n);
    for i in 0..n {
        let team = if i < 2 * TEAMS.len() {
            i % TEAMS.len()
        } else {
            pick_team(rng)
        };
        let new_hire = i >= 2 * TEAMS.len() && rng.random_bool(NEW_HIRE_SHARE);
        let start = if new_hire {
            cal.window_start + rng.random_range(0..(cal.as_of - cal.window_start - 60))
        } else {
            cal.window_start - rng.random_range(30..6 * 365)
        };
        let z: f64 = rng.sample(StandardNormal);
        let quota_base = if team == 3 { 1_100_000.0 } else { 1_250_000.0 };
        let quota = quota_base * if new_hire { 0.8 } else { 1.0 } * (0.15 * z).exp();
        let quota_cents = (quota / 10_000.0).round() as i64 * 1_000_000;
        let skill = REP_SKILL_SD * rng.sample::<f64, _>(StandardNormal);
        let optimism = (REP_OPTIMISM_LOG_MEAN
            + REP_OPTIMISM_LOG_SD * rng.sample::<f64, _>(StandardNormal))
        .exp();
        reps.push(Rep {
            name: people.name(i),
            manager: 0,
            team,
            start,
            quota_cents,
            skill,
            optimism,
        });
    }
    // One manager per started group of eight reps of a team, in rep order.
    let mut managers = Vec::new();
    for team in 0..TEAMS.len() {
        let mut team_manager = Vec::new();
        for (seen, rep) in reps.iter_mut().filter(|r| r.team == team).enumerate() {
            if seen % 8 == 0 {
                team_manager.push(managers.len());
                managers.push(people.name(n + managers.len()));
            }
            rep.manager = team_manager[seen / 8];
        }
    }
    (reps, managers)
}

/// Accounts: segment by head count, revenue by sector, ~5 % subsidiaries.
fn generate_accounts(n: usize, companies: &CompanyNames, rng: &mut impl Rng) -> Vec<Account> {
    let mut accounts: Vec<Account> = Vec::with_capacity(n);
    let mut enterprises: Vec<usize> = Vec::new();
    for i in 0..n {
        let u: f64 = rng.random();
        let drawn = if u < SEGMENT_SHARE[0] {
            0
        } else if u < SEGMENT_SHARE[0] + SEGMENT_SHARE[1] {
            1
        } else {
            2
        };
        let z: f64 = rng.sample(StandardNormal);
        let employees = match drawn {
            0 => (45.0 * (0.8 * z).exp()).clamp(5.0, 199.0),
            1 => 200.0 * 10f64.powf(rng.random::<f64>()).min(9.99),
            _ => (2_000.0 * (1.1 * rng.sample::<f64, _>(Exp1)).exp()).min(350_000.0),
        } as u32;
        let segment = segment_of(employees);
        let region = pick_team(rng);
        let parent = if segment < 2 && i >= 20 && !enterprises.is_empty() && rng.random_bool(0.05) {
            Some(enterprises[rng.random_range(0..enterprises.len())])
        } else {
            None
        };
        let (name, sector) = match parent {
            Some(p) => (subsidiary_name(&accounts[p].name, rng), accounts[p].sector),
            None => (
                companies.name(i),
                SECTORS[rng.random_range(0..SECTORS.len())].0,
            ),
        };
        let per_head = SECTORS
            .iter()
            .find(|s| s.0 == sector)
            .map_or(200_000.0, |s| s.1);
        let revenue =
            f64::from(employees) * per_head * (0.35 * rng.sample::<f64, _>(StandardNormal)).exp();
        let revenue_cents = (revenue / 1_000.0).round().max(1.0) as i64 * 100_000;
        if segment == 2 {
            enterprises.push(i);
        }
        accounts.push(Account {
            name,
            sector,
            employees,
            revenue_cents,
            region,
            segment,
            parent,
        });
    }
    accounts
}

/// Segment of a head count: SMB < 200, Mid-Market < 2,000, else Enterprise.
pub(crate) fn segment_of(employees: u32) -> usize {
    match employees {
        0..=199 => 0,
        200..=1_999 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn world_is_consistent() {
        let cal = Calendar::new(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()).unwrap();
        let world = World::generate(&cal, 5_000, &mut ChaCha8Rng::seed_from_u64(9));
        assert_eq!(world.reps.len(), 40);
        assert_eq!(world.accounts.len(), 1_250);
        for a in &world.accounts {
            assert_eq!(segment_of(a.employees), a.segment, "{}", a.name);
            if let Some(p) = a.parent {
                assert_eq!(world.accounts[p].segment, 2);
            }
        }
        for team in 0..TEAMS.len() {
            assert!(world.team_starts[team][0] < cal.window_start);
        }
        let hires = world
            .reps
            .iter()
            .filter(|r| r.start >= cal.window_start)
            .count();
        assert!((3..20).contains(&hires), "{hires} new hires");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let r = world.pick_rep(1, cal.window_start, &mut rng);
            assert!(world.reps[r].start <= cal.window_start && world.reps[r].team == 1);
        }
    }
}
