//! Where a connecting key stands in the KEZ sigchains the service knows (SPEC.md §7.4).
//!
//! [`ChainSet::from_chains`] verifies chains handed to it as bytes (sans-IO);
//! [`ChainSource`] reads them from a directory of `*.jsonl` files or from one file, and
//! re-verifies a file only when its size or modification time changed, so a revocation
//! appended to a chain applies from the next connection on.
//!
//! A key stands in a chain as its current primary key or as an active device key; a key
//! the chain rotated away or whose device it withdrew is refused, and so is every key
//! named in a chain that does not verify (broken links, bad signatures, a fork).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use kez_core::identity::Identity;
use kez_core::sigchain::{self, ChainState, JsonlLines, Link, Op, Track};
use kez_core::PublicKey;

/// The largest chain file read, in bytes.
pub const MAX_CHAIN_BYTES: u64 = 64 * 1024 * 1024;

/// A chain that verified.
#[derive(Debug, Clone)]
pub struct KnownChain {
    source: String,
    state: ChainState,
}

impl KnownChain {
    /// Where the chain came from (its file name).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The chain's current primary key.
    pub fn primary(&self) -> Option<&PublicKey> {
        self.state.primary()
    }

    /// Whether the chain binds a claim for `identity` that it has not revoked.
    pub fn binds(&self, identity: &Identity) -> bool {
        self.state
            .claims()
            .values()
            .any(|c| &c.subject == identity && c.revoked.is_none())
    }

    /// The verified state.
    pub fn state(&self) -> &ChainState {
        &self.state
    }
}

#[derive(Debug, Clone)]
struct BrokenChain {
    source: String,
    error: String,
    keys: HashSet<PublicKey>,
}

/// Where a key stands.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Standing<'a> {
    /// The current primary key of this chain.
    Primary(&'a KnownChain),
    /// An active device key of this chain.
    Device(&'a KnownChain),
    /// A primary key this chain rotated away.
    RotatedAway(&'a str),
    /// A device key this chain withdrew.
    Revoked(&'a str),
    /// Named in a chain that does not verify.
    Broken {
        /// The chain's source.
        source: &'a str,
        /// Why it does not verify.
        error: &'a str,
    },
    /// Active in more than one chain.
    Ambiguous,
    /// In no chain.
    Unknown,
}

/// The verified chains the service decides by.
#[derive(Debug, Clone, Default)]
pub struct ChainSet {
    known: Vec<Arc<KnownChain>>,
    broken: Vec<Arc<BrokenChain>>,
}

impl ChainSet {
    /// Verifies each `(source, JSONL bytes)` chain. A chain that does not verify is
    /// kept as broken: every key its links name is refused.
    pub fn from_chains<'a>(chains: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        let mut set = Self::default();
        for (source, bytes) in chains {
            set.push(verify(source, bytes));
        }
        set
    }

    fn push(&mut self, chain: Loaded) {
        match chain {
            Loaded::Known(k) => self.known.push(k),
            Loaded::Broken(b) => self.broken.push(b),
        }
    }

    /// How many chains verified.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// Whether no chain verified.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// The sources of the chains that do not verify, with the reason.
    pub fn broken(&self) -> impl Iterator<Item = (&str, &str)> {
        self.broken
            .iter()
            .map(|b| (b.source.as_str(), b.error.as_str()))
    }

    /// Where `key` stands. A broken chain naming the key wins over everything else: a
    /// chain that does not verify might hide a revocation.
    pub fn standing(&self, key: &PublicKey) -> Standing<'_> {
        if let Some(b) = self.broken.iter().find(|b| b.keys.contains(key)) {
            return Standing::Broken {
                source: &b.source,
                error: &b.error,
            };
        }
        let mut active = Vec::new();
        let mut retired = None;
        for chain in &self.known {
            let state = &chain.state;
            if state.primary() == Some(key) {
                active.push(Standing::Primary(chain));
            } else if state.active_devices().any(|d| d == key) {
                active.push(Standing::Device(chain));
            } else if state.primary_period(key).is_some() {
                retired.get_or_insert(Standing::RotatedAway(&chain.source));
            } else if state.device_period(key).is_some() {
                retired.get_or_insert(Standing::Revoked(&chain.source));
            }
        }
        match active.len() {
            0 => retired.unwrap_or(Standing::Unknown),
            1 => active[0],
            _ => Standing::Ambiguous,
        }
    }
}

enum Loaded {
    Known(Arc<KnownChain>),
    Broken(Arc<BrokenChain>),
}

impl Clone for Loaded {
    fn clone(&self) -> Self {
        match self {
            Loaded::Known(k) => Loaded::Known(Arc::clone(k)),
            Loaded::Broken(b) => Loaded::Broken(Arc::clone(b)),
        }
    }
}

fn verify(source: &str, bytes: &[u8]) -> Loaded {
    match sigchain::verify_jsonl(bytes, Track::All, None) {
        Ok(chain) => Loaded::Known(Arc::new(KnownChain {
            source: source.to_string(),
            state: chain.state().clone(),
        })),
        Err(e) => Loaded::Broken(Arc::new(BrokenChain {
            source: source.to_string(),
            error: e.to_string(),
            keys: named_keys(bytes),
        })),
    }
}

/// Every key the links of a (broken) chain name, read link by link, skipping what does
/// not parse.
fn named_keys(bytes: &[u8]) -> HashSet<PublicKey> {
    let mut keys = HashSet::new();
    for line in JsonlLines::new(bytes).map_while(Result::ok) {
        let Ok(link) = Link::parse_line(line) else {
            continue;
        };
        keys.insert(*link.signer());
        match link.op() {
            Op::Rotate { new_key } => {
                keys.insert(*new_key);
            }
            Op::AddDevice { device, .. } | Op::RevokeDevice { device } => {
                keys.insert(*device);
            }
            _ => {}
        }
    }
    keys
}

/// Why chains could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainSourceError {
    /// The directory or file cannot be read.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        error: String,
    },
}

