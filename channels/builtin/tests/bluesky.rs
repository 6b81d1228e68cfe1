//! The bluesky channel against a real ATProto PDS and PLC directory on 127.0.0.1
//! (`kez_peers::pds`, installed by channels/peers/pds/setup.sh) and real DNS answers from knot
//! (`kez_peers::knot`, channels/peers/knot/setup.sh), through the live network layer
//! (`kez_net::LiveNet`).
//!
//! One PDS serves every test here (accounts have distinct handles); each test starts its own
//! knot with the `test.` zone it needs. The PDS's URLs name `localhost` and handles live under
//! `.test`: the network maps `localhost` and each handle host to 127.0.0.1 (`resolve`), rewrites
//! `https` to `http` for them and asks knot for TXT records.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kez_channel::{Channel, ChannelError, FetchErrorKind, Lookup};
use kez_channels::bluesky::{BlueskyChannel, COLLECTION};
use kez_core::encoding::{decode, encode, Encoding};
use kez_core::{Algorithm, ClaimBuilder, Identity, SecretKey};
use kez_net::{LiveNet, NetConfig};
use kez_peers::knot::KnotPeer;
use kez_peers::pds::{Account, PdsPeer};
use serde_json::json;

/// Every lookup here finishes well within this.
const BOUND: Duration = Duration::from_secs(60);

/// The PDS all tests share; it stops when the test process exits (its stdin closes).
fn pds() -> &'static PdsPeer {
    static PDS: OnceLock<Result<PdsPeer, String>> = OnceLock::new();
    match PDS.get_or_init(PdsPeer::start) {
        Ok(pds) => pds,
        Err(e) => panic!("{e}"),
    }
}

/// knot serving the zone `test.` with these extra lines (`_atproto.x TXT "did=…"`).
fn knot(lines: &[String]) -> KnotPeer {
    let zone = format!(
        "$ORIGIN test.\n$TTL 60\n\
         @ IN SOA ns1.test. hostmaster.test. 1 3600 600 86400 60\n\
         @ IN NS ns1.test.\nns1 IN A 127.0.0.1\n{}\n",
        lines.join("\n")
    );
    match KnotPeer::start("test", &zone) {
        Ok(knot) => knot,
        Err(e) => panic!("{e} (run channels/peers/knot/setup.sh)"),
    }
}

/// A network reaching the PDS as `localhost` and `handles` as hosts, with DNS from `knot`.
fn net(pds_port: u16, knot: &KnotPeer, handles: &[&str]) -> LiveNet {
    let mut config = NetConfig::danger_loopback_testing()
        .with_resolve("localhost", SocketAddr::from(([127, 0, 0, 1], 0)));
    for handle in handles {
        config = config.with_resolve(*handle, SocketAddr::from(([127, 0, 0, 1], pds_port)));
    }
    config.dns_servers = vec![knot.addr()];
    LiveNet::new(config).expect("loopback test network")
}

fn channel() -> BlueskyChannel {
    BlueskyChannel::new(pds().plc_url().to_string())
}

fn identity(handle: &str) -> Identity {
    Identity::parse(&format!("bluesky:{handle}")).expect("identity")
}

async fn lookup(net: &LiveNet, handle: &str) -> Result<Lookup, ChannelError> {
    tokio::time::timeout(BOUND, channel().lookup(&identity(handle), net))
        .await
        .expect("lookup finished in time")
}

fn account(handle: &str) -> Account {
    pds().create_account(handle).expect("account")
}

/// A freshly signed compact claim for `subject`.
fn signed_compact(subject: &str) -> String {
    let key = SecretKey::generate(Algorithm::Ed25519);
    let claim = ClaimBuilder::new(Identity::parse(subject).expect("subject"), 1_714_600_000)
        .sign(&key, None)
        .expect("sign claim");
    encode(&claim, Encoding::Compact)
}

