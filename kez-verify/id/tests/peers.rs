//! The sigchain verdicts of SPEC.md §8 and §11.8 end to end, through the live network
//! layer against real HTTP servers on 127.0.0.1: GitHub's recorded REST responses
//! (`kez_peers::github`) serve the proof, one or two sigchain sources
//! (`kez_peers::chains`) serve the chain. Each test is one adversarial case of the channel
//! issue: an expired claim, a key rotated away, a claim made with a retired key, a claim
//! signed by a device key, a proof published after its claim was revoked, and two sources
//! that disagree.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use kez_channels::{default_registry, ChannelsConfig};
use kez_core::encoding::{self, Encoding};
use kez_core::sigchain::{to_jsonl, Link, LinkBuilder, Op, RevokeTarget};
use kez_core::{Algorithm, Claim, ClaimBuilder, Identity, SecretKey};
use kez_id::{ChainSources, IdentityReport, Verifier};
use kez_net::{LiveNet, NetConfig};
use kez_peers::chains::ChainSource;
use kez_peers::github::GithubPeer;
use serde_json::Value;

const T0: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
/// The evaluation time: well after every link and publication below.
const AT: u64 = T0 + 86_400 * 30;

fn key(n: u8) -> SecretKey {
    SecretKey::from_bytes(Algorithm::Ed25519, &[n; 32]).unwrap()
}

fn jason() -> Identity {
    "github:jason".parse().unwrap()
}

fn claim(k: &SecretKey, created_at: u64) -> Claim {
    ClaimBuilder::new(jason(), created_at)
        .sign(k, None)
        .unwrap()
}

fn add(c: &Claim) -> Op {
    Op::Add {
        claim: c.id(),
        subject: c.subject().clone(),
    }
}

/// Links each `(op, time, signer)` after an `init` by `k` at T0.
fn chain(k: &SecretKey, ops: Vec<(Op, u64, &SecretKey)>) -> Vec<Link> {
    let mut links = vec![LinkBuilder::init(T0).sign(k, None).unwrap()];
    for (op, time, signer) in ops {
        let new_key = match &op {
            Op::Rotate { new_key } => [key(2), key(3)]
                .into_iter()
                .find(|candidate| candidate.public_key() == *new_key),
            _ => None,
        };
        let link = LinkBuilder::after(links.last().unwrap(), op, time)
            .sign(signer, new_key.as_ref())
            .unwrap();
        links.push(link);
    }
    links
}

/// jason's gist holding `c`, published at `published`, and each chain on its own source;
/// returns the report on `github:jason` as JSON.
fn verify(c: &Claim, published: u64, chains: &[(&SecretKey, Vec<Link>)]) -> Value {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let github = GithubPeer::start().await;
        let gist = github.add_gist(
            "jason",
            &[("kez.md", &encoding::encode(c, Encoding::Markdown))],
        );
        github.set_times(&gist, published, published);
        let mut sources = Vec::new();
        for (k, links) in chains {
            let source = ChainSource::start().await;
            source
                .put(&k.public_key().to_string(), to_jsonl(links))
                .await;
            sources.push(source);
        }
        let registry = default_registry(&ChannelsConfig {
            github_api: github.api_base(),
            ..ChannelsConfig::default()
        });
        let net = LiveNet::new(NetConfig::danger_loopback_testing()).unwrap();
        let chain_sources = ChainSources {
            http: sources.iter().map(ChainSource::base).collect(),
            ..ChainSources::default()
        };
        let verifier = Verifier::new(registry, Arc::new(net), chain_sources, AT);
        let report: IdentityReport = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            verifier.identity(&jason()),
        )
        .await
        .expect("verified in time")
        .expect("a report");
        serde_json::to_value(&report).unwrap()
    })
}

/// The one verdict of the one proof.
fn verdict(report: &Value) -> &Value {
    let proofs = report["proofs"].as_array().unwrap();
    assert_eq!(proofs.len(), 1, "{report:#}");
    &proofs[0]["verdicts"][0]
}

#[test]
fn a_bound_claim_is_valid_and_an_expired_one_is_expired() {
    let k = key(1);
    let c = claim(&k, T0 + 10);
    let report = verify(
        &c,
        T0 + 30,
        &[(&k, chain(&k, vec![(add(&c), T0 + 20, &k)]))],
    );
    assert_eq!(report["outcome"], "valid", "{report:#}");

    let expiring = ClaimBuilder::new(jason(), T0 + 10)
        .expires_at(T0 + 3600)
        .sign(&k, None)
        .unwrap();
    let links = chain(&k, vec![(add(&expiring), T0 + 20, &k)]);
    let report = verify(&expiring, T0 + 30, &[(&k, links)]);
    assert_eq!(report["outcome"], "expired", "{report:#}");
    assert_eq!(verdict(&report)["outcome"], "expired", "{report:#}");
}

