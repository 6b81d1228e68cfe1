//! Writing the output of [`super::generate`]: where it goes, how each file is written,
//! how it is made durable, and the small thread pool that does the work.
//!
//! * A **fresh** output (the directory is absent or empty) is built in a staging
//!   directory beside it (`.<name>.kez-nats-<pid>-<n>.tmp`, mode `0700`), made durable
//!   by one `syncfs(2)`, and renamed into place at once: readers, and a crash, see
//!   either no output or all of it, so files in it are created directly, without a
//!   temporary file and a rename each. A run that fails removes the staging directory.
//!   Where staging beside the output is not possible (the output is a mount point, its
//!   parent is not writable, it has no name such as `.`), the fresh output is written
//!   in place as an update is.
//! * An **update** (`--force` on an existing output) writes each file atomically (a
//!   temporary file beside it, renamed over it) and only when its bytes change, in two
//!   durable batches — the keys, then everything else — so that no JWT on disk ever
//!   names a key that is not.
//!
//! Durability is one `syncfs(2)` of the output's filesystem per batch on Linux, an
//! fsync per file elsewhere: on ext4 each fsync is a journal commit, 2.4 ms each on the
//! machine the benchmark was written on, over a minute for a 10,000-user run.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use zeroize::Zeroizing;

use super::GenerateError;
use crate::parallel::parallel_map;

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> GenerateError + '_ {
    move |error| GenerateError::Io {
        path: path.to_owned(),
        error,
    }
}

/// Creates `path` and its missing parents with mode `0700`.
pub(super) fn make_dir(path: &Path) -> Result<(), GenerateError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(path).map_err(io(path))
}

/// What a file holds; secrets are zeroized when dropped.
pub(super) enum Contents {
    Public(String),
    Static(&'static str),
    Secret(Zeroizing<String>),
}

impl Contents {
    fn bytes(&self) -> &[u8] {
        match self {
            Contents::Public(s) => s.as_bytes(),
            Contents::Static(s) => s.as_bytes(),
            Contents::Secret(s) => s.as_bytes(),
        }
    }
}

/// One step of writing the output. Paths are final paths (under the output directory).
pub(super) enum Op {
    /// A directory that must exist even when no file goes in it.
    Dir(PathBuf),
    /// A file.
    Write {
        path: PathBuf,
        contents: Contents,
        mode: u32,
    },
    /// A file to remove if present.
    Remove(PathBuf),
}

impl Op {
    pub(super) fn write(path: PathBuf, contents: Contents, mode: u32) -> Self {
        Op::Write {
            path,
            contents,
            mode,
        }
    }
}

/// What [`Target::apply`] did, by final path, in the order of the operations.
#[derive(Default)]
pub(super) struct Outcome {
    pub(super) written: Vec<PathBuf>,
    pub(super) unchanged: Vec<PathBuf>,
    pub(super) removed: Vec<PathBuf>,
}

enum Effect {
    None,
    Written,
    Unchanged,
    Removed,
}

/// A fresh output being built beside its final place. Removed on drop unless
/// committed.
struct Stage {
    dir: PathBuf,
    /// The output directory exists (empty) and is replaced by the rename.
    replace: bool,
    committed: bool,
}

impl Drop for Stage {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Where and how the output is written.
pub(super) struct Target {
    /// The output directory, absolute: what the layout, the configs and the report name.
    root: PathBuf,
    /// Nothing to compare with or replace (the output was absent or empty).
    fresh: bool,
    stage: Option<Stage>,
    /// Files created with mode `0600` get exactly that (the umask keeps the owner's
    /// read and write bits), so no `chmod` is needed for them.
    umask_keeps_0600: bool,
}

impl Target {
    /// A fresh output at `out` (absent or empty): staged beside it when possible.
    pub(super) fn fresh(out: &Path) -> Result<Self, GenerateError> {
        let umask_keeps_0600 = umask_keeps_0600();
        if let Some((root, stage)) = stage_beside(out) {
            return Ok(Self {
                root,
                fresh: true,
                stage: Some(stage),
                umask_keeps_0600,
            });
        }
        make_dir(out)?;
        let root = fs::canonicalize(out).map_err(io(out))?;
        Ok(Self {
            root,
            fresh: true,
            stage: None,
            umask_keeps_0600,
        })
    }

