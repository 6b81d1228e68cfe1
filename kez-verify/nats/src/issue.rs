//! Issuing one user JWT and `.creds` file for a person's KEZ Ed25519 key, signed by an
//! account key: what `kez-verify nats user` does for a user [`crate::generate`] lists
//! with a `kez_key` (and so cannot write `.creds` for).
//!
//! Given the account JWT, the signing seed is recognised as the account's identity key,
//! an unscoped signing key (the user gets `issuer_account`) or a scoped one (the user
//! must then carry no permissions; the scope's template applies). A user of an unscoped
//! key needs permissions: none would mean everything.
//!
//! The account's identity key is refused when nats-server would refuse what it signs.
//! `strict_signing_key_usage` is a member of the **operator** JWT (nats-io/jwt
//! `v2/operator_claims.go`; account claims have no such member); nats-server
//! (`UpdateAccountClaimsWithRefresh` in `server/accounts.go`) then leaves the account's
//! identity key out of the user issuers of every account signed by one of that
//! operator's signing keys. With [`UserOptions::operator_jwt`] the rule is applied
//! exactly; without it, an account that lists signing keys is taken to need them (what
//! `nats generate` writes by default), and the identity key is refused.

use zeroize::Zeroizing;

use crate::claims::{AccountClaims, OperatorClaims, Permission, UserClaims, UserPermissionLimits};
use crate::creds;
use crate::jwt::{self, Jwt, JwtError};
use crate::nkey::{NkeyError, Role, Seed};

/// What to issue.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct UserOptions {
    /// The user's name (the `name` claim).
    pub name: String,
    /// Expiry, Unix seconds; 0 for none.
    pub expires: i64,
    /// The issue time, Unix seconds.
    pub now: i64,
    /// Subjects the user may publish to.
    pub pub_allow: Vec<String>,
    /// Subjects the user may subscribe to.
    pub sub_allow: Vec<String>,
    /// Grant `>` for both (instead of lists).
    pub allow_all: bool,
    /// The operator JWT that signed the account JWT, when known: it says whether the
    /// operator requires signing keys (`strict_signing_key_usage`). Used only with an
    /// account JWT.
    pub operator_jwt: Option<String>,
}

impl UserOptions {
    /// Options for a user named `name`, issued at `now`.
    pub fn new(name: impl Into<String>, now: i64) -> Self {
        Self {
            name: name.into(),
            now,
            ..Self::default()
        }
    }
}

/// Why a user could not be issued. Never carries secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// A key is not usable (not Ed25519, not an account seed).
    #[error(transparent)]
    Key(#[from] NkeyError),
    /// The account JWT does not decode or verify.
    #[error("account JWT: {0}")]
    AccountJwt(JwtError),
    /// The signing seed is neither the account's key nor one of its signing keys.
    #[error("the signing key {key} is not the account {account} nor one of its signing keys")]
    NotAccountKey {
        /// The seed's public key.
        key: String,
        /// The account.
        account: String,
    },
    /// The account revokes this user key.
    #[error("the account revokes user key {0}")]
    Revoked(String),
    /// The operator JWT does not decode or verify.
    #[error("operator JWT: {0}")]
    OperatorJwt(JwtError),
    /// The account JWT is signed by neither the operator nor one of its signing keys.
    #[error("the account {account} is signed by {issuer}, which is not the operator {operator} nor one of its signing keys")]
    NotOperatorOfAccount {
        /// The account.
        account: String,
        /// The account JWT's issuer.
        issuer: String,
        /// The operator.
        operator: String,
    },
    /// The seed is the account's identity key, but signing keys are required
    /// (`strict_signing_key_usage`): nats-server refuses users the identity key signs.
    #[error("the signing key {account} is the account's identity key, and {}: nats-server refuses users it signs; sign with one of the account's signing keys", if *.operator_known { "its operator sets strict_signing_key_usage" } else { "the account lists signing keys, so its operator may set strict_signing_key_usage (give the operator JWT to show it does not)" })]
    StrictSigningKeys {
        /// The account.
        account: String,
        /// Whether the operator JWT said so (else the account's signing keys suggested it).
        operator_known: bool,
    },
    /// Permissions were given for a scoped signing key.
    #[error("the signing key is scoped (role {0:?}): its template sets the permissions, so none may be given")]
    ScopedWithPermissions(String),
    /// No permissions for an unscoped signer.
    #[error("no permissions given: a NATS user without permissions may publish and subscribe to everything; give subjects or allow-all")]
    NoPermissions,
    /// Signing failed.
    #[error("cannot sign: {0}")]
    Sign(JwtError),
}

