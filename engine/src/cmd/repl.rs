//! The interactive SQL shell: line editing and history (rustyline),
//! statements that may span lines and end with `;`, and backslash commands.
//! A bad statement prints its located error and the shell carries on.

use revintel::output::{self, Format, OutputOptions};
use revintel::query;
use revintel::session::Session;
use rustyline::error::ReadlineError;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const HELP: &str = "\
Statements end with `;` and may span several lines. Only queries run.
  \\d            list tables and views with their columns
  \\d NAME       describe one table or view
  \\format F     print results as table, csv or json
  \\c            clear the statement being typed (also Ctrl-C)
  \\?            this help
  \\q            quit (also Ctrl-D)";

/// Where the shell keeps its history: `$REVINTEL_HISTORY`, else
/// `~/.revintel_history`.
fn history_path() -> Option<PathBuf> {
    std::env::var_os("REVINTEL_HISTORY")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".revintel_history")))
}

pub async fn run(session: &Session, mut options: OutputOptions) -> anyhow::Result<ExitCode> {
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is normal on first use.
        let _ = editor.load_history(path);
    }
    tell!(
        "revintel SQL shell — pipeline as of {}. \\d lists tables, \\? helps, \\q quits.",
        session.as_of
    );
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "revintel> "
        } else {
            "      ..> "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            match command(session, trimmed, &mut options).await {
                Flow::Quit => break,
                Flow::Continue => continue,
            }
        }
        if buffer.is_empty() && matches!(trimmed, "exit" | "quit") {
            break;
        }
        if trimmed.is_empty() && buffer.is_empty() {
            continue;
        }
        if !buffer.is_empty() {
            buffer.push('\n');
        }
        buffer.push_str(&line);
        if !trimmed.ends_with(';') {
            continue;
        }
        let _ = editor.add_history_entry(buffer.as_str());
        execute(session, &buffer, &options).await;
        buffer.clear();
    }
    if let Some(path) = &history {
        if let Err(e) = editor.save_history(path) {
            tell!("warning: {}: cannot save the history: {e}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

enum Flow {
    Continue,
    Quit,
}

async fn execute(session: &Session, sql: &str, options: &OutputOptions) {
    let statements = match query::prepare(sql) {
        Ok(statements) => statements,
        Err(e) => {
            tell!("{}", e.render(sql, "<input>"));
            return;
        }
    };
    // The shell prints to a terminal: CSV and JSON are shown safely too.
    let mut out = output::TerminalWriter::new(std::io::stdout().lock());
    for statement in statements {
        let written = match query::execute(&session.ctx, statement, None).await {
            Ok(stream) => output::write_stream(&mut out, stream, options).await,
            Err(e) => Err(e.into()),
        };
        let _ = out.flush();
        match written {
            Ok(_) => {}
            Err(output::OutputError::Query(e)) => {
                tell!("{}", e.render(sql, "<input>"));
                return;
            }
            Err(e) => {
                tell!("error: {e}");
                return;
            }
        }
    }
}

async fn command(session: &Session, line: &str, options: &mut OutputOptions) -> Flow {
    let mut words = line.split_whitespace();
    let name = words.next().unwrap_or("");
    let arg = words.next();
    match (name, arg) {
        ("\\q", _) => return Flow::Quit,
        ("\\?" | "\\h" | "\\help", _) => tell!("{HELP}"),
        ("\\c", _) => {}
        ("\\d", None) => execute(session, LIST_COLUMNS, &OutputOptions::new(Format::Table)).await,
        ("\\d", Some(table)) => {
            // Bound as a literal after escaping quotes: the name is data, not SQL.
            let sql = format!(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = '{}' ORDER BY ordinal_position;",
                table.replace('\'', "''")
            );
            execute(session, &sql, &OutputOptions::new(Format::Table)).await;
        }
        ("\\format", Some(f)) => match <Format as clap::ValueEnum>::from_str(f, true) {
            Ok(f) => options.format = f,
            Err(_) => tell!("error: unknown format `{f}`; use table, csv or json"),
        },
        _ => tell!("error: unknown command `{line}`; \\? lists the commands"),
    }
    Flow::Continue
}

/// Tables and views with their columns, one line per table.
const LIST_COLUMNS: &str = "SELECT t.table_name, t.table_type, \
    string_agg(c.column_name || ' ' || c.data_type, ', ' ORDER BY c.ordinal_position) AS columns \
    FROM information_schema.tables t \
    JOIN information_schema.columns c ON c.table_schema = t.table_schema AND c.table_name = t.table_name \
    WHERE t.table_schema = 'public' \
    GROUP BY t.table_name, t.table_type ORDER BY t.table_name;";
