//! The `irtlab` binary: with no subcommand it opens the desktop app; `fit`, `probabilities`,
//! `run`, `prepare` and `serve` run the same library code headless.

#![warn(clippy::unwrap_used, clippy::expect_used)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    irtlab::trace("start");
    let arguments = cli::Cli::parse();
    match cli::run(arguments) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, whatever the error carries: control characters escaped, length capped.
            eprintln!(
                "error: {}",
                irtlab::text::one_line(&format!("{error:#}"), 1000)
            );
            if cli::interrupted() {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
