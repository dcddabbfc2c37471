//! How the SQL engine is tuned: its memory limit, where it spills, and the
//! `DATAFUSION_*` environment variables.
//!
//! Every query runs under one memory pool. Operators that can spill
//! (sorts, aggregations, some joins) write to temporary files when the pool
//! is full; one that cannot fails with an error naming the limit, instead of
//! growing until the kernel kills the process. The limit comes from, in
//! order: `$REVINTEL_MEMORY_LIMIT`, `[engine] memory_limit` in revintel.toml,
//! and [`DEFAULT_MEMORY_LIMIT`].
//!
//! A malformed `DATAFUSION_*` variable is an error naming it; a variable
//! with that prefix that names no setting is a warning (it is most likely a
//! typo, and would otherwise be ignored without a word).

use datafusion::common::config::ConfigOptions;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionConfig;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

/// The memory limit when nothing sets one: 2 GiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 2 << 30;

/// The environment variable that sets the memory limit.
pub const MEMORY_LIMIT_ENV: &str = "REVINTEL_MEMORY_LIMIT";

/// The smallest limit accepted: below it nothing useful runs.
pub const MIN_MEMORY_LIMIT: u64 = 16 << 20;

/// `[engine]` in revintel.toml.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// The memory limit of queries: bytes, or a size such as "512MiB" or "4GB".
    pub memory_limit: Option<toml::Value>,
    /// Where queries spill (default: the system's temporary folder).
    pub spill_dir: Option<PathBuf>,
}

/// The engine's settings, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSettings {
    pub memory_limit: u64,
    /// Where the limit was set, as messages name it.
    pub memory_limit_origin: String,
    pub spill_dir: Option<PathBuf>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            memory_limit: DEFAULT_MEMORY_LIMIT,
            memory_limit_origin: "the default".into(),
            spill_dir: None,
        }
    }
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{origin}: memory limit `{value}`: {message}")]
    MemoryLimit {
        origin: String,
        value: String,
        message: String,
    },
    #[error("${var} = `{value}`: {message}")]
    DataFusionVar {
        var: String,
        value: String,
        message: String,
    },
    #[error("cannot set up the query engine: {0}")]
    Runtime(String),
}

impl EngineSettings {
    /// Resolves the settings from the config's `[engine]` table (`origin`
    /// names the config file) and then the environment.
    pub fn resolve(config: &EngineConfig, origin: &str) -> Result<EngineSettings, SettingsError> {
        let mut settings = EngineSettings {
            spill_dir: config.spill_dir.clone(),
            ..EngineSettings::default()
        };
        let origin = format!("{origin}: [engine] memory_limit");
        if let Some(value) = &config.memory_limit {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            settings.memory_limit = checked_size(&text, &origin)?;
            settings.memory_limit_origin = origin;
        }
        if let Ok(text) = std::env::var(MEMORY_LIMIT_ENV) {
            let origin = format!("${MEMORY_LIMIT_ENV}");
            settings.memory_limit = checked_size(&text, &origin)?;
            settings.memory_limit_origin = origin;
        }
        Ok(settings)
    }

    /// The limit as people read it: "2.0 GiB (the default)".
    pub fn describe_limit(&self) -> String {
        format!(
            "{} (set by {})",
            format_size(self.memory_limit),
            self.memory_limit_origin
        )
    }

    /// The runtime every query of a session runs in: the memory pool (which
    /// names its three largest consumers when it is exhausted) and spilling.
    pub fn runtime(&self) -> Result<Arc<RuntimeEnv>, SettingsError> {
        let limit = usize::try_from(self.memory_limit).unwrap_or(usize::MAX);
        let top = NonZeroUsize::new(3).expect("3 is not zero");
        let pool = TrackConsumersPool::new(FairSpillPool::new(limit), top);
        let mut builder = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(pool));
        if let Some(dir) = &self.spill_dir {
            builder = builder.with_temp_file_path(dir);
        }
        builder
            .build_arc()
            .map_err(|e| SettingsError::Runtime(e.to_string()))
    }
}

/// The session config: DataFusion's defaults, then every `DATAFUSION_*`
/// variable that names a setting, each checked on its own so a bad one is
/// named. Returns warnings for variables that name no setting.
pub fn session_config() -> Result<(SessionConfig, Vec<String>), SettingsError> {
    session_config_from(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned()))),
    )
}

