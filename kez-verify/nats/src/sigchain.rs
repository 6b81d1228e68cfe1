//! The NATS user keys a KEZ sigchain no longer vouches for (SPEC.md §7.4): primary
//! keys rotated away and device keys withdrawn. [`crate::generate`] revokes them in the
//! accounts' `revocations`. Only Ed25519 keys can be NATS keys; BIP-340 keys are
//! skipped.

use std::collections::HashSet;

use kez_core::sigchain::{self, ChainError, ChainState, Track};

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

#[cfg(test)]
mod tests {
    use super::*;
    use kez_core::sigchain::{LinkBuilder, Op};
    use kez_core::{Algorithm, SecretKey};

    #[test]
    fn rotated_primaries_and_withdrawn_devices_are_retired() {
        let first = SecretKey::generate(Algorithm::Ed25519);
        let second = SecretKey::generate(Algorithm::Ed25519);
        let device = SecretKey::generate(Algorithm::Ed25519);
        let kept = SecretKey::generate(Algorithm::Ed25519);
        let nostr = SecretKey::generate(Algorithm::Bip340);
        let mut links = vec![LinkBuilder::init(100).sign(&first, None).unwrap()];
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
        for (i, op) in ops.into_iter().enumerate() {
            let link = LinkBuilder::after(links.last().unwrap(), op, 101 + i as u64)
                .sign(&first, None)
                .unwrap();
            links.push(link);
        }
        let rotate = Op::Rotate {
            new_key: second.public_key(),
        };
        let link = LinkBuilder::after(links.last().unwrap(), rotate, 200)
            .sign(&first, Some(&second))
            .unwrap();
        links.push(link);
        let mut jsonl = Vec::new();
        for link in &links {
            jsonl.extend_from_slice(link.to_jcs());
            jsonl.push(b'\n');
        }
        let retired = retired_user_keys_jsonl(&jsonl).unwrap();
        let expected: Vec<PublicNkey> = [&first, &device]
            .iter()
            .map(|k| PublicNkey::from_kez(&k.public_key()).unwrap())
            .collect();
        assert_eq!(retired, expected);
        assert!(retired_user_keys_jsonl(b"{}\n").is_err());
    }
}
