//! The ap channel against a real ActivityPub server: Fedify on 127.0.0.1 answering for the
//! host `social.example` (SPEC-ap.md). Run `channels/peers/fedify/setup.sh` first on a fresh
//! machine.

use kez_channel::{Channel, ChannelError, Lookup, RejectReason};
use kez_channels::ap::ApChannel;
use kez_core::encoding;
use kez_core::Identity;
use kez_net::{LiveNet, NetConfig};
use kez_peers::fedify::{Actor, FedifyOptions, FedifyPeer, NoteSpec};

const HOST: &str = "social.example";

/// The A.2 claim's id (SPEC.md Appendix A.2).
const A2_CLAIM_ID: &str = "sha256:1ebc66f1bf3cb2640c12a2d65fe295efe36e2265d2914dde637e30e93c8b0844";

fn spec_line(prefix: &str, containing: &str) -> String {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../SPEC.md"))
        .unwrap_or_default();
    match spec
        .lines()
        .find(|line| line.starts_with(prefix) && line.contains(containing))
    {
        Some(line) => line.to_string(),
        None => panic!("SPEC.md has no line starting with {prefix:?}"),
    }
}

/// Appendix A.4: A.2 in compact form.
fn a4_compact() -> String {
    spec_line("kez:z1:KLUv_WBhAE0I", "")
}

/// Appendix A.2: the claim in JSON.
fn a2_json() -> String {
    spec_line("{\"created_at\":1767225600,\"expires_at\"", "\"sig\"")
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn start(page_size: u32) -> FedifyPeer {
    let mut options = FedifyOptions::new(HOST);
    options.page_size = page_size;
    match FedifyPeer::start_with(&options) {
        Ok(peer) => peer,
        Err(e) => panic!("fedify: {e}"),
    }
}

fn net(peer: &FedifyPeer) -> LiveNet {
    let config = NetConfig::danger_loopback_testing().with_resolve(HOST, peer.addr());
    match LiveNet::new(config) {
        Ok(net) => net,
        Err(e) => panic!("LiveNet: {e}"),
    }
}

fn ok<T>(result: Result<T, String>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{e}"),
    }
}

fn identity(text: &str) -> Identity {
    match Identity::parse(text) {
        Ok(identity) => identity,
        Err(e) => panic!("{text}: {e}"),
    }
}

async fn lookup(peer: &FedifyPeer, who: &str) -> Result<Lookup, ChannelError> {
    ApChannel::new().lookup(&identity(who), &net(peer)).await
}

async fn found(peer: &FedifyPeer, who: &str) -> Lookup {
    match lookup(peer, who).await {
        Ok(lookup) => lookup,
        Err(e) => panic!("lookup of {who}: {e}"),
    }
}

