//! `canon`: the RFC 8785 form of a strict I-JSON value (SPEC.md §2.1, §2.2).

use crate::cli::CanonArgs;
use crate::error::{CliError, CliResult, Status};
use crate::input;
use crate::output::{self, Ui};

/// Prints the canonical form of the input, with no trailing newline (the bytes are
/// exactly what KEZ signs and hashes). The output is JSON in either format.
pub(crate) fn run(_ui: &Ui, args: &CanonArgs) -> CliResult {
    let bytes = input::read(&args.input, input::MAX_INPUT)?;
    let canonical = kez_core::json::canonicalize_bytes(&bytes)
        .map_err(|e| CliError::Malformed(format!("{}: {e}", input::display_name(&args.input))))?;
    output::stdout(&canonical)?;
    Ok(Status::Ok)
}
