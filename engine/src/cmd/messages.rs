//! Everything the binary says, in one place: log and result lines on
//! stdout (`say!`), errors, warnings and progress on stderr (`tell!`).
//!
//! Both pass the text through [`terminal_safe`]: messages quote CRM data
//! (deal names, rejected values, file paths), and a control character in
//! them must not drive the terminal — retitle it, move the cursor, or write
//! to the clipboard. A reader that went away (`revintel … | head`) ends the
//! output quietly instead of a panic.

use revintel::output::terminal_safe;
use std::io::Write;

/// Prints a line on stdout, made safe for a terminal.
macro_rules! say {
    () => {
        $crate::cmd::messages::stdout_line("")
    };
    ($($arg:tt)*) => {
        $crate::cmd::messages::stdout_line(&format!($($arg)*))
    };
}

/// Prints a line on stderr, made safe for a terminal.
macro_rules! tell {
    ($($arg:tt)*) => {
        $crate::cmd::messages::stderr_line(&format!($($arg)*))
    };
}

pub fn stdout_line(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{}", terminal_safe(text));
}

pub fn stderr_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", terminal_safe(text));
}

/// An error and its causes, joined by ": ", each cause said once: most of
/// our errors already quote their source in their own message, and
/// repeating it ("… (os error 2): No such file … (os error 2)") reads like
/// two failures.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

/// Progress of a long job on stderr: a bar redrawn in place on a terminal;
/// elsewhere (logs, CI) a line at every tenth of the way, so a log shows
/// progress without a line per step.
pub fn progress(done: usize, total: usize, text: &str) {
    use std::io::IsTerminal;
    let mut err = std::io::stderr().lock();
    if err.is_terminal() {
        const WIDTH: usize = 30;
        let filled = (done * WIDTH)
            .checked_div(total)
            .unwrap_or(WIDTH)
            .min(WIDTH);
        let _ = write!(
            err,
            "\r\x1b[2K[{}{}] {done}/{total} {}",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            terminal_safe(text)
        );
        if done >= total {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    } else {
        let tenth = |d: usize| (d * 10).checked_div(total).unwrap_or(10);
        if done == 0 || done >= total || (done > 0 && tenth(done) != tenth(done - 1)) {
            let _ = writeln!(err, "[{done}/{total}] {}", terminal_safe(text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read the templates folder t: {source}")]
    struct Quoting {
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn each_cause_is_said_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let quoting = anyhow::Error::new(Quoting { source: io() });
        assert_eq!(
            error_text(&quoting),
            "cannot read the templates folder t: no such file"
        );
        // A cause the message does not quote is still given.
        let bare = anyhow::Error::new(io()).context("loading deals.csv");
        assert_eq!(error_text(&bare), "loading deals.csv: no such file");
    }
}