#[test]
fn a_key_rotated_away_revokes_its_claims_and_a_later_claim_is_retired() {
    let k1 = key(1);
    let k2 = key(2);
    let before = claim(&k1, T0 + 10);
    let rotate = Op::Rotate {
        new_key: k2.public_key(),
    };
    let links = chain(
        &k1,
        vec![
            (add(&before), T0 + 20, &k1),
            (rotate.clone(), T0 + 100, &k1),
        ],
    );
    let report = verify(&before, T0 + 30, &[(&k1, links)]);
    assert_eq!(report["outcome"], "revoked", "{report:#}");
    assert_eq!(
        verdict(&report)["conditions"][0]["by"],
        "rotated",
        "{report:#}"
    );

    // A thief with the retired key backdates nothing: a claim made after the rotation.
    let after = claim(&k1, T0 + 200);
    let links = chain(
        &k1,
        vec![(rotate, T0 + 100, &k1), (add(&after), T0 + 210, &k2)],
    );
    let report = verify(&after, T0 + 230, &[(&k1, links)]);
    assert_eq!(report["outcome"], "invalid", "{report:#}");
    assert_eq!(verdict(&report)["reason"], "key_retired", "{report:#}");
}

#[test]
fn a_claim_signed_by_a_device_key_is_invalid() {
    let primary = key(1);
    let device = key(4);
    let c = claim(&device, T0 + 10);
    let add_device = Op::AddDevice {
        device: device.public_key(),
        name: Some("laptop".into()),
    };
    // The device binds the claim (devices may sign links), but may not make claims.
    let links = chain(
        &primary,
        vec![(add_device, T0 + 5, &primary), (add(&c), T0 + 20, &device)],
    );
    let report = verify(&c, T0 + 30, &[(&device, links)]);
    assert_eq!(report["outcome"], "invalid", "{report:#}");
    assert_eq!(verdict(&report)["reason"], "device_key", "{report:#}");
}

#[test]
fn a_proof_published_after_its_claim_was_revoked_is_invalid() {
    let k = key(1);
    let c = claim(&k, T0 + 10);
    let links = chain(
        &k,
        vec![
            (add(&c), T0 + 20, &k),
            (Op::Revoke(RevokeTarget::Claim(c.id())), T0 + 40, &k),
        ],
    );
    // Published before the revocation: revoked. Published after it: invalid.
    let report = verify(&c, T0 + 30, &[(&k, links.clone())]);
    assert_eq!(report["outcome"], "revoked", "{report:#}");
    let report = verify(&c, T0 + 3600, &[(&k, links)]);
    assert_eq!(report["outcome"], "invalid", "{report:#}");
    assert_eq!(
        verdict(&report)["reason"],
        "published_after_revocation",
        "{report:#}"
    );
}

#[test]
fn two_sources_serving_diverging_chains_are_a_fork() {
    let k = key(1);
    let c = claim(&k, T0 + 10);
    let honest = chain(&k, vec![(add(&c), T0 + 20, &k)]);
    let other = claim(&k, T0 + 11);
    let forked = chain(&k, vec![(add(&other), T0 + 20, &k)]);
    let report = verify(&c, T0 + 30, &[(&k, honest.clone()), (&k, forked)]);
    assert_eq!(report["outcome"], "fork", "{report:#}");

    // A source that is merely behind (a prefix) is no fork.
    let report = verify(
        &c,
        T0 + 30,
        &[(&k, honest.clone()), (&k, honest[..1].to_vec())],
    );
    assert_eq!(report["outcome"], "valid", "{report:#}");
}

/// SPEC.md §11.9-5: a key whose chain binds nothing as of T is no verified identity, whether
/// nothing was ever added or everything was revoked.
#[test]
fn a_key_whose_chain_binds_nothing_is_no_identity() {
    let k = key(1);
    let c = claim(&k, T0 + 10);
    let revoked = chain(
        &k,
        vec![
            (add(&c), T0 + 20, &k),
            (Op::Revoke(RevokeTarget::Subject(jason())), T0 + 40, &k),
        ],
    );
    for links in [chain(&k, Vec::new()), revoked] {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let report = runtime.block_on(async {
            let source = ChainSource::start().await;
            source
                .put(&k.public_key().to_string(), to_jsonl(&links))
                .await;
            let sources = ChainSources {
                http: vec![source.base()],
                ..ChainSources::default()
            };
            let net = LiveNet::new(NetConfig::danger_loopback_testing()).unwrap();
            let registry = default_registry(&ChannelsConfig::default());
            let verifier = Verifier::new(registry, Arc::new(net), sources, AT);
            verifier
                .graph(&k.public_key(), &|_, _, _| {})
                .await
                .unwrap()
        });
        let report = serde_json::to_value(&report).unwrap();
        assert_eq!(report["outcome"], "invalid", "{report:#}");
        assert_eq!(report["reason"], "no_identity", "{report:#}");
        assert_eq!(report["chain"]["status"], "verified", "{report:#}");
        assert_eq!(report["identities"], serde_json::json!([]), "{report:#}");
    }
}
