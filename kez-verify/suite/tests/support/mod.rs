//! What the kez-suite integration tests share.

use std::path::{Path, PathBuf};

/// The workspace root (the fixtures live under it).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate sits two levels below the workspace root")
        .to_owned()
}
