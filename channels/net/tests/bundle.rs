//! Evidence recording, bundles on disk and offline replay (docs/EVIDENCE.md).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use async_trait::async_trait;
use kez_channel::{
    FetchError, FetchErrorKind, HttpRequest, HttpResponse, Net, NostrQuery, TxtLookup, TxtRecord,
};
use kez_net::{Bundle, BundleError, Layout, Recorder, ReplayNet};

/// A scripted service: fixed answers, counting calls.
struct Scripted {
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl Net for Scripted {
    async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if request.url.ends_with("/down") {
            return Err(FetchError::new(
                FetchErrorKind::Timeout,
                &request.url,
                "no answer within 10 s",
            ));
        }
        Ok(HttpResponse {
            url: request.url.clone(),
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: format!("body of {} #{n}", request.url).into(),
            received_at: 1_700_000_000,
        })
    }

    async fn dns_txt(&self, name: &str) -> Result<TxtLookup, FetchError> {
        if name.starts_with("_kez.absent") {
            return Ok(TxtLookup::NxDomain);
        }
        Ok(TxtLookup::Records {
            records: vec![TxtRecord {
                strings: vec![b"kez:z1:abc".to_vec(), vec![0xff, 0x00, b'x']],
                ttl: 300,
            }],
            dnssec: None,
        })
    }

    async fn nostr_events(&self, _query: &NostrQuery) -> Result<Vec<String>, FetchError> {
        Ok(vec![r#"{"id":"00"}"#.into()])
    }

    fn now(&self) -> u64 {
        1_700_000_000
    }
}

fn scripted() -> Arc<dyn Net> {
    Arc::new(Scripted {
        calls: Default::default(),
    })
}

fn query() -> NostrQuery {
    NostrQuery {
        relays: vec!["ws://127.0.0.1:1".into()],
        filter: serde_json::json!({"authors": ["aa"], "kinds": [1]}),
    }
}

async fn exercise(net: &dyn Net) -> Vec<String> {
    let mut seen = Vec::new();
    for url in [
        "http://a.example/x",
        "http://a.example/x",
        "http://b.example/down",
    ] {
        seen.push(match net.http_get(HttpRequest::get(url)).await {
            Ok(r) => format!("{} {}", r.status, String::from_utf8_lossy(&r.body)),
            Err(e) => format!("error {} {e}", e.kind.name()),
        });
    }
    for name in ["_kez.example.com", "_kez.absent.example"] {
        seen.push(format!("{:?}", net.dns_txt(name).await));
    }
    seen.push(format!("{:?}", net.nostr_events(&query()).await));
    seen
}

fn record() -> (Bundle, Vec<String>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let recorder = Recorder::new(scripted());
        let live = exercise(&recorder).await;
        let bundle = Bundle {
            recorded_at: recorder.now(),
            tool: "test".into(),
            context: serde_json::json!({"target": "github:jason"}),
            evidence: recorder.evidence(),
        };
        (bundle, live)
    })
}

#[test]
fn a_written_bundle_replays_every_answer_byte_for_byte() {
    let (bundle, live) = record();
    assert_eq!(bundle.evidence.records.len(), 6);
    let dir = tempfile::tempdir().unwrap();
    for layout in [Layout::Directory, Layout::Packed] {
        let path = dir.path().join(format!("{layout:?}"));
        bundle.write_as(&path, layout).unwrap();
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path.join("bundle.json")).unwrap()).unwrap();
        assert_eq!(index["kez_evidence_bundle"], layout.version());
        assert_eq!(
            (
                path.join("bodies").is_dir(),
                path.join("bodies.tar").is_file()
            ),
            (layout == Layout::Directory, layout == Layout::Packed)
        );
        let read = Bundle::read(&path).unwrap();
        assert_eq!(read, bundle, "{layout:?}");
        let replayed = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async { exercise(&ReplayNet::new(&read)).await });
        assert_eq!(replayed, live, "{layout:?}");
    }
    // The two answers to the same URL came back in recorded order.
    assert!(
        live[0].ends_with("#0") && live[1].ends_with("#1"),
        "{live:?}"
    );
}

