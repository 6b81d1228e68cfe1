//! The conformance suite every KEZ channel runs (SPEC.md §11.1): the same cases, once per
//! channel, whether the channel is built in or an out-of-process plugin.
//!
//! A channel author implements [`Peer`] for their channel — how to get accounts on a real (or
//! recorded) service and how to publish text as one of them — and calls [`trials`] from a
//! test binary with `harness = false`:
//!
//! ```no_run
//! use kez_channel_conformance::{trials, Peer};
//!
//! /// Runs the suite; `my_peer` starts a fresh peer of your channel.
//! fn run(my_peer: fn() -> Box<dyn Peer>) {
//!     let args = libtest_mimic::Arguments::from_args();
//!     let trials = trials("mychannel", my_peer);
//!     libtest_mimic::run(&args, trials).exit();
//! }
//! ```
//!
//! Each case starts a fresh peer through the factory, so cases do not see each other's posts.
//!
//! Out-of-process plugins also run [`plugin_kit`]: protocol-level cases against the plugin
//! executable, with scripted I/O from a case file (the binary `kez-channel-conformance`).

use std::sync::Arc;

pub mod plugin_kit;

use async_trait::async_trait;
use kez_channel::{Channel, ChannelError, Found, Net};
use kez_core::Identity;
use libtest_mimic::{Failed, Trial};

/// A service a channel reads from, with accounts the suite can publish as.
#[async_trait]
pub trait Peer: Send {
    /// The channel under test.
    fn channel(&self) -> Arc<dyn Channel>;

    /// A `Net` that reaches this peer.
    fn net(&self) -> Arc<dyn Net>;

    /// A `Net` under which the peer cannot be reached (a closed port, a relay that is down).
    fn unreachable_net(&self) -> Arc<dyn Net>;

    /// An account on the peer, created if needed, by a label (`alice`, `mallory`); the same
    /// label gives the same account for the life of the peer.
    async fn account(&mut self, label: &str) -> Result<Identity, String>;

    /// Publishes `text` where `publisher` publishes proofs on this channel (a gist, a TXT
    /// record, an event, a record, a profile field or post).
    async fn publish(&mut self, publisher: &Identity, text: &str) -> Result<(), String>;

    /// Account texts this channel must reject.
    fn bad_accounts(&self) -> Vec<String>;

    /// Pairs of (input, canonical) account texts this channel must normalise.
    fn normalisations(&self) -> Vec<(String, String)>;
}

/// A factory that starts a fresh peer for one case.
pub type PeerFactory = Arc<dyn Fn() -> Box<dyn Peer> + Send + Sync>;

/// A proof text the suite publishes: any text holding the marker is the proof; channels
/// must return it unchanged in a [`kez_channel::Proof`]'s content.
fn proof_text(label: &str) -> String {
    // A compact-shaped token, so channels that look for KEZ encodings keep it.
    format!("kez:z1:conformance-{label}")
}

/// The conformance trials for one channel, named `conformance::<name>::<case>`.
pub fn trials<F>(name: &str, factory: F) -> Vec<Trial>
where
    F: Fn() -> Box<dyn Peer> + Send + Sync + 'static,
{
    let factory: PeerFactory = Arc::new(factory);
    CASES
        .iter()
        .map(|(case, run)| {
            let factory = factory.clone();
            let run = *run;
            Trial::test(format!("conformance::{name}::{case}"), move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| Failed::from(format!("tokio runtime: {e}")))?;
                runtime.block_on(async move {
                    let peer = factory();
                    tokio::time::timeout(std::time::Duration::from_secs(120), run(peer))
                        .await
                        .map_err(|_| Failed::from("case did not finish within 120 s"))?
                })
            })
        })
        .collect()
}

type CaseFn = fn(
    Box<dyn Peer>,
)
    -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Failed>> + Send>>;

const CASES: &[(&str, CaseFn)] = &[
    ("names_are_lowercase_and_distinct", |p| Box::pin(names(p))),
    ("normalises_accounts", |p| Box::pin(normalises(p))),
    ("rejects_bad_accounts", |p| {
        Box::pin(rejects_bad_accounts(p))
    }),
    ("finds_a_published_proof", |p| Box::pin(finds_published(p))),
    ("nothing_published_is_empty", |p| {
        Box::pin(nothing_published(p))
    }),
    ("ignores_another_accounts_proof", |p| {
        Box::pin(ignores_foreign(p))
    }),
    ("unreachable_is_an_error", |p| Box::pin(unreachable(p))),
];

