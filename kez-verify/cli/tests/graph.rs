//! `kez-verify id KEY` over all five channels at once (SPEC.md §11.9): one key whose sigchain
//! links a domain (knot), a GitHub account (recorded REST responses), a nostr key (a real
//! relay), a Bluesky handle (a real PDS and PLC directory) and an ActivityPub actor (Fedify),
//! verified live against those peers on 127.0.0.1, recorded, and replayed offline byte for
//! byte; and the bundle committed under `fixtures/evidence/alice-graph`.
//!
//! `KEZ_BLESS=1 cargo test -p kez-verify --test graph` rewrites the committed bundle. The
//! peers are installed by `channels/peers/setup.sh`.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;

use kez_channels::bluesky::COLLECTION;
use kez_core::encoding::{self, dns_txt, Encoding};
use kez_core::sigchain::{Link, LinkBuilder, Op};
use kez_core::{Algorithm, Claim, ClaimBuilder, Identity, SecretKey};
use kez_peers::chains::ChainSource;
use kez_peers::fedify::{FedifyPeer, NoteSpec};
use kez_peers::github::GithubPeer;
use kez_peers::knot::KnotPeer;
use kez_peers::pds::PdsPeer;
use kez_peers::relay::{NostrKey, RelayPeer};
use support::{copy_dir, kez, text, workspace};

const T0: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
/// Later than any platform time the peers give (the PDS stamps records with the real clock).
const AT: &str = "2030-01-01T00:00:00Z";
const AP_HOST: &str = "social.example";
const HANDLE: &str = "alice.test";

fn committed_bundle() -> PathBuf {
    workspace().join("fixtures/evidence/alice-graph")
}

fn ok<T>(result: Result<T, String>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{e} (run channels/peers/setup.sh)"),
    }
}

/// Alice's primary key: a public test key, never to be used for anything else.
fn key() -> SecretKey {
    SecretKey::from_bytes(Algorithm::Ed25519, &[0xa1; 32]).unwrap()
}

fn claim(k: &SecretKey, subject: &str) -> Claim {
    ClaimBuilder::new(Identity::parse(subject).unwrap(), T0 + 10)
        .sign(k, None)
        .unwrap()
}

/// init, then one `add` per claim.
fn chain(k: &SecretKey, claims: &[Claim]) -> String {
    let mut links: Vec<Link> = vec![LinkBuilder::init(T0).sign(k, None).unwrap()];
    for (i, c) in claims.iter().enumerate() {
        let add = Op::Add {
            claim: c.id(),
            subject: c.subject().clone(),
        };
        let link = LinkBuilder::after(links.last().unwrap(), add, T0 + 20 + i as u64)
            .sign(k, None)
            .unwrap();
        links.push(link);
    }
    let mut out = String::new();
    for link in &links {
        out.push_str(std::str::from_utf8(link.to_jcs()).unwrap());
        out.push('\n');
    }
    out
}

/// The five peers and the sigchain source, each publishing one of alice's proofs.
struct World {
    runtime: tokio::runtime::Runtime,
    knot: KnotPeer,
    pds: PdsPeer,
    fedify: FedifyPeer,
    github: GithubPeer,
    relay: RelayPeer,
    chains: ChainSource,
}

impl World {
    fn start() -> World {
        let k = key();
        let nostr = NostrKey::from_label("alice");
        let npub = format!("nostr:{}", nostr.npub());
        let subjects = [
            "dns:alice.test".to_string(),
            "github:alice-kez".to_string(),
            npub,
            format!("bluesky:{HANDLE}"),
            format!("ap:alice@{AP_HOST}"),
        ];
        let claims: Vec<Claim> = subjects.iter().map(|s| claim(&k, s)).collect();

        let pds = ok(PdsPeer::start());
        let account = ok(pds.create_account(HANDLE));
        let record = serde_json::json!({
            "$type": COLLECTION,
            "claim": encoding::encode(&claims[3], Encoding::Compact),
            "createdAt": "2026-01-01T00:00:30Z",
        });
        ok(pds.put_record(&account.did, COLLECTION, None, &record));

        let zone = format!(
            "$ORIGIN test.\n$TTL 60\n\
             @ IN SOA ns1.test. hostmaster.test. 1 3600 600 86400 60\n\
             @ IN NS ns1.test.\nns1 IN A 127.0.0.1\n\
             _atproto.alice IN TXT \"did={}\"\n{}",
            account.did,
            dns_txt::encode_zone_line(&claims[0])
        );
        let knot = ok(KnotPeer::start("test", &zone));

        let mut fedify = ok(FedifyPeer::start(AP_HOST));
        ok(fedify.add_actor(&kez_peers::fedify::Actor::new("alice")));
        let note = NoteSpec::new(
            "alice",
            format!(
                "<p>My KEZ proof: {}</p>",
                encoding::encode(&claims[4], Encoding::Compact)
            ),
        )
        .published("2026-01-01T00:00:30Z");
        ok(fedify.add_note(&note));

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (github, relay, chains) = runtime.block_on(async {
            let github = GithubPeer::start().await;
            let relay = ok(RelayPeer::start().await);
            let chains = ChainSource::start().await;
            (github, relay, chains)
        });
        let gist = github.add_gist(
            "alice-kez",
            &[(
                "kez.md",
                encoding::encode(&claims[1], Encoding::Markdown).as_str(),
            )],
        );
        github.set_times(&gist, T0 + 30, T0 + 30);
        let note = nostr.note(T0 + 30, &encoding::encode(&claims[2], Encoding::Compact));
        let jsonl = chain(&k, &claims);
        runtime.block_on(async {
            ok(relay.publish(&note).await);
            chains.put(&k.public_key().to_string(), &jsonl).await;
        });
        World {
            runtime,
            knot,
            pds,
            fedify,
            github,
            relay,
            chains,
        }
    }

