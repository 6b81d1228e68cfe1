//! The role mapping of the auth callout service: which KEZ keys and identities get
//! which NATS permissions. One TOML file; unknown keys are errors.
//!
//! ```toml
//! account = "APP"        # config mode: the account users are placed in (the user JWT's
//!                        # aud); leave out in operator mode, where users join the
//!                        # issuer's account
//! user_ttl = "1h"        # how long an issued user JWT lasts (default 1h; "0s": no expiry)
//!
//! [roles.worker]         # the keys of the spec file's roles (pub_allow, pub_deny,
//! pub_allow = ["jobs.done"]  # sub_allow, sub_deny, resp_max, resp_ttl_ms, subs, data,
//! sub_allow = ["jobs.todo"]  # payload, src, allowed_connection_types, allow_all)
//!
//! [[members]]
//! key = "ed25519:<64 hex>"   # a KEZ key: the connecting key, or the current primary key
//! roles = ["worker"]         # of the chain the connecting device key belongs to
//!
//! [[members]]
//! identity = "github:alice"  # any key of a chain that binds an unrevoked claim for it
//! roles = ["worker"]
//! name = "alice"             # optional: the user JWT's name (default: the KEZ key)
//! ```
//!
//! A key matching several members gets the union of their roles, merged as
//! [`crate::generate`] merges a user's roles: allow and deny lists concatenated, the
//! most permissive of each limit.

use std::collections::BTreeMap;
use std::time::Duration;

use kez_core::{Identity, PublicKey};
use serde::Deserialize;

use super::chains::KnownChain;
use crate::claims::UserPermissionLimits;
use crate::generate::{merge, role_template};
use crate::spec::RoleSpec;

/// The default lifetime of an issued user JWT.
pub const DEFAULT_USER_TTL: Duration = Duration::from_secs(3600);

