//! The `nostr` channel (SPEC.md §11.5): proofs in the text notes of a nostr key, read from
//! relays and checked under SPEC.md §4.6.
//!
//! For `nostr:<npub>` the channel
//!
//! 1. asks the configured relays for the key's NIP-65 relay list (kind 10002) and takes, from
//!    the newest valid one, the `r` tags that are write relays (no marker, or `write`) with a
//!    `ws://` or `wss://` URL, at most [`MAX_LIST_RELAYS`];
//! 2. asks the configured relays and those for `{"authors":[<hex>],"kinds":[1,5]}` with a
//!    limit of [`EVENT_LIMIT`];
//! 3. checks every event text it gets back with `kez-core` ([`Event::verify`]): the id is
//!    recomputed from the body (the stated id is never trusted), the BIP-340 signature is
//!    verified over it, and the author must be the account.
//!
//! An event whose content holds a proof (`proof_texts(content)` is not empty) but that fails
//! its id or signature is [`RejectReason::BadPlatformSignature`]; one by another author is
//! [`RejectReason::WrongPublisher`]. Events without a proof are ignored whatever is wrong
//! with them. A kind-5 deletion (NIP-09) by the account whose `e` tags name a proof event sets
//! that proof's `retracted_at`; a deletion by anyone else does nothing. Events are counted once
//! by their recomputed id, however many relays return them.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use kez_channel::extract::proof_texts;
use kez_channel::{
    AccountError, Channel, ChannelError, Found, Lookup, Net, NostrQuery, Proof, RejectReason,
    Rejected,
};
use kez_core::nostr_event::{Event, VerifiedEvent};
use kez_core::{Identity, PublicKey};
use serde_json::{json, Value};

/// The kind of a text note (NIP-01): the events that hold proofs.
pub const KIND_TEXT_NOTE: u16 = 1;

/// The kind of a deletion request (NIP-09).
pub const KIND_DELETION: u16 = 5;

/// The kind of a relay list (NIP-65).
pub const KIND_RELAY_LIST: u16 = 10002;

/// At most this many relays are taken from an account's relay list.
pub const MAX_LIST_RELAYS: usize = 8;

/// The `limit` of the filter asking for notes and deletions.
pub const EVENT_LIMIT: u64 = 500;

/// The `limit` of the filter asking for relay lists.
const RELAY_LIST_LIMIT: u64 = 10;

/// The `nostr` channel. Build it with the relays to ask (`wss://relay.damus.io`, …).
#[derive(Debug, Clone)]
pub struct NostrChannel {
    relays: Vec<String>,
}

impl NostrChannel {
    /// A channel asking `relays` (and each account's NIP-65 write relays).
    pub fn new(relays: Vec<String>) -> Self {
        let mut unique = Vec::new();
        for relay in relays {
            if !unique.contains(&relay) {
                unique.push(relay);
            }
        }
        Self { relays: unique }
    }

    /// The configured relays.
    pub fn relays(&self) -> &[String] {
        &self.relays
    }
}

