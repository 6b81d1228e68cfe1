//! The identity engine against a scripted channel and scripted sigchain sources: overall
//! outcomes (SPEC.md §11.9), chain sources and forks (§11.10), graphs.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kez_channel::{
    AccountError, Channel, ChannelError, FetchError, FetchErrorKind, Found, HttpRequest,
    HttpResponse, Lookup, Net, NostrQuery, Proof, Registry, RejectReason, Rejected, TxtLookup,
};
use kez_core::encoding::{self, Encoding};
use kez_core::sigchain::{to_jsonl, Link, LinkBuilder, Op, RevokeTarget};
use kez_core::verdict::Outcome;
use kez_core::{Algorithm, Claim, ClaimBuilder, Identity, SecretKey};
use kez_id::{ChainFile, ChainSources, Verifier, VerifyError};

const T0: u64 = 1_767_225_600;

fn key(n: u8) -> SecretKey {
    SecretKey::from_bytes(Algorithm::Ed25519, &[n; 32]).unwrap()
}

fn claim(signer: &SecretKey, subject: &str, created: u64) -> Claim {
    ClaimBuilder::new(subject.parse().unwrap(), created)
        .sign(signer, None)
        .unwrap()
}

fn jsonl(links: &[Link]) -> String {
    String::from_utf8(to_jsonl(links)).unwrap()
}

/// A chain: init by `k`, then `add` of each claim, 10 s apart.
fn chain(k: &SecretKey, claims: &[&Claim]) -> Vec<Link> {
    let mut links = vec![LinkBuilder::init(T0).sign(k, None).unwrap()];
    for (i, c) in claims.iter().enumerate() {
        let op = Op::Add {
            claim: c.id(),
            subject: c.subject().clone(),
        };
        let link = LinkBuilder::after(links.last().unwrap(), op, T0 + 10 * (i as u64 + 1))
            .sign(k, None)
            .unwrap();
        links.push(link);
    }
    links
}

/// A channel whose lookups are scripted per identity.
#[derive(Debug, Default)]
struct Scripted {
    answers: BTreeMap<String, Result<Lookup, ChannelError>>,
}

#[async_trait]
impl Channel for Scripted {
    fn id(&self) -> &str {
        "github"
    }
    fn normalise(&self, account: &str) -> Result<String, AccountError> {
        Ok(account.to_ascii_lowercase())
    }
    async fn lookup(&self, identity: &Identity, net: &dyn Net) -> Result<Lookup, ChannelError> {
        // Every lookup costs one request, so replay misses show up here too.
        net.http_get(HttpRequest::get(format!("https://api.test/{identity}")))
            .await?;
        self.answers
            .get(&identity.to_string())
            .cloned()
            .unwrap_or(Ok(Lookup::default()))
    }
}

/// Sigchain sources over HTTP: URL → body (or an error).
#[derive(Default)]
struct Sources {
    bodies: Mutex<BTreeMap<String, Result<String, FetchErrorKind>>>,
    requests: Mutex<Vec<String>>,
}

#[async_trait]
impl Net for Sources {
    async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        self.requests.lock().unwrap().push(request.url.clone());
        if request.url.starts_with("https://api.test/") {
            return Ok(response(&request.url, 200, ""));
        }
        match self.bodies.lock().unwrap().get(&request.url) {
            Some(Ok(body)) => Ok(response(&request.url, 200, body)),
            Some(Err(kind)) => Err(FetchError::new(*kind, &request.url, "scripted failure")),
            None => Ok(response(&request.url, 404, "")),
        }
    }
    async fn dns_txt(&self, name: &str) -> Result<TxtLookup, FetchError> {
        Err(FetchError::new(
            FetchErrorKind::Refused,
            name,
            "no DNS here",
        ))
    }
    async fn nostr_events(&self, _: &NostrQuery) -> Result<Vec<String>, FetchError> {
        Ok(Vec::new())
    }
    fn now(&self) -> u64 {
        T0 + 1000
    }
}

