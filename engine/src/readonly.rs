//! The read-only rule: only statements that read run.
//!
//! revintel never writes to a CRM, a file or the session's catalog from SQL.
//! The decision is made on the parsed statement — never on the text — and
//! before anything is planned, so a refused statement has no effect at all.
//! Nested statements count too: `WITH … INSERT`, `SELECT … INTO` and
//! `EXPLAIN ANALYZE DELETE …` are refused like their plain forms. (Planning
//! additionally runs with DDL, DML and session statements disabled, as a
//! second line of defence.)

use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Query, SetExpr, Statement, Visit, Visitor};
use std::ops::ControlFlow;

/// Why a statement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{kind} is not allowed: revintel is read-only, so only queries run \
     (SELECT, WITH, VALUES, EXPLAIN, SHOW, DESCRIBE)"
)]
pub struct Refusal {
    /// The statement kind, as SQL keywords (e.g. `INSERT`, `CREATE TABLE`).
    pub kind: String,
}

/// Returns `Ok` when `statement` only reads.
pub fn check(statement: &DfStatement) -> Result<(), Refusal> {
    match statement {
        DfStatement::Statement(s) => check_sql(s),
        DfStatement::Explain(e) => check(&e.statement),
        DfStatement::CreateExternalTable(_) => refuse("CREATE EXTERNAL TABLE"),
        DfStatement::CopyTo(_) => refuse("COPY"),
        DfStatement::Reset(_) => refuse("RESET"),
    }
}

fn refuse(kind: &str) -> Result<(), Refusal> {
    Err(Refusal {
        kind: kind.to_string(),
    })
}

/// Statements that only read, judged on their own (nested parts are
/// checked separately by [`WriteFinder`]).
fn reads_only(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::Query(_)
            | Statement::Explain { .. }
            | Statement::ShowTables { .. }
            | Statement::ShowColumns { .. }
            | Statement::ShowFunctions { .. }
            | Statement::ShowVariable { .. }
            | Statement::ShowVariables { .. }
            | Statement::ShowViews { .. }
            | Statement::ShowSchemas { .. }
            | Statement::ShowDatabases { .. }
            | Statement::ShowCatalogs { .. }
            | Statement::ExplainTable { .. }
    )
}

/// [`check`] for a statement parsed by plain sqlparser (the PostgreSQL
/// endpoint parses with PostgreSQL's dialect).
pub fn check_statement(statement: &Statement) -> Result<(), Refusal> {
    check_sql(statement)
}