/// The claim ids the host would decode from each proof's content.
fn claim_ids(content: &str) -> Vec<String> {
    let bytes = content.as_bytes();
    let Ok(kind) = encoding::detect(bytes) else {
        return Vec::new();
    };
    encoding::decode(bytes, kind)
        .map(|found| {
            found
                .into_iter()
                .filter_map(|located| located.item.ok())
                .map(|claim| claim.id().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proof_in_the_summary() {
    let mut peer = start(20);
    let compact = a4_compact();
    let alice = ok(peer.add_actor(&Actor::new("alice").summary(format!(
        "<p>Hi! My KEZ proof: <span class=\"h-card\">{compact}</span> &amp; that&#39;s it</p>"
    ))));
    let lookup = found(&peer, "ap:alice@social.example").await;
    let proofs: Vec<_> = lookup.proofs().collect();
    assert_eq!(proofs.len(), 1, "{:?}", lookup.found);
    assert_eq!(proofs[0].location, format!("{alice}#summary"));
    assert_eq!(proofs[0].content, compact);
    assert_eq!(proofs[0].published_at, None);
    assert_eq!(claim_ids(&proofs[0].content), [A2_CLAIM_ID]);
    assert!(lookup
        .notes
        .iter()
        .any(|n| n.contains(&format!("is {alice}"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proof_in_a_property_value() {
    let mut peer = start(20);
    let alice = ok(peer.add_actor(
        &Actor::new("alice")
            .summary("<p>no proof here</p>")
            .field(
                "Website",
                "<a href=\"https://alice.example\">alice.example</a>",
            )
            .field(
                "KEZ",
                "<a href=\"https://kez.example/p\" rel=\"me\">kez:z1:field-proof</a>",
            ),
    ));
    let lookup = found(&peer, "mastodon:@Alice@Social.Example").await;
    let proofs: Vec<(&str, &str)> = lookup
        .proofs()
        .map(|p| (p.location.as_str(), p.content.as_str()))
        .collect();
    assert_eq!(
        proofs,
        [(format!("{alice}#field-2").as_str(), "kez:z1:field-proof")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proof_in_a_note_with_its_publication_time() {
    let mut peer = start(20);
    ok(peer.add_actor(&Actor::new("alice")));
    ok(peer.add_note(&NoteSpec::new("alice", "<p>just chatting</p>")));
    let compact = a4_compact();
    let note = ok(peer.add_note(
        &NoteSpec::new("alice", format!("<p>proof:<br>{compact}</p>"))
            .published("2026-01-01T00:00:00Z"),
    ));
    // A Markdown fence in a note, as a server renders it: lines as <br>, quotes escaped.
    let markdown = format!("<p>```kez<br>{}<br>```</p>", html_escape(&a2_json()));
    let fenced = ok(
        peer.add_note(&NoteSpec::new("alice", markdown).published("2026-01-02T00:00:00.500+01:00"))
    );
    let lookup = found(&peer, "ap:alice@social.example").await;
    let proofs: Vec<_> = lookup.proofs().collect();
    assert_eq!(proofs.len(), 2, "{:?}", lookup.found);
    // Newest first, as the outbox lists them.
    assert_eq!(proofs[0].location, fenced);
    assert_eq!(proofs[0].published_at, Some(1_767_225_600 + 86_400 - 3_600));
    assert_eq!(claim_ids(&proofs[0].content), [A2_CLAIM_ID]);
    assert_eq!(proofs[1].location, note);
    assert_eq!(proofs[1].content, compact);
    assert_eq!(proofs[1].published_at, Some(1_767_225_600));
    assert!(lookup
        .notes
        .iter()
        .any(|n| n.contains("outbox: 1 page(s), 3 item(s) read")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_post_or_reply_is_rejected() {
    let mut peer = start(20);
    ok(peer.add_actor(&Actor::new("alice")));
    let mallory = ok(peer.add_actor(&Actor::new("mallory")));
    let own = ok(peer.add_note(&NoteSpec::new("alice", "<p>kez:z1:alice-own</p>")));
    // Mallory's reply to alice, in alice's collection, holding a proof.
    let reply = ok(peer.add_note(
        &NoteSpec::new("alice", "<p>@alice kez:z1:mallory-planted</p>")
            .in_reply_to(own.clone())
            .attributed_to(mallory.clone()),
    ));
    // Mallory's own post holding a proof for alice: never alice's.
    ok(peer.add_note(&NoteSpec::new("mallory", "<p>kez:z1:mallory-own</p>")));
    let lookup = found(&peer, "ap:alice@social.example").await;
    let proofs: Vec<&str> = lookup.proofs().map(|p| p.content.as_str()).collect();
    assert_eq!(proofs, ["kez:z1:alice-own"]);
    let rejected: Vec<_> = lookup.rejected().collect();
    assert_eq!(rejected.len(), 1, "{:?}", lookup.found);
    assert_eq!(rejected[0].location, reply);
    assert_eq!(rejected[0].reason, RejectReason::WrongPublisher);
    assert!(
        rejected[0].detail.contains(&mallory),
        "{}",
        rejected[0].detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webfinger_naming_an_actor_on_another_host_is_a_conflict() {
    let mut peer = start(20);
    ok(peer.add_actor(&Actor::new("bob").summary("<p>kez:z1:bob</p>")));
    ok(peer.set_webfinger(
        "acct:bob@social.example",
        Some("https://evil.example/users/bob"),
    ));
    // evil.example is not mapped: had the channel asked it, the lookup would be unreachable.
    match lookup(&peer, "ap:bob@social.example").await {
        Err(ChannelError::Conflict(detail)) => {
            assert!(
                detail.contains("https://evil.example/users/bob"),
                "{detail}"
            )
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The same host on another port is another origin.
    ok(peer.set_webfinger(
        "acct:bob@social.example",
        Some("https://social.example:8443/users/bob"),
    ));
    assert!(matches!(
        lookup(&peer, "ap:bob@social.example").await,
        Err(ChannelError::Conflict(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_whose_id_is_not_its_url_is_a_conflict() {
    let mut peer = start(20);
    let alice = ok(peer.add_actor(&Actor::new("alice")));
    let forged = serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": alice,
        "type": "Person",
        "summary": "<p>kez:z1:eve-pretends</p>",
    });
    ok(peer.set_raw(
        "/users/eve",
        "application/activity+json",
        &forged.to_string(),
    ));
    ok(peer.set_webfinger(
        "acct:eve@social.example",
        Some("https://social.example/users/eve"),
    ));
    match lookup(&peer, "ap:eve@social.example").await {
        Err(ChannelError::Conflict(detail)) => assert!(detail.contains(&alice), "{detail}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_account_is_no_such_account() {
    let peer = start(20);
    assert!(matches!(
        lookup(&peer, "ap:nobody@social.example").await,
        Err(ChannelError::NoSuchAccount(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_reading_stops_after_three_pages() {
    let mut peer = start(2);
    ok(peer.add_actor(&Actor::new("alice")));
    // Eight notes, two per page, newest first: pages 1-3 hold notes 8..3; notes 2 and 1
    // (page 4) are never read.
    for n in 1..=8 {
        ok(peer.add_note(&NoteSpec::new("alice", format!("<p>kez:z1:note-{n}</p>"))));
    }
    let lookup = found(&peer, "ap:alice@social.example").await;
    let proofs: Vec<&str> = lookup.proofs().map(|p| p.content.as_str()).collect();
    assert_eq!(
        proofs,
        [
            "kez:z1:note-8",
            "kez:z1:note-7",
            "kez:z1:note-6",
            "kez:z1:note-5",
            "kez:z1:note-4",
            "kez:z1:note-3"
        ]
    );
    assert!(
        lookup
            .notes
            .iter()
            .any(|n| n.contains("3 page(s), 6 item(s) read; stopped at the limit")),
        "{:?}",
        lookup.notes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_and_pages_off_the_host_are_not_accepted() {
    let mut peer = start(20);
    let carol = ok(peer.add_actor(&Actor::new("carol")));
    let outbox = serde_json::json!({
        "id": format!("{carol}/outbox"),
        "type": "OrderedCollection",
        "first": {
            "type": "OrderedCollectionPage",
            "orderedItems": [
                {
                    "type": "Create",
                    "actor": carol,
                    "object": {
                        "id": "https://elsewhere.example/notes/1",
                        "type": "Note",
                        "attributedTo": carol,
                        "content": "<p>kez:z1:elsewhere</p>",
                    },
                },
                {
                    "type": "Create",
                    "actor": carol,
                    "object": {
                        "id": format!("{carol}/notes/2"),
                        "type": "Note",
                        "attributedTo": [carol],
                        "content": "<p>kez:z1:at-home</p>",
                        "published": "2026-01-01T00:00:00Z",
                    },
                },
                format!("{carol}/activities/3"),
                {
                    // carol boosts dave's post: the activity is carol's, the note is not.
                    "type": "Announce",
                    "actor": carol,
                    "object": {
                        "id": "https://social.example/users/dave/notes/4",
                        "type": "Note",
                        "attributedTo": "https://social.example/users/dave",
                        "content": "<p>kez:z1:dave-boosted</p>",
                    },
                },
                {
                    // a Create by dave of a note claiming to be carol's.
                    "type": "Create",
                    "actor": "https://social.example/users/dave",
                    "object": {
                        "id": format!("{carol}/notes/5"),
                        "type": "Note",
                        "attributedTo": carol,
                        "content": "<p>kez:z1:dave-forged</p>",
                    },
                },
            ],
            "next": "https://elsewhere.example/outbox?page=2",
        },
    });
    ok(peer.set_raw(
        "/users/carol/outbox",
        "application/activity+json",
        &outbox.to_string(),
    ));
    let lookup = found(&peer, "ap:carol@social.example").await;
    let proofs: Vec<&str> = lookup.proofs().map(|p| p.content.as_str()).collect();
    assert_eq!(proofs, ["kez:z1:at-home"]);
    let rejected: Vec<(&str, RejectReason)> = lookup
        .rejected()
        .map(|r| (r.location.as_str(), r.reason))
        .collect();
    let forged = format!("{carol}/notes/5");
    assert_eq!(
        rejected,
        [
            ("https://elsewhere.example/notes/1", RejectReason::WrongHost),
            (
                "https://social.example/users/dave/notes/4",
                RejectReason::WrongPublisher
            ),
            (forged.as_str(), RejectReason::WrongPublisher),
        ]
    );
    let note = lookup
        .notes
        .iter()
        .find(|n| n.starts_with("outbox:"))
        .cloned()
        .unwrap_or_default();
    assert!(
        note.contains("1 item(s) given by reference not fetched"),
        "{note}"
    );
    assert!(note.contains("is not on social.example"), "{note}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_is_unreachable() {
    let peer = start(20);
    let net = net(&peer);
    drop(peer);
    match ApChannel::new()
        .lookup(&identity("ap:alice@social.example"), &net)
        .await
    {
        Err(ChannelError::Unreachable(_)) => {}
        other => panic!("expected unreachable, got {other:?}"),
    }
}

#[test]
fn look_alike_accounts_are_rejected_by_normalise() {
    let channel = ApChannel::new();
    for bad in [
        "аlice@social.example",  // Cyrillic а in the user
        "ａlice@social.example", // fullwidth a in the user
        "alice@ѕocial.example",  // Cyrillic ѕ: mixed scripts in the host
        "alice@аррӏе.com",       // whole-script confusable host
        "ali\u{200b}ce@social.example",
        "alice@social.example@evil.example",
    ] {
        assert!(channel.normalise(bad).is_err(), "{bad} accepted");
    }
    assert_eq!(
        channel.normalise("@Alice@Social.Example.").as_deref(),
        Ok("alice@social.example")
    );
    assert_eq!(channel.aliases(), ["mastodon"]);
}