    /// The command line reaching every peer on 127.0.0.1.
    fn args(&self) -> Vec<String> {
        let pds_port = self.pds.pds_port();
        let mut args = vec![
            "id".to_string(),
            key().public_key().to_string(),
            "--github-api".into(),
            self.github.api_base(),
            "--nostr-relay".into(),
            self.relay.url().to_string(),
            "--plc-directory".into(),
            self.pds.plc_url().to_string(),
            "--dns-server".into(),
            self.knot.addr().to_string(),
            "--resolve".into(),
            format!("{AP_HOST}={}", self.fedify.addr()),
            "--resolve".into(),
            format!("{HANDLE}=127.0.0.1:{pds_port}"),
            "--resolve".into(),
            "localhost=127.0.0.1:0".into(),
            "--chain-source".into(),
            self.chains.base(),
            "--danger-allow-loopback".into(),
            "--danger-plain-http".into(),
            "--at".into(),
            AT.into(),
        ];
        args.extend(["--format".into(), "json".into()]);
        args
    }
}

#[test]
fn a_key_linking_all_five_channels_records_and_replays_byte_for_byte() {
    let world = World::start();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let bundle_arg = bundle.to_str().unwrap().to_string();
    let mut args = world.args();
    args.extend(["--record".into(), bundle_arg.clone()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let live = kez(&args);
    assert_eq!(live.status.code(), Some(0), "{}", text(&live));
    let report: serde_json::Value = serde_json::from_slice(&live.stdout).unwrap();
    let identities = report["identities"].as_array().unwrap();
    let mut seen: Vec<(String, String)> = identities
        .iter()
        .map(|i| {
            (
                i["identity"]
                    .as_str()
                    .unwrap()
                    .split(':')
                    .next()
                    .unwrap()
                    .to_string(),
                i["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    let expected: Vec<(String, String)> = ["ap", "bluesky", "dns", "github", "nostr"]
        .iter()
        .map(|c| (c.to_string(), "valid".to_string()))
        .collect();
    assert_eq!(seen, expected, "{}", text(&live));
    assert!(world.runtime.block_on(world.chains.request_count()) >= 1);

    if std::env::var_os("KEZ_BLESS").is_some() {
        let target = committed_bundle();
        let _ = std::fs::remove_dir_all(&target);
        copy_dir(&bundle, &target);
    }

    // Offline: every peer is gone.
    let key_text = key().public_key().to_string();
    drop(world);
    let replayed = kez(&["id", &key_text, "--format", "json", "--replay", &bundle_arg]);
    assert_eq!(replayed.status.code(), Some(0), "{}", text(&replayed));
    assert_eq!(
        replayed.stdout, live.stdout,
        "replay differs from the live run"
    );
}

#[test]
fn the_committed_graph_bundle_replays_offline() {
    let dir = committed_bundle();
    assert!(
        dir.join("bundle.json").exists(),
        "{} is missing: run KEZ_BLESS=1 cargo test -p kez-verify --test graph",
        dir.display()
    );
    let key_text = key().public_key().to_string();
    let dir_arg = dir.to_str().unwrap();
    let out = kez(&["id", &key_text, "--replay", dir_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for channel in ["dns:", "github:", "nostr:", "bluesky:", "ap:"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(channel) && l.contains("valid")),
            "{channel} missing from:\n{stdout}"
        );
    }
    let again = kez(&["id", &key_text, "--replay", dir_arg]);
    assert_eq!(again.stdout, out.stdout, "replay is deterministic");

    // Evaluated before alice's key existed, from the same evidence: the chain binds nothing
    // yet, so the key is no verified identity (SPEC.md §11.9-5).
    let before = kez(&[
        "id",
        &key_text,
        "--replay",
        dir_arg,
        "--at",
        "2025-06-01T00:00:00Z",
    ]);
    assert_eq!(before.status.code(), Some(1), "{}", text(&before));
    assert!(
        String::from_utf8_lossy(&before.stdout).contains("binds no identity"),
        "{}",
        text(&before)
    );
}