    /// An existing output, updated in place.
    pub(super) fn update(out: &Path) -> Result<Self, GenerateError> {
        make_dir(out)?;
        let root = fs::canonicalize(out).map_err(io(out))?;
        Ok(Self {
            root,
            fresh: false,
            stage: None,
            umask_keeps_0600: umask_keeps_0600(),
        })
    }

    /// The output directory, absolute.
    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the output was absent or empty.
    pub(super) fn is_fresh(&self) -> bool {
        self.fresh
    }

    /// Whether files go to a staging directory renamed into place by [`Target::commit`]
    /// (so that batches need no barrier between them).
    pub(super) fn is_staged(&self) -> bool {
        self.stage.is_some()
    }

    /// Where a final path is written now.
    fn place(&self, path: &Path) -> PathBuf {
        match (&self.stage, path.strip_prefix(&self.root)) {
            (Some(stage), Ok(rest)) => stage.dir.join(rest),
            _ => path.to_owned(),
        }
    }

    /// Carries out `ops` on up to `threads` threads: directories first, then files.
    pub(super) fn apply(&self, ops: &[Op], threads: usize) -> Result<Outcome, GenerateError> {
        let mut dirs = BTreeSet::new();
        for op in ops {
            match op {
                Op::Dir(path) => {
                    dirs.insert(path.as_path());
                }
                Op::Write { path, .. } => {
                    if let Some(parent) = path.parent() {
                        dirs.insert(parent);
                    }
                }
                Op::Remove(_) => {}
            }
        }
        for dir in dirs {
            make_dir(&self.place(dir))?;
        }
        let effects = parallel_map(threads, ops.len(), |i| self.one(&ops[i]));
        let mut outcome = Outcome::default();
        for (op, effect) in ops.iter().zip(effects) {
            let path = match op {
                Op::Write { path, .. } | Op::Remove(path) => path.clone(),
                Op::Dir(_) => continue,
            };
            match effect? {
                Effect::None => {}
                Effect::Written => outcome.written.push(path),
                Effect::Unchanged => outcome.unchanged.push(path),
                Effect::Removed => outcome.removed.push(path),
            }
        }
        Ok(outcome)
    }

    fn one(&self, op: &Op) -> Result<Effect, GenerateError> {
        match op {
            Op::Dir(_) => Ok(Effect::None),
            Op::Remove(path) => {
                let placed = self.place(path);
                match fs::remove_file(&placed) {
                    Ok(()) => Ok(Effect::Removed),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Effect::None),
                    Err(error) => Err(GenerateError::Io {
                        path: path.clone(),
                        error,
                    }),
                }
            }
            Op::Write {
                path,
                contents,
                mode,
            } => {
                let bytes = contents.bytes();
                let placed = self.place(path);
                if self.stage.is_some() {
                    let chmod = *mode != 0o600 || !self.umask_keeps_0600;
                    write_new(&placed, bytes, *mode, chmod).map_err(|error| GenerateError::Io {
                        path: path.clone(),
                        error,
                    })?;
                    return Ok(Effect::Written);
                }
                if !self.fresh {
                    if let Ok(existing) = fs::read(&placed) {
                        if existing == bytes {
                            return Ok(Effect::Unchanged);
                        }
                    }
                }
                write_replacing(&placed, bytes, *mode)?;
                Ok(Effect::Written)
            }
        }
    }

