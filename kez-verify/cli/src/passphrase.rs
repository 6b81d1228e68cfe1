//! Where passphrases come from, in order: `$KEZ_PASSPHRASE`, `--passphrase-file`
//! (its first line), or a prompt on the terminal when stdin is one.
//!
//! `$KEZ_SCRYPT_WORK_FACTOR` sets the scrypt work factor `log2(N)` used when
//! encrypting (default: age's, calibrated to about a second).

use std::io::IsTerminal as _;
use std::path::Path;

use kez_keys::encrypted::{EncryptOptions, MAX_WORK_FACTOR};
use kez_keys::SecretString;
use zeroize::Zeroizing;

use crate::error::CliError;
use crate::input;

/// The environment variable holding the passphrase.
pub(crate) const PASSPHRASE_ENV: &str = "KEZ_PASSPHRASE";

/// The environment variable holding the scrypt work factor for encryption.
pub(crate) const WORK_FACTOR_ENV: &str = "KEZ_SCRYPT_WORK_FACTOR";

/// The largest passphrase file read, in bytes.
const MAX_PASSPHRASE_FILE: u64 = 64 * 1024;

/// Gets a passphrase for `what` (a file name, for the prompt). With `confirm`, a
/// prompted passphrase is asked twice and must match.
pub(crate) fn obtain(
    file: Option<&Path>,
    what: &str,
    confirm: bool,
) -> Result<SecretString, CliError> {
    if let Some(value) = std::env::var_os(PASSPHRASE_ENV) {
        let value = value
            .into_string()
            .map_err(|_| CliError::Usage(format!("${PASSPHRASE_ENV} is not valid UTF-8")))?;
        return Ok(SecretString::from(value));
    }
    if let Some(path) = file {
        return from_file(path);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!(
            "no passphrase source: set ${PASSPHRASE_ENV}, pass --passphrase-file FILE, \
             or run in a terminal to be prompted"
        )));
    }
    let first = Zeroizing::new(prompt(&format!("passphrase for {what}: "))?);
    if confirm {
        let second = Zeroizing::new(prompt("repeat the passphrase: ")?);
        if *first != *second {
            return Err(CliError::Usage("the two passphrases do not match".into()));
        }
    }
    Ok(SecretString::from(first.to_string()))
}

fn prompt(text: &str) -> Result<String, CliError> {
    rpassword::prompt_password(text)
        .map_err(|e| CliError::Io(format!("cannot read the passphrase from the terminal: {e}")))
}

fn from_file(path: &Path) -> Result<SecretString, CliError> {
    let bytes = Zeroizing::new(input::read(path, MAX_PASSPHRASE_FILE)?);
    let name = path.display();
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| CliError::Malformed(format!("passphrase file {name} is not UTF-8 text")))?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(CliError::Malformed(format!(
            "passphrase file {name}: the first line is empty"
        )));
    }
    Ok(SecretString::from(line.to_owned()))
}

/// The encryption options: the work factor from `$KEZ_SCRYPT_WORK_FACTOR`, if set.
pub(crate) fn encrypt_options() -> Result<EncryptOptions, CliError> {
    let Some(value) = std::env::var_os(WORK_FACTOR_ENV) else {
        return Ok(EncryptOptions::default());
    };
    let value = value.to_string_lossy();
    match value.trim().parse::<u8>() {
        Ok(w) if (1..=MAX_WORK_FACTOR).contains(&w) => Ok(EncryptOptions {
            work_factor: Some(w),
        }),
        _ => Err(CliError::Usage(format!(
            "${WORK_FACTOR_ENV}: expected an integer from 1 to {MAX_WORK_FACTOR}, found {value:?}"
        ))),
    }
}
