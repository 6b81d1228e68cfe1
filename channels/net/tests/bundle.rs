//! Evidence recording, bundles on disk and offline replay (docs/EVIDENCE.md).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use async_trait::async_trait;
use kez_channel::{
    FetchError, FetchErrorKind, HttpRequest, HttpResponse, Net, NostrQuery, TxtLookup, TxtRecord,
};
use kez_net::{Bundle, BundleError, Recorder, ReplayNet};

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
            body: format!("body of {} #{n}", request.url).into_bytes(),
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
    let path = dir.path().join("bundle");
    bundle.write(&path).unwrap();
    let read = Bundle::read(&path).unwrap();
    assert_eq!(read, bundle);
    let replayed = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { exercise(&ReplayNet::new(&read)).await });
    assert_eq!(replayed, live);
    // The two answers to the same URL came back in recorded order.
    assert!(
        live[0].ends_with("#0") && live[1].ends_with("#1"),
        "{live:?}"
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
        r#"{"kez_evidence_bundle": 2, "recorded_at": 0, "tool": "", "context": null, "exchanges": []}"#,
    )
    .unwrap();
    let err = Bundle::read(dir.path()).unwrap_err().to_string();
    assert!(err.contains("version 2 is not supported"), "{err}");
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
