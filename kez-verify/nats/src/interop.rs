//! Small helpers for the interop harness (`kez-verify adapter`, docs/ADAPTER.md
//! "NATS operations"): building an nkey seed of any generated role from its 32 raw
//! bytes, so that two implementations can be handed the same keys.
//!
//! [`crate::nkey::Seed::from_kez`] covers user keys only; the harness also needs
//! operator and account keys of known bytes to compare JWTs byte for byte.
//!
//! ```
//! use kez_nats::interop::seed_from_raw;
//! use kez_nats::nkey::Role;
//!
//! let seed = seed_from_raw(Role::Operator, &[7; 32])?;
//! assert!(seed.to_text().starts_with("SO"));
//! assert!(seed.public_key().to_string().starts_with('O'));
//! # Ok::<(), kez_nats::nkey::NkeyError>(())
//! ```

use zeroize::Zeroizing;

use crate::nkey::{NkeyError, Role, Seed};

/// The seed of `role` whose 32-byte RFC 8032 seed is `raw` (`nkeys.FromRawSeed`).
/// Server and cluster keys are refused, as [`Seed::generate`] refuses them.
pub fn seed_from_raw(role: Role, raw: &[u8; 32]) -> Result<Seed, NkeyError> {
    let kind = match role {
        Role::Operator => nkeys::KeyPairType::Operator,
        Role::Account => nkeys::KeyPairType::Account,
        Role::User => nkeys::KeyPairType::User,
        other => return Err(NkeyError::NotGenerated(other)),
    };
    // `new_from_raw` and `seed` fail only for curve keys or a pair without a seed.
    let text = nkeys::KeyPair::new_from_raw(kind, *raw)
        .and_then(|pair| pair.seed())
        .map(Zeroizing::new)
        .map_err(|_| NkeyError::NotGenerated(role))?;
    Seed::parse_role(&text, role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bytes_give_the_seed_of_each_role_and_round_trip() {
        for (role, prefix) in [
            (Role::Operator, "SO"),
            (Role::Account, "SA"),
            (Role::User, "SU"),
        ] {
            let seed = seed_from_raw(role, &[0x42; 32]).unwrap();
            assert_eq!(seed.role(), role);
            assert!(seed.to_text().starts_with(prefix));
            let again = Seed::parse(&seed.to_text()).unwrap();
            assert_eq!(again.public_key(), seed.public_key());
        }
        // The same bytes under every role: one Ed25519 key.
        let user = seed_from_raw(Role::User, &[0x42; 32]).unwrap();
        let account = seed_from_raw(Role::Account, &[0x42; 32]).unwrap();
        assert_eq!(
            user.public_key().as_bytes(),
            account.public_key().as_bytes()
        );
    }

    #[test]
    fn server_and_cluster_seeds_are_not_built() {
        assert_eq!(
            seed_from_raw(Role::Server, &[1; 32]).unwrap_err(),
            NkeyError::NotGenerated(Role::Server)
        );
    }
}
