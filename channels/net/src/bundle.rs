//! Evidence bundles on disk (docs/EVIDENCE.md, format version 1).
//!
//! A bundle is a directory:
//!
//! ```text
//! bundle.json            {"kez_evidence_bundle": 1, "recorded_at", "tool", "context", "exchanges": [...]}
//! bodies/<sha256 hex>    each HTTP body once, named by its hash
//! ```
//!
//! `context` is the recording host's own description of what was verified and with which
//! endpoints (for `kez-verify id`: the target, the channel configuration, the sigchain sources),
//! so that a replay needs nothing but the bundle. Reading a bundle checks every body against
//! its hash and refuses unknown versions, missing bodies and extra files.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::evidence::{Answer, Evidence, Exchange, Record};

/// The bundle format version this crate reads and writes.
pub const BUNDLE_VERSION: u64 = 1;

/// The largest `bundle.json` read (64 MiB) and the largest body file (16 MiB).
const MAX_INDEX_BYTES: u64 = 64 << 20;
const MAX_BODY_BYTES: u64 = 16 << 20;

/// A recorded verification: evidence plus the context it was recorded in.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    /// When the recording started (Unix seconds); replay evaluates as of this time unless
    /// told otherwise.
    pub recorded_at: u64,
    /// The tool and version that recorded it.
    pub tool: String,
    /// The host's description of what was verified (opaque to this crate).
    pub context: serde_json::Value,
    /// The exchanges and bodies.
    pub evidence: Evidence,
}

/// The `bundle.json` document.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    kez_evidence_bundle: u64,
    recorded_at: u64,
    tool: String,
    context: serde_json::Value,
    exchanges: Vec<Record>,
}

/// `bundle.json` as written by [`Bundle::write`], read without buffering: each exchange is
/// read member by member into its kind's types. Documents this does not take (members in
/// other orders, unknown or repeated members) are read by [`Index`], which decides.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastIndex {
    kez_evidence_bundle: u64,
    recorded_at: u64,
    tool: String,
    context: serde_json::Value,
    exchanges: Vec<FastRecord>,
}

/// A [`Record`] whose members come in the order [`Bundle::write`] writes them.
struct FastRecord(Record);

impl<'de> Deserialize<'de> for FastRecord {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FastRecordVisitor)
    }
}

struct FastRecordVisitor;

impl<'de> serde::de::Visitor<'de> for FastRecordVisitor {
    type Value = FastRecord;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an exchange")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<FastRecord, A::Error> {
        use serde::de::Error;
        fn member<'de, A: serde::de::MapAccess<'de>>(
            map: &mut A,
            name: &'static str,
        ) -> Result<(), A::Error> {
            match map.next_key::<&'de str>()? {
                Some(key) if key == name => Ok(()),
                _ => Err(A::Error::custom("members out of the written order")),
            }
        }
        member(&mut map, "seq")?;
        let seq = map.next_value()?;
        member(&mut map, "started_at")?;
        let started_at = map.next_value()?;
        member(&mut map, "elapsed_ms")?;
        let elapsed_ms = map.next_value()?;
        member(&mut map, "kind")?;
        let kind: &'de str = map.next_value()?;
        let exchange = match kind {
            "http" => {
                member(&mut map, "request")?;
                let request = map.next_value()?;
                member(&mut map, "answer")?;
                Exchange::Http {
                    request,
                    answer: map.next_value()?,
                }
            }
            "dns_txt" => {
                member(&mut map, "name")?;
                let name = map.next_value()?;
                member(&mut map, "answer")?;
                Exchange::DnsTxt {
                    name,
                    answer: map.next_value()?,
                }
            }
            "nostr" => {
                member(&mut map, "query")?;
                let query = map.next_value()?;
                member(&mut map, "answer")?;
                Exchange::Nostr {
                    query,
                    answer: map.next_value()?,
                }
            }
            _ => return Err(A::Error::custom("an unknown kind")),
        };
        if map.next_key::<serde::de::IgnoredAny>()?.is_some() {
            return Err(A::Error::custom("more members than written"));
        }
        Ok(FastRecord(Record {
            seq,
            started_at,
            elapsed_ms,
            exchange,
        }))
    }
}

impl From<FastIndex> for Index {
    fn from(fast: FastIndex) -> Self {
        Index {
            kez_evidence_bundle: fast.kez_evidence_bundle,
            recorded_at: fast.recorded_at,
            tool: fast.tool,
            context: fast.context,
            exchanges: fast.exchanges.into_iter().map(|FastRecord(r)| r).collect(),
        }
    }
}

/// Just the version of a document, whatever else it holds.
#[derive(Deserialize)]
struct VersionOnly {
    #[serde(default)]
    kez_evidence_bundle: serde_json::Value,
}