fn response(url: &str, status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        url: url.into(),
        status,
        headers: Vec::new(),
        body: body.as_bytes().to_vec().into(),
        received_at: T0,
    }
}

fn proof(c: &Claim, location: &str) -> Found {
    Found::Proof(Proof {
        location: location.into(),
        content: encoding::encode(c, Encoding::Compact),
        published_at: Some(c.created_at() + 5),
        retracted_at: None,
    })
}

struct Setup {
    channel: Scripted,
    net: Arc<Sources>,
    sources: ChainSources,
}

impl Setup {
    fn new() -> Self {
        Self {
            channel: Scripted::default(),
            net: Arc::new(Sources::default()),
            sources: ChainSources {
                http: vec!["https://chains.test".into()],
                ..Default::default()
            },
        }
    }
    fn publish(&mut self, identity: &str, found: Vec<Found>) {
        self.channel.answers.insert(
            identity.into(),
            Ok(Lookup {
                found,
                notes: Vec::new(),
            }),
        );
    }
    fn serve_chain(&self, base: &str, k: &SecretKey, links: &[Link]) {
        let url = format!("{base}/v1/chains/{}.jsonl", k.public_key());
        self.net
            .bodies
            .lock()
            .unwrap()
            .insert(url, Ok(jsonl(links)));
    }
    fn verifier(self) -> (Verifier, Arc<Sources>) {
        let registry = Registry::new().with(Arc::new(self.channel)).unwrap();
        let net = self.net.clone();
        (
            Verifier::new(registry, self.net, self.sources, T0 + 1000),
            net,
        )
    }
}

fn run<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Runtime::new().unwrap().block_on(future)
}

fn identity(text: &str) -> Identity {
    text.parse().unwrap()
}

#[test]
fn a_bound_proof_is_valid_and_names_its_chain() {
    let k = key(1);
    let c = claim(&k, "github:jason", T0 + 5);
    let mut s = Setup::new();
    s.publish("github:jason", vec![proof(&c, "gist#kez.md")]);
    s.serve_chain("https://chains.test", &k, &chain(&k, &[&c]));
    let (verifier, _) = s.verifier();
    let report = run(verifier.identity(&identity("github:jason"))).unwrap();
    assert_eq!(report.outcome, Outcome::Valid, "{report:?}");
    assert!(report.detail.contains("gist#kez.md"), "{}", report.detail);
    assert_eq!(report.chains.len(), 1);
    assert_eq!(report.chains[0].status, "verified");
}

#[test]
fn any_valid_proof_makes_the_identity_valid() {
    let k = key(1);
    let old = claim(&k, "github:jason", T0 + 5);
    let new = claim(&k, "github:jason", T0 + 6);
    let mut links = chain(&k, &[&old, &new]);
    let revoke = LinkBuilder::after(
        links.last().unwrap(),
        Op::Revoke(RevokeTarget::Claim(old.id())),
        T0 + 100,
    )
    .sign(&k, None)
    .unwrap();
    links.push(revoke);
    let mut s = Setup::new();
    s.publish("github:jason", vec![proof(&old, "a"), proof(&new, "b")]);
    s.serve_chain("https://chains.test", &k, &links);
    let (verifier, _) = s.verifier();
    let report = run(verifier.identity(&identity("github:jason"))).unwrap();
    assert_eq!(report.outcome, Outcome::Valid);
    assert_eq!(report.proofs[0].verdicts[0].outcome(), Outcome::Revoked);
    assert_eq!(report.proofs[1].verdicts[0].outcome(), Outcome::Valid);
}

