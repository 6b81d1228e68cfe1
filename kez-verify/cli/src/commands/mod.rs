//! One module per command group; each turns parsed arguments into output and a
//! [`Status`](crate::error::Status).

mod canon;
mod claim;
mod demo;
pub(crate) mod id;
mod key;
pub(crate) mod nats;
pub(crate) mod replay;
mod sig;
mod sigchain;

pub(crate) use claim::decode_input;

use crate::cli::{Cli, Command};
use crate::error::CliResult;
use crate::output::Ui;

/// Runs the parsed command line.
pub(crate) fn run(cli: Cli) -> CliResult {
    let ui = Ui::detect(cli.format);
    if cli.format == crate::cli::Format::Junit && !matches!(cli.command, Command::Replay(_)) {
        return Err(crate::error::CliError::Usage(
            "--format junit applies to `replay` only".into(),
        ));
    }
    match cli.command {
        Command::Canon(args) => canon::run(&ui, &args),
        Command::Sig(command) => sig::run(&ui, command),
        Command::Key(command) => key::run(&ui, command),
        Command::Claim(command) => claim::run(&ui, command),
        Command::Sigchain(command) => sigchain::run(&ui, command),
        Command::Id(args) => id::run(&ui, &args),
        Command::Demo => demo::run(&ui),
        Command::Replay(args) => replay::run(&ui, &args),
        Command::Suite(command) => replay::run_suite(&ui, &command),
        Command::Nats(command) => nats::run(&ui, command),
        Command::Adapter => crate::adapter::run(),
    }
}