impl IssueError {
    /// The stable kind: `usage` for permission mistakes, `untrusted`/`revoked` for the
    /// chain, `malformed` otherwise.
    pub fn kind(&self) -> &'static str {
        match self {
            IssueError::ScopedWithPermissions(_) | IssueError::NoPermissions => "usage",
            IssueError::NotAccountKey { .. }
            | IssueError::NotOperatorOfAccount { .. }
            | IssueError::StrictSigningKeys { .. } => "untrusted",
            IssueError::Revoked(_) => "revoked",
            _ => "malformed",
        }
    }
}

/// An issued user. `Debug` leaves out the `.creds` text, which holds the seed.
pub struct IssuedUser {
    /// The user JWT.
    pub jwt: String,
    /// The `.creds` text (holds the seed; zeroized on drop).
    pub creds: Zeroizing<String>,
    /// The user's public key.
    pub public_key: crate::nkey::PublicNkey,
}

impl std::fmt::Debug for IssuedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedUser")
            .field("jwt", &self.jwt)
            .field("creds", &"<redacted>")
            .field("public_key", &self.public_key)
            .finish()
    }
}

/// Issues a user for `kez_key`, signed by `account_seed`, checked against
/// `account_jwt` when given (without it, the seed is taken to be the account's own,
/// and nothing is checked), and against [`UserOptions::operator_jwt`] when given.
pub fn user(
    kez_key: &kez_core::SecretKey,
    account_seed: &Seed,
    account_jwt: Option<&str>,
    options: &UserOptions,
) -> Result<IssuedUser, IssueError> {
    let user_seed = Seed::from_kez(kez_key)?;
    if account_seed.role() != Role::Account {
        return Err(NkeyError::WrongRole {
            expected: Role::Account,
            found: account_seed.role(),
        }
        .into());
    }
    let signer = account_seed.public_key().to_string();
    let mut issuer_account = String::new();
    let mut scope = None;
    if let Some(text) = account_jwt {
        let (account, _) =
            Jwt::decode_verified::<AccountClaims>(text.trim()).map_err(IssueError::AccountJwt)?;
        let user_key = user_seed.public_key().to_string();
        // Any revocation of this key counts: a JWT issued after the revocation time
        // would escape it, and KEZ revocations are final.
        if account.nats.revocations.contains_key(&user_key) {
            return Err(IssueError::Revoked(user_key));
        }
        if signer == account.data.subject {
            refuse_identity_under_strict(&account, options.operator_jwt.as_deref())?;
        } else {
            let key =
                account
                    .nats
                    .signing_key(&signer)
                    .ok_or_else(|| IssueError::NotAccountKey {
                        key: signer.clone(),
                        account: account.data.subject.clone(),
                    })?;
            issuer_account = account.data.subject.clone();
            scope = key.scope().map(|s| s.role.clone());
        }
    }
    let mut claims = UserClaims::new(user_seed.public_key().to_string());
    claims.data.name = options.name.clone();
    claims.data.expires = options.expires;
    claims.nats.issuer_account = issuer_account;
    let given = options.allow_all || !options.pub_allow.is_empty() || !options.sub_allow.is_empty();
    match scope {
        Some(role) if given => return Err(IssueError::ScopedWithPermissions(role)),
        Some(_) => claims.nats.permissions = UserPermissionLimits::default(),
        None if !given => return Err(IssueError::NoPermissions),
        None => {
            let (publish, subscribe) = if options.allow_all {
                (vec![">".to_string()], vec![">".to_string()])
            } else {
                (options.pub_allow.clone(), options.sub_allow.clone())
            };
            claims.nats.permissions.permissions.publish = Permission {
                allow: publish,
                ..Permission::default()
            };
            claims.nats.permissions.permissions.subscribe = Permission {
                allow: subscribe,
                ..Permission::default()
            };
        }
    }
    let jwt = jwt::encode(&mut claims, account_seed, options.now).map_err(IssueError::Sign)?;
    let creds = creds::format(&jwt, &user_seed);
    Ok(IssuedUser {
        jwt,
        creds,
        public_key: user_seed.public_key(),
    })
}