fn proof_record(claim: &str) -> serde_json::Value {
    json!({"$type": COLLECTION, "claim": claim, "createdAt": "2001-01-01T00:00:00Z"})
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_a_valid_proof_with_its_record_time() {
    let pds = pds();
    let alice = account("valid.test");
    let compact = signed_compact("bluesky:valid.test");
    let before = now();
    let written = pds
        .put_record(
            &alice.did,
            COLLECTION,
            None,
            &proof_record(&format!("my KEZ proof: {compact} — see you")),
        )
        .expect("record");
    let after = now();
    // A record at a key that is no TID, and one that holds no proof.
    pds.put_record(
        &alice.did,
        COLLECTION,
        Some("self"),
        &proof_record(&compact),
    )
    .expect("record at self");
    pds.put_record(
        &alice.did,
        COLLECTION,
        Some("chatter"),
        &proof_record("no proof here"),
    )
    .expect("record");
    // A proof in another collection is not read.
    pds.put_record(
        &alice.did,
        "app.bsky.feed.post",
        None,
        &json!({"$type": "app.bsky.feed.post", "text": compact, "createdAt": "2001-01-01T00:00:00Z"}),
    )
    .expect("post");

    let knot = knot(&[]);
    let found = lookup(&net(pds.pds_port(), &knot, &["valid.test"]), "valid.test")
        .await
        .expect("lookup");
    let proofs: Vec<_> = found.proofs().collect();
    assert_eq!(proofs.len(), 2, "{found:?}");
    let by_tid = proofs
        .iter()
        .find(|p| p.location == written.uri)
        .expect("the createRecord proof");
    assert_eq!(by_tid.content, compact);
    assert!(
        written
            .uri
            .starts_with(&format!("at://{}/{COLLECTION}/", alice.did)),
        "{}",
        written.uri
    );
    let published = by_tid.published_at.expect("a TID time");
    assert!(
        published + 1 >= before && published <= after + 1,
        "TID time {published} outside [{before}, {after}]"
    );
    let at_self = proofs
        .iter()
        .find(|p| p.location.ends_with("/self"))
        .expect("the putRecord proof");
    assert_eq!(at_self.published_at, None, "createdAt must not be used");
    assert_eq!(found.rejected().count(), 0);

    // What the channel hands over is a claim kez-core accepts, for this identity.
    let claims = decode(by_tid.content.as_bytes(), Encoding::Compact).expect("decodes");
    assert_eq!(claims.len(), 1);
    let claim = claims[0].item.as_ref().expect("a valid claim");
    assert_eq!(claim.subject(), &identity("valid.test"));
    claim.verify_signature().expect("signature verifies");

    // A deleted record is gone.
    pds.delete_record(&alice.did, COLLECTION, "self")
        .expect("delete");
    let found = lookup(&net(pds.pds_port(), &knot, &["valid.test"]), "valid.test")
        .await
        .expect("lookup");
    assert_eq!(found.proofs().count(), 1, "{found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_in_another_repository_is_not_this_accounts_proof() {
    let pds = pds();
    let victim = account("victim.test");
    let mallory = account("mallory.test");
    let forged = signed_compact("bluesky:victim.test");
    let written = pds
        .put_record(&mallory.did, COLLECTION, None, &proof_record(&forged))
        .expect("record");
    assert!(written.uri.contains(&mallory.did));

    let knot = knot(&[]);
    let net = net(pds.pds_port(), &knot, &["victim.test", "mallory.test"]);
    let found = lookup(&net, "victim.test").await.expect("lookup");
    assert!(
        found.found.is_empty(),
        "mallory's record was returned for victim.test: {found:?}"
    );
    // It is mallory's to show, and only there.
    let found = lookup(&net, "mallory.test").await.expect("lookup");
    let proofs: Vec<_> = found.proofs().collect();
    assert_eq!(proofs.len(), 1);
    assert_eq!(proofs[0].location, written.uri);
    assert_ne!(victim.did, mallory.did);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_and_https_must_name_the_same_did() {
    let pds = pds();
    let honest = account("honest.test");
    let split = account("split.test");
    let other = account("carol.test");
    pds.put_record(
        &split.did,
        COLLECTION,
        None,
        &proof_record(&signed_compact("bluesky:split.test")),
    )
    .expect("record");
    let knot = knot(&[
        format!("_atproto.honest IN TXT \"did={}\"", honest.did),
        "_atproto.honest IN TXT \"v=spf1 -all\"".to_string(),
        format!("_atproto.split IN TXT \"did={}\"", other.did),
    ]);
    let net = net(pds.pds_port(), &knot, &["honest.test", "split.test"]);

    // Both ways agree.
    let found = lookup(&net, "honest.test").await.expect("lookup");
    assert!(
        found.notes.iter().any(|n| n.contains("by DNS and HTTPS")),
        "{found:?}"
    );

    // DNS names another account's DID than HTTPS does.
    match lookup(&net, "split.test").await {
        Err(ChannelError::Conflict(detail)) => {
            assert!(
                detail.contains(&split.did) && detail.contains(&other.did),
                "{detail}"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_handle_no_longer_resolves() {
    let pds = pds();
    let moving = account("before.test");
    pds.put_record(
        &moving.did,
        COLLECTION,
        None,
        &proof_record(&signed_compact("bluesky:before.test")),
    )
    .expect("record");
    pds.update_handle(&moving.did, "after.test")
        .expect("update handle");
    let knot = knot(&[]);
    let net = net(pds.pds_port(), &knot, &["before.test", "after.test"]);
    assert!(matches!(
        lookup(&net, "before.test").await,
        Err(ChannelError::NoSuchAccount(_))
    ));
    let found = lookup(&net, "after.test").await.expect("lookup");
    assert_eq!(found.proofs().count(), 1, "{found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_with_a_stale_did_document_is_a_conflict() {
    // DNS still names the DID after the handle moved: the DID document names the new handle
    // only, so the round trip fails.
    let pds = pds();
    let moved = account("stale.test");
    pds.update_handle(&moved.did, "fresh.test")
        .expect("update handle");
    let knot = knot(&[format!("_atproto.stale IN TXT \"did={}\"", moved.did)]);
    let net = net(pds.pds_port(), &knot, &["stale.test"]);
    match lookup(&net, "stale.test").await {
        Err(ChannelError::Conflict(detail)) => {
            assert!(detail.contains("at://fresh.test"), "{detail}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_handle_is_no_such_account() {
    let knot = knot(&[]);
    let net = net(pds().pds_port(), &knot, &["nobody.test"]);
    assert!(matches!(
        lookup(&net, "nobody.test").await,
        Err(ChannelError::NoSuchAccount(_))
    ));
}

#[test]
fn look_alike_handles_are_rejected() {
    let channel = BlueskyChannel::new("http://localhost:1".into());
    for look_alike in [
        "\u{0430}lice.test",         // Cyrillic а
        "\u{ff41}lice.bsky.social",  // fullwidth ａ
        "xn--lice-43d.test",         // Cyrillic а + lice, as an A-label
        "xn--80ak6aa92e.com",        // аррӏе, all Cyrillic
        "ali\u{200b}ce.bsky.social", // zero-width space
    ] {
        assert!(
            channel.normalise(look_alike).is_err(),
            "{look_alike:?} accepted"
        );
        assert!(Identity::parse(&format!("bluesky:{look_alike}")).is_err());
    }
    assert_eq!(
        channel.normalise("@Alice.BSKY.social").ok().as_deref(),
        Some("alice.bsky.social")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pds_that_is_down_is_unreachable() {
    // A PDS of its own, stopped after the account is made.
    let gone = PdsPeer::start().expect("a second PDS");
    let plc = gone.plc_url().to_string();
    let port = gone.pds_port();
    let alice = gone.create_account("down.test").expect("account");
    gone.put_record(
        &alice.did,
        COLLECTION,
        None,
        &proof_record(&signed_compact("bluesky:down.test")),
    )
    .expect("record");
    let knot = knot(&[format!("_atproto.down IN TXT \"did={}\"", alice.did)]);
    let net = net(port, &knot, &["down.test"]);
    // Reachable first, so the failure below is the PDS being down and nothing else.
    let channel = BlueskyChannel::new(plc);
    let found = channel
        .lookup(&identity("down.test"), &net)
        .await
        .expect("lookup");
    assert_eq!(found.proofs().count(), 1);
    drop(gone);
    match tokio::time::timeout(BOUND, channel.lookup(&identity("down.test"), &net)).await {
        Ok(Err(ChannelError::Unreachable(e))) => {
            assert_eq!(e.kind, FetchErrorKind::Connect, "{e}");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
}
