//! `kez-verify id` end to end (SPEC.md §11): the binary against recorded GitHub responses
//! served by a real HTTP server and a sigchain source on 127.0.0.1, recording an evidence
//! bundle and replaying it offline; and the bundle committed under fixtures/evidence/.
//!
//! `KEZ_BLESS=1 cargo test -p kez-verify --test id` rewrites the committed bundle.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;

use kez_core::encoding::{self, Encoding};
use kez_core::sigchain::{Link, LinkBuilder, Op, RevokeTarget};
use kez_core::{Algorithm, Claim, ClaimBuilder, SecretKey};
use kez_peers::chains::ChainSource;
use kez_peers::github::GithubPeer;
use support::{copy_dir, kez, text, workspace};

const T0: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const AT: &str = "2026-06-01T00:00:00Z";

fn committed_bundle() -> PathBuf {
    workspace().join("fixtures/evidence/github-jason")
}

fn key() -> SecretKey {
    // Public test key (SPEC.md Appendix A style): never use it for anything else.
    SecretKey::from_bytes(Algorithm::Ed25519, &[7; 32]).unwrap()
}

fn claim(k: &SecretKey) -> Claim {
    ClaimBuilder::new("github:jason".parse().unwrap(), T0 + 10)
        .sign(k, None)
        .unwrap()
}

fn chain(k: &SecretKey, c: &Claim, revoke: bool) -> String {
    let mut links: Vec<Link> = vec![LinkBuilder::init(T0).sign(k, None).unwrap()];
    let add = Op::Add {
        claim: c.id(),
        subject: c.subject().clone(),
    };
    links.push(
        LinkBuilder::after(&links[0], add, T0 + 20)
            .sign(k, None)
            .unwrap(),
    );
    if revoke {
        let op = Op::Revoke(RevokeTarget::Claim(c.id()));
        let link = LinkBuilder::after(&links[1], op, T0 + 40)
            .sign(k, None)
            .unwrap();
        links.push(link);
    }
    let mut out = Vec::new();
    for link in &links {
        out.extend_from_slice(link.to_jcs());
        out.push(b'\n');
    }
    String::from_utf8(out).unwrap()
}

/// Peers serving jason's gist and the chain; kept alive by the runtime they run on.
struct Peers {
    runtime: tokio::runtime::Runtime,
    github: GithubPeer,
    chains: ChainSource,
}

fn peers(revoke: bool, chain_fails: bool) -> Peers {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (github, chains) =
        runtime.block_on(async { (GithubPeer::start().await, ChainSource::start().await) });
    let k = key();
    let c = claim(&k);
    let gist = github.add_gist(
        "jason",
        &[
            ("kez.md", encoding::encode(&c, Encoding::Markdown).as_str()),
            ("notes.txt", "not a proof"),
        ],
    );
    github.set_times(&gist, T0 + 30, T0 + 30);
    let key_text = k.public_key().to_string();
    runtime.block_on(async {
        if chain_fails {
            chains.fail(&key_text).await;
        } else {
            chains.put(&key_text, &chain(&k, &c, revoke)).await;
        }
    });
    Peers {
        runtime,
        github,
        chains,
    }
}

fn live_args<'a>(peers: &'a Peers, api: &'a str, base: &'a str) -> Vec<&'a str> {
    let _ = peers;
    vec![
        "id",
        "github:jason",
        "--github-api",
        api,
        "--chain-source",
        base,
        "--danger-allow-loopback",
        "--at",
        AT,
    ]
}

