//! The bundled demo data: generated on first use so a fresh clone just works.

use crate::project::Project;
use crate::seed::{self, SeedOptions};
use chrono::NaiveDate;
use std::path::Path;

/// The file `revintel seed` writes beside the data, recording how it was made.
pub const MANIFEST: &str = "manifest.json";

/// The as-of date recorded in a data folder's manifest, if there is one.
pub fn manifest_as_of(dir: &Path) -> Option<NaiveDate> {
    let text = std::fs::read_to_string(dir.join(MANIFEST)).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    crate::sources::csv_file::parse_iso_date(value.get("as_of")?.as_str()?)
}

/// For a demo project without data, the options to generate the default demo
/// data set with (the caller says so and writes it); otherwise None.
pub fn missing_demo_data(project: &Project) -> Option<SeedOptions> {
    let missing = crate::sources::Entity::ALL
        .iter()
        .any(|e| !project.data_dir.join(e.file_name()).is_file());
    (project.is_demo && missing).then(|| SeedOptions {
        deals: seed::DEFAULT_DEALS,
        seed: seed::DEFAULT_SEED,
        as_of: seed::default_as_of(),
    })
}

/// Generates the demo data when [`missing_demo_data`] says so, telling
/// `note` first (it takes a few seconds).
pub fn ensure(project: &Project, note: &dyn Fn(String)) -> Result<(), seed::SeedError> {
    if let Some(options) = missing_demo_data(project) {
        note(format!(
            "no demo data in {}; generating it ({} deals, seed {}, as of {}) …",
            project.data_dir.display(),
            options.deals,
            options.seed,
            options.as_of
        ));
        seed::write_demo_data(&project.data_dir, &options)?;
    }
    Ok(())
}
