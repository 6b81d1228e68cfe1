//! One module per command group; each turns parsed arguments into output and a
//! [`Status`](crate::error::Status).

mod canon;
mod claim;
mod demo;
mod key;
mod sig;
mod sigchain;

use crate::cli::{Cli, Command};
use crate::error::CliResult;
use crate::output::Ui;

/// Runs the parsed command line.
pub(crate) fn run(cli: Cli) -> CliResult {
    let ui = Ui::detect(cli.format);
    match cli.command {
        Command::Canon(args) => canon::run(&ui, &args),
        Command::Sig(command) => sig::run(&ui, command),
        Command::Key(command) => key::run(&ui, command),
        Command::Claim(command) => claim::run(&ui, command),
        Command::Sigchain(command) => sigchain::run(&ui, command),
        Command::Demo => demo::run(&ui),
    }
}
