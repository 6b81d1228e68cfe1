//! Evidence bundles on disk (docs/EVIDENCE.md, format versions 1 and 2).
//!
//! A bundle is a directory, in one of two layouts that differ only in where the bodies are:
//!
//! ```text
//! bundle.json            {"kez_evidence_bundle": 1 or 2, "recorded_at", "tool", "context",
//!                         "exchanges": [...]}
//! bodies/<sha256 hex>    format 1 (Layout::Directory): each HTTP body once, named by its hash
//! bodies.tar             format 2 (Layout::Packed): the same files in one ustar archive
//! ```
//!
//! `context` is the recording host's own description of what was verified and with which
//! endpoints (for `kez-verify id`: the target, the channel configuration, the sigchain sources),
//! so that a replay needs nothing but the bundle. Reading a bundle checks every body against
//! its hash and refuses unknown versions, missing bodies and extra files.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use kez_channel::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::evidence::{Answer, Evidence, Exchange, Record};

/// The format version of a bundle whose bodies are files in `bodies/` ([`Layout::Directory`]).
pub const BUNDLE_VERSION: u64 = 1;

/// The format version of a bundle whose bodies are in `bodies.tar` ([`Layout::Packed`]).
pub const PACKED_BUNDLE_VERSION: u64 = 2;

/// The largest `bundle.json` read (64 MiB), the largest body (16 MiB) and the largest
/// `bodies.tar` (1 GiB, read whole).
const MAX_INDEX_BYTES: u64 = 64 << 20;
const MAX_BODY_BYTES: u64 = 16 << 20;
const MAX_PACKED_BYTES: u64 = 1 << 30;

/// The folder of a format-1 bundle's bodies, and the archive of a format-2 bundle's.
const BODIES_DIR: &str = "bodies";
const BODIES_TAR: &str = "bodies.tar";

/// Where a bundle keeps its bodies; the index is `bundle.json` in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Layout {
    /// Format 1: `bodies/<sha256 hex>`, one file per body: easy to inspect and to diff.
    #[default]
    Directory,
    /// Format 2: `bodies.tar`, the same files in one ustar archive: one file to copy and to
    /// read, for bundles of many bodies (reading 2,600 body files costs as much as the
    /// signature checks of about 150 identities).
    Packed,
}

impl Layout {
    /// The format version a bundle in this layout has.
    pub fn version(self) -> u64 {
        match self {
            Layout::Directory => BUNDLE_VERSION,
            Layout::Packed => PACKED_BUNDLE_VERSION,
        }
    }
}

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
    /// Writes the bundle to `dir`, which must not exist, in [`Layout::Directory`]. The
    /// bundle is built in a temporary directory beside `dir` and renamed into place, so `dir`
    /// is either complete or absent.
    pub fn write(&self, dir: &Path) -> Result<(), BundleError> {
        self.write_as(dir, Layout::Directory)
    }

    /// Writes the bundle to `dir`, which must not exist, in `layout`; atomic as
    /// [`Bundle::write`]. A packed archive is the same for the same bodies: entries in hash
    /// order, mode 0644, owner 0, time 0.
    pub fn write_as(&self, dir: &Path, layout: Layout) -> Result<(), BundleError> {
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
        match layout {
            Layout::Directory => {
                let bodies_dir = staging.path().join(BODIES_DIR);
                fs::create_dir(&bodies_dir).map_err(io(&bodies_dir))?;
                for (hash, body) in &self.evidence.bodies {
                    let path = bodies_dir.join(hash);
                    fs::write(&path, body).map_err(io(&path))?;
                }
            }
            Layout::Packed => {
                let path = staging.path().join(BODIES_TAR);
                let archive = pack(&self.evidence.bodies).map_err(io(&path))?;
                fs::write(&path, archive).map_err(io(&path))?;
            }
        }
        let index = Index {
            kez_evidence_bundle: layout.version(),
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
        let index = parse_index(&index_path, &text)?;
        let (bodies_dir, archive) = (dir.join(BODIES_DIR), dir.join(BODIES_TAR));
        let bodies = {
            let wanted = wanted_bodies(&index);
            if index.kez_evidence_bundle == PACKED_BUNDLE_VERSION {
                if bodies_dir.exists() {
                    return Err(invalid(
                        &bodies_dir,
                        "a packed bundle (format 2) keeps its bodies in bodies.tar, not here",
                    ));
                }
                let bodies = read_packed(&archive)?;
                check_bodies(&archive, &wanted, &bodies)?;
                bodies
            } else {
                if archive.exists() {
                    return Err(invalid(
                        &archive,
                        "a format-1 bundle keeps its bodies in bodies/, not here",
                    ));
                }
                let bodies = if bodies_dir.exists() {
                    read_bodies(&bodies_dir, &wanted)?
                } else {
                    BTreeMap::new()
                };
                check_bodies(&bodies_dir, &wanted, &bodies)?;
                bodies
            }
        };
        Ok(assemble(index, bodies))
    }

    /// Checks a bundle whose files are already in memory: the bytes of `bundle.json` and
    /// the files of `bodies/` by name (for bundles kept inside other containers, such as
    /// fixture suites, whose bytes were checked elsewhere). `dir` only names the bundle in
    /// errors. The checks are those of [`Bundle::read`] for a format-1 bundle; a packed one
    /// is refused (its bodies are one archive, not files).
    pub fn from_files(
        dir: &Path,
        index: &[u8],
        bodies: BTreeMap<String, Bytes>,
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
        let index = parse_index(&index_path, index)?;
        if index.kez_evidence_bundle != BUNDLE_VERSION {
            return Err(invalid(
                &index_path,
                format!(
                    "a packed bundle (format {PACKED_BUNDLE_VERSION}) cannot be read from \
                     separate files; write it as format {BUNDLE_VERSION}"
                ),
            ));
        }
        check_bodies(&dir.join(BODIES_DIR), &wanted_bodies(&index), &bodies)?;
        Ok(assemble(index, bodies))
    }
}

