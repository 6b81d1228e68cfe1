//! The github channel against recorded GitHub responses served on 127.0.0.1
//! (`kez_peers::github`), through the live network layer (`kez_net::LiveNet`).

use std::time::Duration;

use kez_channel::{Channel, ChannelError, FetchErrorKind, Found, Lookup, RejectReason};
use kez_channels::github::GithubChannel;
use kez_core::encoding::{decode, encode, Encoding};
use kez_core::{Algorithm, ClaimBuilder, Identity, SecretKey};
use kez_net::{LiveNet, NetConfig};
use kez_peers::github::{Failure, GithubPeer};

/// Every lookup here finishes well within this.
const BOUND: Duration = Duration::from_secs(60);

fn net() -> LiveNet {
    LiveNet::new(NetConfig::danger_loopback_testing().with_credential("github", "test-token"))
        .expect("loopback test network")
}

fn identity(text: &str) -> Identity {
    Identity::parse(text).expect("identity")
}

async fn lookup(peer: &GithubPeer, user: &str) -> Result<Lookup, ChannelError> {
    let channel = GithubChannel::new(peer.api_base());
    tokio::time::timeout(BOUND, channel.lookup(&identity(user), &net()))
        .await
        .expect("lookup finished in time")
}

/// A freshly signed claim for `subject` in `encoding`.
fn signed_claim(subject: &str, encoding: Encoding) -> String {
    let key = SecretKey::generate(Algorithm::Ed25519);
    let claim = ClaimBuilder::new(identity(subject), 1_714_600_000)
        .sign(&key, None)
        .expect("sign claim");
    encode(&claim, encoding)
}

