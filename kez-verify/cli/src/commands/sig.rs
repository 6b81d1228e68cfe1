//! `sig verify` and `sig sign`: raw signatures in either suite (SPEC.md §4).

use kez_core::{Algorithm, PublicKey, SecretKey, Signature};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::{SigCommand, SigSignArgs, SigVerifyArgs};
use crate::error::{CliError, CliResult, Status};
use crate::hexarg;
use crate::output::{self, Paint, Ui};

/// Runs a `sig` command.
pub(crate) fn run(ui: &Ui, command: SigCommand) -> CliResult {
    match command {
        SigCommand::Verify(args) => verify(ui, &args),
        SigCommand::Sign(args) => sign(ui, args),
    }
}

#[derive(Serialize)]
struct VerifyReport {
    valid: bool,
    reason: Option<String>,
}

fn verify(ui: &Ui, args: &SigVerifyArgs) -> CliResult {
    let algorithm = Algorithm::from(args.alg);
    let public = hexarg::decode_array::<32>("--pub", &args.public)?;
    let message = hexarg::decode("--msg", &args.msg, None)?;
    let signature = Signature(hexarg::decode_array::<64>("--sig", &args.sig)?);
    // Well-formed bytes that are not an acceptable key are an invalid signature, not
    // malformed input: nothing verifies under them.
    let result = PublicKey::from_bytes(algorithm, &public)
        .map_err(|e| e.to_string())
        .and_then(|key| {
            key.verify_raw(&message, &signature)
                .map_err(|e| e.to_string())
        });
    let report = VerifyReport {
        valid: result.is_ok(),
        reason: result.err(),
    };
    let text = if ui.json() {
        output::to_json(&report)?
    } else {
        match &report.reason {
            None => format!("{}\n", ui.paint("valid", Paint::Green)),
            Some(reason) => format!("{}: {reason}\n", ui.paint("invalid", Paint::Red)),
        }
    };
    output::stdout(text.as_bytes())?;
    Ok(if report.valid {
        Status::Ok
    } else {
        Status::NotValid
    })
}

fn sign(ui: &Ui, mut args: SigSignArgs) -> CliResult {
    let algorithm = Algorithm::from(args.alg);
    let secret_text = Zeroizing::new(std::mem::take(&mut args.secret));
    let secret = hexarg::decode_secret("--secret", &secret_text)?;
    let key = SecretKey::from_bytes(algorithm, &secret)
        .map_err(|e| CliError::Malformed(format!("--secret: {e}")))?;
    let message = hexarg::decode("--msg", &args.msg, None)?;
    let aux = match (&args.aux, algorithm) {
        (None, _) => None,
        (Some(aux), Algorithm::Bip340) => Some(hexarg::decode_array::<32>("--aux", aux)?),
        (Some(_), Algorithm::Ed25519) => {
            return Err(CliError::Usage(
                "--aux is for bip340 only; ed25519 signatures are deterministic".into(),
            ))
        }
    };
    let signature = key.sign_raw(&message, aux.as_ref());
    let text = if ui.json() {
        output::to_json(&serde_json::json!({ "signature": signature.to_hex() }))?
    } else {
        format!("{}\n", signature.to_hex())
    };
    output::stdout(text.as_bytes())?;
    Ok(Status::Ok)
}