#[test]
fn a_revoked_only_proof_is_revoked_and_a_proof_published_after_revocation_is_invalid() {
    let k = key(1);
    let c = claim(&k, "github:jason", T0 + 5);
    let mut links = chain(&k, &[&c]);
    let revoke = LinkBuilder::after(
        links.last().unwrap(),
        Op::Revoke(RevokeTarget::Claim(c.id())),
        T0 + 100,
    )
    .sign(&k, None)
    .unwrap();
    links.push(revoke);
    let mut s = Setup::new();
    s.publish("github:jason", vec![proof(&c, "a")]);
    let mut late = proof(&c, "late");
    if let Found::Proof(p) = &mut late {
        p.published_at = Some(T0 + 200);
    }
    s.publish("github:late", vec![late]);
    s.serve_chain("https://chains.test", &k, &links);
    let (verifier, _) = s.verifier();
    let report = run(verifier.identity(&identity("github:jason"))).unwrap();
    assert_eq!(report.outcome, Outcome::Revoked);
    // The late copy is for another subject too, but the platform time is what is checked
    // here: published after the revocation.
    let report = run(verifier.identity(&identity("github:late"))).unwrap();
    assert_eq!(report.outcome, Outcome::Invalid);
    let reasons: Vec<_> = report.proofs[0].verdicts[0]
        .conditions()
        .iter()
        .map(|c| format!("{c:?}"))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("PublishedAfterRevocation")),
        "{reasons:?}"
    );
}

#[test]
fn two_sources_that_disagree_are_a_fork() {
    let k = key(1);
    let c = claim(&k, "github:jason", T0 + 5);
    let other = claim(&k, "github:other", T0 + 6);
    let mut s = Setup::new();
    s.sources.http.push("https://mirror.test".into());
    s.publish("github:jason", vec![proof(&c, "a")]);
    s.serve_chain("https://chains.test", &k, &chain(&k, &[&c]));
    s.serve_chain("https://mirror.test", &k, &chain(&k, &[&other]));
    let (verifier, _) = s.verifier();
    let report = run(verifier.identity(&identity("github:jason"))).unwrap();
    assert_eq!(report.outcome, Outcome::Fork, "{report:?}");
    assert_eq!(report.chains[0].copies_from.len(), 2);
}

#[test]
fn a_prefix_on_one_source_is_no_fork_and_the_longer_copy_wins() {
    let k = key(1);
    let c = claim(&k, "github:jason", T0 + 5);
    let links = chain(&k, &[&c]);
    let mut s = Setup::new();
    s.sources.http.push("https://mirror.test".into());
    s.publish("github:jason", vec![proof(&c, "a")]);
    s.serve_chain("https://chains.test", &k, &links[..1]);
    s.serve_chain("https://mirror.test", &k, &links);
    let (verifier, _) = s.verifier();
    let report = run(verifier.identity(&identity("github:jason"))).unwrap();
    assert_eq!(report.outcome, Outcome::Valid, "{report:?}");
}

#[test]
fn a_failing_source_makes_the_chain_unreachable() {
    let k = key(1);
    let c = claim(&k, "github:jason", T0 + 5);
    let mut s = Setup::new();
    s.sources.http.push("https://down.test".into());
    s.publish("github:jason", vec![proof(&c, "a")]);
    s.serve_chain("https://chains.test", &k, &chain(&k, &[&c]));
    s.net.bodies.lock().unwrap().insert(
        format!("https://down.test/v1/chains/{}.jsonl", k.public_key()),
        Err(FetchErrorKind::Timeout),
    );
    let (verifier, _) = s.verifier();
    let report = run(verifier.identity(&identity("github:jason"))).unwrap();
    assert_eq!(report.outcome, Outcome::Unreachable, "{report:?}");
    assert_eq!(kez_id::report::exit_code(report.outcome), 3);
}

#[test]
fn local_chain_files_are_copies_too() {
    let k = key(1);
    let c = claim(&k, "github:jason", T0 + 5);
    let mut s = Setup::new();
    s.sources = ChainSources {
        files: vec![ChainFile {
            label: "chain.jsonl".into(),
            jsonl: jsonl(&chain(&k, &[&c])),
        }],
        ..Default::default()
    };
    s.publish("github:jason", vec![proof(&c, "a")]);
    let (verifier, _) = s.verifier();
    let report = run(verifier.identity(&identity("github:jason"))).unwrap();
    assert_eq!(report.outcome, Outcome::Valid, "{report:?}");
    assert_eq!(report.chains[0].copies_from, ["chain.jsonl"]);
}