fn check_sql(statement: &Statement) -> Result<(), Refusal> {
    // The visitor sees the statement itself first, then every nested one:
    // `EXPLAIN ANALYZE DELETE …`, `WITH x AS (…) INSERT …`, `SELECT … INTO t`.
    match statement.visit(&mut WriteFinder) {
        ControlFlow::Break(kind) => Err(Refusal { kind }),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// The leading keywords of a statement's canonical SQL form, e.g.
/// `CREATE TABLE`: derived from the parsed statement, not from user text.
fn kind_of(statement: &Statement) -> String {
    let canonical = statement.to_string();
    let mut words = canonical.split_whitespace();
    let first = words.next().unwrap_or("statement").to_ascii_uppercase();
    match first.as_str() {
        "CREATE" | "DROP" | "ALTER" | "SHOW" => {
            let mut kind = first;
            for w in words.take(3) {
                let w = w.to_ascii_uppercase();
                let keyword = matches!(
                    w.as_str(),
                    "OR" | "REPLACE"
                        | "TEMPORARY"
                        | "TEMP"
                        | "EXTERNAL"
                        | "UNIQUE"
                        | "MATERIALIZED"
                        | "TABLE"
                        | "VIEW"
                        | "SCHEMA"
                        | "DATABASE"
                        | "FUNCTION"
                        | "INDEX"
                        | "CATALOG"
                );
                if !keyword {
                    break;
                }
                kind.push(' ');
                kind.push_str(&w);
                if matches!(
                    w.as_str(),
                    "TABLE" | "VIEW" | "SCHEMA" | "DATABASE" | "FUNCTION" | "INDEX" | "CATALOG"
                ) {
                    break;
                }
            }
            kind
        }
        _ => first,
    }
}

/// Finds a writing statement or `SELECT … INTO` anywhere inside a query.
struct WriteFinder;

impl Visitor for WriteFinder {
    type Break = String;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<String> {
        if reads_only(statement) {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(kind_of(statement))
        }
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<String> {
        find_write_in_set_expr(&query.body)
    }
}

fn find_write_in_set_expr(body: &SetExpr) -> ControlFlow<String> {
    match body {
        SetExpr::Select(select) if select.into.is_some() => {
            ControlFlow::Break("SELECT INTO".into())
        }
        SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) | SetExpr::Merge(s) => {
            ControlFlow::Break(kind_of(s))
        }
        SetExpr::SetOperation { left, right, .. } => {
            find_write_in_set_expr(left)?;
            find_write_in_set_expr(right)
        }
        _ => ControlFlow::Continue(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParser;

    fn verdict(sql: &str) -> Result<(), Refusal> {
        let mut statements = DFParser::parse_sql(sql).expect("test SQL parses");
        assert_eq!(statements.len(), 1, "{sql}");
        check(&statements.pop_front().unwrap())
    }

    #[test]
    fn reads_are_allowed() {
        for sql in [
            "SELECT 1",
            "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
            "SELECT * FROM deals UNION ALL SELECT * FROM deals",
            "VALUES (1), (2)",
            "EXPLAIN SELECT * FROM deals",
            "EXPLAIN ANALYZE SELECT * FROM deals",
            "SHOW TABLES",
            "SHOW COLUMNS FROM deals",
            "DESCRIBE deals",
        ] {
            assert_eq!(verdict(sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn every_write_kind_is_refused_with_its_name() {
        let cases = [
            ("INSERT INTO deals VALUES (1)", "INSERT"),
            ("UPDATE deals SET amount = 0", "UPDATE"),
            ("DELETE FROM deals", "DELETE"),
            ("DROP TABLE deals", "DROP TABLE"),
            ("DROP VIEW deal_features", "DROP VIEW"),
            ("CREATE TABLE t (a INT)", "CREATE TABLE"),
            ("CREATE TABLE t AS SELECT * FROM deals", "CREATE TABLE"),
            (
                "CREATE OR REPLACE VIEW v AS SELECT 1",
                "CREATE OR REPLACE VIEW",
            ),
            (
                "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/tmp/x.csv'",
                "CREATE EXTERNAL TABLE",
            ),
            ("COPY deals TO '/tmp/deals.csv'", "COPY"),
            ("TRUNCATE TABLE deals", "TRUNCATE"),
            ("ALTER TABLE deals ADD COLUMN x INT", "ALTER TABLE"),
            ("SET datafusion.execution.batch_size = 1", "SET"),
            ("CREATE SCHEMA s", "CREATE SCHEMA"),
            ("SELECT * INTO t FROM deals", "SELECT INTO"),
            (
                "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
                "INSERT",
            ),
            ("EXPLAIN ANALYZE DELETE FROM deals", "DELETE"),
            ("EXPLAIN COPY deals TO '/tmp/x.csv'", "COPY"),
        ];
        for (sql, kind) in cases {
            match verdict(sql) {
                Err(r) => assert_eq!(r.kind, kind, "{sql}"),
                Ok(()) => panic!("{sql} was allowed"),
            }
        }
    }

    #[test]
    fn refusal_message_says_what_runs() {
        let msg = verdict("DELETE FROM deals").unwrap_err().to_string();
        assert!(
            msg.starts_with("DELETE is not allowed") && msg.contains("read-only"),
            "{msg}"
        );
    }
}