#[test]
fn a_packed_bundle_is_a_plain_reproducible_tar_of_the_body_files() {
    let (bundle, _) = record();
    let dir = tempfile::tempdir().unwrap();
    bundle.write(&dir.path().join("dir")).unwrap();
    bundle
        .write_as(&dir.path().join("a"), Layout::Packed)
        .unwrap();
    bundle
        .write_as(&dir.path().join("b"), Layout::Packed)
        .unwrap();
    let archive = std::fs::read(dir.path().join("a/bodies.tar")).unwrap();
    assert_eq!(
        archive,
        std::fs::read(dir.path().join("b/bodies.tar")).unwrap()
    );
    // Unpacked with the system's tar, it is the bodies/ folder of the same bundle written
    // as format 1.
    let out = dir.path().join("unpacked");
    std::fs::create_dir(&out).unwrap();
    let status = std::process::Command::new("tar")
        .arg("-xf")
        .arg(dir.path().join("a/bodies.tar"))
        .arg("-C")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let files = |d: &std::path::Path| {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let unpacked = files(&out);
    assert_eq!(unpacked.len(), bundle.evidence.bodies.len());
    assert_eq!(unpacked, files(&dir.path().join("dir/bodies")));
}

/// A ustar archive of `entries` (name, type, content), built by hand so that it can hold
/// what kez-net never writes.
fn tar_of(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
    let mut archive = tar::Builder::new(Vec::new());
    for (name, kind, body) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_path(name).unwrap();
        header.set_size(body.len() as u64);
        header.set_entry_type(*kind);
        header.set_cksum();
        archive.append(&header, *body).unwrap();
    }
    archive.into_inner().unwrap()
}

/// A recorded bundle written packed to `p` in a new temporary directory.
fn written_packed() -> (Bundle, tempfile::TempDir, std::path::PathBuf) {
    let (bundle, _) = record();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p");
    bundle.write_as(&path, Layout::Packed).unwrap();
    (bundle, dir, path)
}

