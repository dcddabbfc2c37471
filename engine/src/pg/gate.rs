//! Which statements a client may run over the wire: the read-only rule of
//! `revintel sql`, plus the session statements PostgreSQL clients send
//! when they connect (`SET`, `SHOW`, `BEGIN`, cursors).
//!
//! Decided on the parsed statement, before anything is planned.

use crate::readonly;
use datafusion::sql::sqlparser::ast::{
    Expr, Set, Statement, TransactionAccessMode, TransactionMode,
};

/// Why a statement may not run: a SQLSTATE and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: &'static str,
    pub message: String,
}

/// SQLSTATE read_only_sql_transaction.
pub const READ_ONLY: &str = "25006";

/// Session settings that change how results are shown or how long a query
/// may run, never what the engine is: accepted from any client.
const HARMLESS: [&str; 20] = [
    "application_name",
    "bytea_output",
    "client_encoding",
    "client_min_messages",
    "datestyle",
    "default_transaction_isolation",
    "default_transaction_read_only",
    "extra_float_digits",
    "idle_in_transaction_session_timeout",
    "intervalstyle",
    "lc_messages",
    "lc_monetary",
    "lc_numeric",
    "lc_time",
    "lock_timeout",
    "search_path",
    "standard_conforming_strings",
    "statement_timeout",
    "timezone",
    "transaction_isolation",
];

/// Returns `Ok` when `statement` may run.
pub fn check(statement: &Statement) -> Result<(), Refused> {
    match statement {
        Statement::StartTransaction { modes, .. } => check_modes(modes),
        Statement::Commit { .. } | Statement::Rollback { .. } => Ok(()),
        Statement::ShowVariable { .. } => Ok(()),
        Statement::Fetch { .. } | Statement::Close { .. } => Ok(()),
        Statement::Declare { stmts } => {
            for declare in stmts {
                if let Some(query) = &declare.for_query {
                    read_only(&Statement::Query(query.clone()))?;
                }
            }
            Ok(())
        }
        Statement::Set(set) => check_set(set),
        other => read_only(other),
    }
}

fn read_only(statement: &Statement) -> Result<(), Refused> {
    readonly::check_statement(statement).map_err(|refusal| Refused {
        code: READ_ONLY,
        message: format!(
            "cannot execute {} in a read-only transaction: {refusal}",
            refusal.kind
        ),
    })
}

fn check_modes(modes: &[TransactionMode]) -> Result<(), Refused> {
    if modes.iter().any(|m| {
        matches!(
            m,
            TransactionMode::AccessMode(TransactionAccessMode::ReadWrite)
        )
    }) {
        return Err(Refused {
            code: READ_ONLY,
            message: "cannot start a READ WRITE transaction: revintel is read-only".into(),
        });
    }
    Ok(())
}

fn check_set(set: &Set) -> Result<(), Refused> {
    match set {
        Set::SingleAssignment {
            variable, values, ..
        } => {
            let name = variable.to_string().to_ascii_lowercase();
            let name = name.trim_matches('"');
            if name == "client_encoding" {
                return check_encoding(values.first());
            }
            if HARMLESS.contains(&name) {
                return Ok(());
            }
            if name.starts_with("datafusion.") {
                return Err(Refused {
                    code: "42501",
                    message: format!(
                        "permission denied to set parameter \"{name}\": the engine's settings \
                         are the server's (start revintel with DATAFUSION_* variables instead)"
                    ),
                });
            }
            Err(Refused {
                code: "42704",
                message: format!("unrecognized configuration parameter \"{name}\""),
            })
        }
        Set::SetTimeZone { .. } => Ok(()),
        Set::SetNames { charset_name, .. } => {
            check_encoding(Some(&Expr::Identifier(charset_name.clone())))
        }
        Set::SetTransaction { modes, .. } => check_modes(modes),
        other => Err(Refused {
            code: "0A000",
            message: format!("{other} is not supported"),
        }),
    }
}

/// Results go out as UTF-8 only.
fn check_encoding(value: Option<&Expr>) -> Result<(), Refused> {
    let text = value.map(|v| v.to_string()).unwrap_or_default();
    let name = text
        .trim_matches(|c| c == '\'' || c == '"')
        .to_ascii_lowercase()
        .replace(['-', '_'], "");
    if matches!(name.as_str(), "utf8" | "unicode" | "default") {
        Ok(())
    } else {
        Err(Refused {
            code: "22023",
            message: format!("client_encoding {text} is not supported: revintel sends UTF8"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

    fn verdict(sql: &str) -> Result<(), Refused> {
        let mut statements = PostgresCompatibilityParser::new()
            .parse(sql)
            .expect("test SQL parses");
        assert_eq!(statements.len(), 1, "{sql}");
        check(&statements.remove(0))
    }

    #[test]
    fn reads_and_session_statements_pass() {
        for sql in [
            "SELECT 1",
            "BEGIN",
            "BEGIN READ ONLY",
            "COMMIT",
            "ROLLBACK",
            "SET application_name = 'DBeaver'",
            "SET extra_float_digits = 3",
            "SET DateStyle = 'ISO, MDY'",
            "SET search_path = public",
            "SET statement_timeout = '5s'",
            "SET client_encoding = 'UTF8'",
            "SET TIME ZONE 'UTC'",
            "SHOW search_path",
            "DECLARE c CURSOR FOR SELECT 1",
            "FETCH FORWARD 10 FROM c",
            "CLOSE c",
        ] {
            assert_eq!(verdict(sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn writes_are_refused_as_read_only_with_the_reason() {
        for (sql, kind) in [
            ("INSERT INTO deals VALUES (1)", "INSERT"),
            ("UPDATE deals SET amount = 0", "UPDATE"),
            ("DELETE FROM deals", "DELETE"),
            ("CREATE TABLE t AS SELECT 1", "CREATE TABLE"),
            ("DROP VIEW deal_features", "DROP VIEW"),
            (
                "WITH x AS (SELECT 1) INSERT INTO deals SELECT * FROM x",
                "INSERT",
            ),
        ] {
            let refused = verdict(sql).expect_err(sql);
            assert_eq!(refused.code, READ_ONLY, "{sql}");
            assert!(refused.message.contains(kind), "{sql}: {}", refused.message);
            assert!(refused.message.contains("read-only"), "{}", refused.message);
        }
        assert_eq!(verdict("BEGIN READ WRITE").unwrap_err().code, READ_ONLY);
    }

    #[test]
    fn engine_settings_and_unknown_parameters_are_refused() {
        assert_eq!(
            verdict("SET datafusion.execution.batch_size = 1")
                .unwrap_err()
                .code,
            "42501"
        );
        assert_eq!(verdict("SET no_such_thing = 1").unwrap_err().code, "42704");
        assert_eq!(
            verdict("SET client_encoding = 'LATIN1'").unwrap_err().code,
            "22023"
        );
    }
}
