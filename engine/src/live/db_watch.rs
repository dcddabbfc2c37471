//! Database sources during `watch` and `serve`: each PostgreSQL import with
//! a `refresh` interval is checked that often, by its `change_query` or by
//! hashing its rows. A change becomes a data change like a saved file (the
//! same reload, dependency tracking and log line). A check that cannot
//! reach the database becomes one too, once: the reload then fails, the last
//! good outputs stay and the served pages show the error; checks go on with
//! doubling waits (1 s, 2 s, … up to the interval), and the first that
//! succeeds reloads again, which clears the error.

use crate::project::Project;
use crate::sources::config::{parse_duration, ImportKind, ResolvedImport};
use std::time::Duration;
use tokio::time::Instant;

/// Why a database source asks for a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbEvent {
    Changed(String),
    /// It could not be checked (the first failure of a run of them).
    Failed(String, String),
    /// It answers again after failing.
    Recovered(String),
}

struct Polled {
    import: ResolvedImport,
    every: Duration,
    next: Instant,
    last: Option<String>,
    /// Failures in a row.
    failures: u32,
}

/// The database sources being refreshed.
pub struct DbWatch {
    polled: Vec<Polled>,
}

impl DbWatch {
    /// The project's PostgreSQL imports with a `refresh`. Called before the
    /// first load: a source with a change query reads it now, so a change
    /// made while the load runs is seen by the next check.
    pub async fn of(project: &Project) -> DbWatch {
        let set = &project.sources;
        let mut polled = Vec::new();
        for spec in set
            .imports
            .iter()
            .filter(|s| s.kind == ImportKind::Postgres)
        {
            let Some(every) = spec.refresh.as_deref().and_then(|r| parse_duration(r).ok()) else {
                continue;
            };
            let Ok(import) = spec.resolve(&set.root, &set.config) else {
                continue;
            };
            let last = match spec.change_query {
                Some(_) => crate::sources::postgres::change_fingerprint(&import)
                    .await
                    .ok(),
                None => None,
            };
            polled.push(Polled {
                import,
                every,
                next: Instant::now() + every,
                last,
                failures: 0,
            });
        }
        DbWatch { polled }
    }

    /// After a load: a source without a change query compares its rows
    /// with what this load read (`loaded`: fingerprints by source name).
    pub fn loaded(&mut self, loaded: &[(String, String)]) {
        for p in self
            .polled
            .iter_mut()
            .filter(|p| p.import.spec.change_query.is_none())
        {
            if let Some((_, f)) = loaded.iter().find(|(name, _)| *name == p.import.name) {
                p.last = Some(f.clone());
            }
        }
    }

    /// Waits for the next source that asks for a reload (forever when none
    /// is refreshed).
    pub async fn next(&mut self) -> DbEvent {
        loop {
            let Some(i) = (0..self.polled.len()).min_by_key(|&i| self.polled[i].next) else {
                return std::future::pending().await;
            };
            tokio::time::sleep_until(self.polled[i].next).await;
            let p = &mut self.polled[i];
            let checked = crate::sources::postgres::change_fingerprint(&p.import).await;
            let name = p.import.name.clone();
            match checked {
                Ok(fingerprint) => {
                    p.next = Instant::now() + p.every;
                    let recovered = p.failures > 0;
                    p.failures = 0;
                    let changed = p.last.as_ref().is_some_and(|l| *l != fingerprint);
                    p.last = Some(fingerprint);
                    if recovered {
                        return DbEvent::Recovered(name);
                    }
                    if changed {
                        return DbEvent::Changed(name);
                    }
                }
                Err(e) => {
                    p.failures += 1;
                    let wait = Duration::from_secs(1 << (p.failures - 1).min(16))
                        .min(p.every.max(Duration::from_secs(1)));
                    p.next = Instant::now() + wait;
                    if p.failures == 1 {
                        return DbEvent::Failed(name, e.to_string());
                    }
                }
            }
        }
    }
}