#[test]
fn reading_a_packed_bundle_refuses_bad_archives_and_mixed_layouts() {
    let (bundle, dir, path) = written_packed();
    let tar_path = path.join("bodies.tar");
    let good: Vec<(String, Vec<u8>)> = bundle
        .evidence
        .bodies
        .iter()
        .map(|(name, body)| (name.clone(), body.to_vec()))
        .collect();
    let regular = tar::EntryType::Regular;
    let with = |extra: &[(&str, tar::EntryType, &[u8])], skip: usize| {
        let mut entries: Vec<(&str, tar::EntryType, &[u8])> = good
            .iter()
            .skip(skip)
            .map(|(n, b)| (n.as_str(), regular, b.as_slice()))
            .collect();
        entries.extend_from_slice(extra);
        tar_of(&entries)
    };
    let expect = |archive: Vec<u8>, wanted: &str| {
        std::fs::write(&tar_path, archive).unwrap();
        let err = Bundle::read(&path).unwrap_err().to_string();
        assert!(err.contains(wanted), "wanted {wanted:?}: {err}");
    };
    let (first, first_body) = (&good[0].0, good[0].1.as_slice());
    // A body whose content is not its name, a missing one, an extra one, one twice.
    let tampered = {
        let mut entries: Vec<(&str, tar::EntryType, &[u8])> = good
            .iter()
            .skip(1)
            .map(|(n, b)| (n.as_str(), regular, b.as_slice()))
            .collect();
        entries.push((first, regular, b"tampered"));
        tar_of(&entries)
    };
    expect(tampered, "content hash");
    expect(with(&[], 1), "body missing");
    expect(
        with(&[("deadbeef", regular, b"x")], 0),
        "no exchange refers to",
    );
    expect(
        with(&[(first, regular, first_body)], 0),
        "in the archive twice",
    );
    // Entries that are not regular files, a cut archive, and bytes that are no archive.
    expect(
        with(&[("link", tar::EntryType::Symlink, b"")], 0),
        "not a regular file",
    );
    let mut cut = with(&[], 0);
    cut.truncate(cut.len() - 1024 - 512);
    expect(cut.clone(), "cut short: no end-of-archive blocks");
    // Cut inside the last entry, with end blocks after the cut: still refused, naming the
    // archive.
    cut.truncate(cut.len() - 1);
    cut.extend_from_slice(&[0; 1024]);
    expect(cut, "bodies.tar");
    let mut garbage = vec![0x41u8; 512];
    garbage.extend_from_slice(&[0; 1024]);
    expect(garbage, "not a tar archive");
    // The good archive again reads; then a bodies/ folder beside it is refused, and a
    // format-1 bundle with a bodies.tar is refused.
    std::fs::write(&tar_path, with(&[], 0)).unwrap();
    assert_eq!(Bundle::read(&path).unwrap(), bundle);
    std::fs::create_dir(path.join("bodies")).unwrap();
    let err = Bundle::read(&path).unwrap_err().to_string();
    assert!(err.contains("keeps its bodies in bodies.tar"), "{err}");
    let flat = dir.path().join("f");
    bundle.write(&flat).unwrap();
    std::fs::write(flat.join("bodies.tar"), with(&[], 0)).unwrap();
    let err = Bundle::read(&flat).unwrap_err().to_string();
    assert!(err.contains("keeps its bodies in bodies/"), "{err}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..Default::default()
    })]

    /// Any damage to a packed bundle's archive — bytes changed anywhere or inside a body,
    /// the archive cut, garbage appended — either is refused with an error or reads as
    /// exactly the recorded bodies (every body is checked against its hash); it never panics.
    #[test]
    fn a_damaged_archive_is_refused_or_reads_as_recorded(
        flips in proptest::collection::vec(
            (proptest::prelude::any::<proptest::sample::Index>(), 1u8..=255, proptest::prelude::any::<bool>()),
            0..4,
        ),
        cut in proptest::option::of(proptest::prelude::any::<proptest::sample::Index>()),
        tail in proptest::option::of(proptest::collection::vec(proptest::prelude::any::<u8>(), 1..600)),
    ) {
        let (bundle, index, archive) = packed_fixture();
        // Where the bodies' bytes are: each entry is a 512-byte header, then the body,
        // padded to 512 bytes, in hash order.
        let mut in_bodies = Vec::new();
        let mut offset = 0;
        for body in bundle.evidence.bodies.values() {
            offset += 512;
            in_bodies.extend(offset..offset + body.len());
            offset += body.len().div_ceil(512) * 512;
        }
        let mut damaged = archive.clone();
        for (at, xor, inside_a_body) in flips {
            let i = if inside_a_body {
                in_bodies[at.index(in_bodies.len())]
            } else {
                at.index(damaged.len())
            };
            damaged[i] ^= xor;
        }
        if let Some(at) = cut {
            damaged.truncate(at.index(damaged.len()));
        }
        damaged.extend_from_slice(tail.as_deref().unwrap_or_default());
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("b");
        std::fs::create_dir(&copy).unwrap();
        std::fs::write(copy.join("bundle.json"), index).unwrap();
        std::fs::write(copy.join("bodies.tar"), &damaged).unwrap();
        match Bundle::read(&copy) {
            Ok(read) => proptest::prop_assert_eq!(&read, bundle),
            Err(error) => proptest::prop_assert!(error.to_string().contains("bodies.tar")),
        }
    }
}

/// A packed bundle written once for the property above: the bundle, and the bytes of its
/// `bundle.json` and `bodies.tar`.
fn packed_fixture() -> &'static (Bundle, Vec<u8>, Vec<u8>) {
    static FIXTURE: std::sync::OnceLock<(Bundle, Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (bundle, _dir, path) = written_packed();
        let index = std::fs::read(path.join("bundle.json")).unwrap();
        let archive = std::fs::read(path.join("bodies.tar")).unwrap();
        (bundle, index, archive)
    })
}