/// Parses `bundle.json` (at `index_path`, for errors) and checks its version and sequence.
fn parse_index(index_path: &Path, text: &[u8]) -> Result<Index, BundleError> {
    // One parse in the common case; the version decides which error a document that is not
    // a version-1 index gets, so it is looked at on its own only then.
    let parsed = match serde_json::from_slice::<FastIndex>(text) {
        Ok(fast) => Ok(Index::from(fast)),
        Err(_) => serde_json::from_slice::<Index>(text),
    };
    let version = match &parsed {
        Ok(index) => Some(index.kez_evidence_bundle),
        Err(_) => serde_json::from_slice::<VersionOnly>(text)
            .ok()
            .and_then(|v| v.kez_evidence_bundle.as_u64()),
    };
    match version {
        Some(BUNDLE_VERSION | PACKED_BUNDLE_VERSION) => {}
        Some(other) => {
            return Err(invalid(
                index_path,
                format!(
                    "bundle format version {other} is not supported (this tool reads \
                     {BUNDLE_VERSION} and {PACKED_BUNDLE_VERSION})"
                ),
            ))
        }
        None => {
            return Err(invalid(
                index_path,
                "not an evidence bundle: no numeric \"kez_evidence_bundle\" member",
            ))
        }
    }
    let index: Index = parsed.map_err(|e| invalid(index_path, format!("malformed: {e}")))?;
    for (position, record) in index.exchanges.iter().enumerate() {
        if record.seq != position as u64 {
            return Err(invalid(
                index_path,
                format!(
                    "exchange {position} has seq {}, expected {position}",
                    record.seq
                ),
            ));
        }
    }
    Ok(index)
}

/// The bodies the exchanges of `index` refer to: hash, and the length recorded for it.
fn wanted_bodies(index: &Index) -> HashMap<&str, u64> {
    let mut wanted = HashMap::with_capacity(index.exchanges.len());
    for record in &index.exchanges {
        if let Exchange::Http {
            answer: Answer::Ok(http),
            ..
        } = &record.exchange
        {
            wanted.insert(http.body_sha256.as_str(), http.body_len);
        }
    }
    wanted
}

/// Reads every file of `bodies_dir`, each into a buffer of the length the index recorded
/// for it (so that it is read with one call, and one more that finds its end).
fn read_bodies(
    bodies_dir: &Path,
    wanted: &HashMap<&str, u64>,
) -> Result<BTreeMap<String, Bytes>, BundleError> {
    let folder = BodiesDir::open(bodies_dir).map_err(io(bodies_dir))?;
    let mut bodies = BTreeMap::new();
    for entry in fs::read_dir(bodies_dir).map_err(io(bodies_dir))? {
        let name = entry.map_err(io(bodies_dir))?.file_name();
        let recorded_len = name.to_str().and_then(|name| wanted.get(name)).copied();
        let body = read_body(&folder, &name, bodies_dir, recorded_len)?;
        bodies.insert(name.to_string_lossy().into_owned(), body);
    }
    Ok(bodies)
}

/// The bodies as a ustar archive: entries named by hash, in hash order, with fixed metadata.
fn pack(bodies: &BTreeMap<String, Bytes>) -> std::io::Result<Vec<u8>> {
    let size: usize = bodies
        .values()
        .map(|b| 512 + b.len().div_ceil(512) * 512)
        .sum();
    let mut archive = tar::Builder::new(Vec::with_capacity(size + 1024));
    for (hash, body) in bodies {
        let mut header = tar::Header::new_ustar();
        header.set_path(hash)?;
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        archive.append(&header, &body[..])?;
    }
    archive.into_inner()
}

