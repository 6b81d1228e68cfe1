//! The integrity check: the suite folder holds exactly the files the manifest lists, with
//! the listed SHA-256 digests (docs/SUITES.md, "Integrity").
//!
//! [`check`] walks the folder without following symbolic links, reads every regular file
//! once and hashes it. It collects every problem rather than stopping at the first: a
//! listed file that is missing, a file whose digest differs, a file that is not listed,
//! anything that is not a regular file (a symbolic link could point outside the folder),
//! and names that could not be listed (hidden, non-portable or non-UTF-8). Only
//! `manifest.json` and `manifest.json.sig` at the top are exempt.
//!
//! The bytes that were hashed are the bytes that are replayed: [`Contents`] keeps them,
//! so a file changed after the check cannot change the replay.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read as _;
use std::ops::Range;
use std::path::Path;
use std::time::{Duration, Instant};

use kez_core::Digest256;

use crate::path::{SuitePath, MANIFEST_FILE, SIGNATURE_FILE};

/// The largest file the check reads, in bytes.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// What is wrong with one path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// Listed in the manifest, absent from the folder.
    Missing,
    /// Present in the folder, not listed in the manifest.
    Unlisted,
    /// Present and listed, with another digest.
    Changed {
        /// The digest the manifest lists.
        expected: Digest256,
        /// The digest of the file.
        found: Digest256,
    },
    /// A symbolic link, device, socket or other non-regular file.
    NotRegular,
    /// A name the manifest could not list (see [`crate::path`]).
    BadName(String),
    /// Larger than [`MAX_FILE_BYTES`].
    TooLarge {
        /// The bytes read before giving up (one more than the limit).
        size: u64,
    },
    /// The file or folder could not be read.
    Unreadable(String),
}

/// One problem the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The path relative to the suite folder, `/`-separated (lossy for non-UTF-8 names).
    pub path: String,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = &self.path;
        match &self.kind {
            ProblemKind::Missing => write!(f, "{path}: listed in the manifest but missing"),
            ProblemKind::Unlisted => write!(f, "{path}: present but not listed in the manifest"),
            ProblemKind::Changed { expected, found } => write!(
                f,
                "{path}: content changed (manifest lists {expected}, the file hashes to {found})"
            ),
            ProblemKind::NotRegular => write!(
                f,
                "{path}: not a regular file (symbolic links and special files are refused)"
            ),
            ProblemKind::BadName(why) => write!(f, "{path}: {why}"),
            ProblemKind::TooLarge { .. } => {
                write!(
                    f,
                    "{path}: larger than {MAX_FILE_BYTES} bytes, the most a suite file may hold"
                )
            }
            ProblemKind::Unreadable(why) => write!(f, "{path}: cannot be read: {why}"),
        }
    }
}

/// The folder does not match the manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the suite folder does not match its manifest ({} problem{}): {}", .problems.len(), if .problems.len() == 1 { "" } else { "s" }, .problems.first().map(ToString::to_string).unwrap_or_default())]
pub struct IntegrityError {
    /// Every problem found, sorted by path.
    pub problems: Vec<Problem>,
}

/// Time spent by the check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntegrityTimings {
    /// Listing folders.
    pub walk: Duration,
    /// Opening and reading files.
    pub read: Duration,
    /// SHA-256 of the contents.
    pub hash: Duration,
}

/// The contents of every listed file, as they were when they were hashed: one buffer
/// holding every file back to back, and where each file is in it.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    data: Vec<u8>,
    files: HashMap<SuitePath, Range<usize>>,
}

impl Contents {
    /// The bytes of a listed file.
    pub fn get(&self, path: &SuitePath) -> Option<&[u8]> {
        self.files.get(path).map(|r| &self.data[r.clone()])
    }

    /// The number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The total size in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.data.len() as u64
    }
}