#[test]
fn records_against_live_peers_and_replays_offline_byte_for_byte() {
    let p = peers(false, false);
    let (api, base) = (p.github.api_base(), p.chains.base());
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let mut args = live_args(&p, &api, &base);
    let bundle_arg = bundle.to_str().unwrap().to_string();
    args.extend(["--format", "json", "--record", &bundle_arg]);
    let live = kez(&args);
    assert_eq!(live.status.code(), Some(0), "{}", text(&live));
    let report: serde_json::Value = serde_json::from_slice(&live.stdout).unwrap();
    assert_eq!(report["schema"], "kez-verify/id-report/1");
    assert_eq!(report["outcome"], "valid");
    assert_eq!(report["proofs"].as_array().unwrap().len(), 1);
    assert_eq!(report["chains"][0]["status"], "verified");
    assert!(p.runtime.block_on(p.chains.request_count()) >= 1);

    // The same, recorded packed (format 2): the same report, the bodies in one archive.
    let packed = dir.path().join("packed");
    let packed_arg = packed.to_str().unwrap().to_string();
    let mut args = live_args(&p, &api, &base);
    args.extend(["--format", "json", "--record", &packed_arg, "--pack"]);
    let live_packed = kez(&args);
    assert_eq!(live_packed.status.code(), Some(0), "{}", text(&live_packed));
    assert_eq!(live_packed.stdout, live.stdout);
    assert!(packed.join("bodies.tar").is_file() && !packed.join("bodies").exists());
    // --pack says how to record; alone it is a usage error.
    let alone = kez(&["id", "github:jason", "--pack"]);
    assert_eq!(alone.status.code(), Some(2), "{}", text(&alone));
    assert!(String::from_utf8_lossy(&alone.stderr).contains("--record"));

    if std::env::var_os("KEZ_BLESS").is_some() {
        let target = committed_bundle();
        let _ = std::fs::remove_dir_all(&target);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        copy_dir(&bundle, &target);
    }

    // Offline: the peers are gone.
    drop(p);
    let replayed = kez(&[
        "id",
        "github:jason",
        "--format",
        "json",
        "--replay",
        &bundle_arg,
    ]);
    assert_eq!(replayed.status.code(), Some(0), "{}", text(&replayed));
    assert_eq!(
        replayed.stdout, live.stdout,
        "replay differs from the live run"
    );
    let replayed_packed = kez(&[
        "id",
        "github:jason",
        "--format",
        "json",
        "--replay",
        &packed_arg,
    ]);
    assert_eq!(
        replayed_packed.status.code(),
        Some(0),
        "{}",
        text(&replayed_packed)
    );
    assert_eq!(
        replayed_packed.stdout, live.stdout,
        "replay of the packed bundle differs from the live run"
    );

    // Another target than the recorded one is refused.
    let other = kez(&["id", "github:someone", "--replay", &bundle_arg]);
    assert_eq!(other.status.code(), Some(2), "{}", text(&other));
    assert!(String::from_utf8_lossy(&other.stderr).contains("records `id github:jason`"));

    // Evaluated later than recorded, from the same evidence: still the same proofs.
    let later = kez(&[
        "id",
        "github:jason",
        "--replay",
        &bundle_arg,
        "--at",
        "2027-01-01T00:00:00Z",
    ]);
    assert_eq!(later.status.code(), Some(0), "{}", text(&later));
}

#[test]
fn a_request_missing_from_the_bundle_fails_loudly() {
    let p = peers(false, false);
    let (api, base) = (p.github.api_base(), p.chains.base());
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let bundle_arg = bundle.to_str().unwrap().to_string();
    let mut args = live_args(&p, &api, &base);
    args.extend(["--record", &bundle_arg]);
    assert_eq!(kez(&args).status.code(), Some(0));
    drop(p);
    // Remove the sigchain fetch from the recorded exchanges.
    let index_path = bundle.join("bundle.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let exchanges = index["exchanges"].as_array_mut().unwrap();
    exchanges.retain(|e| {
        !e["request"]["url"]
            .as_str()
            .is_some_and(|u| u.contains("/v1/chains/"))
    });
    for (i, e) in exchanges.iter_mut().enumerate() {
        e["seq"] = i.into();
    }
    let kept: Vec<String> = exchanges
        .iter()
        .filter_map(|e| e["answer"]["ok"]["body_sha256"].as_str().map(String::from))
        .collect();
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    for body in std::fs::read_dir(bundle.join("bodies")).unwrap() {
        let body = body.unwrap();
        if !kept.contains(&body.file_name().to_string_lossy().into_owned()) {
            std::fs::remove_file(body.path()).unwrap();
        }
    }
    let out = kez(&["id", "github:jason", "--replay", &bundle_arg]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(out.stdout.is_empty(), "no partial report: {}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("holds no answer"),
        "{}",
        text(&out)
    );
}

#[test]
fn revoked_exits_1_and_an_unreachable_chain_exits_3() {
    let p = peers(true, false);
    let (api, base) = (p.github.api_base(), p.chains.base());
    let out = kez(&live_args(&p, &api, &base));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("github:jason  revoked"), "{stdout}");

    let p = peers(false, true);
    let (api, base) = (p.github.api_base(), p.chains.base());
    let out = kez(&live_args(&p, &api, &base));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

#[test]
fn a_key_walks_its_chain_to_the_linked_identity() {
    let p = peers(false, false);
    let (api, base) = (p.github.api_base(), p.chains.base());
    let key_text = key().public_key().to_string();
    let out = kez(&[
        "id",
        &key_text,
        "--github-api",
        &api,
        "--chain-source",
        &base,
        "--danger-allow-loopback",
        "--at",
        AT,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["identities"][0]["identity"], "github:jason");
    assert_eq!(report["identities"][0]["outcome"], "valid");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["id", "nope"][..],
        &["id", "ed25519:zz"][..],
        &["id", "web:example.com", "--at", AT][..],
        &["id", "github:jason", "--replay", "/nonexistent/bundle"][..],
    ] {
        let out = kez(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn the_committed_bundle_replays_offline() {
    let dir = committed_bundle();
    assert!(
        dir.join("bundle.json").exists(),
        "{} is missing: run KEZ_BLESS=1 cargo test -p kez-verify --test id",
        dir.display()
    );
    let out = kez(&["id", "github:jason", "--replay", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("github:jason  valid"), "{stdout}");
    // Deterministic: a second replay prints the same bytes.
    let again = kez(&["id", "github:jason", "--replay", dir.to_str().unwrap()]);
    assert_eq!(again.stdout, out.stdout);
}
