//! `ExternalChannel` driving the real `kez-channel-web` plugin through a `Net`: the host
//! side and the plugin side of docs/CHANNEL-PLUGINS.md together.
#![cfg(unix)]

use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use kez_channel::external::ExternalChannel;
use kez_channel::{
    Channel, ChannelError, FetchError, FetchErrorKind, HttpRequest, HttpResponse, Net, NostrQuery,
    TxtLookup,
};
use kez_core::Identity;

const PLUGIN: &str = env!("CARGO_BIN_EXE_kez-channel-web");

/// Answers one URL with a status and body (404 elsewhere), or fails every request; records
/// the requests.
struct OneFile {
    url: &'static str,
    answer: Result<(u16, &'static [u8]), FetchErrorKind>,
    requests: Mutex<Vec<HttpRequest>>,
}

impl OneFile {
    fn new(url: &'static str, status: u16, body: &'static [u8]) -> Self {
        Self {
            url,
            answer: Ok((status, body)),
            requests: Mutex::new(Vec::new()),
        }
    }

    fn failing(kind: FetchErrorKind) -> Self {
        Self {
            url: "",
            answer: Err(kind),
            requests: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl Net for OneFile {
    async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        self.requests
            .lock()
            .expect("requests")
            .push(request.clone());
        let (status, body) = match self.answer {
            Err(kind) => return Err(FetchError::new(kind, request.url, "fake failure")),
            Ok(_) if request.url != self.url => (404, &b"not found"[..]),
            Ok(answer) => answer,
        };
        Ok(HttpResponse {
            url: request.url,
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.to_vec().into(),
            received_at: 1_767_225_600,
        })
    }

    async fn dns_txt(&self, name: &str) -> Result<TxtLookup, FetchError> {
        Err(FetchError::new(
            FetchErrorKind::Refused,
            name,
            "unexpected dns",
        ))
    }

    async fn nostr_events(&self, query: &NostrQuery) -> Result<Vec<String>, FetchError> {
        Err(FetchError::new(
            FetchErrorKind::Refused,
            query.relays.join(" "),
            "unexpected nostr",
        ))
    }

    fn now(&self) -> u64 {
        1_767_225_600
    }
}

fn web() -> ExternalChannel {
    ExternalChannel::spawn(PLUGIN).expect("kez-channel-web starts")
}

fn identity(text: &str) -> Identity {
    Identity::parse(text).expect("identity")
}

#[tokio::test]
async fn finds_the_published_proof() {
    let channel = web();
    assert_eq!(channel.id(), "web");
    assert!(channel.aliases().is_empty());
    let net = OneFile::new(
        "https://example.com/.well-known/kez.txt",
        200,
        b"hello\nmy proof: kez:z1:AbC-_9 and that is all\n",
    );
    let lookup = channel
        .lookup(&identity("web:example.com"), &net)
        .await
        .expect("lookup");
    let proofs: Vec<_> = lookup.proofs().collect();
    assert_eq!(proofs.len(), 1, "{lookup:?}");
    assert_eq!(proofs[0].content, "kez:z1:AbC-_9");
    assert_eq!(
        proofs[0].location,
        "https://example.com/.well-known/kez.txt"
    );
    let requests = net.requests.lock().expect("requests").clone();
    assert_eq!(
        requests,
        [HttpRequest::get("https://example.com/.well-known/kez.txt").accept("text/plain")]
    );
}

#[tokio::test]
async fn not_found_is_an_empty_lookup() {
    let channel = web();
    let net = OneFile::new("https://elsewhere.example/", 200, b"kez:z1:x");
    let lookup = channel
        .lookup(&identity("web:example.com"), &net)
        .await
        .expect("lookup");
    assert!(lookup.found.is_empty(), "{lookup:?}");
    assert_eq!(
        lookup.notes,
        ["https://example.com/.well-known/kez.txt: status 404"]
    );
}

#[tokio::test]
async fn a_binary_body_crosses_as_base64_and_holds_no_proof() {
    let channel = web();
    let net = OneFile::new(
        "https://example.com/.well-known/kez.txt",
        200,
        &[0xff, 0xfe, b'k'],
    );
    let lookup = channel
        .lookup(&identity("web:example.com"), &net)
        .await
        .expect("lookup");
    assert!(lookup.found.is_empty());
    assert_eq!(
        lookup.notes,
        ["https://example.com/.well-known/kez.txt: the body is not UTF-8"]
    );
}

#[tokio::test]
async fn failures_keep_their_kind_and_not_recorded_stays_itself() {
    let channel = web();
    let server = OneFile::new("https://example.com/.well-known/kez.txt", 503, b"");
    match channel.lookup(&identity("web:example.com"), &server).await {
        Err(ChannelError::Unreachable(error)) => {
            assert_eq!(error.kind, FetchErrorKind::ServerError);
            assert_eq!(error.target, "https://example.com/.well-known/kez.txt");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    let refused = OneFile::failing(FetchErrorKind::Connect);
    match channel.lookup(&identity("web:example.com"), &refused).await {
        Err(ChannelError::Unreachable(error)) => assert_eq!(error.kind, FetchErrorKind::Connect),
        other => panic!("expected unreachable, got {other:?}"),
    }
    let replay = OneFile::failing(FetchErrorKind::NotRecorded);
    match channel.lookup(&identity("web:example.com"), &replay).await {
        Err(ChannelError::NotRecorded(error)) => {
            assert_eq!(error.target, "https://example.com/.well-known/kez.txt")
        }
        other => panic!("expected not_recorded, got {other:?}"),
    }
}

#[test]
fn normalises_through_the_plugin() {
    let channel = web();
    assert_eq!(
        channel.normalise("Example.COM.").expect("valid"),
        "example.com"
    );
    assert_eq!(
        channel.normalise("bücher.example").expect("valid"),
        "xn--bcher-kva.example"
    );
    let error = channel.normalise("localhost").expect_err("one label");
    assert!(error.0.contains("at least two labels"), "{error}");
}

#[test]
fn is_found_on_path_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let link = dir.path().join("kez-channel-web");
    std::os::unix::fs::symlink(PLUGIN, &link).expect("symlink");
    let path_var =
        std::env::join_paths([Path::new("/nonexistent-kez-dir"), dir.path()]).expect("PATH value");
    let found = ExternalChannel::locate("web", Some(&path_var)).expect("found");
    assert_eq!(found, link);
    let channel = ExternalChannel::spawn(&found).expect("starts");
    assert_eq!(channel.id(), "web");
    assert!(ExternalChannel::locate("nope", Some(&path_var)).is_err());
}
