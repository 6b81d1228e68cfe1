//! Key files for commands: read with a passphrase when encrypted, warn when others can
//! read them, write with mode 0600 (SPEC.md §9, through `kez_keys::store`).

use std::path::Path;

use kez_core::SecretKey;
use kez_keys::encrypted::{DecryptError, EncryptError};
use kez_keys::store::{self, KeyFileInfo, StoreError, WriteError};

use crate::cli::{EncryptArgs, PassphraseSource};
use crate::error::CliError;
use crate::output;
use crate::passphrase;

/// Reads the key file at `path`, asking for a passphrase only if it is encrypted, and
/// warns on stderr if group or others may read it.
pub(crate) fn load(
    path: &Path,
    source: &PassphraseSource,
) -> Result<(SecretKey, KeyFileInfo), CliError> {
    let what = path.display().to_string();
    let (key, info) = store::read_key_file(path, || {
        passphrase::obtain(source.passphrase_file.as_deref(), &what, false)
    })
    .map_err(store_error)?;
    if info.is_shared() {
        output::warn(&format!(
            "{what} is readable by group or others (mode {:04o}); run `chmod 600 {what}`",
            info.mode.unwrap_or_default()
        ));
    }
    Ok((key, info))
}

/// Reads just the key of the key file at `path`; see [`load`].
pub(crate) fn load_key(path: &Path, source: &PassphraseSource) -> Result<SecretKey, CliError> {
    load(path, source).map(|(key, _)| key)
}

/// Writes `key` to `path` (mode 0600, atomically), encrypted if asked. Returns whether
/// the file is encrypted.
pub(crate) fn write(
    path: &Path,
    key: &SecretKey,
    encrypt: &EncryptArgs,
    force: bool,
) -> Result<bool, CliError> {
    refuse_existing(path, force)?;
    if encrypt.passphrase {
        let options = passphrase::encrypt_options()?;
        let what = path.display().to_string();
        let secret = passphrase::obtain(encrypt.passphrase_file.as_deref(), &what, true).map_err(
            |e| match e {
                CliError::Usage(m) => {
                    CliError::Usage(format!("cannot get a passphrase for {what}: {m}"))
                }
                other => other,
            },
        )?;
        store::write_key_file(path, key, Some((&secret, options)), force).map_err(store_error)?;
    } else {
        store::write_key_file(path, key, None, force).map_err(store_error)?;
    }
    Ok(encrypt.passphrase)
}

/// Refuses early, before any key is read or passphrase asked for, to replace a file
/// that exists unless `force` is given. `store::write_atomic` checks again when writing.
pub(crate) fn refuse_existing(path: &Path, force: bool) -> Result<(), CliError> {
    if !force && path.symlink_metadata().is_ok() {
        return Err(write_error(WriteError::Exists {
            path: path.to_owned(),
        }));
    }
    Ok(())
}

/// Maps a store error to the CLI's kinds. The messages already name the file.
pub(crate) fn store_error(error: StoreError) -> CliError {
    let message = error.to_string();
    match error {
        StoreError::Write(WriteError::Exists { .. })
        | StoreError::Passphrase { .. }
        | StoreError::Encrypt(EncryptError::EmptyPassphrase | EncryptError::WorkFactor(_))
        | StoreError::Decrypt {
            error: DecryptError::WrongPassphrase,
            ..
        } => CliError::Usage(message),
        StoreError::TooLarge { .. } | StoreError::KeyFile { .. } | StoreError::Decrypt { .. } => {
            CliError::Malformed(message)
        }
        _ => CliError::Io(message),
    }
}

/// Maps a write error (of a non-key file) to the CLI's kinds.
pub(crate) fn write_error(error: WriteError) -> CliError {
    match error {
        WriteError::Exists { .. } => CliError::Usage(error.to_string()),
        other => CliError::Io(other.to_string()),
    }
}