#[test]
fn nothing_published_rejections_and_account_errors() {
    let k = key(1);
    let c = claim(&k, "github:jason", T0 + 5);
    let mut s = Setup::new();
    s.publish(
        "github:jason",
        vec![Found::Rejected(Rejected {
            location: "gist/1".into(),
            reason: RejectReason::WrongPublisher,
            detail: "gist owner is mallory, not jason".into(),
        })],
    );
    s.channel.answers.insert(
        "github:ghost".into(),
        Err(ChannelError::NoSuchAccount("404".into())),
    );
    s.channel.answers.insert(
        "github:down".into(),
        Err(ChannelError::Unreachable(FetchError::new(
            FetchErrorKind::RateLimited,
            "api",
            "429",
        ))),
    );
    s.serve_chain("https://chains.test", &k, &chain(&k, &[&c]));
    let (verifier, _) = s.verifier();
    let r = run(verifier.identity(&identity("github:jason"))).unwrap();
    assert_eq!(
        (r.outcome, r.reason.as_deref()),
        (Outcome::Invalid, Some("wrong_publisher"))
    );
    let r = run(verifier.identity(&identity("github:nobody"))).unwrap();
    assert_eq!(
        (r.outcome, r.reason.as_deref()),
        (Outcome::Invalid, Some("no_proof"))
    );
    let r = run(verifier.identity(&identity("github:ghost"))).unwrap();
    assert_eq!(
        (r.outcome, r.reason.as_deref()),
        (Outcome::Invalid, Some("no_such_account"))
    );
    let r = run(verifier.identity(&identity("github:down"))).unwrap();
    assert_eq!(r.outcome, Outcome::Unreachable);
    let err = run(verifier.identity(&identity("dns:example.com"))).unwrap_err();
    assert!(matches!(err, VerifyError::UnknownChannel { .. }), "{err}");
}

#[test]
fn a_proof_for_another_subject_is_wrong_subject() {
    let k = key(1);
    let c = claim(&k, "github:someone", T0 + 5);
    let mut s = Setup::new();
    s.publish("github:jason", vec![proof(&c, "a")]);
    s.serve_chain("https://chains.test", &k, &chain(&k, &[&c]));
    let (verifier, _) = s.verifier();
    let r = run(verifier.identity(&identity("github:jason"))).unwrap();
    assert_eq!(
        (r.outcome, r.reason.as_deref()),
        (Outcome::Invalid, Some("wrong_subject"))
    );
}

#[test]
fn a_graph_verifies_every_bound_identity_and_reports_progress() {
    let k = key(1);
    let names = ["github:a", "github:b", "github:c"];
    let claims: Vec<Claim> = names.iter().map(|n| claim(&k, n, T0 + 5)).collect();
    let refs: Vec<&Claim> = claims.iter().collect();
    let mut s = Setup::new();
    for (name, c) in names.iter().zip(&claims).take(2) {
        s.publish(name, vec![proof(c, name)]);
    }
    s.serve_chain("https://chains.test", &k, &chain(&k, &refs));
    let (verifier, _) = s.verifier();
    let seen = Mutex::new(Vec::new());
    let graph = run(verifier.graph(&k.public_key(), &|done, total, id| {
        seen.lock().unwrap().push((done, total, id.to_string()))
    }))
    .unwrap();
    assert_eq!(graph.identities.len(), 3);
    let outcomes: Vec<_> = graph.identities.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [Outcome::Valid, Outcome::Valid, Outcome::Invalid]);
    assert_eq!(graph.outcome, Outcome::Invalid);
    assert!(graph.detail.starts_with("2 of 3"), "{}", graph.detail);
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|(_, total, _)| *total == 3));
}

#[test]
fn a_graph_without_sources_is_unreachable() {
    let k = key(1);
    let mut s = Setup::new();
    s.sources = ChainSources::default();
    let (verifier, _) = s.verifier();
    let graph = run(verifier.graph(&k.public_key(), &|_, _, _| {})).unwrap();
    assert_eq!(graph.outcome, Outcome::Unreachable);
}