#[derive(Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

/// Sigchains on disk: every `*.jsonl` file of a directory (whatever its name; a file
/// named after the key, `<key>.jsonl`, is just one of them), or one file. Read again on
/// every [`ChainSource::load`]; a file is verified again only when its size or
/// modification time changed.
#[derive(Debug)]
pub struct ChainSource {
    path: PathBuf,
    directory: bool,
    cache: Mutex<HashMap<PathBuf, CacheEntry>>,
}

struct CacheEntry {
    stamp: Stamp,
    loaded: Loaded,
}

impl std::fmt::Debug for CacheEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheEntry")
    }
}

impl ChainSource {
    /// Every `*.jsonl` file in `dir`.
    pub fn directory(dir: impl Into<PathBuf>) -> Self {
        Self {
            path: dir.into(),
            directory: true,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// One chain file.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            directory: false,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The directory or file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn files(&self) -> Result<Vec<PathBuf>, ChainSourceError> {
        if !self.directory {
            return Ok(vec![self.path.clone()]);
        }
        let io = |e: std::io::Error| ChainSourceError::Io {
            path: self.path.clone(),
            error: e.to_string(),
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&self.path)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl") && p.is_file())
            .collect();
        paths.sort();
        Ok(paths)
    }

    /// Reads and verifies the chains. A file that cannot be read counts as a broken
    /// chain naming no key (so it refuses nobody by itself); a directory that cannot be
    /// listed, or a `--chain` file that cannot be read, is an error.
    pub fn load(&self) -> Result<ChainSet, ChainSourceError> {
        let files = self.files()?;
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.retain(|path, _| files.contains(path));
        let mut set = ChainSet::default();
        for path in files {
            let source = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                Err(e) if !self.directory => {
                    return Err(ChainSourceError::Io {
                        path,
                        error: e.to_string(),
                    })
                }
                Err(e) => {
                    set.push(unreadable(&source, &e.to_string()));
                    continue;
                }
            };
            let stamp = Stamp {
                len: meta.len(),
                modified: meta.modified().ok(),
            };
            if let Some(entry) = cache.get(&path) {
                if entry.stamp == stamp {
                    set.push(entry.loaded.clone());
                    continue;
                }
            }
            let loaded = if stamp.len > MAX_CHAIN_BYTES {
                unreadable(&source, "the file is larger than 64 MiB")
            } else {
                match std::fs::read(&path) {
                    Ok(bytes) => verify(&source, &bytes),
                    Err(e) if !self.directory => {
                        return Err(ChainSourceError::Io {
                            path,
                            error: e.to_string(),
                        })
                    }
                    Err(e) => unreadable(&source, &e.to_string()),
                }
            };
            cache.insert(
                path,
                CacheEntry {
                    stamp,
                    loaded: loaded.clone(),
                },
            );
            set.push(loaded);
        }
        Ok(set)
    }
}

