//! Unit tests of the bluesky channel against a scripted `Net` (the real PDS is used by
//! tests/bluesky.rs and tests/conformance_bluesky.rs).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use kez_channel::{
    Channel, ChannelError, FetchError, FetchErrorKind, Found, HttpRequest, HttpResponse, Net,
    NostrQuery, Redirects, RejectReason, TxtLookup, TxtRecord,
};
use kez_core::Identity;
use serde_json::json;

use super::tid::encode_tid;
use super::BlueskyChannel;

const PLC: &str = "https://plc.test";
const PDS: &str = "https://pds.test";
const ALICE: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const MALLORY: &str = "did:plc:mmmmmmmmmmmmmmmmmmmmmmmm";

/// A scripted `Net`: HTTP answers by URL (anything else: a connection error), TXT answers by
/// name (anything else: NXDOMAIN). Records every URL asked for.
#[derive(Default)]
struct FakeNet {
    http: HashMap<String, Result<(u16, String), FetchErrorKind>>,
    dns: HashMap<String, Result<TxtLookup, FetchErrorKind>>,
    asked: Mutex<Vec<String>>,
    redirects: Mutex<Vec<Redirects>>,
    dns_asked: Mutex<Vec<String>>,
}

impl FakeNet {
    fn http(mut self, url: &str, status: u16, body: impl Into<String>) -> Self {
        self.http.insert(url.to_string(), Ok((status, body.into())));
        self
    }

    fn http_error(mut self, url: &str, kind: FetchErrorKind) -> Self {
        self.http.insert(url.to_string(), Err(kind));
        self
    }

    fn txt(mut self, name: &str, values: &[&str]) -> Self {
        let records = values
            .iter()
            .map(|v| TxtRecord {
                strings: vec![v.as_bytes().to_vec()],
                ttl: 300,
            })
            .collect();
        self.dns.insert(
            name.to_string(),
            Ok(TxtLookup::Records {
                records,
                dnssec: None,
            }),
        );
        self
    }

    fn dns_error(mut self, name: &str, kind: FetchErrorKind) -> Self {
        self.dns.insert(name.to_string(), Err(kind));
        self
    }

    fn txt_strings(mut self, name: &str, records: &[&[&[u8]]]) -> Self {
        let records = records
            .iter()
            .map(|strings| TxtRecord {
                strings: strings.iter().map(|s| s.to_vec()).collect(),
                ttl: 300,
            })
            .collect();
        self.dns.insert(
            name.to_string(),
            Ok(TxtLookup::Records {
                records,
                dnssec: None,
            }),
        );
        self
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Net for FakeNet {
    async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        if let Ok(mut asked) = self.asked.lock() {
            asked.push(request.url.clone());
        }
        if let Ok(mut redirects) = self.redirects.lock() {
            redirects.push(request.redirects);
        }
        match self.http.get(&request.url) {
            Some(Ok((status, body))) => Ok(HttpResponse {
                url: request.url.clone(),
                status: *status,
                headers: vec![],
                body: body.clone().into_bytes().into(),
                received_at: 0,
            }),
            Some(Err(kind)) => Err(FetchError::new(*kind, &request.url, "scripted failure")),
            None => Err(FetchError::new(
                FetchErrorKind::Connect,
                &request.url,
                "connection refused",
            )),
        }
    }

    async fn dns_txt(&self, name: &str) -> Result<TxtLookup, FetchError> {
        if let Ok(mut asked) = self.dns_asked.lock() {
            asked.push(name.to_string());
        }
        match self.dns.get(name) {
            Some(Ok(answer)) => Ok(answer.clone()),
            Some(Err(kind)) => Err(FetchError::new(*kind, name, "scripted failure")),
            None => Ok(TxtLookup::NxDomain),
        }
    }

    async fn nostr_events(&self, _: &NostrQuery) -> Result<Vec<String>, FetchError> {
        Err(FetchError::new(
            FetchErrorKind::Refused,
            "nostr",
            "not used",
        ))
    }

    fn now(&self) -> u64 {
        0
    }
}

fn well_known(handle: &str) -> String {
    format!("https://{handle}/.well-known/atproto-did")
}

fn did_doc(did: &str, handle: &str) -> String {
    json!({
        "id": did,
        "alsoKnownAs": [format!("at://{handle}")],
        "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": PDS}],
    })
    .to_string()
}

