//! The `revintel` command line: parses arguments and hands each subcommand
//! to its module in `cmd/`. Errors surface here, once, for the terminal.

mod cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    // SQL is planned on the thread that drives the runtime and run on its
    // workers: all get the stack that `query::nesting` was sized for,
    // whatever the environment's default.
    let stack = revintel::query::STACK_SIZE;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(stack)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            cmd::messages::stderr_line(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let driver = std::thread::Builder::new()
        .name("revintel".into())
        .stack_size(stack)
        .spawn(move || runtime.block_on(cmd::run(cli)));
    let result = match driver.map(|d| d.join()) {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(e) => {
            cmd::messages::stderr_line(&format!("error: cannot start the main thread: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            cmd::messages::stderr_line(&format!("error: {}", cmd::messages::error_text(&e)));
            ExitCode::FAILURE
        }
    }
}