/// Why a bundle could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The bundle's content is not a valid bundle.
    #[error("{path}: {detail}")]
    Invalid {
        /// The file at fault.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The output directory exists.
    #[error("{0}: already exists (remove it or choose another directory)")]
    Exists(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn invalid(path: &Path, detail: impl Into<String>) -> BundleError {
    BundleError::Invalid {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

impl Bundle {
    /// Writes the bundle to `dir`, which must not exist. The bundle is built in a temporary
    /// directory beside `dir` and renamed into place, so `dir` is either complete or absent.
    pub fn write(&self, dir: &Path) -> Result<(), BundleError> {
        if dir.exists() {
            return Err(BundleError::Exists(dir.to_path_buf()));
        }
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let staging = tempfile::Builder::new()
            .prefix(".kez-bundle-")
            .tempdir_in(&parent)
            .map_err(io(&parent))?;
        let bodies_dir = staging.path().join("bodies");
        fs::create_dir(&bodies_dir).map_err(io(&bodies_dir))?;
        for (hash, body) in &self.evidence.bodies {
            let path = bodies_dir.join(hash);
            fs::write(&path, body).map_err(io(&path))?;
        }
        let index = Index {
            kez_evidence_bundle: BUNDLE_VERSION,
            recorded_at: self.recorded_at,
            tool: self.tool.clone(),
            context: self.context.clone(),
            exchanges: self.evidence.records.clone(),
        };
        let index_path = staging.path().join("bundle.json");
        let mut text = serde_json::to_vec_pretty(&index)
            .map_err(|e| invalid(&index_path, format!("cannot serialise: {e}")))?;
        text.push(b'\n');
        let mut file = fs::File::create(&index_path).map_err(io(&index_path))?;
        file.write_all(&text).map_err(io(&index_path))?;
        file.sync_all().map_err(io(&index_path))?;
        let staged = staging.keep();
        fs::rename(&staged, dir).map_err(|e| {
            let _ = fs::remove_dir_all(&staged);
            BundleError::Io {
                path: dir.to_path_buf(),
                source: e,
            }
        })
    }

    /// Reads and checks the bundle in `dir`.
    pub fn read(dir: &Path) -> Result<Self, BundleError> {
        let index_path = dir.join("bundle.json");
        let text = read_capped(&index_path, MAX_INDEX_BYTES)?;
        let bodies_dir = dir.join("bodies");
        let mut bodies = BTreeMap::new();
        if bodies_dir.exists() {
            let folder = BodiesDir::open(&bodies_dir).map_err(io(&bodies_dir))?;
            // One buffer for every file, so that each is read with one call (and one more
            // that finds its end), without asking for its size first.
            let mut buffer = Vec::new();
            for entry in fs::read_dir(&bodies_dir).map_err(io(&bodies_dir))? {
                let name = entry.map_err(io(&bodies_dir))?.file_name();
                read_into(&folder, &name, &bodies_dir, MAX_BODY_BYTES, &mut buffer)?;
                bodies.insert(
                    name.to_string_lossy().into_owned(),
                    buffer.as_slice().to_vec(),
                );
            }
        }
        Self::from_files(dir, &text, bodies)
    }

    /// Checks a bundle whose files are already in memory: the bytes of `bundle.json` and
    /// the files of `bodies/` by name (for bundles kept inside other containers, such as
    /// fixture suites, whose bytes were checked elsewhere). `dir` only names the bundle in
    /// errors. The checks are those of [`Bundle::read`].
    pub fn from_files(
        dir: &Path,
        index: &[u8],
        bodies: BTreeMap<String, Vec<u8>>,
    ) -> Result<Self, BundleError> {
        let index_path = dir.join("bundle.json");
        if index.len() as u64 > MAX_INDEX_BYTES {
            return Err(invalid(
                &index_path,
                format!(
                    "{} bytes, more than the {MAX_INDEX_BYTES}-byte limit",
                    index.len()
                ),
            ));
        }
        // One parse in the common case; the version decides which error a document that
        // is not a version-1 index gets, so it is looked at on its own only then.
        let parsed = match serde_json::from_slice::<FastIndex>(index) {
            Ok(fast) => Ok(Index::from(fast)),
            Err(_) => serde_json::from_slice::<Index>(index),
        };
        let version = match &parsed {
            Ok(index) => Some(index.kez_evidence_bundle),
            Err(_) => serde_json::from_slice::<VersionOnly>(index)
                .ok()
                .and_then(|v| v.kez_evidence_bundle.as_u64()),
        };
        match version {
            Some(BUNDLE_VERSION) => {}
            Some(other) => {
                return Err(invalid(
                    &index_path,
                    format!("bundle format version {other} is not supported (this tool reads {BUNDLE_VERSION})"),
                ))
            }
            None => {
                return Err(invalid(
                    &index_path,
                    "not an evidence bundle: no numeric \"kez_evidence_bundle\" member",
                ))
            }
        }
        let index: Index = parsed.map_err(|e| invalid(&index_path, format!("malformed: {e}")))?;
        for (position, record) in index.exchanges.iter().enumerate() {
            if record.seq != position as u64 {
                return Err(invalid(
                    &index_path,
                    format!(
                        "exchange {position} has seq {}, expected {position}",
                        record.seq
                    ),
                ));
            }
        }
        let mut wanted: HashSet<&str> = HashSet::new();
        for record in &index.exchanges {
            if let Exchange::Http {
                answer: Answer::Ok(http),
                ..
            } = &record.exchange
            {
                wanted.insert(&http.body_sha256);
            }
        }
        let bodies_dir = dir.join("bodies");
        for (name, body) in &bodies {
            let path = bodies_dir.join(name);
            if !wanted.contains(name.as_str()) {
                return Err(invalid(&path, "a body no exchange refers to"));
            }
            if body.len() as u64 > MAX_BODY_BYTES {
                return Err(invalid(
                    &path,
                    format!(
                        "{} bytes, more than the {MAX_BODY_BYTES}-byte limit",
                        body.len()
                    ),
                ));
            }
            let mut hash = [0u8; 64];
            hex::encode_to_slice(Sha256::digest(body), &mut hash)
                .map_err(|e| invalid(&path, e.to_string()))?;
            if hash[..] != *name.as_bytes() {
                return Err(invalid(
                    &path,
                    format!(
                        "content hash is {}, not the file's name",
                        String::from_utf8_lossy(&hash)
                    ),
                ));
            }
        }
        // Every body is wanted (checked above), so some wanted body is missing exactly when
        // there are fewer bodies than wanted ones; only then are they looked for.
        if bodies.len() < wanted.len() {
            let mut missing: Vec<&str> = wanted
                .iter()
                .copied()
                .filter(|hash| !bodies.contains_key(*hash))
                .collect();
            missing.sort_unstable();
            if let Some(missing) = missing.first() {
                return Err(invalid(&bodies_dir.join(missing), "body missing"));
            }
        }
        Ok(Bundle {
            recorded_at: index.recorded_at,
            tool: index.tool,
            context: index.context,
            evidence: Evidence {
                records: index.exchanges,
                bodies,
            },
        })
    }
}

/// Reads the file `name` of `folder` (at `folder_path`) into `buffer` (emptied first),
/// refusing more than `cap` bytes.
fn read_into(
    folder: &BodiesDir,
    name: &OsStr,
    folder_path: &Path,
    cap: u64,
    buffer: &mut Vec<u8>,
) -> Result<(), BundleError> {
    buffer.clear();
    folder
        .open_file(name)
        .and_then(|file| file.take(cap + 1).read_to_end(buffer))
        .map_err(|source| BundleError::Io {
            path: folder_path.join(name),
            source,
        })?;
    if buffer.len() as u64 > cap {
        return Err(invalid(
            &folder_path.join(name),
            format!("more than the {cap}-byte limit"),
        ));
    }
    Ok(())
}

/// A bundle's `bodies/` folder, its files opened relative to it: on unix the folder is
/// opened once and each file with `openat`, so the path to the folder is walked once, not
/// once per body (2,600 bodies: about 2 ms of 14 ms of file reading).
#[cfg(unix)]
struct BodiesDir(rustix::fd::OwnedFd);

#[cfg(unix)]
impl BodiesDir {
    fn open(path: &Path) -> std::io::Result<Self> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        Ok(Self(rustix::fs::open(path, flags, Mode::empty())?))
    }

    fn open_file(&self, name: &OsStr) -> std::io::Result<fs::File> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::CLOEXEC;
        Ok(rustix::fs::openat(&self.0, name, flags, Mode::empty())?.into())
    }
}

/// A bundle's `bodies/` folder, its files opened by path.
#[cfg(not(unix))]
struct BodiesDir(PathBuf);

#[cfg(not(unix))]
impl BodiesDir {
    fn open(path: &Path) -> std::io::Result<Self> {
        Ok(Self(path.to_path_buf()))
    }

    fn open_file(&self, name: &OsStr) -> std::io::Result<fs::File> {
        fs::File::open(self.0.join(name))
    }
}

fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, BundleError> {
    // One open and one fstat: the size checked is that of the file read.
    let mut file = fs::File::open(path).map_err(io(path))?;
    let len = file.metadata().map_err(io(path))?.len();
    if len > cap {
        return Err(invalid(
            path,
            format!("{len} bytes, more than the {cap}-byte limit"),
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize + 1);
    (&mut file)
        .take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    if bytes.len() as u64 > cap {
        return Err(invalid(
            path,
            format!("{} bytes, more than the {cap}-byte limit", bytes.len()),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The unbuffered reading of `bundle.json` takes what `Bundle::write` wrote (the
    /// committed bundles) and gives what the derived reading gives.
    #[test]
    fn fast_index_reads_committed_bundles_as_index_does() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/evidence");
        for name in ["github-jason", "alice-graph"] {
            let text = fs::read(root.join(name).join("bundle.json")).expect("committed bundle");
            let fast: Index = serde_json::from_slice::<FastIndex>(&text)
                .expect("fast path takes a written bundle")
                .into();
            let slow: Index = serde_json::from_slice(&text).expect("a bundle");
            assert_eq!(fast.exchanges, slow.exchanges, "{name}");
            assert_eq!(
                (fast.recorded_at, &fast.tool, &fast.context),
                (slow.recorded_at, &slow.tool, &slow.context),
                "{name}"
            );
        }
    }
}