/// A relay URL from a relay list, if it is one this channel asks: `ws://` or `wss://`, a
/// host, no user info. Returned as the URL parser writes it.
fn relay_url(text: &str) -> Option<String> {
    let url = url::Url::parse(text.trim()).ok()?;
    if !matches!(url.scheme(), "ws" | "wss") || url.host_str().is_none() {
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    Some(url.to_string())
}

/// Two relay URLs name the same relay (the parser adds a `/` path to bare hosts).
fn same_relay(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The write relays of a verified NIP-65 relay list that are not among `configured`, in
/// tag order, at most [`MAX_LIST_RELAYS`].
fn list_relays(list: &VerifiedEvent, configured: &[String]) -> Vec<String> {
    let mut relays: Vec<String> = Vec::new();
    for tag in list.tags() {
        if tag.first().map(String::as_str) != Some("r") {
            continue;
        }
        let is_write = match tag.get(2).map(String::as_str) {
            None | Some("write") => true,
            Some(_) => false,
        };
        let Some(url) = tag.get(1).and_then(|u| relay_url(u)) else {
            continue;
        };
        let known = relays.iter().chain(configured).any(|r| same_relay(r, &url));
        if is_write && !known {
            relays.push(url);
            if relays.len() == MAX_LIST_RELAYS {
                break;
            }
        }
    }
    relays
}

/// An event text as the channel reads it.
enum Checked {
    /// The id and signature check out.
    Verified(Box<VerifiedEvent>),
    /// It fails §4.6: unparseable, wrong id, bad key or signature. Holds the stated id (if it
    /// can be read), the content (if it can be read) and why.
    Bad {
        stated_id: Option<String>,
        content: Option<String>,
        why: String,
    },
}

fn check(text: &str) -> Checked {
    match Event::from_json(text.as_bytes()) {
        Ok(event) => {
            let stated_id = Some(hex::encode(event.id));
            match event.verify() {
                Ok(verified) => Checked::Verified(Box::new(verified)),
                Err(e) => Checked::Bad {
                    stated_id,
                    content: Some(event.content),
                    why: e.to_string(),
                },
            }
        }
        Err(e) => {
            // Read what can be read, only to tell whether it claims to hold a proof.
            let loose: Option<Value> = serde_json::from_str(text).ok();
            let member = |name: &str| {
                loose
                    .as_ref()
                    .and_then(|v| v.get(name))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            Checked::Bad {
                stated_id: member("id"),
                content: member("content"),
                why: e.to_string(),
            }
        }
    }
}

/// A proof event that passed every check.
struct Note {
    id: String,
    created_at: u64,
    texts: Vec<String>,
}

impl NostrChannel {
    /// The write relays of the newest valid relay list by `author`, minus configured ones.
    async fn relay_list(&self, author: &str, net: &dyn Net) -> Result<Vec<String>, ChannelError> {
        let query = NostrQuery {
            relays: self.relays.clone(),
            filter: json!({
                "authors": [author],
                "kinds": [KIND_RELAY_LIST],
                "limit": RELAY_LIST_LIMIT,
            }),
        };
        let texts = net.nostr_events(&query).await?;
        let newest = texts
            .iter()
            .filter_map(|text| match check(text) {
                Checked::Verified(event)
                    if event.kind() == KIND_RELAY_LIST
                        && hex::encode(event.pubkey().to_bytes()) == author =>
                {
                    Some(event)
                }
                _ => None,
            })
            // Newest first; on equal times the lowest id wins (NIP-01 replaceable events).
            .min_by(|a, b| {
                b.created_at()
                    .cmp(&a.created_at())
                    .then_with(|| a.id().cmp(b.id()))
            });
        Ok(newest
            .map(|list| list_relays(&list, &self.relays))
            .unwrap_or_default())
    }
}

#[async_trait]
impl Channel for NostrChannel {
    fn id(&self) -> &str {
        "nostr"
    }

    fn normalise(&self, account: &str) -> Result<String, AccountError> {
        Identity::parse(&format!("nostr:{account}"))
            .map(|identity| identity.account().to_string())
            .map_err(|e| AccountError(e.to_string()))
    }

    async fn lookup(&self, identity: &Identity, net: &dyn Net) -> Result<Lookup, ChannelError> {
        if identity.scheme() != "nostr" {
            return Err(ChannelError::NoSuchAccount(format!(
                "{identity} is not a nostr identity"
            )));
        }
        let key = PublicKey::from_npub(identity.account()).map_err(|e| {
            ChannelError::NoSuchAccount(format!("{identity} does not name a key: {e}"))
        })?;
        let author = hex::encode(key.to_bytes());
        let npub = identity.account();
        let mut lookup = Lookup::default();

        let extra = self.relay_list(&author, net).await?;
        let mut relays = self.relays.clone();
        relays.extend(extra.iter().cloned());
        lookup.notes.push(format!(
            "asked {} configured relay{} and {} from the account's relay list",
            self.relays.len(),
            if self.relays.len() == 1 { "" } else { "s" },
            extra.len()
        ));
        let query = NostrQuery {
            relays,
            filter: json!({
                "authors": [author],
                "kinds": [KIND_TEXT_NOTE, KIND_DELETION],
                "limit": EVENT_LIMIT,
            }),
        };
        let texts = net.nostr_events(&query).await?;

        let mut seen_texts = HashSet::new();
        let mut seen_ids = HashSet::new();
        let mut notes: Vec<Note> = Vec::new();
        // Proof event id → the earliest deletion of it by the account.
        let mut deletions: BTreeMap<String, u64> = BTreeMap::new();
        let mut rejected: Vec<Rejected> = Vec::new();
        let mut ignored = 0usize;
        for text in &texts {
            if !seen_texts.insert(text.as_str()) {
                continue;
            }
            match check(text) {
                Checked::Bad {
                    stated_id,
                    content,
                    why,
                } => {
                    let holds_proof = content
                        .as_deref()
                        .is_some_and(|c| !proof_texts(c).is_empty());
                    if holds_proof {
                        let location = format!(
                            "nostr:{}",
                            stated_id
                                .as_deref()
                                .unwrap_or("(event without a readable id)")
                        );
                        if rejected.iter().any(|r| {
                            r.location == location && r.reason == RejectReason::BadPlatformSignature
                        }) {
                            continue;
                        }
                        rejected.push(Rejected {
                            location,
                            reason: RejectReason::BadPlatformSignature,
                            detail: format!("event fails the NIP-01 checks: {why}"),
                        });
                    } else {
                        ignored += 1;
                    }
                }
                Checked::Verified(event) => {
                    let id = hex::encode(event.id());
                    if !seen_ids.insert(id.clone()) {
                        continue;
                    }
                    let event_author = hex::encode(event.pubkey().to_bytes());
                    let texts = proof_texts(event.content());
                    if event_author != author {
                        if !texts.is_empty() {
                            let by = event
                                .pubkey()
                                .to_npub()
                                .unwrap_or_else(|| event_author.clone());
                            rejected.push(Rejected {
                                location: format!("nostr:{id}"),
                                reason: RejectReason::WrongPublisher,
                                detail: format!("event {id} is by {by}, not {npub}"),
                            });
                        } else {
                            ignored += 1;
                        }
                        continue;
                    }
                    match event.kind() {
                        KIND_DELETION => {
                            for tag in event.tags() {
                                if tag.first().map(String::as_str) != Some("e") {
                                    continue;
                                }
                                let Some(target) = tag.get(1) else { continue };
                                let at = event.created_at();
                                deletions
                                    .entry(target.to_ascii_lowercase())
                                    .and_modify(|t| *t = (*t).min(at))
                                    .or_insert(at);
                            }
                        }
                        KIND_TEXT_NOTE if !texts.is_empty() => notes.push(Note {
                            id,
                            created_at: event.created_at(),
                            texts,
                        }),
                        _ => ignored += 1,
                    }
                }
            }
        }
        if ignored > 0 {
            lookup
                .notes
                .push(format!("{ignored} event(s) without a proof ignored"));
        }

        // A stable order whatever order the relays answered in.
        notes.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        rejected.sort_by(|a, b| a.location.cmp(&b.location));
        for note in notes {
            let retracted_at = deletions.get(&note.id).copied();
            for text in note.texts {
                lookup.found.push(Found::Proof(Proof {
                    location: format!("nostr:{}", note.id),
                    content: text,
                    published_at: Some(note.created_at),
                    retracted_at,
                }));
            }
        }
        lookup
            .found
            .extend(rejected.into_iter().map(Found::Rejected));
        Ok(lookup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls_are_websocket_only() {
        assert_eq!(
            relay_url("wss://relay.example.com").as_deref(),
            Some("wss://relay.example.com/")
        );
        assert_eq!(
            relay_url("ws://127.0.0.1:7000").as_deref(),
            Some("ws://127.0.0.1:7000/")
        );
        assert_eq!(relay_url("https://relay.example.com"), None);
        assert_eq!(relay_url("wss://user:pw@relay.example.com"), None);
        assert_eq!(relay_url("relay.example.com"), None);
        assert!(same_relay("wss://a.example/", "wss://a.example"));
    }

    #[test]
    fn normalise_gives_npub() {
        let channel = NostrChannel::new(vec!["wss://a".into(), "wss://a".into()]);
        assert_eq!(channel.relays(), ["wss://a"]);
        assert_eq!(
            channel
                .normalise("79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798")
                .ok()
                .as_deref(),
            Some("npub10xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqpkge6d")
        );
        assert!(channel.normalise("npub1bad").is_err());
        assert!(channel.normalise("jason").is_err());
    }
}