    /// Makes what `outcome` wrote, renamed or removed durable: on Linux one `syncfs(2)`
    /// of the output's filesystem, elsewhere an fsync of each file and directory.
    pub(super) fn barrier(&self, outcome: &Outcome) -> Result<(), GenerateError> {
        if outcome.written.is_empty() && outcome.removed.is_empty() {
            return Ok(());
        }
        #[cfg(target_os = "linux")]
        {
            let dir = self.stage.as_ref().map_or(&self.root, |s| &s.dir);
            let handle = fs::File::open(dir).map_err(io(dir))?;
            rustix::fs::syncfs(&handle).map_err(|e| GenerateError::Io {
                path: dir.clone(),
                error: e.into(),
            })?;
        }
        #[cfg(not(target_os = "linux"))]
        {
            let mut dirs = BTreeSet::new();
            for path in &outcome.written {
                let placed = self.place(path);
                let file = fs::File::open(&placed).map_err(io(&placed))?;
                file.sync_all().map_err(io(&placed))?;
                let mut dir = placed.parent();
                while let Some(d) = dir {
                    if !dirs.insert(d.to_owned()) {
                        break;
                    }
                    if d == self.root {
                        break;
                    }
                    dir = d.parent();
                }
            }
            for path in &outcome.removed {
                if let Some(parent) = self.place(path).parent() {
                    dirs.insert(parent.to_owned());
                }
            }
            for dir in dirs {
                // Directories cannot be opened for syncing everywhere; best effort.
                if let Ok(file) = fs::File::open(&dir) {
                    let _ = file.sync_all();
                }
            }
        }
        Ok(())
    }

    /// Puts a staged output in place (after its [`Target::barrier`]): one rename, made
    /// durable by an fsync of the parent directory. Nothing to do for an update.
    pub(super) fn commit(mut self) -> Result<(), GenerateError> {
        let Some((dir, replace)) = self.stage.as_ref().map(|s| (s.dir.clone(), s.replace)) else {
            return Ok(());
        };
        if replace {
            #[cfg(unix)]
            {
                // Keep the mode of the directory the user made.
                if let Ok(metadata) = fs::metadata(&self.root) {
                    fs::set_permissions(&dir, metadata.permissions()).map_err(io(&dir))?;
                }
            }
            #[cfg(not(unix))]
            {
                // Renaming over a directory is a Unix thing: remove the empty one first.
                fs::remove_dir(&self.root).map_err(|error| self.refusal(error))?;
            }
        }
        // Over an empty directory (Unix), or into a free name; a directory someone
        // filled meanwhile stops it (ENOTEMPTY, EEXIST).
        fs::rename(&dir, &self.root).map_err(|error| self.refusal(error))?;
        if let Some(stage) = self.stage.as_mut() {
            stage.committed = true;
        }
        if let Some(parent) = self.root.parent() {
            // Directories cannot be opened for syncing everywhere; best effort there.
            if let Ok(handle) = fs::File::open(parent) {
                let synced = handle.sync_all();
                if cfg!(target_os = "linux") {
                    synced.map_err(io(parent))?;
                }
            }
        }
        Ok(())
    }

