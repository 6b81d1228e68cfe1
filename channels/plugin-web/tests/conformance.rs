//! The plugin conformance kit (kez-channel-conformance) against the built `kez-channel-web`,
//! with the cases in channels/plugin-web/conformance.toml: one test per kit case.

use std::path::Path;
use std::process::ExitCode;

use kez_channel_conformance::plugin_kit::{plugin_trials, Cases, DEFAULT_TIMEOUT};

fn main() -> ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let cases_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance.toml");
    let cases = match Cases::load(&cases_path) {
        Ok(cases) => cases,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let plugin = Path::new(env!("CARGO_BIN_EXE_kez-channel-web"));
    let trials = plugin_trials(plugin, &cases, DEFAULT_TIMEOUT);
    if trials.len() < 20 {
        eprintln!(
            "expected the kit to build at least 20 cases, got {}",
            trials.len()
        );
        return ExitCode::FAILURE;
    }
    if libtest_mimic::run(&args, trials).has_failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
