//! The nostr channel against real relays on 127.0.0.1 (`kez_peers::relay`): nostr-relay-builder's
//! relay, and a lying websocket relay that serves whatever it is given.

use std::time::Duration;

use kez_channel::{
    Channel, ChannelError, FetchError, FetchErrorKind, HttpRequest, HttpResponse, Lookup, Net,
    NostrQuery, RejectReason, TxtLookup,
};
use kez_channels::nostr::NostrChannel;
use kez_core::encoding::{encode, Encoding};
use kez_core::{Algorithm, ClaimBuilder, Identity, SecretKey};
use kez_net::{LiveNet, NetConfig};
use kez_peers::relay::{event_id, LyingRelay, NostrKey, RelayPeer};

/// Every lookup here finishes well within this.
const BOUND: Duration = Duration::from_secs(60);

const T0: u64 = 1_714_600_000;

fn net() -> LiveNet {
    LiveNet::new(NetConfig::danger_loopback_testing()).expect("loopback test network")
}

fn account(key: &NostrKey) -> Identity {
    Identity::parse(&format!("nostr:{}", key.npub())).expect("identity")
}

async fn lookup(relays: &[&str], key: &NostrKey) -> Result<Lookup, ChannelError> {
    let channel = NostrChannel::new(relays.iter().map(|r| r.to_string()).collect());
    tokio::time::timeout(BOUND, channel.lookup(&account(key), &net()))
        .await
        .expect("lookup finished in time")
}

/// A freshly signed compact claim for the account of `key`.
fn compact_claim(key: &NostrKey) -> String {
    let signer = SecretKey::generate(Algorithm::Ed25519);
    let claim = ClaimBuilder::new(account(key), T0)
        .sign(&signer, None)
        .expect("sign claim");
    encode(&claim, Encoding::Compact)
}

/// `event` with its content changed after signing (its id no longer matches its body).
fn edited(event: &str, from: &str, to: &str) -> String {
    assert!(event.contains(from));
    event.replacen(from, to, 1)
}