/// Checks `root` against `listed` (see the module docs).
pub fn check(
    root: &Path,
    listed: &BTreeMap<SuitePath, Digest256>,
) -> Result<(Contents, IntegrityTimings), IntegrityError> {
    let mut timings = IntegrityTimings::default();
    let mut problems = Vec::new();
    let mut contents = Contents {
        data: Vec::with_capacity(1 << 20),
        files: HashMap::with_capacity(listed.len()),
    };
    let mut found = Vec::new();
    let start = Instant::now();
    walk(root, "", &mut found, &mut problems);
    timings.walk = start.elapsed();
    for path in found {
        let Some(expected) = listed.get(&path) else {
            problems.push(Problem {
                path: path.to_string(),
                kind: ProblemKind::Unlisted,
            });
            continue;
        };
        let start = Instant::now();
        let from = contents.data.len();
        let read = read_capped(&path.under(root), &mut contents.data);
        timings.read += start.elapsed();
        match read {
            Ok(()) => {
                let start = Instant::now();
                let digest = Digest256::of(&contents.data[from..]);
                timings.hash += start.elapsed();
                if &digest == expected {
                    contents.files.insert(path, from..contents.data.len());
                } else {
                    contents.data.truncate(from);
                    problems.push(Problem {
                        path: path.to_string(),
                        kind: ProblemKind::Changed {
                            expected: *expected,
                            found: digest,
                        },
                    });
                }
            }
            Err(kind) => problems.push(Problem {
                path: path.to_string(),
                kind,
            }),
        }
    }
    for path in listed.keys() {
        let present =
            contents.files.contains_key(path) || problems.iter().any(|p| p.path == path.as_str());
        if !present {
            problems.push(Problem {
                path: path.to_string(),
                kind: ProblemKind::Missing,
            });
        }
    }
    if problems.is_empty() {
        Ok((contents, timings))
    } else {
        problems.sort_by(|a, b| a.path.cmp(&b.path));
        Err(IntegrityError { problems })
    }
}

/// Lists and hashes every file of the folder at `root` (except the manifest and its
/// signature): what a manifest of that folder should list. Fails on anything a manifest
/// could not list (symbolic links, hidden or non-portable names, unreadable files).
pub fn scan(root: &Path) -> Result<BTreeMap<SuitePath, Digest256>, IntegrityError> {
    let mut problems = Vec::new();
    let mut found = Vec::new();
    walk(root, "", &mut found, &mut problems);
    let mut files = BTreeMap::new();
    let mut buffer = Vec::new();
    for path in found {
        buffer.clear();
        match read_capped(&path.under(root), &mut buffer) {
            Ok(()) => {
                files.insert(path, Digest256::of(&buffer));
            }
            Err(kind) => problems.push(Problem {
                path: path.to_string(),
                kind,
            }),
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        problems.sort_by(|a, b| a.path.cmp(&b.path));
        Err(IntegrityError { problems })
    }
}

/// Collects the regular files under `dir` (whose path relative to the root is `prefix`).
fn walk(dir: &Path, prefix: &str, found: &mut Vec<SuitePath>, problems: &mut Vec<Problem>) {
    let shown = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        }
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(Problem {
                path: if prefix.is_empty() {
                    ".".into()
                } else {
                    prefix.into()
                },
                kind: ProblemKind::Unreadable(e.to_string()),
            });
            return;
        }
    };
    // Listing order does not matter: files are looked up in the manifest, and problems
    // are sorted at the end.
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                problems.push(Problem {
                    path: shown("?"),
                    kind: ProblemKind::Unreadable(e.to_string()),
                });
                continue;
            }
        };
        let os_name = entry.file_name();
        let Some(name) = os_name.to_str() else {
            problems.push(Problem {
                path: shown(&os_name.to_string_lossy()),
                kind: ProblemKind::BadName("the name is not UTF-8".into()),
            });
            continue;
        };
        let rel = shown(name);
        if prefix.is_empty() && (name == MANIFEST_FILE || name == SIGNATURE_FILE) {
            continue;
        }
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) => {
                problems.push(Problem {
                    path: rel,
                    kind: ProblemKind::Unreadable(e.to_string()),
                });
                continue;
            }
        };
        if file_type.is_dir() {
            walk(&entry.path(), &rel, found, problems);
        } else if file_type.is_file() {
            match SuitePath::parse_owned(rel) {
                Ok(path) => found.push(path),
                Err((e, rel)) => problems.push(Problem {
                    path: rel,
                    kind: ProblemKind::BadName(format!("cannot be listed in a manifest: {e}")),
                }),
            }
        } else {
            problems.push(Problem {
                path: rel,
                kind: ProblemKind::NotRegular,
            });
        }
    }
}

