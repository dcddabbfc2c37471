//! The file name of a templated page, from its key (say, a deal id).
//!
//! The page's file and every link to it use [`page_name`], so they always
//! agree. A key that is already a safe file name (`D-1042`, `opp_7`) is its
//! own name. Any other key — a space, `/`, `~`, `#`, `?`, a non-ASCII letter,
//! a leading dot — becomes a readable slug plus `~` and a hash of the whole
//! key: the name is safe in a URL and on every file system, and two keys
//! never share one (a safe key has no `~`, and distinct keys have distinct
//! hashes; a collision would be reported, not written over).

/// Longest key kept as it is; longer keys are slugged and hashed.
const MAX_PLAIN: usize = 100;

/// Characters of a slug kept from the key.
const SLUG_CHARS: usize = 60;

/// The file stem (without `.html`/`.pdf`) of the page for `key`.
pub fn page_name(key: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let plain =
        !key.is_empty() && key.len() <= MAX_PLAIN && !key.starts_with('.') && key.chars().all(safe);
    if plain {
        return key.to_string();
    }
    let slug: String = key
        .chars()
        .take(SLUG_CHARS)
        .map(|c| if safe(c) && c != '.' { c } else { '_' })
        .collect();
    format!("{slug}~{:016x}", xxhash_rust::xxh3::xxh3_64(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_keys_are_kept_and_others_hashed_apart() {
        assert_eq!(page_name("D-1042"), "D-1042");
        assert_eq!(page_name("opp_7.v2"), "opp_7.v2");
        let keys = [
            "D 1", "D/1", "D~1", "D#1", "D?1", "Dé1", "D_1", "..", ".hidden", "", "D%201",
        ];
        let names: Vec<String> = keys.iter().map(|k| page_name(k)).collect();
        for (k, n) in keys.iter().zip(&names) {
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c)),
                "{k:?} → {n:?}"
            );
            assert!(!n.starts_with('.') && !n.is_empty(), "{k:?} → {n:?}");
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(page_name(&"x".repeat(500)).len() < 90);
    }
}
