//! What the `kez-verify id` tests share: running the binary, showing its output, copying a
//! recorded bundle into `fixtures/evidence/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `kez-verify` with `args`, without a GitHub token and without colour.
pub(crate) fn kez(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kez-verify"))
        .args(args)
        .env_remove("GITHUB_TOKEN")
        .env("NO_COLOR", "1")
        .output()
        .expect("run kez-verify")
}

/// Exit code, stdout and stderr, for assertion messages.
pub(crate) fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Copies the directory `from` to `to`, recursively.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