fn list_url(did: &str, cursor: Option<&str>) -> String {
    let mut url = format!(
        "{PDS}/xrpc/com.atproto.repo.listRecords?repo={}&collection=dev.kez.proof&limit=100",
        did.replace(':', "%3A")
    );
    if let Some(cursor) = cursor {
        url.push_str(&format!("&cursor={cursor}"));
    }
    url
}

fn record(did: &str, rkey: &str, claim: &str) -> serde_json::Value {
    json!({
        "uri": format!("at://{did}/dev.kez.proof/{rkey}"),
        "cid": "bafyfake",
        "value": {"$type": "dev.kez.proof", "claim": claim, "createdAt": "1999-01-01T00:00:00Z"},
    })
}

fn page(records: Vec<serde_json::Value>, cursor: Option<&str>) -> String {
    match cursor {
        Some(cursor) => json!({"records": records, "cursor": cursor}).to_string(),
        None => json!({"records": records}).to_string(),
    }
}

/// A net where alice.test resolves by HTTPS to ALICE, whose document names alice.test.
fn alice_net() -> FakeNet {
    FakeNet::default()
        .http(&well_known("alice.test"), 200, format!("{ALICE}\n"))
        .http(&format!("{PLC}/{ALICE}"), 200, did_doc(ALICE, "alice.test"))
}

fn alice() -> Identity {
    Identity::parse("bluesky:alice.test").expect("identity")
}

async fn lookup(net: &FakeNet) -> Result<kez_channel::Lookup, ChannelError> {
    BlueskyChannel::new(format!("{PLC}/"))
        .lookup(&alice(), net)
        .await
}

#[test]
fn normalise_agrees_with_the_identity_rules() {
    let channel = BlueskyChannel::new(PLC.into());
    for input in [
        "@Alice.BSKY.social",
        "alice.bsky.social.",
        "alice.test",
        "ａlice.bsky.social", // fullwidth a
        "аlice.bsky.social",  // Cyrillic a
        "xn--pple-43d.com",
        "alice",
        "127.0.0.1",
        "alice.123",
        "al ice.test",
        "alice..test",
        "",
    ] {
        let ours = channel.normalise(input).ok();
        let core = Identity::parse(&format!("bluesky:{input}"))
            .ok()
            .map(|identity| identity.account().to_string());
        assert_eq!(ours, core, "{input:?}");
    }
    assert_eq!(
        channel.normalise("@Alice.BSKY.social").ok().as_deref(),
        Some("alice.bsky.social")
    );
    assert!(channel.normalise("аlice.bsky.social").is_err());
}

#[tokio::test]
async fn finds_proofs_with_tid_times() {
    let tid = encode_tid(1_700_000_000_250_000, 7);
    let net = alice_net().http(
        &list_url(ALICE, None),
        200,
        page(
            vec![
                record(ALICE, &tid, "my proof: kez:z1:first and kez:z1:second"),
                record(ALICE, "self", "kez:z1:third"),
                record(ALICE, "other", "no proof in here"),
            ],
            None,
        ),
    );
    let found = lookup(&net).await.expect("lookup");
    let proofs: Vec<_> = found.proofs().collect();
    assert_eq!(proofs.len(), 3, "{found:?}");
    assert_eq!(proofs[0].content, "kez:z1:first");
    assert_eq!(proofs[1].content, "kez:z1:second");
    assert_eq!(
        proofs[0].location,
        format!("at://{ALICE}/dev.kez.proof/{tid}")
    );
    assert_eq!(proofs[0].published_at, Some(1_700_000_000));
    // Not a TID: no time; the createdAt the client wrote is never used.
    assert_eq!(proofs[2].content, "kez:z1:third");
    assert_eq!(proofs[2].published_at, None);
    assert_eq!(found.rejected().count(), 0);
    assert!(
        found.notes.iter().any(|n| n.contains("by HTTPS")),
        "{found:?}"
    );
}

