//! `kez-channel-conformance`: the conformance kit for channel plugins (docs/CHANNEL-PLUGINS.md).
//!
//! ```text
//! kez-channel-conformance <plugin> <cases.toml> [--timeout <seconds>] [libtest options…]
//! ```
//!
//! Plays the host against the plugin executable `<plugin>`, one fresh process per case, and
//! prints libtest-style results. Exit status: 0 when every case passes, 101 when one fails,
//! 2 for a usage error or a case file that does not load.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use kez_channel_conformance::plugin_kit::{plugin_trials, Cases, DEFAULT_TIMEOUT};

const USAGE: &str =
    "usage: kez-channel-conformance <plugin> <cases.toml> [--timeout <seconds>] [libtest options…]

Runs the protocol conformance cases of docs/CHANNEL-PLUGINS.md against the plugin executable,
with the normalise and lookup cases of the case file. Exit status 0: all passed; 101: a case
failed; 2: usage error or a bad case file.";

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let program = args
        .next()
        .unwrap_or_else(|| "kez-channel-conformance".into());
    let mut positional = Vec::new();
    let mut rest = vec![program];
    let mut timeout = DEFAULT_TIMEOUT;
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("-h" | "--help") => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Some("--timeout") => {
                let seconds = args.next().and_then(|s| s.to_str()?.parse::<u64>().ok());
                match seconds {
                    Some(seconds) if seconds > 0 => timeout = Duration::from_secs(seconds),
                    _ => return usage("--timeout needs a whole number of seconds above 0"),
                }
            }
            Some(text) if positional.len() < 2 && !text.starts_with('-') => {
                positional.push(PathBuf::from(arg))
            }
            _ => rest.push(arg),
        }
    }
    let [plugin, cases] = match <[PathBuf; 2]>::try_from(positional) {
        Ok(pair) => pair,
        Err(_) => return usage("give the plugin executable and the case file"),
    };
    let cases = match Cases::load(&cases) {
        Ok(cases) => cases,
        Err(e) => {
            eprintln!("kez-channel-conformance: {e}");
            return ExitCode::from(2);
        }
    };
    let arguments = libtest_mimic::Arguments::from_iter(rest);
    let trials = plugin_trials(&plugin, &cases, timeout);
    if libtest_mimic::run(&arguments, trials).has_failed() {
        ExitCode::from(101)
    } else {
        ExitCode::SUCCESS
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("kez-channel-conformance: {problem}\n\n{USAGE}");
    ExitCode::from(2)
}