/// Reads the bodies of a packed bundle from its archive at `path`: one read, and each body
/// a slice of it. Only regular files named once are taken; the names are checked as body
/// file names are.
fn read_packed(path: &Path) -> Result<BTreeMap<String, Bytes>, BundleError> {
    let archive = Bytes::from(read_capped(path, MAX_PACKED_BYTES)?);
    // A whole archive ends with two zero blocks (POSIX ustar); without them, entries may be
    // missing from a cut archive without any entry being cut.
    if archive.len() < 1024 || archive[archive.len() - 1024..].iter().any(|&b| b != 0) {
        return Err(invalid(path, "cut short: no end-of-archive blocks"));
    }
    let malformed = |e: std::io::Error| invalid(path, format!("not a tar archive: {e}"));
    let mut tar = tar::Archive::new(std::io::Cursor::new(&archive[..]));
    let mut bodies = BTreeMap::new();
    for entry in tar.entries_with_seek().map_err(malformed)? {
        let entry = entry.map_err(malformed)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let at = path.join(&name);
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(invalid(&at, "not a regular file"));
        }
        if entry.size() > MAX_BODY_BYTES {
            return Err(invalid(
                &at,
                format!("more than the {MAX_BODY_BYTES}-byte limit"),
            ));
        }
        let start = usize::try_from(entry.raw_file_position()).unwrap_or(usize::MAX);
        let end = start.saturating_add(entry.size() as usize);
        if end > archive.len() {
            return Err(invalid(&at, "cut short: the archive ends inside it"));
        }
        if bodies.insert(name, archive.slice(start..end)).is_some() {
            return Err(invalid(&at, "in the archive twice"));
        }
    }
    Ok(bodies)
}

/// Checks the bodies against the exchanges: each is wanted, within the size limit and
/// named by its hash, and none is missing.
fn check_bodies(
    bodies_dir: &Path,
    wanted: &HashMap<&str, u64>,
    bodies: &BTreeMap<String, Bytes>,
) -> Result<(), BundleError> {
    for (name, body) in bodies {
        // The path only names the body in an error; most bodies have none.
        let path = || bodies_dir.join(name);
        if !wanted.contains_key(name.as_str()) {
            return Err(invalid(&path(), "a body no exchange refers to"));
        }
        if body.len() as u64 > MAX_BODY_BYTES {
            return Err(invalid(
                &path(),
                format!(
                    "{} bytes, more than the {MAX_BODY_BYTES}-byte limit",
                    body.len()
                ),
            ));
        }
        let mut hash = [0u8; 64];
        hex::encode_to_slice(Sha256::digest(body), &mut hash)
            .map_err(|e| invalid(&path(), e.to_string()))?;
        if hash[..] != *name.as_bytes() {
            return Err(invalid(
                &path(),
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
            .keys()
            .copied()
            .filter(|hash| !bodies.contains_key(*hash))
            .collect();
        missing.sort_unstable();
        if let Some(missing) = missing.first() {
            return Err(invalid(&bodies_dir.join(missing), "body missing"));
        }
    }
    Ok(())
}

/// The bundle of a checked index and its checked bodies.
fn assemble(index: Index, bodies: BTreeMap<String, Bytes>) -> Bundle {
    Bundle {
        recorded_at: index.recorded_at,
        tool: index.tool,
        context: index.context,
        evidence: Evidence {
            records: index.exchanges,
            bodies,
        },
    }
}

/// The most a recorded length reserves before a body is read (64 KiB): enough for every
/// body seen so far in one allocation, while an index that lies about lengths cannot make
/// reading reserve much memory for nothing. Longer bodies grow as they are read.
const MAX_RESERVED_BODY_BYTES: u64 = 64 << 10;

/// Reads the body file `name` of `folder` (at `folder_path`), refusing more than
/// [`MAX_BODY_BYTES`]. `recorded_len`, the length the index gives it, sizes the buffer.
fn read_body(
    folder: &BodiesDir,
    name: &OsStr,
    folder_path: &Path,
    recorded_len: Option<u64>,
) -> Result<Bytes, BundleError> {
    let reserve = recorded_len.unwrap_or(0).min(MAX_RESERVED_BODY_BYTES) as usize;
    // One byte more than expected, so that the end is found without growing the buffer.
    let mut buffer = Vec::with_capacity(reserve + 1);
    folder
        .open_file(name)
        .and_then(|file| file.take(MAX_BODY_BYTES + 1).read_to_end(&mut buffer))
        .map_err(|source| BundleError::Io {
            path: folder_path.join(name),
            source,
        })?;
    if buffer.len() as u64 > MAX_BODY_BYTES {
        return Err(invalid(
            &folder_path.join(name),
            format!("more than the {MAX_BODY_BYTES}-byte limit"),
        ));
    }
    Ok(Bytes::from(buffer))
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