/// Refuses the account's identity key as a user issuer where nats-server does: the
/// account is signed by a signing key of an operator with `strict_signing_key_usage`
/// (nats-server `UpdateAccountClaimsWithRefresh`; an account signed by such an operator's
/// identity key is refused altogether). Without the operator JWT, an account with
/// signing keys is taken to need them.
fn refuse_identity_under_strict(
    account: &AccountClaims,
    operator_jwt: Option<&str>,
) -> Result<(), IssueError> {
    let strict = |operator_known| IssueError::StrictSigningKeys {
        account: account.data.subject.clone(),
        operator_known,
    };
    let Some(text) = operator_jwt else {
        if account.nats.signing_keys.is_empty() {
            return Ok(());
        }
        return Err(strict(false));
    };
    let (operator, _) =
        Jwt::decode_verified::<OperatorClaims>(text.trim()).map_err(IssueError::OperatorJwt)?;
    let issuer = &account.data.issuer;
    if *issuer != operator.data.subject && !operator.nats.signing_keys.contains(issuer) {
        return Err(IssueError::NotOperatorOfAccount {
            account: account.data.subject.clone(),
            issuer: issuer.clone(),
            operator: operator.data.subject.clone(),
        });
    }
    if operator.nats.strict_signing_key_usage {
        return Err(strict(true));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::{SigningKey, UserScope, USER_SCOPE_KIND};
    use kez_core::{Algorithm, SecretKey};

    /// An account with an unscoped and a scoped signing key, signed by the signing key
    /// of an operator; returns the account seed, the account JWT and the operator JWT.
    fn org(
        signing: &Seed,
        scoped: &Seed,
        revoked: Option<&str>,
        strict: bool,
    ) -> (Seed, String, String) {
        let operator = Seed::generate(Role::Operator).unwrap();
        let operator_signing = Seed::generate(Role::Operator).unwrap();
        let mut op = OperatorClaims::new(operator.public_key().to_string());
        op.nats.signing_keys = vec![operator_signing.public_key().to_string()];
        op.nats.strict_signing_key_usage = strict;
        let operator_jwt = jwt::encode(&mut op, &operator, 1).unwrap();
        let identity = Seed::generate(Role::Account).unwrap();
        let mut claims = AccountClaims::new(identity.public_key().to_string());
        let scope = UserScope {
            kind: USER_SCOPE_KIND.into(),
            key: scoped.public_key().to_string(),
            role: "reader".into(),
            ..UserScope::default()
        };
        claims.nats.signing_keys = vec![
            SigningKey::Key(signing.public_key().to_string()),
            SigningKey::Scoped(Box::new(scope)),
        ];
        if let Some(key) = revoked {
            claims.nats.revocations.insert(key.to_string(), 100);
        }
        let text = jwt::encode(&mut claims, &operator_signing, 1).unwrap();
        (identity, text, operator_jwt)
    }

    #[test]
    fn issues_for_identity_signing_and_scoped_keys() {
        let kez = SecretKey::generate(Algorithm::Ed25519);
        let signing = Seed::generate(Role::Account).unwrap();
        let scoped = Seed::generate(Role::Account).unwrap();
        let (identity, account_jwt, operator_jwt) = org(&signing, &scoped, None, false);
        let mut options = UserOptions::new("alice", 500);
        options.sub_allow = vec!["orders.>".into()];
        options.operator_jwt = Some(operator_jwt);

        let issued = user(&kez, &identity, Some(&account_jwt), &options).unwrap();
        let (claims, _) = Jwt::decode_verified::<UserClaims>(&issued.jwt).unwrap();
        assert!(claims.nats.issuer_account.is_empty());
        assert_eq!(issued.public_key.as_bytes(), &kez.public_key().to_bytes());
        let parsed = creds::parse(&issued.creds).unwrap();
        assert!(parsed.deviations().is_empty());
        let debug = format!("{issued:?}");
        assert!(!debug.contains(parsed.seed().to_text().as_str()), "{debug}");

        let issued = user(&kez, &signing, Some(&account_jwt), &options).unwrap();
        let (claims, _) = Jwt::decode_verified::<UserClaims>(&issued.jwt).unwrap();
        assert_eq!(
            claims.nats.issuer_account,
            identity.public_key().to_string()
        );

        assert!(matches!(
            user(&kez, &scoped, Some(&account_jwt), &options),
            Err(IssueError::ScopedWithPermissions(_))
        ));
        let mut bare = UserOptions::new("alice", 500);
        bare.operator_jwt = options.operator_jwt.clone();
        let issued = user(&kez, &scoped, Some(&account_jwt), &bare).unwrap();
        let (claims, _) = Jwt::decode_verified::<UserClaims>(&issued.jwt).unwrap();
        assert!(claims.nats.permissions.is_empty());
        assert!(matches!(
            user(&kez, &signing, Some(&account_jwt), &bare),
            Err(IssueError::NoPermissions)
        ));
        let stranger = Seed::generate(Role::Account).unwrap();
        assert!(matches!(
            user(&kez, &stranger, Some(&account_jwt), &options),
            Err(IssueError::NotAccountKey { .. })
        ));
    }

    #[test]
    fn refuses_revoked_keys_and_non_ed25519_keys() {
        let kez = SecretKey::generate(Algorithm::Ed25519);
        let user_key = crate::nkey::PublicNkey::from_kez(&kez.public_key()).unwrap();
        let signing = Seed::generate(Role::Account).unwrap();
        let (identity, account_jwt, _) =
            org(&signing, &signing, Some(&user_key.to_string()), false);
        let mut options = UserOptions::new("alice", 500);
        options.allow_all = true;
        assert!(matches!(
            user(&kez, &identity, Some(&account_jwt), &options),
            Err(IssueError::Revoked(_))
        ));
        let bip = SecretKey::generate(Algorithm::Bip340);
        assert!(matches!(
            user(&bip, &identity, None, &options),
            Err(IssueError::Key(NkeyError::NotEd25519(_)))
        ));
    }

    /// Regression: `issue::user` signed a user with the account's identity seed under an
    /// operator with `strict_signing_key_usage`, which nats-server then refused.
    #[test]
    fn identity_seed_under_strict_signing_key_usage_is_refused() {
        let kez = SecretKey::generate(Algorithm::Ed25519);
        let signing = Seed::generate(Role::Account).unwrap();
        let scoped = Seed::generate(Role::Account).unwrap();
        let mut options = UserOptions::new("alice", 500);
        options.allow_all = true;

        // Strict operator: the identity key is refused, the signing keys are not.
        let (identity, account_jwt, operator_jwt) = org(&signing, &scoped, None, true);
        options.operator_jwt = Some(operator_jwt.clone());
        let err = user(&kez, &identity, Some(&account_jwt), &options).unwrap_err();
        assert!(
            matches!(
                err,
                IssueError::StrictSigningKeys {
                    operator_known: true,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.kind(), "untrusted");
        assert!(
            err.to_string().contains("strict_signing_key_usage"),
            "{err}"
        );
        assert!(user(&kez, &signing, Some(&account_jwt), &options).is_ok());

        // Operator unknown: an account with signing keys is taken to need them.
        options.operator_jwt = None;
        let err = user(&kez, &identity, Some(&account_jwt), &options).unwrap_err();
        assert!(
            matches!(
                err,
                IssueError::StrictSigningKeys {
                    operator_known: false,
                    ..
                }
            ),
            "{err:?}"
        );

        // Not strict: the identity key may sign.
        let (identity, account_jwt, operator_jwt) = org(&signing, &scoped, None, false);
        options.operator_jwt = Some(operator_jwt);
        assert!(user(&kez, &identity, Some(&account_jwt), &options).is_ok());

        // An operator that did not sign the account is refused.
        options.operator_jwt = Some(operator_jwt_of_another_operator());
        assert!(matches!(
            user(&kez, &identity, Some(&account_jwt), &options),
            Err(IssueError::NotOperatorOfAccount { .. })
        ));
        options.operator_jwt = Some("not a jwt".into());
        assert!(matches!(
            user(&kez, &identity, Some(&account_jwt), &options),
            Err(IssueError::OperatorJwt(_))
        ));
    }

    fn operator_jwt_of_another_operator() -> String {
        let other = Seed::generate(Role::Operator).unwrap();
        let mut op = OperatorClaims::new(other.public_key().to_string());
        jwt::encode(&mut op, &other, 1).unwrap()
    }
}