fn fail(message: impl Into<String>) -> Failed {
    Failed::from(message.into())
}

async fn names(peer: Box<dyn Peer>) -> Result<(), Failed> {
    let channel = peer.channel();
    let mut names = vec![channel.id().to_string()];
    names.extend(channel.aliases());
    for name in &names {
        if name.is_empty() || name != &name.to_ascii_lowercase() {
            return Err(fail(format!("channel name {name:?} is not lowercase")));
        }
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != names.len() {
        return Err(fail(format!("channel names repeat: {names:?}")));
    }
    Ok(())
}

async fn normalises(peer: Box<dyn Peer>) -> Result<(), Failed> {
    let channel = peer.channel();
    let pairs = peer.normalisations();
    if pairs.is_empty() {
        return Err(fail("the peer lists no normalisations to check"));
    }
    for (input, canonical) in pairs {
        let got = channel
            .normalise(&input)
            .map_err(|e| fail(format!("normalise({input:?}) failed: {e}")))?;
        if got != canonical {
            return Err(fail(format!(
                "normalise({input:?}) = {got:?}, expected {canonical:?}"
            )));
        }
        let again = channel
            .normalise(&canonical)
            .map_err(|e| fail(format!("canonical {canonical:?} rejected: {e}")))?;
        if again != canonical {
            return Err(fail(format!(
                "normalise is not idempotent on {canonical:?}"
            )));
        }
    }
    Ok(())
}

async fn rejects_bad_accounts(peer: Box<dyn Peer>) -> Result<(), Failed> {
    let channel = peer.channel();
    let bad = peer.bad_accounts();
    if bad.is_empty() {
        return Err(fail("the peer lists no bad accounts to check"));
    }
    for input in bad {
        if let Ok(got) = channel.normalise(&input) {
            return Err(fail(format!("bad account {input:?} accepted as {got:?}")));
        }
    }
    Ok(())
}

async fn finds_published(mut peer: Box<dyn Peer>) -> Result<(), Failed> {
    let alice = peer.account("alice").await.map_err(fail)?;
    let text = proof_text("alice");
    peer.publish(&alice, &text).await.map_err(fail)?;
    let lookup = peer
        .channel()
        .lookup(&alice, peer.net().as_ref())
        .await
        .map_err(|e| fail(format!("lookup of {alice}: {e}")))?;
    if !lookup.proofs().any(|proof| proof.content.contains(&text)) {
        return Err(fail(format!(
            "lookup of {alice} did not return the published proof; found {:?}",
            lookup.found
        )));
    }
    Ok(())
}

async fn nothing_published(mut peer: Box<dyn Peer>) -> Result<(), Failed> {
    let bob = peer.account("bob").await.map_err(fail)?;
    match peer.channel().lookup(&bob, peer.net().as_ref()).await {
        Ok(lookup) if lookup.found.is_empty() => Ok(()),
        Ok(lookup) => Err(fail(format!(
            "{bob} published nothing, yet the lookup found {:?}",
            lookup.found
        ))),
        Err(ChannelError::NoSuchAccount(_)) => Ok(()),
        Err(e) => Err(fail(format!("lookup of {bob}: {e}"))),
    }
}

async fn ignores_foreign(mut peer: Box<dyn Peer>) -> Result<(), Failed> {
    let alice = peer.account("alice").await.map_err(fail)?;
    let mallory = peer.account("mallory").await.map_err(fail)?;
    let text = proof_text("by-mallory-for-alice");
    peer.publish(&mallory, &text).await.map_err(fail)?;
    let lookup = match peer.channel().lookup(&alice, peer.net().as_ref()).await {
        Ok(lookup) => lookup,
        Err(ChannelError::NoSuchAccount(_)) => return Ok(()),
        Err(e) => return Err(fail(format!("lookup of {alice}: {e}"))),
    };
    for found in &lookup.found {
        if let Found::Proof(proof) = found {
            if proof.content.contains(&text) {
                return Err(fail(format!(
                    "a proof published by {mallory} was returned as {alice}'s: {proof:?}"
                )));
            }
        }
    }
    Ok(())
}

async fn unreachable(mut peer: Box<dyn Peer>) -> Result<(), Failed> {
    let alice = peer.account("alice").await.map_err(fail)?;
    match peer
        .channel()
        .lookup(&alice, peer.unreachable_net().as_ref())
        .await
    {
        Err(ChannelError::Unreachable(_)) => Ok(()),
        other => Err(fail(format!(
            "lookup with the peer unreachable gave {other:?}, expected unreachable"
        ))),
    }
}