fn unreachable_kind(result: Result<Lookup, ChannelError>) -> FetchErrorKind {
    match result {
        Err(ChannelError::Unreachable(e)) => e.kind,
        other => panic!("expected unreachable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_proof_files_with_times_locations_and_credential() {
    let github = GithubPeer::start().await;
    let markdown = signed_claim("github:jason", Encoding::Markdown);
    let compact = signed_claim("github:jason", Encoding::Compact);
    let json = signed_claim("github:jason", Encoding::Json);
    let md_gist = github.add_gist("Jason", &[("kez.md", &markdown), ("README.md", "hello")]);
    github.set_times(&md_gist, 1_714_000_000, 1_714_700_000);
    let txt = format!("my KEZ proof: {compact} (posted by hand)\n");
    let txt_gist = github.add_gist("jason", &[("KEZ.txt", &txt)]);
    github.add_gist("jason", &[("work.kez.md", &markdown), ("kez.json", &json)]);
    github.add_gist(
        "jason",
        &[("notes.txt", &compact), ("kez.md.bak", &markdown)],
    );

    let lookup = lookup(&github, "github:jason").await.expect("lookup");
    assert_eq!(lookup.rejected().count(), 0, "{:?}", lookup.found);
    let proofs: Vec<_> = lookup.proofs().collect();
    assert_eq!(proofs.len(), 4, "{proofs:?}");

    let md = proofs
        .iter()
        .find(|p| p.location.ends_with("#file-kez-md"))
        .expect("kez.md proof");
    assert_eq!(md.content, markdown, "a .md file is kept whole");
    assert_eq!(
        md.published_at,
        Some(1_714_700_000),
        "published_at is updated_at"
    );
    assert_eq!(md.retracted_at, None);
    assert_eq!(
        md.location,
        format!("https://gist.github.com/{md_gist}#file-kez-md")
    );
    let claims = decode(md.content.as_bytes(), Encoding::Markdown).expect("markdown decodes");
    assert!(claims[0].item.is_ok(), "{:?}", claims[0].item);

    let token = proofs
        .iter()
        .find(|p| p.location == format!("https://gist.github.com/{txt_gist}#file-kez-txt"))
        .expect("kez.txt proof");
    assert_eq!(
        token.content, compact,
        "a .txt file gives the compact token alone"
    );
    assert!(proofs.iter().any(|p| p.content == json));
    assert!(!proofs.iter().any(|p| p.location.contains("notes-txt")));

    let requests = github.requests().await;
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(
            request.authorization.as_deref(),
            Some("Bearer test-token"),
            "{request:?}"
        );
        assert_eq!(
            request.accept.as_deref(),
            Some("application/vnd.github+json")
        );
        assert!(
            request.path_and_query.starts_with("/users/jason/gists")
                || request.path_and_query.starts_with("/gists/"),
            "unexpected request {request:?}"
        );
    }
    assert_eq!(
        requests[0].path_and_query,
        "/users/jason/gists?per_page=100"
    );
    // The gist without a proof file is never fetched.
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path_and_query.starts_with("/gists/"))
            .count(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gist_owned_by_someone_else_is_rejected_naming_both() {
    let github = GithubPeer::start().await;
    let proof = signed_claim("github:jason", Encoding::Markdown);
    let foreign = github.add_foreign_gist("jason", "mallory", &[("kez.md", &proof)]);
    // Listed as jason's, but the gist itself says mallory owns it.
    let switched = github.add_gist_listed("jason", "jason", "mallory", &[("kez.json", &proof)]);

    let lookup = lookup(&github, "github:jason").await.expect("lookup");
    assert_eq!(lookup.proofs().count(), 0, "{:?}", lookup.found);
    let rejected: Vec<_> = lookup.rejected().collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    for gist in [&foreign, &switched] {
        let r = rejected
            .iter()
            .find(|r| r.location.contains(gist.as_str()))
            .unwrap_or_else(|| panic!("no rejection for gist {gist}: {rejected:?}"));
        assert_eq!(r.reason, RejectReason::WrongPublisher);
        assert!(
            r.detail.contains("mallory") && r.detail.contains("jason"),
            "{r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_pagination_over_pages_on_the_same_host() {
    let github = GithubPeer::start().await;
    github.set_page_size(2);
    let mut ids = Vec::new();
    for i in 0..5 {
        let proof = format!("kez:z1:page-proof-{i}");
        ids.push(github.add_gist("jason", &[("kez.txt", &proof)]));
    }
    let lookup = lookup(&github, "github:jason").await.expect("lookup");
    let mut contents: Vec<_> = lookup.proofs().map(|p| p.content.clone()).collect();
    contents.sort();
    let expected: Vec<String> = (0..5).map(|i| format!("kez:z1:page-proof-{i}")).collect();
    assert_eq!(contents, expected, "proofs from all three pages");
    assert!(
        lookup.notes.iter().any(|n| n.contains("3 pages")),
        "{:?}",
        lookup.notes
    );
    let requests = github.requests().await;
    let pages: Vec<_> = requests
        .iter()
        .filter(|r| r.path_and_query.contains("gists?"))
        .map(|r| r.path_and_query.clone())
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages[1].starts_with("/user/") && pages[1].ends_with("page=2"));
    assert!(pages[2].ends_with("page=3"));
}

/// A `link` header sending the next page to another host is not followed: the page would
/// come from a server that is not the API (SPEC.md §11.4), however plausible its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_page_on_another_host_is_refused_and_never_fetched() {
    let github = GithubPeer::start().await;
    let evil = GithubPeer::start().await;
    for peer in [&github, &evil] {
        peer.set_page_size(1);
        for i in 0..2 {
            peer.add_gist("jason", &[("kez.txt", &format!("kez:z1:page-{i}"))]);
        }
    }
    let evil_addr: std::net::SocketAddr = evil
        .api_base()
        .trim_start_matches("http://")
        .parse()
        .expect("evil address");
    github.set_link_base(&format!("http://evil.test:{}", evil_addr.port()));
    let net = LiveNet::new(
        NetConfig::danger_loopback_testing()
            .with_credential("github", "test-token")
            .with_resolve("evil.test", evil_addr),
    )
    .expect("loopback test network");
    let channel = GithubChannel::new(github.api_base());
    let result = tokio::time::timeout(BOUND, channel.lookup(&identity("github:jason"), &net))
        .await
        .expect("lookup finished in time");
    match &result {
        Err(ChannelError::Unreachable(e)) => {
            assert_eq!(e.kind, FetchErrorKind::Refused, "{e}");
            assert!(e.to_string().contains("evil.test"), "{e}");
        }
        other => panic!("expected a refused next page, got {other:?}"),
    }
    assert!(evil.requests().await.is_empty(), "the other host was asked");
    assert_eq!(github.requests().await.len(), 1, "only the first page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_is_no_such_account() {
    let github = GithubPeer::start().await;
    github.add_user("someone-else");
    match lookup(&github, "github:nobody-here").await {
        Err(ChannelError::NoSuchAccount(detail)) => assert!(detail.contains("nobody-here")),
        other => panic!("expected no such account, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_unreachable_never_invalid() {
    let github = GithubPeer::start().await;
    github.add_gist("jason", &[("kez.txt", "kez:z1:abc")]);
    github.fail("jason", Failure::RateLimited);
    assert_eq!(
        unreachable_kind(lookup(&github, "github:jason").await),
        FetchErrorKind::RateLimited,
        "403 with x-ratelimit-remaining: 0"
    );

    let github = GithubPeer::start().await;
    github.fail("jason", Failure::TooManyRequests);
    let started = std::time::Instant::now();
    assert_eq!(
        unreachable_kind(lookup(&github, "github:jason").await),
        FetchErrorKind::RateLimited,
        "429 with retry-after"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "a retry-after of 60 s is not waited for"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_and_server_errors_are_unreachable() {
    let github = GithubPeer::start().await;
    github.fail("jason", Failure::Malformed);
    let result = lookup(&github, "github:jason").await;
    match &result {
        Err(ChannelError::Unreachable(e)) => {
            assert_eq!(e.kind, FetchErrorKind::BadAnswer);
            assert!(e.detail.contains("malformed JSON"), "{e}");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }

    let github = GithubPeer::start().await;
    github.fail("jason", Failure::ServerError);
    assert_eq!(
        unreachable_kind(lookup(&github, "github:jason").await),
        FetchErrorKind::ServerError
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_proof_file_is_unreachable_not_read_elsewhere() {
    let github = GithubPeer::start().await;
    let gist = github.add_gist("jason", &[("kez.md", "```kez\n{}\n```\n")]);
    github.truncate(&gist);
    assert_eq!(
        unreachable_kind(lookup(&github, "github:jason").await),
        FetchErrorKind::TooLarge
    );
    let requests = github.requests().await;
    assert!(requests.iter().all(|r| !r.path_and_query.contains("/raw/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_proofs_has_an_empty_lookup() {
    let github = GithubPeer::start().await;
    github.add_gist("jason", &[("notes.md", "nothing to see")]);
    let lookup = lookup(&github, "github:jason").await.expect("lookup");
    assert!(lookup.found.is_empty(), "{:?}", lookup.found);
}

#[test]
fn look_alike_logins_are_rejected_by_normalise() {
    let channel = GithubChannel::new("https://api.github.com".into());
    for bad in [
        "j\u{0430}son",  // Cyrillic а
        "\u{ff4a}ason",  // fullwidth ｊ
        "ja\u{200b}son", // zero-width space
        "jason\u{0301}", // combining accent
        "-jason",
        "ja--son",
        "ja son",
        &"a".repeat(40),
    ] {
        assert!(channel.normalise(bad).is_err(), "{bad:?} accepted");
    }
    assert_eq!(channel.normalise("@JaSon").expect("ascii login"), "jason");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_and_rejections_are_kept_apart_in_one_lookup() {
    let github = GithubPeer::start().await;
    let good = github.add_gist("jason", &[("kez.txt", "kez:z1:mine")]);
    github.add_foreign_gist("jason", "mallory", &[("kez.txt", "kez:z1:theirs")]);
    let lookup = lookup(&github, "github:jason").await.expect("lookup");
    let proofs: Vec<_> = lookup.proofs().collect();
    assert_eq!(proofs.len(), 1);
    assert_eq!(proofs[0].content, "kez:z1:mine");
    assert!(proofs[0].location.contains(&good));
    assert!(matches!(
        lookup.found.iter().find(|f| matches!(f, Found::Rejected(_))),
        Some(Found::Rejected(r)) if r.reason == RejectReason::WrongPublisher
    ));
}
