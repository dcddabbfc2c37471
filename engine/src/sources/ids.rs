//! Which ids a table already holds, so a repeated one is rejected with where
//! the first came from.
//!
//! Ids are kept by a 64-bit hash, with the ids themselves in one growing
//! string (no allocation per row: a million-row import claims a million
//! ids). A hash hit is confirmed against the stored id, so two different
//! ids that happen to share a hash are both loaded.

use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;
use std::hash::BuildHasher;

/// Where an id was first loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenId {
    /// Index of the source (in the reader's list of sources).
    pub source: u32,
    pub line: u64,
}

#[derive(Debug, Clone, Copy)]
struct Held {
    seen: SeenId,
    /// Index of the id in `ends`.
    index: u32,
}

/// The ids claimed so far.
#[derive(Debug, Default)]
pub struct IdRegistry {
    by_hash: FxHashMap<u64, Held>,
    collided: FxHashMap<Box<str>, SeenId>,
    text: String,
    ends: Vec<usize>,
}

impl IdRegistry {
    /// Room for about `n` ids.
    pub fn reserve(&mut self, n: usize) {
        self.by_hash.reserve(n);
        self.ends.reserve(n);
    }

    fn stored(&self, index: u32) -> &str {
        let i = index as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    /// Claims `id` for a row at `seen`; returns the earlier holder if the id
    /// was already claimed (the claim then fails).
    pub fn claim(&mut self, id: &str, seen: SeenId) -> Option<SeenId> {
        let index = self.ends.len() as u32;
        match self.by_hash.entry(rustc_hash::FxBuildHasher.hash_one(id)) {
            Entry::Vacant(v) => {
                v.insert(Held { seen, index });
            }
            Entry::Occupied(o) => {
                let held = *o.get();
                if self.stored(held.index) == id {
                    return Some(held.seen);
                }
                return match self.collided.entry(Box::from(id)) {
                    Entry::Occupied(c) => Some(*c.get()),
                    Entry::Vacant(v) => {
                        v.insert(seen);
                        None
                    }
                };
            }
        }
        self.text.push_str(id);
        self.ends.push(self.text.len());
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_claim_holds() {
        let mut ids = IdRegistry::default();
        let at = |line| SeenId { source: 0, line };
        assert_eq!(ids.claim("D1", at(2)), None);
        assert_eq!(ids.claim("D2", at(3)), None);
        assert_eq!(ids.claim("D1", at(4)), Some(at(2)));
        assert_eq!(ids.claim("", at(5)), None);
        assert_eq!(ids.claim("", at(6)), Some(at(5)));
    }

    #[test]
    fn a_shared_hash_does_not_make_a_duplicate() {
        let mut ids = IdRegistry::default();
        let at = |line| SeenId { source: 0, line };
        ids.claim("D1", at(2));
        // Force a collision: a different id stored under D1's hash.
        let hash = rustc_hash::FxBuildHasher.hash_one("D1");
        let held = ids.by_hash[&hash];
        ids.by_hash.insert(hash, held);
        ids.text.replace_range(0..2, "X9");
        assert_eq!(ids.claim("D1", at(3)), None, "X9 holds the hash, D1 is new");
        assert_eq!(ids.claim("D1", at(4)), Some(at(3)));
    }
}