/// Reads a file of at most [`MAX_FILE_BYTES`] (the walk has already seen a regular file
/// there; the cap also bounds a file that grew since).
/// Appends the file to `out`; on error `out` is left as it was.
fn read_capped(path: &Path, out: &mut Vec<u8>) -> Result<(), ProblemKind> {
    let from = out.len();
    let result =
        fs::File::open(path).and_then(|file| file.take(MAX_FILE_BYTES + 1).read_to_end(out));
    let read = out.len() - from;
    match result {
        Ok(_) if read as u64 <= MAX_FILE_BYTES => Ok(()),
        Ok(_) => {
            out.truncate(from);
            Err(ProblemKind::TooLarge { size: read as u64 })
        }
        Err(e) => {
            out.truncate(from);
            Err(ProblemKind::Unreadable(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(files: &[(&str, &[u8])]) -> BTreeMap<SuitePath, Digest256> {
        files
            .iter()
            .map(|(p, b)| (SuitePath::parse(p).unwrap(), Digest256::of(b)))
            .collect()
    }

    fn folder(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (p, b) in files {
            let path = SuitePath::parse(p).unwrap().under(dir.path());
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, b).unwrap();
        }
        dir
    }

    const FILES: &[(&str, &[u8])] = &[
        ("README.md", b"hello"),
        ("cases/a/claim.json", b"{}"),
        ("cases/a/chain.jsonl", b"x\n"),
    ];

    fn kinds(err: IntegrityError) -> Vec<(String, ProblemKind)> {
        err.problems.into_iter().map(|p| (p.path, p.kind)).collect()
    }

    #[test]
    fn a_matching_folder_passes_and_keeps_the_bytes() {
        let dir = folder(FILES);
        fs::write(dir.path().join(MANIFEST_FILE), b"{}").unwrap();
        fs::write(dir.path().join(SIGNATURE_FILE), b"{}").unwrap();
        let (contents, _) = check(dir.path(), &listing(FILES)).unwrap();
        assert_eq!(contents.len(), 3);
        assert_eq!(
            contents.get(&SuitePath::parse("cases/a/claim.json").unwrap()),
            Some(&b"{}"[..])
        );
    }

    #[test]
    fn one_changed_byte_is_found() {
        let dir = folder(FILES);
        fs::write(dir.path().join("cases/a/claim.json"), b"{ ").unwrap();
        let problems = kinds(check(dir.path(), &listing(FILES)).unwrap_err());
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "cases/a/claim.json");
        assert!(matches!(problems[0].1, ProblemKind::Changed { .. }));
    }

    #[test]
    fn a_missing_file_is_found() {
        let dir = folder(FILES);
        fs::remove_file(dir.path().join("cases/a/chain.jsonl")).unwrap();
        assert_eq!(
            kinds(check(dir.path(), &listing(FILES)).unwrap_err()),
            vec![("cases/a/chain.jsonl".to_string(), ProblemKind::Missing)]
        );
    }

    #[test]
    fn extra_files_are_found_even_hidden_or_oddly_named_ones() {
        let dir = folder(FILES);
        fs::write(dir.path().join("cases/a/extra.json"), b"{}").unwrap();
        fs::write(dir.path().join(".hidden"), b"").unwrap();
        fs::write(dir.path().join("cases/sp ace"), b"").unwrap();
        fs::write(dir.path().join("cases/manifest.json"), b"").unwrap();
        let problems = kinds(check(dir.path(), &listing(FILES)).unwrap_err());
        let paths: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                ".hidden",
                "cases/a/extra.json",
                "cases/manifest.json",
                "cases/sp ace"
            ]
        );
        assert_eq!(problems[1].1, ProblemKind::Unlisted);
        assert!(matches!(problems[0].1, ProblemKind::BadName(_)));
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_are_refused_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"s").unwrap();
        let dir = folder(FILES);
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("linkdir")).unwrap();
        let mut files = FILES.to_vec();
        files.push(("link", b"s"));
        let problems = kinds(check(dir.path(), &listing(&files)).unwrap_err());
        assert_eq!(
            problems,
            vec![
                ("link".to_string(), ProblemKind::NotRegular),
                ("linkdir".to_string(), ProblemKind::NotRegular)
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = folder(FILES);
        fs::write(dir.path().join("README.md"), b"changed").unwrap();
        fs::remove_file(dir.path().join("cases/a/claim.json")).unwrap();
        fs::write(dir.path().join("new.txt"), b"").unwrap();
        let err = check(dir.path(), &listing(FILES)).unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
        assert!(err.to_string().starts_with(
            "the suite folder does not match its manifest (3 problems): README.md: content changed"
        ));
    }
}
