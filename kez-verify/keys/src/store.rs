//! Key files on disk (SPEC.md §9): private, atomic writes and passphrase-aware reads.
//!
//! [`write_key_file`] writes a plaintext (§9.1) or passphrase-encrypted key file
//! with mode `0600` through [`write_atomic`], which the CLI also uses for every other
//! output file. [`read_key_file`] reads either kind, asking for a passphrase only when
//! the file is encrypted.
//!
//! Reading does not refuse a key file that group or others may read: a library cannot
//! warn, and refusing would lock people out of their own keys. [`KeyFileInfo`] carries
//! the file's mode so that the caller can warn (see [`KeyFileInfo::is_shared`]).

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use kez_core::SecretKey;
use zeroize::Zeroizing;

use crate::encrypted::{self, DecryptError, DecryptOptions, EncryptError, EncryptOptions};
use crate::keyfile::{self, KeyFileError};

/// The mode of every key file [`write_key_file`] writes: read and write for the owner only.
pub const KEY_FILE_MODE: u32 = 0o600;

/// The largest file [`read_key_file`] reads, in bytes (an armored encrypted key file of
/// [`keyfile::MAX_LEN`] bytes fits).
pub const MAX_FILE_LEN: usize = 64 * 1024;

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The file exists and replacing it was not asked for.
    #[error("{} exists; pass --force to replace it", path.display())]
    Exists {
        /// The file that exists.
        path: PathBuf,
    },
    /// The mode has bits beyond `0o7777` (a caller mistake).
    #[error("file mode {mode:#o} is not a permission mode (expected at most 0o7777)")]
    InvalidMode {
        /// The rejected mode.
        mode: u32,
    },
    /// The file system refused.
    #[error("cannot write {}: {error}", path.display())]
    Io {
        /// The file being written.
        path: PathBuf,
        /// What went wrong.
        #[source]
        error: io::Error,
    },
}

/// Why a key file could not be written or read. No variant carries secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The key could not be encrypted.
    #[error(transparent)]
    Encrypt(#[from] EncryptError),
    /// The file could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The file being read.
        path: PathBuf,
        /// What went wrong.
        #[source]
        error: io::Error,
    },
    /// The file is larger than [`MAX_FILE_LEN`], so it is not a key file.
    #[error("{} is larger than {MAX_FILE_LEN} bytes, so it is not a key file", path.display())]
    TooLarge {
        /// The file being read.
        path: PathBuf,
    },
    /// The passphrase provider failed.
    #[error("cannot get the passphrase for {}: {error}", path.display())]
    Passphrase {
        /// The encrypted key file.
        path: PathBuf,
        /// The provider's error.
        #[source]
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The plaintext key file is invalid.
    #[error("{}: {error}", path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        error: KeyFileError,
    },
    /// The encrypted key file could not be decrypted (including a wrong passphrase,
    /// [`DecryptError::WrongPassphrase`]).
    #[error("{}: {error}", path.display())]
    Decrypt {
        /// The key file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        error: DecryptError,
    },
}

/// What [`read_key_file`] learnt about the file besides the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyFileInfo {
    /// The file's permission bits (`0o7777` mask) on Unix; `None` elsewhere.
    pub mode: Option<u32>,
    /// Whether the file was passphrase-encrypted.
    pub encrypted: bool,
}

impl KeyFileInfo {
    /// Whether the group or others have any access to the file, which the caller should
    /// warn about (the file should be mode `0600`).
    pub fn is_shared(&self) -> bool {
        self.mode.is_some_and(|mode| mode & 0o077 != 0)
    }
}

/// Writes `bytes` to `path` atomically: no partial output is ever visible at `path`.
///
/// The bytes go to a temporary file in the same directory, created with mode `0600` and
/// then set to exactly `mode` (the umask does not apply) before anything is written;
/// the file is flushed to disk and then renamed over `path`. If anything fails, the
/// temporary file is removed and `path` is left as it was.
///
/// With `overwrite` false an existing `path` is never replaced ([`WriteError::Exists`]),
/// even if it appears while the file is being written. If `path` is a symbolic link,
/// the link itself is replaced, not its target. On platforms without Unix permissions
/// `mode` is checked but not applied.
pub fn write_atomic(
    path: impl AsRef<Path>,
    bytes: &[u8],
    mode: u32,
    overwrite: bool,
) -> Result<(), WriteError> {
    let path = path.as_ref();
    if mode > 0o7777 {
        return Err(WriteError::InvalidMode { mode });
    }
    let io_error = |error| WriteError::Io {
        path: path.to_owned(),
        error,
    };
    let exists = || WriteError::Exists {
        path: path.to_owned(),
    };
    let name = path.file_name().ok_or_else(|| {
        io_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path does not name a file",
        ))
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !overwrite && path.symlink_metadata().is_ok() {
        return Err(exists());
    }

    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    let mut temp = builder.tempfile_in(dir).map_err(io_error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io_error)?;
    }
    temp.write_all(bytes).map_err(io_error)?;
    temp.as_file().sync_all().map_err(io_error)?;

    let persisted = if overwrite {
        temp.persist(path)
    } else {
        temp.persist_noclobber(path)
    };
    match persisted {
        Ok(_) => {}
        Err(e) if !overwrite && e.error.kind() == io::ErrorKind::AlreadyExists => {
            return Err(exists())
        }
        Err(e) => return Err(io_error(e.error)),
    }
    // Make the rename durable. Some file systems cannot sync a directory; the file
    // itself is already on disk, so that is not worth failing over.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Writes `key` to `path` as a key file with mode `0600`, atomically (see
