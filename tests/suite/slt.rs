//! Runs the sqllogictest files in `tests/slt/` against the tiny fixture
//! pipeline in `tests/fixtures/tiny`, through the same read-only query path
//! users get.

use crate::common::*;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use revintel::project::Project;
use revintel::query;
use revintel::session::Session;
use sqllogictest::{DBOutput, DefaultColumnType};
use std::path::PathBuf;

struct Revintel(Session);

#[derive(Debug)]
struct Failure(String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for Revintel {
    type Error = Failure;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Failure> {
        let mut results = query::run(&self.0.ctx, sql)
            .await
            .map_err(|e| Failure(e.to_string()))?;
        let result = results.pop().ok_or_else(|| Failure("no result".into()))?;
        if result.schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        let types = result
            .schema
            .fields()
            .iter()
            .map(|f| {
                if f.data_type().is_integer() {
                    DefaultColumnType::Integer
                } else if f.data_type().is_floating() {
                    DefaultColumnType::FloatingPoint
                } else {
                    DefaultColumnType::Text
                }
            })
            .collect();
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for batch in &result.batches {
            let formatters: Vec<_> = batch
                .columns()
                .iter()
                .map(|c| {
                    ArrayFormatter::try_new(c.as_ref(), &options)
                        .map_err(|e| Failure(e.to_string()))
                })
                .collect::<Result<_, _>>()?;
            for row in 0..batch.num_rows() {
                rows.push(
                    formatters
                        .iter()
                        .map(|f| f.value(row).to_string())
                        .collect(),
                );
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "revintel"
    }
}

/// Every `.slt` file, each against a fresh session over the tiny fixture.
#[tokio::test]
async fn sql_logic_tests() {
    let project = Project::discover(&fixture("tiny"), None).expect("the fixture has a config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/slt"))
        .expect("tests/slt exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in &files {
        let mut runner = sqllogictest::Runner::new(|| async {
            Ok(Revintel(
                Session::open(&project).await.expect("the fixture loads"),
            ))
        });
        if let Err(e) = runner.run_file_async(file).await {
            failures.push(format!("{}\n{e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(files.len() >= 4, "the .slt files were found: {files:?}");
}
