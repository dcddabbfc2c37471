//! A PostgreSQL table or query into a [`TableReader`].
//!
//! The connection is assembled like libpq does it, so existing setups just
//! work: `url` from the import entry, else `$DATABASE_URL`, then the `PG*`
//! variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`) for anything still
//! unset, then `host`/`port`/`user`/`dbname` from the entry on top. The
//! password comes from the environment (`PGPASSWORD`, or the variable named
//! by `password_env`), never necessarily from the config file.
//!
//! Rows are read with `COPY (<query>) TO STDOUT (FORMAT csv)` inside a
//! `READ ONLY` transaction — revintel never writes, and a query that tries to
//! is refused by the server — and go through the same reader as a CSV file
//! with canonical (ISO) dates and numbers, so PostgreSQL and CSV give the
//! same tables. Timestamps are cut to days in `timezone` (default UTC). A
//! rejected row's "line" is its 1-based row number in the result.
//!
//! Connections are not encrypted (no TLS support is built in): use it on
//! loopback, a private network or through an SSH tunnel.

use super::config::ResolvedImport;
use super::report::FileLoad;
use super::table_reader::{ReadContext, TableReader};
use super::SourceError;
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use tokio_postgres::config::Host;
use tokio_postgres::{Config, NoTls};

/// Where to connect, with how it is shown in reports (never the password).
struct Connection {
    config: Config,
    label: String,
    /// A note when the config file itself holds a password.
    note: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn connection(import: &ResolvedImport) -> Result<Connection, String> {
    let spec = &import.spec;
    let mut note = None;
    let mut config = match (&spec.url, env("DATABASE_URL")) {
        (Some(url), _) => {
            let c = Config::from_str(url).map_err(|e| format!("url: {e}"))?;
            if c.get_password().is_some() {
                note = Some(
                    "the url in revintel.toml holds a password; prefer PGPASSWORD or password_env"
                        .to_string(),
                );
            }
            c
        }
        (None, Some(url)) if spec.host.is_none() && spec.dbname.is_none() => {
            Config::from_str(&url).map_err(|e| format!("$DATABASE_URL: {e}"))?
        }
        _ => Config::new(),
    };
    if let Some(h) = &spec.host {
        config.host(h.as_str());
    } else if config.get_hosts().is_empty() {
        match env("PGHOST") {
            Some(h) => {
                for part in h.split(',') {
                    config.host(part.trim());
                }
            }
            None if std::path::Path::new("/var/run/postgresql").is_dir() => {
                config.host("/var/run/postgresql");
            }
            None => {
                config.host("localhost");
            }
        }
    }
    if let Some(p) = spec.port {
        config.port(p);
    } else if config.get_ports().is_empty() {
        if let Some(p) = env("PGPORT") {
            config.port(
                p.parse()
                    .map_err(|_| format!("$PGPORT `{p}` is not a port"))?,
            );
        }
    }
    let user = spec
        .user
        .clone()
        .or_else(|| config.get_user().map(str::to_string))
        .or_else(|| env("PGUSER"))
        .or_else(|| env("USER"))
        .ok_or("no user: set `user`, $PGUSER or a url")?;
    config.user(&user);
    let dbname = spec
        .dbname
        .clone()
        .or_else(|| config.get_dbname().map(str::to_string))
        .or_else(|| env("PGDATABASE"))
        .unwrap_or_else(|| user.clone());
    config.dbname(&dbname);
    if config.get_password().is_none() {
        let var = spec.password_env.as_deref().unwrap_or("PGPASSWORD");
        if let Some(pw) = env(var) {
            config.password(pw);
        } else if spec.password_env.is_some() {
            return Err(format!("password_env names ${var}, which is not set"));
        }
    }
    config.application_name("revintel");
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let what = match (&spec.table, &spec.query) {
        (Some(t), _) => t.clone(),
        _ => "query".into(),
    };
    Ok(Connection {
        label: format!("postgres://{user}@{host}:{port}/{dbname}#{what}"),
        config,
        note,
    })
}

/// A table name as SQL would take it unquoted: `deals`, `crm.deals`.
fn table_sql(table: &str) -> Result<String, String> {
    let ok = table.split('.').all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    }) && table.split('.').count() <= 2;
    if ok {
        Ok(format!("SELECT * FROM {table}"))
    } else {
        Err(format!(
            "table `{table}` is not a plain `name` or `schema.name`; use `query` for anything else"
        ))
    }
}