#[test]
fn files_in_memory_are_read_as_format_1_only() {
    let (bundle, dir, path) = written_packed();
    let index = std::fs::read(path.join("bundle.json")).unwrap();
    let err = Bundle::from_files(&path, &index, bundle.evidence.bodies.clone())
        .unwrap_err()
        .to_string();
    assert!(err.contains("packed bundle (format 2)"), "{err}");
    let flat = dir.path().join("f");
    bundle.write(&flat).unwrap();
    let index = std::fs::read(flat.join("bundle.json")).unwrap();
    assert_eq!(
        Bundle::from_files(&flat, &index, bundle.evidence.bodies.clone()).unwrap(),
        bundle
    );
}

#[test]
fn a_request_the_bundle_does_not_hold_fails_loudly() {
    let (bundle, _) = record();
    let replay = ReplayNet::new(&bundle);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let err = runtime
        .block_on(replay.http_get(HttpRequest::get("http://a.example/other")))
        .unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::NotRecorded);
    // The Accept header is part of what was asked.
    let err = runtime
        .block_on(replay.http_get(HttpRequest::get("http://a.example/x").accept("text/html")))
        .unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::NotRecorded);
    let err = runtime
        .block_on(replay.dns_txt("_kez.other.example"))
        .unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::NotRecorded);
    assert_eq!(replay.now(), 1_700_000_000);
}

#[test]
fn reading_refuses_tampered_missing_and_extra_bodies() {
    let (bundle, _) = record();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b");
    bundle.write(&path).unwrap();
    let bodies = path.join("bodies");
    let first = std::fs::read_dir(&bodies)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();

    std::fs::write(&first, b"tampered").unwrap();
    let err = Bundle::read(&path).unwrap_err().to_string();
    assert!(err.contains("content hash"), "{err}");

    std::fs::remove_file(&first).unwrap();
    let err = Bundle::read(&path).unwrap_err().to_string();
    assert!(err.contains("body missing"), "{err}");

    bundle.write(&dir.path().join("c")).unwrap();
    std::fs::write(dir.path().join("c/bodies/deadbeef"), b"x").unwrap();
    let err = Bundle::read(&dir.path().join("c")).unwrap_err().to_string();
    assert!(err.contains("no exchange refers to"), "{err}");
}

#[test]
fn reading_refuses_other_versions_and_non_bundles() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bundle.json"),
        r#"{"kez_evidence_bundle": 3, "recorded_at": 0, "tool": "", "context": null, "exchanges": []}"#,
    )
    .unwrap();
    let err = Bundle::read(dir.path()).unwrap_err().to_string();
    assert!(err.contains("version 3 is not supported"), "{err}");
    std::fs::write(dir.path().join("bundle.json"), "[]").unwrap();
    let err = Bundle::read(dir.path()).unwrap_err().to_string();
    assert!(err.contains("not an evidence bundle"), "{err}");
    let err = Bundle::read(&dir.path().join("nope")).unwrap_err();
    assert!(matches!(err, BundleError::Io { .. }));
}

#[test]
fn writing_never_overwrites_and_leaves_no_partial_directory() {
    let (bundle, _) = record();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b");
    std::fs::create_dir(&path).unwrap();
    assert!(matches!(bundle.write(&path), Err(BundleError::Exists(_))));
    // Only the pre-existing directory is there: no staging left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn non_utf8_txt_strings_survive_the_round_trip() {
    let (bundle, _) = record();
    let text = serde_json::to_string(&bundle.evidence.records[3]).unwrap();
    assert!(text.contains(r#"{"hex":"ff0078"}"#), "{text}");
    assert!(text.contains(r#""kez:z1:abc""#), "{text}");
}