/// Why a role mapping is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RolesError {
    /// Not TOML of the expected shape.
    #[error("roles file: {0}")]
    Toml(String),
    /// A value is not acceptable.
    #[error("roles file: {field}: {message}")]
    Invalid {
        /// Where.
        field: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> RolesError {
    RolesError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesFile {
    #[serde(default)]
    account: String,
    #[serde(default)]
    user_ttl: Option<String>,
    #[serde(default)]
    roles: BTreeMap<String, RoleSpec>,
    #[serde(default)]
    members: Vec<MemberFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberFile {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    identity: Option<String>,
    #[serde(default)]
    name: Option<String>,
    roles: Vec<String>,
}

/// Who a member is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A KEZ key.
    Key(PublicKey),
    /// A KEZ identity.
    Identity(Identity),
}

/// One `[[members]]` entry.
#[derive(Debug, Clone)]
pub struct Member {
    principal: Principal,
    name: Option<String>,
    roles: Vec<String>,
}

impl Member {
    /// Who.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The role names.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }
}

/// What a key is granted.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The role names, sorted, without repeats.
    pub roles: Vec<String>,
    /// The user JWT's name, if a member set one.
    pub name: Option<String>,
    /// The merged permissions and limits.
    pub permissions: UserPermissionLimits,
}

/// A parsed and checked role mapping.
#[derive(Debug, Clone)]
pub struct Roles {
    account: String,
    user_ttl: Duration,
    roles: BTreeMap<String, UserPermissionLimits>,
    members: Vec<Member>,
}

impl Roles {
    /// Parses and checks role mapping text.
    pub fn parse(text: &str) -> Result<Self, RolesError> {
        let file: RolesFile = toml::from_str(text).map_err(|e| RolesError::Toml(e.to_string()))?;
        let user_ttl = match &file.user_ttl {
            None => DEFAULT_USER_TTL,
            Some(text) => humantime::parse_duration(text)
                .map_err(|e| invalid("user_ttl", format!("not a duration: {e}")))?,
        };
        let mut roles = BTreeMap::new();
        for (name, role) in &file.roles {
            let field = format!("roles.{name}");
            if let Some(message) = role.grant_error() {
                return Err(invalid(field, message));
            }
            roles.insert(name.clone(), role_template(role));
        }
        let mut members = Vec::new();
        for (i, m) in file.members.into_iter().enumerate() {
            let field = format!("members[{i}]");
            let principal = match (&m.key, &m.identity) {
                (Some(key), None) => Principal::Key(
                    PublicKey::parse_canonical(key)
                        .map_err(|e| invalid(format!("{field}.key"), e.to_string()))?,
                ),
                (None, Some(identity)) => Principal::Identity(
                    Identity::parse(identity)
                        .map_err(|e| invalid(format!("{field}.identity"), e.to_string()))?,
                ),
                _ => return Err(invalid(field, "set exactly one of key and identity")),
            };
            if m.roles.is_empty() {
                return Err(invalid(format!("{field}.roles"), "at least one role"));
            }
            for role in &m.roles {
                if !roles.contains_key(role) {
                    return Err(invalid(
                        format!("{field}.roles"),
                        format!("no role {role:?} in [roles]"),
                    ));
                }
            }
            members.push(Member {
                principal,
                name: m.name,
                roles: m.roles,
            });
        }
        Ok(Self {
            account: file.account,
            user_ttl,
            roles,
            members,
        })
    }

    /// The account users are placed in (config mode), or empty.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// How long an issued user JWT lasts; zero for no expiry.
    pub fn user_ttl(&self) -> Duration {
        self.user_ttl
    }

    /// The members.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// What `key`, standing in `chain`, is granted: every member naming the key, the
    /// chain's current primary key, or an identity the chain binds. `None` when no
    /// member matches.
    pub fn grant(&self, key: &PublicKey, chain: &KnownChain) -> Option<Grant> {
        let mut names: Vec<String> = Vec::new();
        let mut user_name = None;
        for member in &self.members {
            let matches = match &member.principal {
                Principal::Key(k) => k == key || chain.primary() == Some(k),
                Principal::Identity(identity) => chain.binds(identity),
            };
            if !matches {
                continue;
            }
            if user_name.is_none() {
                user_name.clone_from(&member.name);
            }
            for role in &member.roles {
                if !names.contains(role) {
                    names.push(role.clone());
                }
            }
        }
        if names.is_empty() {
            return None;
        }
        names.sort();
        let templates: Vec<UserPermissionLimits> = names
            .iter()
            .filter_map(|n| self.roles.get(n).cloned())
            .collect();
        Some(Grant {
            roles: names,
            name: user_name,
            permissions: merge(&templates),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callout::chains::{ChainSet, Standing};
    use crate::claims::NO_LIMIT;
    use crate::sigchain::testing::{chain, jsonl};
    use kez_core::claim::ClaimBuilder;
    use kez_core::sigchain::{LinkBuilder, Op, RevokeTarget};
    use kez_core::{Algorithm, SecretKey};

    #[test]
    fn refuses_mistakes() {
        for (text, needle) in [
            ("[roles.r]\n", "roles.r"),
            ("[roles.r]\nallow_all = true\npub_allow = [\"a\"]\n", "allow_all"),
            ("[roles.r]\nallow_all = true\n[[members]]\nroles = [\"r\"]\n", "exactly one"),
            ("[roles.r]\nallow_all = true\n[[members]]\nkey = \"ed25519:00\"\nroles = [\"r\"]\n", "members[0].key"),
            ("[roles.r]\nallow_all = true\n[[members]]\nidentity = \"github:a\"\nroles = [\"s\"]\n", "no role \"s\""),
            ("[roles.r]\nallow_all = true\n[[members]]\nidentity = \"github:a\"\nroles = []\n", "at least one"),
            ("user_ttl = \"soon\"\n", "user_ttl"),
            ("[roles.r]\npublish = [\"a\"]\n", "unknown field"),
        ] {
            let err = Roles::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn grants_by_key_primary_and_identity() {
        let primary = SecretKey::generate(Algorithm::Ed25519);
        let device = SecretKey::generate(Algorithm::Ed25519);
        let claim = ClaimBuilder::new(Identity::parse("github:alice").unwrap(), 99)
            .sign(&primary, None)
            .unwrap();
        let mut links = chain(
            &primary,
            [
                Op::AddDevice {
                    device: device.public_key(),
                    name: None,
                },
                Op::Add {
                    claim: claim.id(),
                    subject: Identity::parse("github:alice").unwrap(),
                },
            ],
        );
        let bytes = jsonl(&links);
        let set = ChainSet::from_chains([("c.jsonl", bytes.as_slice())]);
        let Standing::Device(chain) = set.standing(&device.public_key()) else {
            panic!("device not active");
        };
        let roles = Roles::parse(&format!(
            r#"
account = "APP"
user_ttl = "10m"
[roles.read]
sub_allow = ["a.>"]
subs = 10
[roles.write]
pub_allow = ["a.b"]
pub_deny = ["a.c"]
resp_max = 1
[[members]]
key = "{}"
roles = ["write"]
name = "alice"
[[members]]
identity = "github:alice"
roles = ["read"]
"#,
            primary.public_key()
        ))
        .unwrap();
        assert_eq!(roles.account(), "APP");
        assert_eq!(roles.user_ttl(), Duration::from_secs(600));
        let grant = roles.grant(&device.public_key(), chain).unwrap();
        assert_eq!(grant.roles, ["read", "write"]);
        assert_eq!(grant.name.as_deref(), Some("alice"));
        let p = &grant.permissions.permissions;
        assert_eq!(p.publish.allow, ["a.b"]);
        assert_eq!(p.publish.deny, ["a.c"]);
        assert_eq!(p.subscribe.allow, ["a.>"]);
        assert_eq!(p.response.as_ref().unwrap().max_msgs, 1);
        assert_eq!(grant.permissions.limits.nats.subs, NO_LIMIT);

        // The claim revoked: the identity member no longer matches.
        let revoke = LinkBuilder::after(
            links.last().unwrap(),
            Op::Revoke(RevokeTarget::Claim(claim.id())),
            103,
        )
        .sign(&primary, None)
        .unwrap();
        links.push(revoke);
        let bytes = jsonl(&links);
        let set = ChainSet::from_chains([("c.jsonl", bytes.as_slice())]);
        let Standing::Device(chain) = set.standing(&device.public_key()) else {
            panic!("device not active");
        };
        let grant = roles.grant(&device.public_key(), chain).unwrap();
        assert_eq!(grant.roles, ["write"]);
        let only_identity = Roles::parse(
            "[roles.r]\nallow_all = true\n[[members]]\nidentity = \"github:alice\"\nroles = [\"r\"]\n",
        )
        .unwrap();
        assert!(only_identity.grant(&device.public_key(), chain).is_none());
    }
}
