//! Reading input files, or standard input for `-`, with a size cap.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::error::CliError;

/// The largest claim or JSON input read, in bytes.
pub(crate) const MAX_INPUT: u64 = 1024 * 1024;

/// The largest sigchain file read, in bytes.
pub(crate) const MAX_CHAIN: u64 = 64 * 1024 * 1024;

/// How an input is named in messages: its path, or `<stdin>` for `-`.
pub(crate) fn display_name(path: &Path) -> String {
    if is_stdin(path) {
        "<stdin>".into()
    } else {
        path.display().to_string()
    }
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads `path` (or standard input for `-`), refusing more than `limit` bytes.
pub(crate) fn read(path: &Path, limit: u64) -> Result<Vec<u8>, CliError> {
    let name = display_name(path);
    let io_error = |e: io::Error| CliError::Io(format!("cannot read {name}: {e}"));
    let mut bytes = Vec::new();
    if is_stdin(path) {
        io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
    } else {
        File::open(path)
            .map_err(io_error)?
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
    }
    if bytes.len() as u64 > limit {
        return Err(CliError::Malformed(format!(
            "{name} is larger than {limit} bytes; refusing to read it"
        )));
    }
    Ok(bytes)
}

/// The permission bits of `path` (`0o7777` mask), on Unix.
pub(crate) fn mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}