fn unreadable(source: &str, error: &str) -> Loaded {
    Loaded::Broken(Arc::new(BrokenChain {
        source: source.to_string(),
        error: error.to_string(),
        keys: HashSet::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigchain::testing::{jsonl, rotated_chain};
    use kez_core::sigchain::LinkBuilder;
    use kez_core::{Algorithm, SecretKey};

    #[test]
    fn standing_follows_rotation_devices_and_breakage() {
        let first = SecretKey::generate(Algorithm::Ed25519);
        let second = SecretKey::generate(Algorithm::Ed25519);
        let device = SecretKey::generate(Algorithm::Ed25519);
        let gone = SecretKey::generate(Algorithm::Ed25519);
        let stranger = SecretKey::generate(Algorithm::Ed25519);
        let ops = [
            Op::AddDevice {
                device: device.public_key(),
                name: None,
            },
            Op::AddDevice {
                device: gone.public_key(),
                name: None,
            },
            Op::RevokeDevice {
                device: gone.public_key(),
            },
        ];
        let links = rotated_chain(&first, ops, &second);
        let good = jsonl(&links);
        let set = ChainSet::from_chains([("a.jsonl", good.as_slice())]);
        assert_eq!(set.len(), 1);
        assert!(matches!(
            set.standing(&second.public_key()),
            Standing::Primary(_)
        ));
        assert!(matches!(
            set.standing(&device.public_key()),
            Standing::Device(_)
        ));
        assert!(matches!(
            set.standing(&first.public_key()),
            Standing::RotatedAway("a.jsonl")
        ));
        assert!(matches!(
            set.standing(&gone.public_key()),
            Standing::Revoked("a.jsonl")
        ));
        assert!(matches!(
            set.standing(&stranger.public_key()),
            Standing::Unknown
        ));

        // The same chain twice: its keys are active in two chains.
        let twice = ChainSet::from_chains([("a.jsonl", good.as_slice()), ("b.jsonl", &good)]);
        assert!(matches!(
            twice.standing(&second.public_key()),
            Standing::Ambiguous
        ));

        // Drop the device revocation: the chain no longer verifies, and every key it
        // names is refused, even where another copy would admit it.
        let mut cut = links.clone();
        cut.remove(3);
        let broken = jsonl(&cut);
        let set = ChainSet::from_chains([("a.jsonl", good.as_slice()), ("b.jsonl", &broken)]);
        assert_eq!(set.broken().count(), 1);
        assert!(matches!(
            set.standing(&device.public_key()),
            Standing::Broken {
                source: "b.jsonl",
                ..
            }
        ));
        assert!(matches!(
            set.standing(&stranger.public_key()),
            Standing::Unknown
        ));
    }

    #[test]
    fn source_rereads_changed_files_only() {
        let key = SecretKey::generate(Algorithm::Ed25519);
        let device = SecretKey::generate(Algorithm::Ed25519);
        let init = LinkBuilder::init(100).sign(&key, None).unwrap();
        let add = LinkBuilder::after(
            &init,
            Op::AddDevice {
                device: device.public_key(),
                name: None,
            },
            101,
        )
        .sign(&key, None)
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{}.jsonl", key.public_key()));
        std::fs::write(&path, jsonl(&[init.clone(), add.clone()])).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a chain").unwrap();
        let source = ChainSource::directory(dir.path());
        let set = source.load().unwrap();
        assert_eq!((set.len(), set.broken().count()), (1, 0));
        assert!(matches!(
            set.standing(&device.public_key()),
            Standing::Device(_)
        ));

        let revoke = LinkBuilder::after(
            &add,
            Op::RevokeDevice {
                device: device.public_key(),
            },
            102,
        )
        .sign(&key, None)
        .unwrap();
        std::fs::write(&path, jsonl(&[init, add, revoke])).unwrap();
        let set = source.load().unwrap();
        assert!(matches!(
            set.standing(&device.public_key()),
            Standing::Revoked(_)
        ));

        std::fs::write(&path, b"{}\n").unwrap();
        let set = source.load().unwrap();
        assert_eq!((set.len(), set.broken().count()), (0, 1));

        assert!(ChainSource::file(dir.path().join("missing.jsonl"))
            .load()
            .is_err());
        assert!(ChainSource::directory(dir.path().join("missing"))
            .load()
            .is_err());
    }
}