    fn refusal(&self, error: std::io::Error) -> GenerateError {
        let not_empty =
            self.root.is_dir() && fs::read_dir(&self.root).is_ok_and(|mut d| d.next().is_some());
        if not_empty {
            GenerateError::Exists {
                path: self.root.clone(),
            }
        } else {
            GenerateError::Io {
                path: self.root.clone(),
                error,
            }
        }
    }
}

/// The final (absolute) path of a fresh output at `out` and a staging directory beside
/// it on the same filesystem; `None` when that cannot be had and the output is written
/// in place.
fn stage_beside(out: &Path) -> Option<(PathBuf, Stage)> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let exists = out.exists();
    let root = if exists {
        fs::canonicalize(out).ok()?
    } else {
        let name = out.file_name()?;
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        make_dir(parent).ok()?;
        fs::canonicalize(parent).ok()?.join(name)
    };
    let parent = root.parent()?;
    let name = root.file_name()?;
    if exists && !same_filesystem(&root, parent) {
        // A mount point: a rename cannot cross into it.
        return None;
    }
    let mut stage_name = std::ffi::OsString::from(".");
    stage_name.push(name);
    stage_name.push(format!(
        ".kez-nats-{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let dir = parent.join(stage_name);
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(&dir).ok()?;
    Some((
        root,
        Stage {
            dir,
            replace: exists,
            committed: false,
        },
    ))
}

#[cfg(unix)]
fn same_filesystem(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_filesystem(_: &Path, _: &Path) -> bool {
    true
}

/// Whether the process umask leaves the owner's read and write bits, so that a file
/// created with mode `0600` has exactly that mode (Linux: `/proc/self/status`; `false`
/// when unknown, and every file is then `chmod`ed).
fn umask_keeps_0600() -> bool {
    #[cfg(target_os = "linux")]
    {
        if let Ok(status) = fs::read_to_string("/proc/self/status") {
            let mask = status
                .lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|m| u32::from_str_radix(m.trim(), 8).ok());
            if let Some(mask) = mask {
                return mask & 0o600 == 0;
            }
        }
    }
    false
}

/// Creates `path`, which must not exist, with `mode` from the start (set explicitly
/// when `chmod`, as the umask may have taken bits away) and writes `bytes`.
fn write_new(path: &Path, bytes: &[u8], mode: u32, chmod: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    if chmod {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (mode, chmod);
    file.write_all(bytes)
}

/// Writes `bytes` to a temporary file beside `path` (mode `mode` from the start) and
/// renames it over `path`: readers see the old file or the new one, never a part.
/// Durability is the caller's [`Target::barrier`].
fn write_replacing(path: &Path, bytes: &[u8], mode: u32) -> Result<(), GenerateError> {
    use std::io::Write as _;
    let name = path
        .file_name()
        .ok_or_else(|| GenerateError::InvalidSpec(format!("{} names no file", path.display())))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&temp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            // A temporary file left by a crashed run keeps its old mode: set it.
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        file.write_all(bytes)?;
        drop(file);
        fs::rename(&temp, path)
    })();
    result.map_err(|error| {
        let _ = fs::remove_file(&temp);
        GenerateError::Io {
            path: path.to_owned(),
            error,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_stage_leaves_nothing_behind_and_a_committed_one_is_the_output() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("out");
        let target = Target::fresh(&out).expect("target");
        assert!(target.is_staged());
        let ops = [Op::write(
            out.join("a/b.txt"),
            Contents::Static("hello"),
            0o600,
        )];
        let outcome = target.apply(&ops, 2).expect("applies");
        assert_eq!(outcome.written, [out.join("a/b.txt")]);
        // Nothing is visible before the commit; dropping the target removes the stage.
        assert!(!out.exists());
        drop(target);
        let names = |d: &Path| -> Vec<_> {
            fs::read_dir(d)
                .expect("readable")
                .map(|e| e.expect("entry").file_name())
                .collect()
        };
        assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));

        // Committed over an existing empty directory, keeping its mode.
        fs::create_dir(&out).expect("mkdir");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&out, fs::Permissions::from_mode(0o750)).expect("chmod");
        }
        let target = Target::fresh(&out).expect("target");
        assert!(target.is_staged());
        let outcome = target.apply(&ops, 1).expect("applies");
        target.barrier(&outcome).expect("durable");
        target.commit().expect("commits");
        assert_eq!(fs::read(out.join("a/b.txt")).expect("written"), b"hello");
        assert_eq!(names(dir.path()), ["out"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| fs::metadata(p).expect("exists").permissions().mode() & 0o777;
            assert_eq!(mode(&out), 0o750);
            assert_eq!(mode(&out.join("a")), 0o700);
            assert_eq!(mode(&out.join("a/b.txt")), 0o600);
        }
    }

    #[test]
    fn a_stage_refuses_to_replace_a_directory_filled_meanwhile() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("out");
        fs::create_dir(&out).expect("mkdir");
        let target = Target::fresh(&out).expect("target");
        let ops = [Op::write(out.join("x"), Contents::Static("x"), 0o600)];
        target.apply(&ops, 1).expect("applies");
        fs::write(out.join("theirs"), b"mine").expect("someone else writes");
        let err = target.commit().expect_err("refused");
        assert!(matches!(err, GenerateError::Exists { .. }), "{err:?}");
        assert_eq!(fs::read(out.join("theirs")).expect("kept"), b"mine");
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .expect("readable")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["out"]);
    }
}