/// `event` with the first hex digit of its signature changed.
fn bad_signature(event: &str) -> String {
    let at = event.find("\"sig\":\"").expect("sig") + 7;
    let mut bytes = event.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_a_signed_proof_note_on_a_real_relay() {
    let relay = RelayPeer::start().await.expect("relay");
    let alice = NostrKey::from_label("alice");
    let claim = compact_claim(&alice);
    let note = alice.note(T0 + 10, &format!("my KEZ proof: {claim}"));
    relay
        .publish(&note)
        .await
        .expect("relay accepts a valid note");
    relay
        .publish(&alice.note(T0 + 20, "gm, no proof here"))
        .await
        .expect("publish");

    let lookup = lookup(&[relay.url()], &alice).await.expect("lookup");
    let proofs: Vec<_> = lookup.proofs().collect();
    assert_eq!(proofs.len(), 1, "{:?}", lookup.found);
    assert_eq!(proofs[0].content, claim);
    assert_eq!(proofs[0].published_at, Some(T0 + 10));
    assert_eq!(proofs[0].retracted_at, None);
    let id = event_id(&note).expect("id");
    assert_eq!(proofs[0].location, format!("nostr:{id}"));
    assert_eq!(lookup.rejected().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_other_authors_are_rejected_or_ignored() {
    let alice = NostrKey::from_label("alice");
    let mallory = NostrKey::from_label("mallory");
    let claim = compact_claim(&alice);
    let forged = mallory.note(T0, &format!("alice's proof: {claim}"));
    let chatter = mallory.note(T0 + 1, "just chatting");
    let liar = LyingRelay::start(vec![forged.clone(), chatter])
        .await
        .expect("lying relay");

    let lookup = lookup(&[liar.url()], &alice).await.expect("lookup");
    assert_eq!(lookup.proofs().count(), 0, "{:?}", lookup.found);
    let rejected: Vec<_> = lookup.rejected().collect();
    assert_eq!(
        rejected.len(),
        1,
        "the note without a proof is ignored: {rejected:?}"
    );
    assert_eq!(rejected[0].reason, RejectReason::WrongPublisher);
    assert_eq!(
        rejected[0].location,
        format!("nostr:{}", event_id(&forged).expect("id"))
    );
    assert!(rejected[0].detail.contains(&mallory.npub()));
    assert!(rejected[0].detail.contains(&alice.npub()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_whose_id_or_signature_fails_are_rejected() {
    let alice = NostrKey::from_label("alice");
    let claim = compact_claim(&alice);
    let note = alice.note(T0, &format!("proof {claim}"));
    let tampered_body = edited(&note, "proof ", "PROOF ");
    let tampered_sig = bad_signature(&alice.note(T0 + 1, &format!("again {claim}")));
    let tampered_chatter = edited(&alice.note(T0 + 2, "hello"), "hello", "HELLO");

    // A real relay refuses both on the way in.
    let relay = RelayPeer::start().await.expect("relay");
    let refusal = relay
        .publish(&tampered_body)
        .await
        .expect_err("bad id refused");
    assert!(refusal.contains("invalid"), "{refusal}");
    let refusal = relay
        .publish(&tampered_sig)
        .await
        .expect_err("bad sig refused");
    assert!(refusal.contains("invalid"), "{refusal}");

    // A relay that lies serves them anyway.
    let liar = LyingRelay::start(vec![
        tampered_body.clone(),
        tampered_sig.clone(),
        tampered_chatter,
        "{\"not\":\"an event\",\"content\":\"kez:z1:broken\"}".to_string(),
    ])
    .await
    .expect("lying relay");
    let lookup = lookup(&[liar.url()], &alice).await.expect("lookup");
    assert_eq!(lookup.proofs().count(), 0, "{:?}", lookup.found);
    let rejected: Vec<_> = lookup.rejected().collect();
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    assert!(rejected
        .iter()
        .all(|r| r.reason == RejectReason::BadPlatformSignature));
    let stated = event_id(&tampered_body).expect("id");
    let by_id = rejected
        .iter()
        .find(|r| r.location == format!("nostr:{stated}"))
        .expect("the edited note, located by its stated id");
    assert!(by_id.detail.contains("does not match"), "{by_id:?}");
    let by_sig = rejected
        .iter()
        .find(|r| r.location == format!("nostr:{}", event_id(&tampered_sig).expect("id")))
        .expect("the note with a bad signature");
    assert!(by_sig.detail.contains("sig"), "{by_sig:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_holding_a_bad_event_in_its_store_is_caught() {
    let relay = RelayPeer::start().await.expect("relay");
    let alice = NostrKey::from_label("alice");
    let claim = compact_claim(&alice);
    let good = alice.note(T0, &format!("proof {claim}"));
    let bad = edited(
        &alice.note(T0 + 5, &format!("second {claim}")),
        "second",
        "SECOND",
    );
    relay.publish(&good).await.expect("publish");
    relay
        .store_raw(&bad)
        .await
        .expect("stored past the relay's checks");

    let lookup = lookup(&[relay.url()], &alice).await.expect("lookup");
    let proofs: Vec<_> = lookup.proofs().collect();
    assert_eq!(proofs.len(), 1, "{:?}", lookup.found);
    assert_eq!(
        proofs[0].location,
        format!("nostr:{}", event_id(&good).expect("id"))
    );
    let rejected: Vec<_> = lookup.rejected().collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].reason, RejectReason::BadPlatformSignature);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nip09_deletion_by_the_account_retracts_the_proof() {
    let alice = NostrKey::from_label("alice");
    let mallory = NostrKey::from_label("mallory");
    let claim = compact_claim(&alice);
    let note = alice.note(T0, &format!("proof {claim}"));
    let id = event_id(&note).expect("id");
    let deletion = alice.deletion(T0 + 100, &[&id]);

    // Relay A took the deletion and dropped the note; relay B still serves the note.
    let relay_a = RelayPeer::start().await.expect("relay a");
    let relay_b = RelayPeer::start().await.expect("relay b");
    relay_a.publish(&note).await.expect("publish");
    relay_a.publish(&deletion).await.expect("publish deletion");
    relay_b.publish(&note).await.expect("publish");

    let only_a = lookup(&[relay_a.url()], &alice).await.expect("lookup");
    assert_eq!(
        only_a.proofs().count(),
        0,
        "relay A deleted the note: {:?}",
        only_a.found
    );

    let both = lookup(&[relay_a.url(), relay_b.url()], &alice)
        .await
        .expect("lookup");
    let proofs: Vec<_> = both.proofs().collect();
    assert_eq!(proofs.len(), 1, "{:?}", both.found);
    assert_eq!(proofs[0].published_at, Some(T0));
    assert_eq!(proofs[0].retracted_at, Some(T0 + 100));

    // A deletion by someone else does nothing.
    let foreign = mallory.deletion(T0 + 50, &[&id]);
    let liar = LyingRelay::start(vec![note.clone(), foreign])
        .await
        .expect("lying relay");
    let lookup = lookup(&[liar.url()], &alice).await.expect("lookup");
    let proofs: Vec<_> = lookup.proofs().collect();
    assert_eq!(proofs.len(), 1, "{:?}", lookup.found);
    assert_eq!(proofs[0].retracted_at, None);
    assert_eq!(lookup.rejected().count(), 0, "a deletion holds no proof");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nip65_relay_list_leads_to_a_second_relay_holding_the_proof() {
    let home = RelayPeer::start().await.expect("configured relay");
    let elsewhere = RelayPeer::start().await.expect("second relay");
    let stale = RelayPeer::start().await.expect("stale relay");
    let alice = NostrKey::from_label("alice");
    let claim = compact_claim(&alice);
    let note = alice.note(T0, &format!("proof {claim}"));
    elsewhere.publish(&note).await.expect("publish");

    // Without a relay list, the configured relay knows nothing.
    let before = lookup(&[home.url()], &alice).await.expect("lookup");
    assert!(before.found.is_empty(), "{:?}", before.found);

    home.publish(&alice.relay_list(T0 + 10, &[elsewhere.url(), "https://not-a-relay.example"]))
        .await
        .expect("publish relay list");
    let after = lookup(&[home.url()], &alice).await.expect("lookup");
    let proofs: Vec<_> = after.proofs().collect();
    assert_eq!(proofs.len(), 1, "{:?}", after.found);
    assert_eq!(proofs[0].content, claim);

    // Only the newest relay list counts: a lying relay serves an older one too, and one by
    // mallory; neither adds the stale relay, which holds a proof that would otherwise show.
    let mallory = NostrKey::from_label("mallory");
    stale
        .publish(&alice.note(T0 + 1, "kez:z1:only-on-the-stale-relay"))
        .await
        .expect("publish");
    let liar = LyingRelay::start(vec![
        alice.relay_list(T0 + 10, &[elsewhere.url()]),
        alice.relay_list(T0, &[stale.url()]),
        mallory.relay_list(T0 + 20, &[stale.url()]),
    ])
    .await
    .expect("lying relay");
    let lookup = lookup(&[liar.url()], &alice).await.expect("lookup");
    let contents: Vec<_> = lookup.proofs().map(|p| p.content.as_str()).collect();
    assert_eq!(contents, [claim.as_str()], "{:?}", lookup.found);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_on_two_relays_counts_once() {
    let relay_a = RelayPeer::start().await.expect("relay a");
    let alice = NostrKey::from_label("alice");
    let note = alice.note(T0, "kez:z1:twice");
    relay_a.publish(&note).await.expect("publish");
    // The same event, re-serialised with another member order, from a second relay.
    let value: serde_json::Value = serde_json::from_str(&note).expect("json");
    let object = value.as_object().expect("object");
    let mut members: Vec<_> = object.iter().collect();
    members.reverse();
    let reordered = format!(
        "{{{}}}",
        members
            .iter()
            .map(|(k, v)| format!("{}:{}", serde_json::Value::from(k.as_str()), v))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_ne!(reordered, note);
    let liar = LyingRelay::start(vec![reordered, note.clone()])
        .await
        .expect("lying relay");
    let lookup = lookup(&[relay_a.url(), liar.url()], &alice)
        .await
        .expect("lookup");
    assert_eq!(lookup.proofs().count(), 1, "{:?}", lookup.found);
}

#[test]
fn accounts_normalise_to_npub() {
    let channel = NostrChannel::new(Vec::new());
    let alice = NostrKey::from_label("alice");
    assert_eq!(
        channel.normalise(&alice.hex().to_uppercase()).expect("hex"),
        alice.npub()
    );
    assert_eq!(
        channel.normalise(&alice.npub()).expect("npub"),
        alice.npub()
    );
    assert!(channel.normalise(&alice.npub().to_uppercase()).is_err());
    assert!(channel.normalise(&alice.hex()[1..]).is_err());
}

/// Relays behind a scripted `Net`: relay lists for a query naming kind 10002, `events` for
/// any other. Records every query.
struct Scripted {
    lists: Vec<String>,
    events: Vec<String>,
    queries: std::sync::Mutex<Vec<NostrQuery>>,
}

impl Scripted {
    fn new(lists: Vec<String>, events: Vec<String>) -> Self {
        Self {
            lists,
            events,
            queries: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn queries(&self) -> Vec<NostrQuery> {
        self.queries.lock().map(|q| q.clone()).unwrap_or_default()
    }

    /// The relays of the second query (the notes), without the `/` a URL parser adds.
    fn note_relays(&self) -> Vec<String> {
        self.queries()
            .get(1)
            .map(|q| {
                q.relays
                    .iter()
                    .map(|r| r.trim_end_matches('/').to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl Net for Scripted {
    async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        Err(FetchError::new(
            FetchErrorKind::Refused,
            request.url,
            "the nostr channel must not use http",
        ))
    }
    async fn dns_txt(&self, name: &str) -> Result<TxtLookup, FetchError> {
        Err(FetchError::new(
            FetchErrorKind::Refused,
            name,
            "the nostr channel must not use dns",
        ))
    }
    async fn nostr_events(&self, query: &NostrQuery) -> Result<Vec<String>, FetchError> {
        if let Ok(mut queries) = self.queries.lock() {
            queries.push(query.clone());
        }
        let wants_lists = query.filter["kinds"]
            .as_array()
            .is_some_and(|kinds| kinds.contains(&serde_json::json!(10002)));
        Ok(if wants_lists {
            self.lists.clone()
        } else {
            self.events.clone()
        })
    }
    fn now(&self) -> u64 {
        T0
    }
}

const CONFIGURED: [&str; 2] = ["wss://one.example", "wss://two.example"];

async fn scripted_lookup(net: &Scripted, key: &NostrKey) -> Lookup {
    let channel = NostrChannel::new(CONFIGURED.iter().map(|r| r.to_string()).collect());
    channel.lookup(&account(key), net).await.expect("lookup")
}

fn r_tag(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).collect()
}

#[tokio::test]
async fn the_relay_list_then_the_notes_are_asked_with_the_exact_filters() {
    let alice = NostrKey::from_label("alice");
    let net = Scripted::new(
        vec![alice.relay_list(T0, &["wss://three.example"])],
        Vec::new(),
    );
    scripted_lookup(&net, &alice).await;
    let queries = net.queries();
    assert_eq!(queries.len(), 2, "{queries:?}");
    assert_eq!(queries[0].relays, CONFIGURED);
    assert_eq!(
        queries[0].filter,
        serde_json::json!({"authors": [alice.hex()], "kinds": [10002], "limit": 10})
    );
    assert_eq!(
        net.note_relays(),
        [CONFIGURED[0], CONFIGURED[1], "wss://three.example"]
    );
    assert_eq!(
        queries[1].filter,
        serde_json::json!({"authors": [alice.hex()], "kinds": [1, 5], "limit": 500})
    );
}

#[tokio::test]
async fn relay_list_tags_give_write_relays_in_tag_order_at_most_eight() {
    let alice = NostrKey::from_label("alice");
    let mut tags = vec![
        r_tag(&["r", "wss://read-only.example", "read"]),
        r_tag(&["r", "wss://w1.example", "write"]),
        r_tag(&["r", "https://not-a-relay.example"]),
        r_tag(&["r", "wss://user:pw@user-info.example"]),
        r_tag(&["r", "not a url"]),
        r_tag(&["r"]),
        r_tag(&["p", "wss://p-tag.example"]),
        r_tag(&["r", CONFIGURED[1]]),
        r_tag(&["r", "wss://w1.example/"]),
        r_tag(&["r", "ws://w2.example"]),
    ];
    for n in 3..=9 {
        tags.push(vec!["r".into(), format!("wss://w{n}.example")]);
    }
    let list = alice.sign(T0, 10002, tags, "").to_json();
    let net = Scripted::new(vec![list], Vec::new());
    scripted_lookup(&net, &alice).await;
    let mut expected: Vec<String> = CONFIGURED.iter().map(|r| r.to_string()).collect();
    expected.push("wss://w1.example".into());
    expected.push("ws://w2.example".into());
    for n in 3..=8 {
        expected.push(format!("wss://w{n}.example"));
    }
    assert_eq!(net.note_relays(), expected);
}

#[tokio::test]
async fn only_the_newest_valid_relay_list_of_the_account_counts() {
    let alice = NostrKey::from_label("alice");
    let mallory = NostrKey::from_label("mallory");
    // Two valid lists at the same, newest time: the lowest id wins.
    let tie_a = alice.relay_list(T0 + 5, &["wss://tie-a.example"]);
    let tie_b = alice.relay_list(T0 + 5, &["wss://tie-b.example"]);
    let winner = if event_id(&tie_a) < event_id(&tie_b) {
        "wss://tie-a.example"
    } else {
        "wss://tie-b.example"
    };
    let lists = vec![
        alice.relay_list(T0, &["wss://older.example"]),
        tie_a,
        // Newer, but failing §4.6 or not the account's relay list: all ignored.
        bad_signature(&alice.relay_list(T0 + 9, &["wss://bad-sig.example"])),
        edited(
            &alice.relay_list(T0 + 9, &["wss://edited.example"]),
            "edited",
            "EDITED",
        ),
        mallory.relay_list(T0 + 20, &["wss://mallory.example"]),
        alice
            .sign(T0 + 30, 3, vec![r_tag(&["r", "wss://kind-3.example"])], "")
            .to_json(),
        tie_b,
    ];
    for order in [false, true] {
        let mut lists = lists.clone();
        if order {
            lists.reverse();
        }
        let net = Scripted::new(lists, Vec::new());
        scripted_lookup(&net, &alice).await;
        assert_eq!(
            net.note_relays(),
            [CONFIGURED[0], CONFIGURED[1], winner],
            "reversed: {order}"
        );
    }
}

#[tokio::test]
async fn events_of_other_kinds_are_never_proofs() {
    let alice = NostrKey::from_label("alice");
    let note = alice.note(T0, "kez:z1:in-a-note");
    let events = vec![
        note.clone(),
        alice
            .sign(T0 + 1, 30023, Vec::new(), "kez:z1:in-an-article")
            .to_json(),
        alice
            .sign(T0 + 2, 5, Vec::new(), "kez:z1:in-a-deletion")
            .to_json(),
        alice
            .sign(T0 + 3, 0, Vec::new(), "kez:z1:in-a-profile")
            .to_json(),
    ];
    let net = Scripted::new(Vec::new(), events);
    let lookup = scripted_lookup(&net, &alice).await;
    let proofs: Vec<(&str, &str)> = lookup
        .proofs()
        .map(|p| (p.location.as_str(), p.content.as_str()))
        .collect();
    let location = format!("nostr:{}", event_id(&note).expect("id"));
    assert_eq!(proofs, [(location.as_str(), "kez:z1:in-a-note")]);
    assert_eq!(lookup.rejected().count(), 0, "{:?}", lookup.found);
}

#[tokio::test]
async fn the_earliest_deletion_by_the_account_sets_retracted_at() {
    let alice = NostrKey::from_label("alice");
    let mallory = NostrKey::from_label("mallory");
    let deleted = alice.note(T0, "kez:z1:deleted");
    let kept = alice.note(T0 + 1, "kez:z1:kept");
    let id = event_id(&deleted).expect("id");
    let events = vec![
        alice.deletion(T0 + 300, &[&id]),
        deleted,
        alice.deletion(T0 + 100, &["00".repeat(32).as_str(), &id]),
        mallory.deletion(T0 + 50, &[&id, &event_id(&kept).expect("id")]),
        kept,
        alice.deletion(T0 + 200, &[&id]),
    ];
    let net = Scripted::new(Vec::new(), events);
    let lookup = scripted_lookup(&net, &alice).await;
    let retracted: Vec<(&str, Option<u64>)> = lookup
        .proofs()
        .map(|p| (p.content.as_str(), p.retracted_at))
        .collect();
    assert_eq!(
        retracted,
        [("kez:z1:deleted", Some(T0 + 100)), ("kez:z1:kept", None)]
    );
}

#[tokio::test]
async fn the_same_events_give_the_same_lookup_in_any_order() {
    let alice = NostrKey::from_label("alice");
    let mallory = NostrKey::from_label("mallory");
    let events = vec![
        alice.note(T0 + 3, "kez:z1:late-a"),
        alice.note(T0 + 1, "kez:z1:early"),
        alice.note(T0 + 3, "kez:z1:late-b"),
        mallory.note(T0, "kez:z1:by-mallory"),
        alice.note(T0 + 2, "kez:z1:middle"),
        edited(&alice.note(T0 + 4, "kez:z1:edited"), "edited", "EDITED"),
        mallory.note(T0 + 5, "kez:z1:by-mallory-too"),
    ];
    let mut lookups = Vec::new();
    for rotation in 0..events.len() {
        let mut events = events.clone();
        events.rotate_left(rotation);
        if rotation % 2 == 1 {
            events.reverse();
        }
        let net = Scripted::new(Vec::new(), events);
        lookups.push(scripted_lookup(&net, &alice).await.found);
    }
    for found in &lookups[1..] {
        assert_eq!(found, &lookups[0]);
    }
    let lookup = Lookup {
        found: lookups[0].clone(),
        ..Lookup::default()
    };
    // Proofs by created_at, then id; then the rejected items by location.
    let keys: Vec<(u64, String)> = lookup
        .proofs()
        .map(|p| (p.published_at.unwrap_or(0), p.location.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys.len(), 4);
    assert_eq!(keys[0].0, T0 + 1);
    assert_eq!(keys[3].0, T0 + 3);
    let locations: Vec<&str> = lookup.rejected().map(|r| r.location.as_str()).collect();
    let mut sorted = locations.clone();
    sorted.sort();
    assert_eq!(locations, sorted);
    assert_eq!(locations.len(), 3);
    assert!(matches!(
        lookups[0].last(),
        Some(kez_channel::Found::Rejected(_))
    ));
}