#[tokio::test]
async fn dns_alone_resolves_and_https_is_still_asked() {
    let net = FakeNet::default()
        .txt(
            "_atproto.alice.test",
            &["did=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"],
        )
        .http(&format!("{PLC}/{ALICE}"), 200, did_doc(ALICE, "alice.test"))
        .http(&well_known("alice.test"), 404, "not found")
        .http(&list_url(ALICE, None), 200, page(vec![], None));
    let found = lookup(&net).await.expect("lookup");
    assert!(found.found.is_empty());
    assert!(net.asked().contains(&well_known("alice.test")));
}

#[tokio::test]
async fn dns_and_https_agreeing_is_fine_and_disagreeing_is_a_conflict() {
    let agree = alice_net()
        .txt(
            "_atproto.alice.test",
            &["did=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"],
        )
        .http(&list_url(ALICE, None), 200, page(vec![], None));
    let found = lookup(&agree).await.expect("lookup");
    assert!(found.notes.iter().any(|n| n.contains("by DNS and HTTPS")));

    let disagree = alice_net()
        .txt("_atproto.alice.test", &[&format!("did={MALLORY}")])
        .http(&list_url(ALICE, None), 200, page(vec![], None))
        .http(&list_url(MALLORY, None), 200, page(vec![], None));
    match lookup(&disagree).await {
        Err(ChannelError::Conflict(detail)) => {
            assert!(
                detail.contains(ALICE) && detail.contains(MALLORY),
                "{detail}"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn several_dids_in_dns_is_a_conflict() {
    let net = alice_net().txt(
        "_atproto.alice.test",
        &[&format!("did={ALICE}"), &format!("did={MALLORY}"), "v=spf1"],
    );
    assert!(matches!(lookup(&net).await, Err(ChannelError::Conflict(_))));
}

#[tokio::test]
async fn a_malformed_did_is_a_conflict() {
    let net = alice_net().txt("_atproto.alice.test", &["did=did:plc:nope"]);
    assert!(matches!(lookup(&net).await, Err(ChannelError::Conflict(_))));
    let net = FakeNet::default().http(&well_known("alice.test"), 200, "did:key:z6Mkabc");
    assert!(matches!(lookup(&net).await, Err(ChannelError::Conflict(_))));
}

#[tokio::test]
async fn no_did_anywhere_is_no_such_account() {
    let net = FakeNet::default()
        .txt("_atproto.alice.test", &["something else"])
        .http(&well_known("alice.test"), 200, "<html>a site</html>");
    assert!(matches!(
        lookup(&net).await,
        Err(ChannelError::NoSuchAccount(_))
    ));
    let net = FakeNet::default().http(&well_known("alice.test"), 404, "");
    assert!(matches!(
        lookup(&net).await,
        Err(ChannelError::NoSuchAccount(_))
    ));
}

#[tokio::test]
async fn failures_without_an_answer_are_unreachable() {
    // Nothing answers HTTPS (connection refused) and DNS says NXDOMAIN.
    let net = FakeNet::default();
    assert!(matches!(
        lookup(&net).await,
        Err(ChannelError::Unreachable(_))
    ));
    // DNS fails and HTTPS has no DID.
    let net = FakeNet::default()
        .dns_error("_atproto.alice.test", FetchErrorKind::Timeout)
        .http(&well_known("alice.test"), 404, "");
    match lookup(&net).await {
        Err(ChannelError::Unreachable(e)) => assert_eq!(e.kind, FetchErrorKind::Timeout),
        other => panic!("expected unreachable, got {other:?}"),
    }
    // HTTPS 503 and DNS NXDOMAIN.
    let net = FakeNet::default().http(&well_known("alice.test"), 503, "busy");
    assert!(matches!(
        lookup(&net).await,
        Err(ChannelError::Unreachable(_))
    ));
    // The handle resolves, the PDS does not answer.
    let net = alice_net();
    assert!(matches!(
        lookup(&net).await,
        Err(ChannelError::Unreachable(_))
    ));
    // The PLC directory fails.
    let net = FakeNet::default()
        .http(&well_known("alice.test"), 200, ALICE)
        .http(&format!("{PLC}/{ALICE}"), 502, "bad gateway");
    match lookup(&net).await {
        Err(ChannelError::Unreachable(e)) => assert_eq!(e.kind, FetchErrorKind::ServerError),
        other => panic!("expected unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn one_way_failing_does_not_hide_the_other_answer() {
    let net = alice_net()
        .dns_error("_atproto.alice.test", FetchErrorKind::Timeout)
        .http(
            &list_url(ALICE, None),
            200,
            page(vec![record(ALICE, "a", "kez:z1:x")], None),
        );
    let found = lookup(&net).await.expect("lookup");
    assert_eq!(found.proofs().count(), 1);
    assert!(
        found.notes.iter().any(|n| n.contains("failed")),
        "{found:?}"
    );
}

#[tokio::test]
async fn not_recorded_is_never_turned_into_an_answer() {
    let net = alice_net().dns_error("_atproto.alice.test", FetchErrorKind::NotRecorded);
    assert!(matches!(
        lookup(&net).await,
        Err(ChannelError::NotRecorded(_))
    ));
    let net = FakeNet::default().http_error(&well_known("alice.test"), FetchErrorKind::NotRecorded);
    assert!(matches!(
        lookup(&net).await,
        Err(ChannelError::NotRecorded(_))
    ));
}

#[tokio::test]
async fn the_did_document_must_name_the_handle_back() {
    let net = FakeNet::default()
        .http(&well_known("alice.test"), 200, ALICE)
        .http(
            &format!("{PLC}/{ALICE}"),
            200,
            did_doc(ALICE, "mallory.test"),
        )
        .http(&list_url(ALICE, None), 200, page(vec![], None));
    match lookup(&net).await {
        Err(ChannelError::Conflict(detail)) => {
            assert!(detail.contains("at://mallory.test"), "{detail}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Named back in another case: the handle is compared canonically.
    let net = FakeNet::default()
        .http(&well_known("alice.test"), 200, ALICE)
        .http(&format!("{PLC}/{ALICE}"), 200, did_doc(ALICE, "Alice.Test"))
        .http(&list_url(ALICE, None), 200, page(vec![], None));
    assert!(lookup(&net).await.is_ok());
}

#[tokio::test]
async fn a_document_without_a_pds_or_for_another_did_is_a_conflict() {
    let no_pds = json!({"id": ALICE, "alsoKnownAs": ["at://alice.test"], "service": []});
    let net = FakeNet::default()
        .http(&well_known("alice.test"), 200, ALICE)
        .http(&format!("{PLC}/{ALICE}"), 200, no_pds.to_string());
    assert!(matches!(lookup(&net).await, Err(ChannelError::Conflict(_))));
    let net = FakeNet::default()
        .http(&well_known("alice.test"), 200, ALICE)
        .http(
            &format!("{PLC}/{ALICE}"),
            200,
            did_doc(MALLORY, "alice.test"),
        );
    assert!(matches!(lookup(&net).await, Err(ChannelError::Conflict(_))));
}

#[tokio::test]
async fn an_unknown_or_tombstoned_did_is_no_such_account() {
    for status in [404, 410] {
        let net = FakeNet::default()
            .http(&well_known("alice.test"), 200, ALICE)
            .http(&format!("{PLC}/{ALICE}"), status, "gone");
        assert!(
            matches!(lookup(&net).await, Err(ChannelError::NoSuchAccount(_))),
            "{status}"
        );
    }
    let net = alice_net().http(
        &list_url(ALICE, None),
        400,
        json!({"error": "RepoNotFound", "message": "no repo"}).to_string(),
    );
    assert!(matches!(
        lookup(&net).await,
        Err(ChannelError::NoSuchAccount(_))
    ));
    // Any other error status of the PDS is the service failing, 404 included.
    for (status, kind) in [
        (404, FetchErrorKind::BadAnswer),
        (400, FetchErrorKind::BadAnswer),
        (429, FetchErrorKind::RateLimited),
        (500, FetchErrorKind::ServerError),
    ] {
        let net = alice_net().http(&list_url(ALICE, None), status, "{}");
        match lookup(&net).await {
            Err(ChannelError::Unreachable(e)) => assert_eq!(e.kind, kind, "{status}"),
            other => panic!("expected unreachable for {status}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn did_web_documents_come_from_the_host() {
    let did = "did:web:alice.example";
    let net = FakeNet::default()
        .http(&well_known("alice.test"), 200, did)
        .http(
            "https://alice.example/.well-known/did.json",
            200,
            did_doc(did, "alice.test"),
        )
        .http(
            &list_url(did, None),
            200,
            page(vec![record(did, "k", "kez:z1:web")], None),
        );
    let found = lookup(&net).await.expect("lookup");
    assert_eq!(found.proofs().count(), 1);
}

#[tokio::test]
async fn records_of_another_repository_are_rejected() {
    let net = alice_net().http(
        &list_url(ALICE, None),
        200,
        page(
            vec![
                record(MALLORY, "a", "kez:z1:mallory"),
                json!({"uri": format!("at://{ALICE}/app.bsky.feed.post/b"), "value": {"$type": "dev.kez.proof", "claim": "kez:z1:post"}}),
                json!({"uri": "https://elsewhere/x", "value": {"$type": "dev.kez.proof", "claim": "kez:z1:web"}}),
                // Not proofs at all: left out, not rejected.
                record(MALLORY, "c", "hello"),
                json!({"uri": format!("at://{MALLORY}/dev.kez.proof/d"), "value": {"$type": "app.bsky.feed.post", "claim": "kez:z1:x"}}),
                record(ALICE, "e", "kez:z1:alice"),
            ],
            None,
        ),
    );
    let found = lookup(&net).await.expect("lookup");
    let rejected: Vec<_> = found.rejected().collect();
    assert_eq!(rejected.len(), 3, "{found:?}");
    assert!(rejected
        .iter()
        .all(|r| r.reason == RejectReason::WrongPublisher));
    assert!(rejected[0].detail.contains(MALLORY));
    let proofs: Vec<_> = found.proofs().collect();
    assert_eq!(proofs.len(), 1);
    assert_eq!(proofs[0].content, "kez:z1:alice");
    assert!(matches!(found.found.last(), Some(Found::Proof(_))));
}

#[tokio::test]
async fn follows_cursors_up_to_the_page_limit() {
    let mut net = alice_net().http(
        &list_url(ALICE, None),
        200,
        page(vec![record(ALICE, "r0", "kez:z1:p0")], Some("c1")),
    );
    for i in 1..=12 {
        net = net.http(
            &list_url(ALICE, Some(&format!("c{i}"))),
            200,
            page(
                vec![record(ALICE, &format!("r{i}"), &format!("kez:z1:p{i}"))],
                Some(&format!("c{}", i + 1)),
            ),
        );
    }
    let found = lookup(&net).await.expect("lookup");
    assert_eq!(found.proofs().count(), super::MAX_PAGES, "{found:?}");
    assert!(found
        .notes
        .iter()
        .any(|n| n.contains("stopped after 10 pages")));
    let asked_pages = net
        .asked()
        .iter()
        .filter(|u| u.contains("listRecords"))
        .count();
    assert_eq!(asked_pages, super::MAX_PAGES);
}

#[tokio::test]
async fn a_repeated_cursor_or_record_stops_or_is_skipped() {
    let net = alice_net()
        .http(
            &list_url(ALICE, None),
            200,
            page(vec![record(ALICE, "r0", "kez:z1:p0")], Some("c1")),
        )
        .http(
            &list_url(ALICE, Some("c1")),
            200,
            page(vec![record(ALICE, "r0", "kez:z1:p0")], Some("c1")),
        );
    let found = lookup(&net).await.expect("lookup");
    assert_eq!(found.proofs().count(), 1);
    assert!(found.notes.iter().any(|n| n.contains("repeated cursor")));
}

#[tokio::test]
async fn a_cursor_is_percent_encoded() {
    let net = alice_net()
        .http(
            &list_url(ALICE, None),
            200,
            page(vec![record(ALICE, "r0", "kez:z1:p0")], Some("a&b=c")),
        )
        .http(&list_url(ALICE, Some("a%26b%3Dc")), 200, page(vec![], None));
    let found = lookup(&net).await.expect("lookup");
    assert_eq!(found.proofs().count(), 1);
    assert!(net.asked().iter().any(|u| u.ends_with("cursor=a%26b%3Dc")));
}

#[tokio::test]
async fn malformed_record_lists_are_unreachable() {
    for body in ["not json", "{\"cursor\": \"x\"}"] {
        let net = alice_net().http(&list_url(ALICE, None), 200, body);
        match lookup(&net).await {
            Err(ChannelError::Unreachable(e)) => assert_eq!(e.kind, FetchErrorKind::BadAnswer),
            other => panic!("expected unreachable for {body:?}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn another_scheme_is_not_looked_up() {
    let net = alice_net();
    let github = Identity::parse("github:alice").expect("identity");
    let channel = BlueskyChannel::new(PLC.into());
    assert!(matches!(
        channel.lookup(&github, &net).await,
        Err(ChannelError::NoSuchAccount(_))
    ));
    assert!(net.asked().is_empty());
}

#[tokio::test]
async fn every_request_goes_through_the_net_as_a_same_host_get() {
    let net = alice_net()
        .txt("_atproto.alice.test", &[&format!("did={ALICE}")])
        .http(
            &list_url(ALICE, None),
            200,
            page(vec![record(ALICE, "a", "kez:z1:x")], None),
        );
    let found = lookup(&net).await.expect("lookup");
    assert_eq!(found.proofs().count(), 1);
    assert_eq!(
        net.dns_asked.lock().map(|a| a.clone()).unwrap_or_default(),
        ["_atproto.alice.test"]
    );
    assert_eq!(
        net.asked(),
        [
            well_known("alice.test"),
            format!("{PLC}/{ALICE}"),
            list_url(ALICE, None)
        ]
    );
    let redirects = net.redirects.lock().map(|r| r.clone()).unwrap_or_default();
    assert_eq!(redirects, [Redirects::SameHost; 3]);
}

#[tokio::test]
async fn txt_character_strings_are_concatenated_and_must_be_utf8() {
    // "di" "d=<did>" is one record naming the DID; HTTPS names none.
    let did_tail = format!("d={ALICE}");
    let net = FakeNet::default()
        .txt_strings(
            "_atproto.alice.test",
            &[&[b"di", did_tail.as_bytes()], &[b"v=spf1", b" -all"]],
        )
        .http(&well_known("alice.test"), 404, "")
        .http(&format!("{PLC}/{ALICE}"), 200, did_doc(ALICE, "alice.test"))
        .http(
            &list_url(ALICE, None),
            200,
            page(vec![record(ALICE, "a", "kez:z1:x")], None),
        );
    let found = lookup(&net).await.expect("lookup");
    assert_eq!(found.proofs().count(), 1);
    assert!(
        found.notes.iter().any(|n| n.contains("by DNS")),
        "{found:?}"
    );
    // A value that is not UTF-8 names no DID, even if it starts with did=.
    let bad = [format!("did={ALICE}").as_bytes(), b"\xff".as_slice()].concat();
    let net = FakeNet::default()
        .txt_strings("_atproto.alice.test", &[&[bad.as_slice()]])
        .http(&well_known("alice.test"), 404, "");
    assert!(matches!(
        lookup(&net).await,
        Err(ChannelError::NoSuchAccount(_))
    ));
}

#[tokio::test]
async fn a_redirect_that_may_not_be_followed_names_no_did() {
    // The net refuses the well-known URL's redirect to another host: HTTPS names no DID, so
    // with DNS naming none the handle is no account, not unreachable.
    let net = FakeNet::default().http_error(&well_known("alice.test"), FetchErrorKind::Refused);
    assert!(matches!(
        lookup(&net).await,
        Err(ChannelError::NoSuchAccount(_))
    ));
    // With DNS naming a DID, that DID is the account's and the note says what HTTPS did.
    let net = FakeNet::default()
        .txt("_atproto.alice.test", &[&format!("did={ALICE}")])
        .http_error(&well_known("alice.test"), FetchErrorKind::Refused)
        .http(&format!("{PLC}/{ALICE}"), 200, did_doc(ALICE, "alice.test"))
        .http(&list_url(ALICE, None), 200, page(vec![], None));
    let found = lookup(&net).await.expect("lookup");
    assert!(
        found
            .notes
            .iter()
            .any(|n| n.contains("by DNS; HTTPS: no DID")),
        "{found:?}"
    );
}

#[tokio::test]
async fn every_gone_repository_error_is_no_such_account() {
    for error in [
        "RepoNotFound",
        "RepoDeactivated",
        "RepoTakendown",
        "RepoSuspended",
    ] {
        let net = alice_net().http(
            &list_url(ALICE, None),
            400,
            json!({"error": error, "message": "gone"}).to_string(),
        );
        assert!(
            matches!(lookup(&net).await, Err(ChannelError::NoSuchAccount(_))),
            "{error}"
        );
    }
    // Another XRPC error, or the same name under another status, is the service failing.
    for (status, error) in [(400, "InvalidRequest"), (403, "RepoNotFound")] {
        let net = alice_net().http(
            &list_url(ALICE, None),
            status,
            json!({"error": error}).to_string(),
        );
        match lookup(&net).await {
            Err(ChannelError::Unreachable(e)) => {
                assert_eq!(e.kind, FetchErrorKind::BadAnswer, "{status} {error}")
            }
            other => panic!("expected unreachable for {status} {error}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn record_uris_must_name_the_did_and_a_valid_rkey() {
    let proof =
        |uri: String| json!({"uri": uri, "value": {"$type": "dev.kez.proof", "claim": "kez:z1:x"}});
    let longest = "k".repeat(512);
    let good = [
        format!("at://{ALICE}/dev.kez.proof/{longest}"),
        format!("at://{ALICE}/dev.kez.proof/a.b-c_d:e~F9"),
    ];
    let bad = [
        "at://alice.test/dev.kez.proof/a".to_string(),
        format!("at://{ALICE}/dev.kez.proof/."),
        format!("at://{ALICE}/dev.kez.proof/.."),
        format!("at://{ALICE}/dev.kez.proof/"),
        format!("at://{ALICE}/dev.kez.proof/a b"),
        format!("at://{ALICE}/dev.kez.proof/a/b"),
        format!("at://{ALICE}/dev.kez.proof/{}", "k".repeat(513)),
        format!("at://{ALICE}/dev.kez.proof"),
        format!("at://{ALICE}/app.bsky.feed.post/a"),
        format!("at://{MALLORY}/dev.kez.proof/a"),
    ];
    let records: Vec<_> = good.iter().chain(&bad).cloned().map(proof).collect();
    let net = alice_net().http(&list_url(ALICE, None), 200, page(records, None));
    let found = lookup(&net).await.expect("lookup");
    let proofs: Vec<&str> = found.proofs().map(|p| p.location.as_str()).collect();
    assert_eq!(proofs, good, "{found:?}");
    let rejected: Vec<&str> = found.rejected().map(|r| r.location.as_str()).collect();
    assert_eq!(rejected, bad, "{found:?}");
    assert!(found
        .rejected()
        .all(|r| r.reason == RejectReason::WrongPublisher && r.detail.contains(ALICE)));
}
