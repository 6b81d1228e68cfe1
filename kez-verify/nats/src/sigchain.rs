//! The NATS user keys a KEZ sigchain no longer vouches for (SPEC.md §7.4): primary
//! keys rotated away and device keys withdrawn, and (for a user that names the subject
//! its chain vouches for) subjects whose claims the chain revoked. [`crate::generate`]
//! revokes them in the accounts' `revocations`. Only Ed25519 keys can be NATS keys;
//! BIP-340 keys are skipped.

use std::collections::HashSet;

use kez_core::sigchain::{self, ChainError, ChainPoint, ChainState, Track};
use kez_core::{Identity, PublicKey};

use crate::nkey::PublicNkey;

/// The retired Ed25519 keys of a verified chain, as user nkeys, in chain order.
pub fn retired_user_keys(state: &ChainState) -> Vec<PublicNkey> {
    state
        .primaries()
        .iter()
        .chain(state.devices())
        .filter(|period| period.until.is_some())
        .filter_map(|period| PublicNkey::from_kez(&period.key).ok())
        .collect()
}

/// Verifies a JSONL sigchain in full and returns its retired user keys.
pub fn retired_user_keys_jsonl(chain: &[u8]) -> Result<Vec<PublicNkey>, ChainError> {
    let verified = sigchain::verify_jsonl(chain, Track::Claims(HashSet::new()), None)?;
    Ok(retired_user_keys(verified.state()))
}

/// Why a chain no longer vouches for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WithdrawnBy {
    /// A `rotate` link replaced the key as primary.
    Rotation,
    /// A `revoke_device` link withdrew the device key.
    DeviceRevocation,
    /// `revoke` links withdrew every claim of the subject (one by one, or the subject
    /// at once).
    SubjectRevocation,
}

/// When and how a chain stopped vouching for a key: the link that did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Withdrawal {
    /// What withdrew it.
    pub by: WithdrawnBy,
    /// The link (its `seq` and `created_at`).
    pub link: ChainPoint,
}

/// Why a chain cannot speak for a key. Never carries secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VouchError {
    /// The chain does not verify.
    #[error("the sigchain does not verify: {0}")]
    Chain(#[from] ChainError),
    /// The key was never a primary or device key of the chain.
    #[error("{0} is neither a primary nor a device key of the sigchain")]
    KeyNotInChain(String),
    /// The chain never bound a claim for the subject.
    #[error("the sigchain binds no claim for {0}")]
    SubjectNotClaimed(String),
}

/// Whether a verified chain still vouches for `key` (and, when given, for `subject`):
/// `None` while it does; otherwise the link that withdrew it — the latest of them when
/// several did (a rotation and the subject's revocation), so that the revocation covers
/// every user JWT issued before the chain last spoke.
pub fn withdrawal(
    state: &ChainState,
    key: &PublicKey,
    subject: Option<&Identity>,
) -> Result<Option<Withdrawal>, VouchError> {
    let mut found: Option<Withdrawal> = None;
    let mut note = |by, link: ChainPoint| {
        if found.is_none_or(|f| link.seq > f.link.seq) {
            found = Some(Withdrawal { by, link });
        }
    };
    match (state.primary_period(key), state.device_period(key)) {
        (Some(period), _) => {
            if let Some(until) = period.until {
                note(WithdrawnBy::Rotation, until);
            }
        }
        (None, Some(period)) => {
            if let Some(until) = period.until {
                note(WithdrawnBy::DeviceRevocation, until);
            }
        }
        (None, None) => return Err(VouchError::KeyNotInChain(key.to_string())),
    }
    if let Some(subject) = subject {
        let claims: Vec<_> = state
            .claims()
            .values()
            .filter(|c| &c.subject == subject)
            .collect();
        if claims.is_empty() {
            return Err(VouchError::SubjectNotClaimed(subject.to_string()));
        }
        let revoked: Option<Vec<ChainPoint>> = claims.iter().map(|c| c.revoked).collect();
        if let Some(last) = revoked.and_then(|r| r.into_iter().max_by_key(|p| p.seq)) {
            note(WithdrawnBy::SubjectRevocation, last);
        }
    }
    Ok(found)
}

/// Verifies a JSONL sigchain in full and says whether it still vouches for `key` (and
/// `subject`); see [`withdrawal`].
pub fn withdrawal_jsonl(
    chain: &[u8],
    key: &PublicKey,
    subject: Option<&Identity>,
) -> Result<Option<Withdrawal>, VouchError> {
    let verified = sigchain::verify_jsonl(chain, Track::All, None)?;
    withdrawal(verified.state(), key, subject)
}

/// Sigchains for the crate's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use kez_core::sigchain::{Link, LinkBuilder, Op};
    use kez_core::SecretKey;

    /// A chain of `primary`: its init at 100, then `ops` at 101, 102, …, each signed by
    /// `primary`.
    pub(crate) fn chain(primary: &SecretKey, ops: impl IntoIterator<Item = Op>) -> Vec<Link> {
        let mut links = vec![LinkBuilder::init(100).sign(primary, None).unwrap()];
        for (i, op) in ops.into_iter().enumerate() {
            let link = LinkBuilder::after(links.last().unwrap(), op, 101 + i as u64)
                .sign(primary, None)
                .unwrap();
            links.push(link);
        }
        links
    }

    /// [`chain`], then `primary` rotated to `next` at 200.
    pub(crate) fn rotated_chain(
        primary: &SecretKey,
        ops: impl IntoIterator<Item = Op>,
        next: &SecretKey,
    ) -> Vec<Link> {
        let mut links = chain(primary, ops);
        let rotate = Op::Rotate {
            new_key: next.public_key(),
        };
        let link = LinkBuilder::after(links.last().unwrap(), rotate, 200)
            .sign(primary, Some(next))
            .unwrap();
        links.push(link);
        links
    }

    /// `links` as JSONL: each link's JCS bytes and a newline.
    pub(crate) fn jsonl(links: &[Link]) -> Vec<u8> {
        kez_core::sigchain::to_jsonl(links)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{jsonl, rotated_chain};
    use super::*;
    use kez_core::sigchain::Op;
    use kez_core::{Algorithm, SecretKey};

    #[test]
    fn rotated_primaries_and_withdrawn_devices_are_retired() {
        let first = SecretKey::generate(Algorithm::Ed25519);
        let second = SecretKey::generate(Algorithm::Ed25519);
        let device = SecretKey::generate(Algorithm::Ed25519);
        let kept = SecretKey::generate(Algorithm::Ed25519);
        let nostr = SecretKey::generate(Algorithm::Bip340);
        let ops = [
            Op::AddDevice {
                device: device.public_key(),
                name: None,
            },
            Op::AddDevice {
                device: kept.public_key(),
                name: None,
            },
            Op::AddDevice {
                device: nostr.public_key(),
                name: None,
            },
            Op::RevokeDevice {
                device: device.public_key(),
            },
            Op::RevokeDevice {
                device: nostr.public_key(),
            },
        ];
        let jsonl = jsonl(&rotated_chain(&first, ops, &second));
        let retired = retired_user_keys_jsonl(&jsonl).unwrap();
        let expected: Vec<PublicNkey> = [&first, &device]
            .iter()
            .map(|k| PublicNkey::from_kez(&k.public_key()).unwrap())
            .collect();
        assert_eq!(retired, expected);
        assert!(retired_user_keys_jsonl(b"{}\n").is_err());
    }
}