/// [`write_atomic`]): plaintext (SPEC.md §9.1), or encrypted to a passphrase ([`encrypted`]) when
/// `encryption` is given.
///
/// With `overwrite` false an existing file is refused before any (slow) encryption.
pub fn write_key_file(
    path: impl AsRef<Path>,
    key: &SecretKey,
    encryption: Option<(&SecretString, EncryptOptions)>,
    overwrite: bool,
) -> Result<(), StoreError> {
    let path = path.as_ref();
    if !overwrite && path.symlink_metadata().is_ok() {
        return Err(WriteError::Exists {
            path: path.to_owned(),
        }
        .into());
    }
    match encryption {
        Some((passphrase, options)) => {
            let armored = encrypted::encrypt(key, passphrase, options)?;
            write_atomic(path, armored.as_bytes(), KEY_FILE_MODE, overwrite)?;
        }
        None => {
            let text = keyfile::encode(key);
            write_atomic(path, text.as_bytes(), KEY_FILE_MODE, overwrite)?;
        }
    }
    Ok(())
}

/// Reads a key file, plaintext or encrypted, with [`DecryptOptions::default`].
///
/// `passphrase` is called only if the file is encrypted. Files that group or others
/// may read are not refused; see [`KeyFileInfo::is_shared`].
pub fn read_key_file<E>(
    path: impl AsRef<Path>,
    passphrase: impl FnOnce() -> Result<SecretString, E>,
) -> Result<(SecretKey, KeyFileInfo), StoreError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    read_key_file_with(path, DecryptOptions::default(), passphrase)
}

/// Reads a key file like [`read_key_file`], decrypting with `options`.
pub fn read_key_file_with<E>(
    path: impl AsRef<Path>,
    options: DecryptOptions,
    passphrase: impl FnOnce() -> Result<SecretString, E>,
) -> Result<(SecretKey, KeyFileInfo), StoreError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let path = path.as_ref();
    let read_error = |error| StoreError::Read {
        path: path.to_owned(),
        error,
    };
    let file = File::open(path).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt as _;
        Some(metadata.permissions().mode() & 0o7777)
    };
    #[cfg(not(unix))]
    let mode = {
        let _ = &metadata;
        None
    };

    // Allocate once so that no unzeroized copy is left behind by growth.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_FILE_LEN + 1));
    file.take(MAX_FILE_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() > MAX_FILE_LEN {
        return Err(StoreError::TooLarge {
            path: path.to_owned(),
        });
    }

    let encrypted = encrypted::is_age(&bytes);
    let key = if encrypted {
        let passphrase = passphrase().map_err(|e| StoreError::Passphrase {
            path: path.to_owned(),
            error: e.into(),
        })?;
        encrypted::decrypt(&bytes, &passphrase, options).map_err(|error| StoreError::Decrypt {
            path: path.to_owned(),
            error,
        })?
    } else {
        keyfile::parse_bytes(&bytes).map_err(|error| StoreError::KeyFile {
            path: path.to_owned(),
            error,
        })?
    };
    Ok((key, KeyFileInfo { mode, encrypted }))
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn write_atomic_sets_the_exact_mode() {
        let dir = tempfile::tempdir().unwrap();
        for (name, m) in [("a", 0o600), ("b", 0o644), ("c", 0o400)] {
            let path = dir.path().join(name);
            write_atomic(&path, b"hello", m, false).unwrap();
            assert_eq!(mode(&path), m, "{name}");
            assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        }
    }

    #[test]
    fn write_atomic_replaces_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_atomic(&path, b"one", 0o644, false).unwrap();
        let err = write_atomic(&path, b"two", 0o644, false).unwrap_err();
        assert!(
            matches!(&err, WriteError::Exists { path: p } if p == &path),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("{} exists; pass --force to replace it", path.display())
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_atomic(&path, b"two", 0o644, true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("out.json")]);
    }

    #[test]
    fn write_atomic_failure_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("out");
        let err = write_atomic(&path, b"x", 0o600, false).unwrap_err();
        assert!(matches!(err, WriteError::Io { .. }), "{err:?}");
        assert!(!path.exists());
    }

    #[test]
    fn write_atomic_rejects_bad_modes_and_paths() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(dir.path().join("x"), b"x", 0o10000, false).unwrap_err();
        assert!(
            matches!(err, WriteError::InvalidMode { mode: 0o10000 }),
            "{err:?}"
        );
        let err = write_atomic(Path::new("/"), b"x", 0o600, true).unwrap_err();
        assert!(matches!(err, WriteError::Io { .. }), "{err:?}");
    }

    #[test]
    fn info_reports_sharing() {
        let private = KeyFileInfo {
            mode: Some(0o600),
            encrypted: false,
        };
        let shared = KeyFileInfo {
            mode: Some(0o640),
            encrypted: false,
        };
        let unknown = KeyFileInfo {
            mode: None,
            encrypted: true,
        };
        assert!(!private.is_shared());
        assert!(shared.is_shared());
        assert!(!unknown.is_shared());
    }
}