/// The rows of `sql` as CSV with a header, read in a read-only
/// transaction, and the connection's label; `import` says where to connect.
async fn fetch(import: &ResolvedImport, sql: &str) -> Result<(Vec<u8>, Connection), SourceError> {
    let spec = &import.spec;
    let config_err = |message: String| SourceError::Postgres {
        source_label: format!("[[sources.import]] {}", import.name),
        message,
    };
    let conn = connection(import).map_err(config_err)?;
    let label = conn.label.clone();
    let fail = |what: &str, e: tokio_postgres::Error| SourceError::Postgres {
        source_label: label.clone(),
        message: match e.as_db_error() {
            Some(db) => format!("{what}: {}", db.message()),
            // The cause ("Connection refused") is in the source chain.
            None => match std::error::Error::source(&e) {
                Some(cause) => format!("{what}: {e}: {cause}"),
                None => format!("{what}: {e}"),
            },
        },
    };
    let (client, driver) = conn
        .config
        .connect(NoTls)
        .await
        .map_err(|e| fail("cannot connect", e))?;
    let driver = tokio::spawn(driver);
    let tz = spec.timezone.as_deref().unwrap_or("UTC");
    client
        .batch_execute("BEGIN READ ONLY; SET LOCAL DateStyle = 'ISO, YMD'")
        .await
        .map_err(|e| fail("starting a read-only transaction", e))?;
    // The time zone is the user's text: a bound parameter, never SQL.
    client
        .query("SELECT set_config('TimeZone', $1, true)", &[&tz])
        .await
        .map_err(|e| fail(&format!("setting the time zone `{tz}`"), e))?;
    let stream = client
        .copy_out(&format!("COPY ({sql}) TO STDOUT (FORMAT csv, HEADER true)"))
        .await
        .map_err(|e| fail("reading", e))?;
    let mut bytes = Vec::new();
    futures_util::pin_mut!(stream);
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(|e| fail("reading", e))?);
    }
    client.batch_execute("ROLLBACK").await.ok();
    drop(client);
    driver.abort();
    Ok((bytes, conn))
}

/// The import's own SQL: its table or its query.
fn import_sql(import: &ResolvedImport) -> Result<String, SourceError> {
    let spec = &import.spec;
    match (&spec.table, &spec.query) {
        (Some(t), _) => table_sql(t).map_err(|message| SourceError::Postgres {
            source_label: format!("[[sources.import]] {}", import.name),
            message,
        }),
        (None, Some(q)) => Ok(q.trim().trim_end_matches(';').to_string()),
        (None, None) => Err(SourceError::Postgres {
            source_label: format!("[[sources.import]] {}", import.name),
            message: "needs a `table` or a `query`".into(),
        }),
    }
}

/// What a refresh compares: the fingerprint of the import's `change_query`
/// result when it has one (cheap: `max(updated_at), count(*)`), else of its
/// rows — the very fingerprint a load of them records.
pub async fn change_fingerprint(import: &ResolvedImport) -> Result<String, SourceError> {
    let sql = match &import.spec.change_query {
        Some(q) => q.trim().trim_end_matches(';').to_string(),
        None => import_sql(import)?,
    };
    let (bytes, conn) = fetch(import, &sql).await?;
    if import.spec.change_query.is_some() {
        return Ok(ml::trained::fingerprint(&[conn.label.as_bytes(), &bytes]));
    }
    content_fingerprint(&conn.label, &bytes, Path::new(&conn.label))
}

/// The fingerprint of a table's rows (CSV from `COPY`), whatever their
/// order: a table read without ORDER BY may come back in another order
/// (PostgreSQL's synchronised scans of big tables start wherever a running
/// scan is), and that is no change. The header, then each row's hash in
/// sorted order.
fn content_fingerprint(label: &str, bytes: &[u8], path: &Path) -> Result<String, SourceError> {
    let mut csv = csv_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut hashes = RowHashes::default();
    while csv.read_byte_record(&mut record).map_err(malformed(path))? {
        hashes.add(&record);
    }
    Ok(hashes.finish(label))
}

