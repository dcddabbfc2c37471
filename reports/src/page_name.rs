//! The file name of a templated page, from its key (say, a deal id).
//!
//! The page's file and every link to it use [`page_name`], so they always
//! agree. A key that is already a safe file name everywhere (`D-1042`,
//! `opp_7`) is its own name. Any other key — a space, `/`, `~`, `#`, `?`, a
//! non-ASCII letter, a leading dot, a name Windows reserves (`CON`), or
//! letters in both cases (`0065g00000AbCdE`: Salesforce ids differ only in
//! case, and macOS and Windows file systems do not) — becomes a readable
//! lower-case slug plus `~` and a hash of the whole key. The name is safe
//! in a URL and on every file system, and two keys never share one: a
//! plain name has no `~`, distinct keys have distinct hashes, and keys that
//! differ only in the case of their letters are caught where the pages are
//! listed ([`crate::template::PagesSpec::page_keys`]).

/// Longest key kept as it is; longer keys are slugged and hashed.
const MAX_PLAIN: usize = 100;

/// Characters of a slug kept from the key.
const SLUG_CHARS: usize = 60;

/// Names Windows reserves for devices, whatever the extension.
const RESERVED: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// The file stem (without `.html`/`.pdf`) of the page for `key`.
pub fn page_name(key: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let mixed_case =
        key.chars().any(|c| c.is_ascii_uppercase()) && key.chars().any(|c| c.is_ascii_lowercase());
    let stem = key
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let plain = !key.is_empty()
        && key.len() <= MAX_PLAIN
        && !key.starts_with('.')
        && !mixed_case
        && !RESERVED.contains(&stem.as_str())
        && key.chars().all(safe);
    if plain {
        return key.to_string();
    }
    let slug: String = key
        .chars()
        .take(SLUG_CHARS)
        .map(|c| {
            if safe(c) && c != '.' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
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
        assert_eq!(page_name("D0000001"), "D0000001");
        let keys = [
            "D 1",
            "D/1",
            "D~1",
            "D#1",
            "D?1",
            "Dé1",
            "D_1",
            "..",
            ".hidden",
            "",
            "D%201",
            "0065g00000AbCdE",
            "0065g00000ABCDE",
            "CON",
            "nul.txt",
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
        // Distinct even where file names ignore case.
        let mut unique: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(page_name(&"x".repeat(500)).len() < 90);
    }
}
