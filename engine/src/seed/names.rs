//! Word lists and the naming scheme for people and companies in the demo data.
//!
//! Names only have to look plausible and be (nearly) unique; they carry no
//! signal. A seeded permutation of the combinations is walked in order, so
//! the first few thousand people and the first ~20,000 companies get distinct
//! names, and larger worlds fall back to a middle initial or a locality
//! qualifier instead of repeating a name outright.

use rand::seq::SliceRandom;
use rand::Rng;

const FIRST_NAMES: [&str; 50] = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Ethan", "Sophia", "Mason", "Isabella", "Lucas",
    "Mia", "Logan", "Amelia", "James", "Harper", "Aiden", "Evelyn", "Elijah", "Abigail",
    "Benjamin", "Emily", "Carlos", "Priya", "Daniel", "Aisha", "Mateo", "Chloe", "Kenji", "Grace",
    "Omar", "Hannah", "Samuel", "Zoe", "David", "Nora", "Henry", "Leah", "Gabriel", "Lily", "Wei",
    "Sofia", "Julian", "Maya", "Adrian", "Elena", "Ravi", "Clara", "Tomas", "Ingrid", "Felix",
];

const LAST_NAMES: [&str; 50] = [
    "Smith",
    "Johnson",
    "Garcia",
    "Brown",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Patel",
    "Kim",
    "Schmidt",
    "Novak",
    "Okafor",
    "Tanaka",
    "Larsen",
    "Dubois",
];

const COMPANY_HEADS: [&str; 40] = [
    "Blue", "North", "Silver", "Iron", "Bright", "Cedar", "Summit", "Red", "Granite", "Harbor",
    "Maple", "Apex", "Clear", "Golden", "Pine", "Stone", "River", "Crest", "Oak", "Star", "Falcon",
    "Vertex", "Nova", "Ever", "High", "True", "West", "East", "Sun", "Frost", "Copper", "Delta",
    "Echo", "Swift", "Orbit", "Pioneer", "Quantum", "Lumen", "Atlas", "Terra",
];

const COMPANY_TAILS: [&str; 25] = [
    "peak", "wind", "field", "bridge", "stone", "line", "works", "point", "gate", "view", "ridge",
    "wave", "light", "path", "forge", "brook", "vale", "port", "mark", "spring", "core", "scape",
    "wood", "haven", "leaf",
];

const COMPANY_KINDS: [&str; 20] = [
    "Systems",
    "Logistics",
    "Health",
    "Financial",
    "Energy",
    "Foods",
    "Labs",
    "Industries",
    "Partners",
    "Analytics",
    "Networks",
    "Retail",
    "Capital",
    "Media",
    "Manufacturing",
    "Software",
    "Group",
    "Holdings",
    "Solutions",
    "Dynamics",
];

const LOCALITIES: [&str; 30] = [
    "Boston",
    "Denver",
    "Austin",
    "Seattle",
    "Chicago",
    "Atlanta",
    "Toronto",
    "Phoenix",
    "Portland",
    "Dallas",
    "Miami",
    "Detroit",
    "London",
    "Dublin",
    "Berlin",
    "Paris",
    "Madrid",
    "Milan",
    "Zurich",
    "Oslo",
    "Vienna",
    "Lisbon",
    "Warsaw",
    "Prague",
    "Munich",
    "Lyon",
    "Leeds",
    "Nashville",
    "Omaha",
    "Raleigh",
];

/// Suffixes that turn a parent company's name into a subsidiary's.
const SUBSIDIARY_SUFFIXES: [&str; 8] = [
    "Europe",
    "Labs",
    "Digital",
    "Services",
    "International",
    "Ventures",
    "Americas",
    "Cloud",
];

/// Hands out distinct person names in a seeded order.
pub(crate) struct PersonNames {
    order: Vec<u32>,
}

impl PersonNames {
    /// Shuffles all first/last combinations with `rng`.
    pub(crate) fn new(rng: &mut impl Rng) -> Self {
        let mut order: Vec<u32> = (0..(FIRST_NAMES.len() * LAST_NAMES.len()) as u32).collect();
        order.shuffle(rng);
        Self { order }
    }

    /// The `k`-th name; after all plain combinations are used, a middle
    /// initial (and, far beyond that, a generation suffix) keeps it unique.
    pub(crate) fn name(&self, k: usize) -> String {
        let combo = self.order[k % self.order.len()] as usize;
        let first = FIRST_NAMES[combo % FIRST_NAMES.len()];
        let last = LAST_NAMES[combo / FIRST_NAMES.len()];
        let cycle = k / self.order.len();
        match cycle {
            0 => format!("{first} {last}"),
            c if c <= 26 => format!("{first} {}. {last}", (b'A' + (c - 1) as u8) as char),
            c => format!(
                "{first} {}. {last} {}",
                (b'A' + ((c - 1) % 26) as u8) as char,
                c / 26 + 1
            ),
        }
    }
}

/// Hands out distinct company names in a seeded order.
pub(crate) struct CompanyNames {
    order: Vec<u32>,
}

impl CompanyNames {
    /// Shuffles all head/tail/kind combinations with `rng`.
    pub(crate) fn new(rng: &mut impl Rng) -> Self {
        let n = COMPANY_HEADS.len() * COMPANY_TAILS.len() * COMPANY_KINDS.len();
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.shuffle(rng);
        Self { order }
    }

    /// The `k`-th company name, e.g. `Bluepeak Systems`; later cycles add a
    /// locality, e.g. `Bluepeak Systems Denver`.
    pub(crate) fn name(&self, k: usize) -> String {
        let combo = self.order[k % self.order.len()] as usize;
        let head = COMPANY_HEADS[combo % COMPANY_HEADS.len()];
        let rest = combo / COMPANY_HEADS.len();
        let tail = COMPANY_TAILS[rest % COMPANY_TAILS.len()];
        let kind = COMPANY_KINDS[rest / COMPANY_TAILS.len()];
        let cycle = k / self.order.len();
        match cycle {
            0 => format!("{head}{tail} {kind}"),
            c if c <= LOCALITIES.len() => format!("{head}{tail} {kind} {}", LOCALITIES[c - 1]),
            c => format!(
                "{head}{tail} {kind} {} {}",
                LOCALITIES[(c - 1) % LOCALITIES.len()],
                c
            ),
        }
    }
}

/// A subsidiary's name derived from its parent's, e.g. `Bluepeak Systems Europe`.
pub(crate) fn subsidiary_name(parent: &str, rng: &mut impl Rng) -> String {
    let suffix = SUBSIDIARY_SUFFIXES[rng.random_range(0..SUBSIDIARY_SUFFIXES.len())];
    format!("{parent} {suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::collections::HashSet;

    #[test]
    fn person_names_stay_unique_past_the_plain_combinations() {
        let names = PersonNames::new(&mut ChaCha8Rng::seed_from_u64(1));
        let all: HashSet<String> = (0..6_000).map(|k| names.name(k)).collect();
        assert_eq!(all.len(), 6_000);
    }

    #[test]
    fn company_names_stay_unique_past_the_plain_combinations() {
        let names = CompanyNames::new(&mut ChaCha8Rng::seed_from_u64(1));
        let all: HashSet<String> = (0..50_000).map(|k| names.name(k)).collect();
        assert_eq!(all.len(), 50_000);
        assert!(all.iter().all(|n| !n.contains(',')));
    }
}