/// [`session_config`] over the given variables.
pub fn session_config_from(
    vars: impl Iterator<Item = (String, String)>,
) -> Result<(SessionConfig, Vec<String>), SettingsError> {
    let mut options = ConfigOptions::default();
    let keys: Vec<String> = options.entries().into_iter().map(|e| e.key).collect();
    let var_of = |key: &str| key.to_uppercase().replace('.', "_");
    let mut warnings = Vec::new();
    let mut vars: Vec<(String, String)> =
        vars.filter(|(k, _)| k.starts_with("DATAFUSION_")).collect();
    vars.sort();
    for (var, value) in vars {
        let Some(key) = keys.iter().find(|k| var_of(k) == var) else {
            warnings.push(format!(
                "${var} names no DataFusion setting and is ignored (settings: https://datafusion.apache.org/user-guide/configs.html)"
            ));
            continue;
        };
        let bad = |message: String| SettingsError::DataFusionVar {
            var: var.clone(),
            value: value.clone(),
            message,
        };
        options
            .set(key, &value)
            .map_err(|e| bad(e.strip_backtrace()))?;
    }
    Ok((SessionConfig::from(options), warnings))
}

fn checked_size(text: &str, origin: &str) -> Result<u64, SettingsError> {
    let bad = |message: String| SettingsError::MemoryLimit {
        origin: origin.to_string(),
        value: text.to_string(),
        message,
    };
    let bytes = parse_size(text).map_err(bad)?;
    if bytes < MIN_MEMORY_LIMIT {
        return Err(bad(format!(
            "below the smallest accepted limit, {}",
            format_size(MIN_MEMORY_LIMIT)
        )));
    }
    Ok(bytes)
}

/// A size in bytes from "1073741824", "512MiB", "4GB", "1.5 GiB" (binary
/// and decimal units alike; K, M, G, T alone are binary).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| "expected a size such as 2GiB, 512MB or a number of bytes".to_string())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1_000,
        "m" | "mib" => 1 << 20,
        "mb" => 1_000_000,
        "g" | "gib" => 1 << 30,
        "gb" => 1_000_000_000,
        "t" | "tib" => 1 << 40,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "unknown unit `{other}`; use B, KiB, MiB, GiB or TiB"
            ))
        }
    };
    let bytes = number * factor as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err("too large".into());
    }
    Ok(bytes as u64)
}

/// Bytes as people read them: "512.0 MiB", "2.0 GiB".
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(parse_size("1073741824"), Ok(1 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1.5 GiB"), Ok(3 << 29));
        assert_eq!(parse_size("4GB"), Ok(4_000_000_000));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("12 parsecs").unwrap_err().contains("parsecs"));
        assert!(parse_size("1e400").is_err());
        assert_eq!(format_size(2 << 30), "2.0 GiB");
        assert_eq!(format_size(100), "100 B");
    }

    #[test]
    fn a_bad_datafusion_variable_is_named_and_the_rest_still_apply() {
        let vars = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
                .into_iter()
        };
        let err = session_config_from(vars(&[
            ("DATAFUSION_EXECUTION_TARGET_PARTITIONS", "3"),
            ("DATAFUSION_EXECUTION_BATCH_SIZE", "many"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("$DATAFUSION_EXECUTION_BATCH_SIZE") && err.contains("many"),
            "{err}"
        );
        let err = session_config_from(vars(&[("DATAFUSION_EXECUTION_BATCH_SIZE", "0")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("$DATAFUSION_EXECUTION_BATCH_SIZE"), "{err}");
        let (config, warnings) = session_config_from(vars(&[
            ("DATAFUSION_EXECUTION_TARGET_PARTITIONS", "3"),
            ("DATAFUSION_EXECUTION_BATCHSIZE", "10"),
            ("PATH", "/bin"),
        ]))
        .unwrap();
        assert_eq!(config.target_partitions(), 3);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("DATAFUSION_EXECUTION_BATCHSIZE"));
    }

    #[test]
    fn the_limit_comes_from_the_config_and_is_checked() {
        let config: EngineConfig = toml::from_str("memory_limit = \"256MiB\"").unwrap();
        let s = EngineSettings::resolve(&config, "revintel.toml").unwrap();
        if std::env::var_os(MEMORY_LIMIT_ENV).is_none() {
            assert_eq!(s.memory_limit, 256 << 20);
            assert!(s.describe_limit().contains("revintel.toml"));
        }
        let config: EngineConfig = toml::from_str("memory_limit = 1000").unwrap();
        let err = EngineSettings::resolve(&config, "revintel.toml").unwrap_err();
        assert!(err.to_string().contains("smallest"), "{err}");
    }
}
