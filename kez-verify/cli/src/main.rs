//! `kez-verify`: canonicalise, sign and verify KEZ claims and sigchains (SPEC.md v0.2).
//!
//! The protocol lives in `kez-core` and the key files in `kez-keys`; this crate parses
//! the command line, reads and writes files, and renders results. Exit codes follow
//! SPEC.md §8.6 (see [`error`]); the JSON output is described in `docs/CLI.md`.

mod adapter;
mod chain;
mod cli;
mod clock;
mod commands;
mod error;
mod hexarg;
mod input;
mod keystore;
mod output;
mod passphrase;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // clap prints its own usage errors and exits 2 (0 for --help and --version).
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(status) => status.into(),
        Err(error) => {
            output::stderr_line(&format!("error: {error}"));
            error.status().into()
        }
    }
}
