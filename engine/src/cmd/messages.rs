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
