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

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::evidence::{body_hash, Answer, Evidence, Exchange, Record};

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
            for entry in fs::read_dir(&bodies_dir).map_err(io(&bodies_dir))? {
                let entry = entry.map_err(io(&bodies_dir))?;
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                bodies.insert(name, read_capped(&path, MAX_BODY_BYTES)?);
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
        let parsed = serde_json::from_slice::<Index>(index);
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
        let mut wanted: BTreeMap<String, ()> = BTreeMap::new();
        for record in &index.exchanges {
            if let Exchange::Http {
                answer: Answer::Ok(http),
                ..
            } = &record.exchange
            {
                wanted.insert(http.body_sha256.clone(), ());
            }
        }
        let bodies_dir = dir.join("bodies");
        for (name, body) in &bodies {
            let path = bodies_dir.join(name);
            if !wanted.contains_key(name) {
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
            let hash = body_hash(body);
            if &hash != name {
                return Err(invalid(
                    &path,
                    format!("content hash is {hash}, not the file's name"),
                ));
            }
        }
        if let Some(missing) = wanted.keys().find(|hash| !bodies.contains_key(*hash)) {
            return Err(invalid(&bodies_dir.join(missing), "body missing"));
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

fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, BundleError> {
    let meta = fs::metadata(path).map_err(io(path))?;
    if meta.len() > cap {
        return Err(invalid(
            path,
            format!("{} bytes, more than the {cap}-byte limit", meta.len()),
        ));
    }
    fs::read(path).map_err(io(path))
}