fn csv_reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes)
}

fn malformed(path: &Path) -> impl Fn(csv::Error) -> SourceError + '_ {
    move |e| SourceError::Malformed {
        path: path.to_path_buf(),
        line: 0,
        message: e.to_string(),
    }
}

/// The hashes behind [`content_fingerprint`], taken record by record so a
/// load can fingerprint the rows while it reads them.
#[derive(Default)]
struct RowHashes {
    header: Option<u128>,
    rows: Vec<u128>,
}

impl RowHashes {
    /// The header first, then each row.
    fn add(&mut self, record: &csv::ByteRecord) {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for field in record.iter() {
            hasher.update(&(field.len() as u64).to_le_bytes());
            hasher.update(field);
        }
        let hash = hasher.digest128();
        match self.header {
            None => self.header = Some(hash),
            Some(_) => self.rows.push(hash),
        }
    }

    fn finish(mut self, label: &str) -> String {
        self.rows.sort_unstable();
        let rows: Vec<u8> = self.rows.iter().flat_map(|h| h.to_le_bytes()).collect();
        let header = self.header.unwrap_or_default().to_le_bytes();
        ml::trained::fingerprint(&[label.as_bytes(), &header, &rows])
    }
}

/// Reads the import's table or query into `reader` and returns its report.
pub async fn read_postgres<'m>(
    reader: &mut TableReader<'m>,
    import: &'m ResolvedImport,
    ctx: &ReadContext<'_>,
) -> Result<FileLoad, SourceError> {
    let sql = import_sql(import)?;
    let (bytes, conn) = fetch(import, &sql).await?;
    let path = PathBuf::from(&conn.label);
    let mut csv = csv_reader(&bytes);
    let mut record = csv::ByteRecord::new();
    if !csv
        .read_byte_record(&mut record)
        .map_err(malformed(&path))?
    {
        return Err(SourceError::Empty {
            path,
            expected: reader.expected_columns(),
        });
    }
    let mut hashes = RowHashes::default();
    hashes.add(&record);
    let header: Vec<String> = record
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    // The fingerprint is known once every row is read (see below).
    reader.begin(&import.mapping, &path, &header, String::new(), true)?;
    reader.trusted_utf8 = std::str::from_utf8(&bytes).is_ok();
    if let Some(note) = conn.note {
        reader.load_mut().notes.push(note);
    }
    let mut row = 0;
    while csv
        .read_byte_record(&mut record)
        .map_err(malformed(&path))?
    {
        row += 1;
        hashes.add(&record);
        reader.read(&record, row, ctx);
    }
    // The same fingerprint a refresh check takes (`change_fingerprint`).
    reader.load_mut().fingerprint = hashes.finish(&conn.label);
    Ok(reader.end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_rows_in_another_order_are_no_change() {
        let path = Path::new("pg");
        let f = |csv: &str| content_fingerprint("pg", csv.as_bytes(), path).unwrap();
        let rows = "deal_id,amount\nD1,10\nD2,\"2,0\"\nD3,30\n";
        assert_eq!(f(rows), f("deal_id,amount\nD3,30\nD1,10\nD2,\"2,0\"\n"));
        assert_ne!(f(rows), f("deal_id,amount\nD1,10\nD2,\"2,0\"\nD3,31\n"));
        assert_ne!(f(rows), f("deal_id,amount\nD1,10\nD3,30\n"));
        // A row twice is not the row once.
        assert_ne!(
            f(rows),
            f("deal_id,amount\nD1,10\nD1,10\nD2,\"2,0\"\nD3,30\n")
        );
        // Field boundaries count: "a,bc" is not "ab,c".
        assert_ne!(f("x,y\na,bc\n"), f("x,y\nab,c\n"));
        assert_ne!(f("amount,deal_id\n10,D1\n"), f("deal_id,amount\n10,D1\n"));
    }

    #[test]
    fn tables_are_plain_identifiers() {
        assert_eq!(table_sql("deals").unwrap(), "SELECT * FROM deals");
        assert_eq!(table_sql("crm.deals").unwrap(), "SELECT * FROM crm.deals");
        assert!(table_sql("deals; DROP TABLE x").is_err());
        assert!(table_sql("a.b.c").is_err());
    }
}
