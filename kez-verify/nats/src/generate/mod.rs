//! Turning a [`Spec`] into an nsc home: keys, an NSC store, `.creds` files and two
//! nats-server configs (see [`crate::layout`] for the paths).
//!
//! * The operator has an identity key and a signing key; accounts are signed by the
//!   signing key (and, by default, `strict_signing_key_usage` requires it).
//! * Every account has an identity key, an unscoped signing key, and one scoped
//!   signing key per role whose template holds the role's permissions. A user with one
//!   role is signed by that role's scoped key and carries no permissions of its own; a
//!   user with several is signed by the unscoped key and carries the union of their
//!   permissions (the most permissive of each limit; every deny list applies).
//! * The system account (`SYS` unless named otherwise) has one user, `sys`, allowed
//!   `>`; the operator JWT names it as `system_account`.
//! * `nats-server.conf` uses the memory resolver with every account preloaded;
//!   `nats-server-full.conf` the full resolver storing JWTs in `jwt/` (an absolute
//!   path), seeded from the same preload. Either starts with
//!   `nats-server -c FILE -a 127.0.0.1 -p -1`.
//!
//! Files are written with mode `0600` (keys, `.creds`, store files) or `0644` (configs),
//! directories `0700`. A fresh output (the directory absent or empty) is built in a
//! staging directory beside it and renamed into place once it is complete and durable,
//! so that it appears whole or not at all; a run that fails leaves nothing behind
//! (where staging beside it is not possible, as for a mount point, it is written in
//! place instead). An output directory that is not empty is refused unless `force` is
//! set; with `force`, the keys found in it are kept (the store's JWTs say which key is which), a JWT whose claims are
//! unchanged apart from `iat` and `jti` is kept byte for byte, and only files whose bytes
//! change are rewritten, each atomically (a temporary file renamed over the target), in
//! two durable batches — the keys, then everything else — so that no JWT on disk names a
//! key that is not. Durability is one `syncfs(2)` per batch on Linux (an fsync per file
//! elsewhere).
//!
//! Keys are generated, JWTs signed and files written on [`GenerateOptions::threads`]
//! threads; the output does not depend on how many.
//!
//! Revocations are sticky: each run adds the keys in [`GenerateOptions::revoked`] to
//! the `revocations` of every account that has a user with that key (every account when
//! none has), at the time of the run, and keeps the earlier ones. A revoked user is
//! never re-signed (a later `iat` would escape the revocation): its store JWT stays,
//! so that its key stays known, and its `.creds` file is removed. To give the user a
//! new key, delete its store JWT (or, for a person, change `kez_key`).
//!
//! A person whose spec entry names a `sigchain` is checked against it on every run
//! ([`crate::sigchain::withdrawal`]): once the chain rotates the KEZ key away, withdraws
//! it as a device, or revokes every claim of the user's `subject`, the key goes into the
//! `revocations` of every account with a user of that key, at the `created_at` of the
//! link that withdrew it — or at the `iat` of the user's store JWT when that is later,
//! so that no JWT written for the key escapes — and the account JWTs are re-signed.

mod output;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::claims::{
    AccountClaims, Claims, Export, Import, JetStreamLimits, OperatorClaims, Permission,
    ResponsePermission, SigningKey, UserClaims, UserPermissionLimits, UserScope, NO_LIMIT,
    USER_SCOPE_KIND,
};
use crate::creds;
use crate::jwt::{self, Jwt, JwtError};
use crate::layout::{self, Layout};
use crate::nkey::{NkeyError, PublicNkey, Role, Seed};
use crate::parallel::parallel_map;
use crate::serverconf::{OperatorConfig, PreloadAccount};
use crate::sigchain::VouchError;
use crate::spec::{AccountSpec, RoleSpec, Spec, UserSpec};
use output::{io, Contents, Op, Outcome, Target};

/// How to generate.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct GenerateOptions {
    /// Write into an output directory that is not empty (keeping its keys).
    pub force: bool,
    /// The time to sign at, Unix seconds.
    pub now: i64,
    /// User keys to revoke (the CLI fills this from sigchains).
    pub revoked: Vec<PublicNkey>,
    /// How many threads generate keys, sign and write files; 0 (the default) for as
    /// many as the machine has. The output does not depend on it.
    pub threads: usize,
}

impl GenerateOptions {
    /// Options signing at `now`, without force or revocations, on every core.
    pub fn at(now: i64) -> Self {
        Self {
            force: false,
            now,
            revoked: Vec::new(),
            threads: 0,
        }
    }

    fn thread_count(&self) -> usize {
        crate::parallel::threads(self.threads)
    }
}

/// Where the time of a [`generate`] run went (wall-clock time of each phase).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timings {
    /// The threads used.
    pub threads: usize,
    /// Reading the existing output, loading or generating every key (one Ed25519 base
    /// point multiplication per new key) and planning the claims.
    pub keys: Duration,
    /// Encoding the JWTs (Go's JSON, `jti`, base64url), signing them, formatting the
    /// `.creds` files.
    pub signing: Duration,
    /// Creating directories and writing files.
    pub writing: Duration,
    /// Making the files durable and, for a fresh output, renaming it into place.
    pub syncing: Duration,
}

/// Why generation failed. No variant carries secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// The output directory is not empty and `force` was not given.
    #[error("{} is not empty; pass --force to update it (its keys are kept)", path.display())]
    Exists {
        /// The output directory.
        path: PathBuf,
    },
    /// An existing JWT names a key whose seed is not in the key store, so it cannot be
    /// re-signed without changing identities.
    #[error("{what} {public} is in the store but its key file {} is missing", path.display())]
    MissingKey {
        /// Which key.
        what: String,
        /// Its public key.
        public: String,
        /// Where the key file should be.
        path: PathBuf,
    },
    /// A key file does not hold the seed its name says.
    #[error("{}: {message}", path.display())]
    BadKeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong (never the seed).
        message: String,
    },
    /// An existing store JWT does not decode.
    #[error("{}: existing JWT does not decode: {error}", path.display())]
    BadExisting {
        /// The JWT file.
        path: PathBuf,
        /// Why.
        error: JwtError,
    },
    /// A key could not be generated or used.
    #[error(transparent)]
    Nkey(#[from] NkeyError),
    /// The spec has a value [`Spec::parse`] would have refused (a spec built by hand).
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// Signing failed (a caller mistake in the claims).
    #[error("cannot sign: {0}")]
    Jwt(#[from] JwtError),
    /// A user's sigchain does not verify, or does not vouch for the user's key or
    /// subject.
    #[error("user {user:?}: sigchain {}: {error}", path.display())]
    Sigchain {
        /// The user's name.
        user: String,
        /// The sigchain file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        error: Box<VouchError>,
    },
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] kez_keys::store::WriteError),
    /// A file or directory could not be read, created or removed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        #[source]
        error: std::io::Error,
    },
}

impl GenerateError {
    /// The stable kind: `usage` for [`GenerateError::Exists`], `transport` for I/O,
    /// `malformed` otherwise.
    pub fn kind(&self) -> &'static str {
        match self {
            GenerateError::Exists { .. } => "usage",
            GenerateError::Io { .. } | GenerateError::Write(_) => "transport",
            _ => "malformed",
        }
    }
}

/// A generated user.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GeneratedUser {
    /// The user's name.
    pub name: String,
    /// The user's public key.
    pub public_key: PublicNkey,
    /// The store JWT; `None` only for a revoked user that never had one.
    pub jwt: Option<PathBuf>,
    /// The `.creds` file; `None` for a KEZ key (no seed here) or when revoked.
    pub creds: Option<PathBuf>,
    /// Whether the user's key is revoked.
    pub revoked: bool,
}

/// A generated account.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GeneratedAccount {
    /// The account's name.
    pub name: String,
    /// The account's public key.
    pub public_key: PublicNkey,
    /// Its users.
    pub users: Vec<GeneratedUser>,
}

/// What [`generate`] produced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Generated {
    /// The paths.
    pub layout: Layout,
    /// The operator's public key.
    pub operator: PublicNkey,
    /// The system account's public key.
    pub system_account: PublicNkey,
    /// Every account, the system account first.
    pub accounts: Vec<GeneratedAccount>,
    /// The memory resolver config.
    pub memory_config: PathBuf,
    /// The full resolver config.
    pub full_config: PathBuf,
    /// Files written (new or changed).
    pub written: Vec<PathBuf>,
    /// Files left as they were, byte for byte.
    pub unchanged: Vec<PathBuf>,
    /// Files removed (revoked users' `.creds`).
    pub removed: Vec<PathBuf>,
    /// Where the time went.
    pub timings: Timings,
}

const FILE_MODE: u32 = 0o600;
const CONFIG_MODE: u32 = 0o644;

/// What the output directory held before.
#[derive(Default)]
struct Existing {
    operator: Option<(String, OperatorClaims)>,
    accounts: HashMap<String, (String, AccountClaims)>,
    users: HashMap<(String, String), (String, UserClaims)>,
}

fn read_jwt<C: Claims>(path: &Path) -> Result<Option<(String, C)>, GenerateError> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(None);
    };
    let text = text.trim().to_string();
    let bad = |error| GenerateError::BadExisting {
        path: path.to_owned(),
        error,
    };
    let claims = Jwt::decode(&text)
        .and_then(|j| j.claims::<C>())
        .map_err(bad)?;
    Ok(Some((text, claims)))
}

fn read_existing(layout: &Layout, spec: &Spec) -> Result<Existing, GenerateError> {
    let op = &spec.operator.name;
    let mut existing = Existing {
        operator: read_jwt(&layout.operator_jwt(op))?,
        ..Existing::default()
    };
    let names = std::iter::once(spec.system_account.as_str())
        .chain(spec.accounts.iter().map(|a| a.name.as_str()));
    for account in names {
        if let Some(found) = read_jwt(&layout.account_jwt(op, account))? {
            existing.accounts.insert(account.to_string(), found);
        }
        let users = layout.account_jwt(op, account).with_file_name("users");
        let Ok(entries) = fs::read_dir(&users) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "jwt") {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if let Some(found) = read_jwt(&path)? {
                    existing.users.insert((account.to_string(), name), found);
                }
            }
        }
    }
    Ok(existing)
}

/// Loads the seed of `public` from the key store, if its file exists.
fn load_seed(layout: &Layout, public: &str) -> Result<Option<Seed>, GenerateError> {
    let path = layout::key_path(&layout.keystore(), public);
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(None);
    };
    let seed = Seed::parse(text.trim()).map_err(|e| GenerateError::BadKeyFile {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if seed.public_key().to_string() != public {
        return Err(GenerateError::BadKeyFile {
            path,
            message: format!("holds the seed of {}", seed.public_key()),
        });
    }
    Ok(Some(seed))
}

/// The seed of an existing key (which must be in the key store), or a new one.
fn keep_or_new(
    layout: &Layout,
    existing: Option<&str>,
    role: Role,
    what: &str,
) -> Result<Seed, GenerateError> {
    match existing {
        None => Ok(Seed::generate(role)?),
        Some(public) => load_seed(layout, public)?.ok_or_else(|| GenerateError::MissingKey {
            what: what.to_string(),
            public: public.to_string(),
            path: layout::key_path(&layout.keystore(), public),
        }),
    }
}

/// Keeps `old` when its claims equal `desired` apart from `iat` and `jti` and it
/// verifies with `signer`; otherwise signs `desired` at `now`.
fn sign_if_changed<C: Claims + PartialEq>(
    mut desired: C,
    old: Option<&(String, C)>,
    signer: &Seed,
    now: i64,
) -> Result<String, GenerateError> {
    {
        let generic = desired.generic_mut();
        generic.claim_type = C::TYPE.as_str().to_string();
        generic.version = crate::claims::VERSION;
    }
    desired.data_mut().issuer = signer.public_key().to_string();
    if let Some((text, old)) = old {
        let normalise = |c: &C| {
            let mut c = c.clone();
            c.data_mut().issued_at = 0;
            c.data_mut().id.clear();
            c
        };
        let verifies = Jwt::decode_v2(text).is_ok_and(|j| j.verify_with(&signer.public_key()));
        if verifies && normalise(old) == normalise(&desired) {
            return Ok(text.clone());
        }
    }
    Ok(jwt::encode(&mut desired, signer, now)?)
}

fn permission(allow: &[String], deny: &[String]) -> Permission {
    Permission {
        allow: allow.to_vec(),
        deny: deny.to_vec(),
    }
}

/// A role's permissions and limits, as a scope template (also what the auth callout
/// grants a role, [`crate::callout::roles`]).
pub(crate) fn role_template(role: &RoleSpec) -> UserPermissionLimits {
    let mut t = UserPermissionLimits::default();
    if role.allow_all {
        let all = [">".to_string()];
        t.permissions.publish = permission(&all, &[]);
        t.permissions.subscribe = permission(&all, &[]);
    } else {
        t.permissions.publish = permission(&role.pub_allow, &role.pub_deny);
        t.permissions.subscribe = permission(&role.sub_allow, &role.sub_deny);
    }
    if role.resp_max.is_some() || role.resp_ttl_ms.is_some() {
        t.permissions.response = Some(ResponsePermission {
            max_msgs: role.resp_max.unwrap_or(1),
            expires: role.resp_ttl_ms.unwrap_or(0).saturating_mul(1_000_000),
        });
    }
    t.limits.user.src = role.src.clone();
    t.limits.nats.subs = role.subs;
    t.limits.nats.data = role.data;
    t.limits.nats.payload = role.payload;
    t.bearer_token = role.bearer_token;
    t.allowed_connection_types = role.allowed_connection_types.clone();
    t
}

fn union(into: &mut Vec<String>, more: &[String]) {
    for item in more {
        if !into.contains(item) {
            into.push(item.clone());
        }
    }
}

fn most(a: i64, b: i64) -> i64 {
    if a == NO_LIMIT || b == NO_LIMIT {
        NO_LIMIT
    } else {
        a.max(b)
    }
}

/// The union of several roles' templates (a user's, or a callout member's, roles).
pub(crate) fn merge(templates: &[UserPermissionLimits]) -> UserPermissionLimits {
    let mut out = templates.first().cloned().unwrap_or_default();
    for t in templates.iter().skip(1) {
        let (p, q) = (&mut out.permissions, &t.permissions);
        union(&mut p.publish.allow, &q.publish.allow);
        union(&mut p.publish.deny, &q.publish.deny);
        union(&mut p.subscribe.allow, &q.subscribe.allow);
        union(&mut p.subscribe.deny, &q.subscribe.deny);
        p.response = match (p.response.take(), &q.response) {
            (Some(a), Some(b)) => Some(ResponsePermission {
                max_msgs: if a.max_msgs < 0 || b.max_msgs < 0 {
                    -1
                } else {
                    a.max_msgs.max(b.max_msgs)
                },
                expires: a.expires.max(b.expires),
            }),
            (a, b) => a.or_else(|| b.clone()),
        };
        let (l, m) = (&mut out.limits, &t.limits);
        l.nats.subs = most(l.nats.subs, m.nats.subs);
        l.nats.data = most(l.nats.data, m.nats.data);
        l.nats.payload = most(l.nats.payload, m.nats.payload);
        if l.user.src.is_empty() || m.user.src.is_empty() {
            l.user.src.clear();
        } else {
            union(&mut l.user.src, &m.user.src);
        }
        if out.allowed_connection_types.is_empty() || t.allowed_connection_types.is_empty() {
            out.allowed_connection_types.clear();
        } else {
            union(
                &mut out.allowed_connection_types,
                &t.allowed_connection_types,
            );
        }
        out.bearer_token |= t.bearer_token;
    }
    out
}

/// Keys of one account.
struct AccountKeys {
    identity: Seed,
    signing: Seed,
    roles: BTreeMap<String, Seed>,
}

fn account_keys(
    layout: &Layout,
    name: &str,
    roles: impl Iterator<Item = String>,
    existing: Option<&AccountClaims>,
) -> Result<AccountKeys, GenerateError> {
    let old_sub = existing.map(|a| a.data.subject.as_str());
    let identity = keep_or_new(layout, old_sub, Role::Account, &format!("account {name:?}"))?;
    let old_signing = existing.and_then(|a| {
        a.nats
            .signing_keys
            .iter()
            .find(|k| k.scope().is_none())
            .map(|k| k.key().to_string())
    });
    let signing = keep_or_new(
        layout,
        old_signing.as_deref(),
        Role::Account,
        &format!("signing key of account {name:?}"),
    )?;
    let mut keys = BTreeMap::new();
    for role in roles {
        let old = existing.and_then(|a| {
            a.nats
                .signing_keys
                .iter()
                .filter_map(SigningKey::scope)
                .find(|s| s.role == role)
                .map(|s| s.key.clone())
        });
        let seed = keep_or_new(
            layout,
            old.as_deref(),
            Role::Account,
            &format!("scoped key of role {role:?} in account {name:?}"),
        )?;
        keys.insert(role, seed);
    }
    Ok(AccountKeys {
        identity,
        signing,
        roles: keys,
    })
}

/// A user to issue.
struct PlannedUser {
    name: String,
    public: PublicNkey,
    seed: Option<Seed>,
    claims: UserClaims,
    signer: Signer,
    /// When the user's sigchain stopped vouching for its key: the revocation time.
    withdrawn: Option<i64>,
}

enum Signer {
    Unscoped,
    Role(String),
}

/// Generates (or updates) the nsc home at `out` from `spec`.
pub fn generate(
    spec: &Spec,
    out: &Path,
    options: &GenerateOptions,
) -> Result<Generated, GenerateError> {
    let non_empty = fs::read_dir(out)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if non_empty && !options.force {
        return Err(GenerateError::Exists {
            path: out.to_owned(),
        });
    }
    let threads = options.thread_count();
    let mut timings = Timings {
        threads,
        ..Timings::default()
    };
    let clock = Instant::now();
    // A fresh output is staged beside `out` and appears at once at the end; the staging
    // directory is removed if anything below fails.
    let target = if non_empty {
        Target::update(out)?
    } else {
        Target::fresh(out)?
    };
    let layout = Layout::new(target.root());
    let op_name = spec.operator.name.as_str();
    let existing = read_existing(&layout, spec)?;
    let now = options.now;

    // Keys: the store's JWTs say which key is which.
    let old_op = existing.operator.as_ref().map(|(_, c)| c);
    let operator = keep_or_new(
        &layout,
        old_op.map(|c| c.data.subject.as_str()),
        Role::Operator,
        &format!("operator {op_name:?}"),
    )?;
    let operator_signing = keep_or_new(
        &layout,
        old_op
            .and_then(|c| c.nats.signing_keys.first())
            .map(String::as_str),
        Role::Operator,
        &format!("signing key of operator {op_name:?}"),
    )?;
    let sys_name = spec.system_account.as_str();
    let names: Vec<&str> = std::iter::once(sys_name)
        .chain(spec.accounts.iter().map(|a| a.name.as_str()))
        .collect();
    // Account keys, the system account first; an error is the first in spec order.
    let all_keys: Vec<AccountKeys> = parallel_map(threads, names.len(), |i| {
        let roles: Vec<String> = match i {
            0 => Vec::new(),
            _ => spec.accounts[i - 1].roles.keys().cloned().collect(),
        };
        account_keys(
            &layout,
            names[i],
            roles.into_iter(),
            existing.accounts.get(names[i]).map(|(_, c)| c),
        )
    })
    .into_iter()
    .collect::<Result<_, _>>()?;
    let account_public: HashMap<&str, PublicNkey> = names
        .iter()
        .zip(&all_keys)
        .map(|(name, k)| (*name, k.identity.public_key()))
        .collect();

    // Users of every account: one flat list shared by the threads, regrouped after.
    let sys_user = plan_sys_user(&layout, spec, &existing, &all_keys[0])?;
    let flat: Vec<(usize, usize)> = spec
        .accounts
        .iter()
        .enumerate()
        .flat_map(|(a, account)| (0..account.users.len()).map(move |u| (a, u)))
        .collect();
    let mut flat_planned = parallel_map(threads, flat.len(), |k| {
        let (a, u) = flat[k];
        let account = &spec.accounts[a];
        plan_user(
            &layout,
            spec,
            account,
            &all_keys[a + 1],
            &account.users[u],
            &existing,
        )
    })
    .into_iter();
    let mut everyone: Vec<Vec<PlannedUser>> = vec![vec![sys_user]];
    for account in &spec.accounts {
        let users = flat_planned
            .by_ref()
            .take(account.users.len())
            .collect::<Result<_, _>>()?;
        everyone.push(users);
    }
    timings.keys = clock.elapsed();
    let clock = Instant::now();

    // Revocations: each revoked key goes to the accounts that have it, else to all.
    let mut revocations: Vec<BTreeMap<String, i64>> = Vec::new();
    let old_accounts: Vec<Option<&AccountClaims>> = names
        .iter()
        .map(|n| existing.accounts.get(*n).map(|(_, c)| c))
        .collect();
    // Keys the users' own sigchains withdrew, with the time of the withdrawing link.
    let mut withdrawn: HashMap<String, i64> = HashMap::new();
    for user in everyone.iter().flatten() {
        if let Some(at) = user.withdrawn {
            let entry = withdrawn.entry(user.public.to_string()).or_insert(at);
            *entry = (*entry).max(at);
        }
    }
    let revoked_users: Vec<String> = options
        .revoked
        .iter()
        .map(|k| k.with_role(Role::User).to_string())
        .collect();
    for (users, old) in everyone.iter().zip(&old_accounts) {
        let mut map = old.map(|a| a.nats.revocations.clone()).unwrap_or_default();
        for user in users {
            if let Some(&at) = withdrawn.get(&user.public.to_string()) {
                // As nats-io/jwt `RevokeAt`: a later time already there is kept.
                let entry = map.entry(user.public.to_string()).or_insert(at);
                *entry = (*entry).max(at);
            }
        }
        for text in &revoked_users {
            let here = users.iter().any(|u| u.public.to_string() == *text);
            let anywhere = everyone
                .iter()
                .any(|us| us.iter().any(|u| u.public.to_string() == *text));
            if here || !anywhere {
                map.entry(text.clone()).or_insert(now);
            }
        }
        revocations.push(map);
    }

    // Account JWTs.
    let account_jwts: Vec<String> = parallel_map(threads, names.len(), |i| {
        let claims = account_claims(
            names[i],
            i.checked_sub(1).map(|a| &spec.accounts[a]),
            &all_keys[i],
            &account_public,
            &revocations[i],
        );
        sign_if_changed(
            claims,
            existing.accounts.get(names[i]),
            &operator_signing,
            now,
        )
    })
    .into_iter()
    .collect::<Result<_, _>>()?;

    // Operator JWT.
    let mut op_claims = OperatorClaims::new(operator.public_key().to_string());
    op_claims.data.name = op_name.to_string();
    op_claims.nats.signing_keys = vec![operator_signing.public_key().to_string()];
    op_claims.nats.system_account = all_keys[0].identity.public_key().to_string();
    op_claims.nats.strict_signing_key_usage = spec.operator.strict_signing_keys;
    let operator_jwt = sign_if_changed(op_claims, existing.operator.as_ref(), &operator, now)?;

    // User JWTs and `.creds`. A revoked user is never re-signed: a newer iat would
    // outlive the revocation. Its JWT stays (so its key stays known and revoked); its
    // `.creds` go.
    let flat: Vec<(usize, usize)> = everyone
        .iter()
        .enumerate()
        .flat_map(|(i, users)| (0..users.len()).map(move |u| (i, u)))
        .collect();
    let mut issued = parallel_map(threads, flat.len(), |k| {
        let (i, u) = flat[k];
        let user = &everyone[i][u];
        if revocations[i].contains_key(&user.public.to_string()) {
            return Ok(None);
        }
        let keys = &all_keys[i];
        let signer = match &user.signer {
            Signer::Unscoped => &keys.signing,
            Signer::Role(role) => keys.roles.get(role).unwrap_or(&keys.signing),
        };
        let old = existing
            .users
            .get(&(names[i].to_string(), user.name.clone()));
        let jwt = sign_if_changed(user.claims.clone(), old, signer, now)?;
        let creds = user.seed.as_ref().map(|seed| creds::format(&jwt, seed));
        Ok::<_, GenerateError>(Some((jwt, creds)))
    })
    .into_iter();
    timings.signing = clock.elapsed();
    let clock = Instant::now();

    // What to write. Keys first, so that no JWT on disk ever names a key that is not
    // there: a batch of their own when updating in place.
    let mut key_ops = Vec::new();
    let mut seeds: Vec<&Seed> = vec![&operator, &operator_signing];
    for k in &all_keys {
        seeds.push(&k.identity);
        seeds.push(&k.signing);
        seeds.extend(k.roles.values());
    }
    seeds.extend(everyone.iter().flatten().filter_map(|u| u.seed.as_ref()));
    let mut keys_unchanged = Vec::new();
    for seed in seeds {
        let path = layout.key(&seed.public_key());
        if !target.is_fresh() && key_file_holds(&path, seed) {
            // The same seed: nothing to write.
            keys_unchanged.push(path);
            continue;
        }
        key_ops.push(Op::write(path, Contents::Secret(seed.to_text()), FILE_MODE));
    }
    key_ops.push(Op::write(
        layout.keystore().join(".gitignore"),
        Contents::Static(layout::GITIGNORE),
        FILE_MODE,
    ));

    // The store.
    let mut ops = vec![
        Op::write(
            layout.nsc_file(op_name),
            Contents::Public(layout::nsc_file_contents(op_name)),
            FILE_MODE,
        ),
        Op::write(
            layout.operator_jwt(op_name),
            Contents::Public(operator_jwt.clone()),
            FILE_MODE,
        ),
    ];
    let mut generated = Vec::new();
    for (i, name) in names.iter().enumerate() {
        ops.push(Op::write(
            layout.account_jwt(op_name, name),
            Contents::Public(account_jwts[i].clone()),
            FILE_MODE,
        ));
        ops.push(Op::Dir(
            layout.account_jwt(op_name, name).with_file_name("users"),
        ));
        let mut users_out = Vec::new();
        for user in &everyone[i] {
            let jwt_path = layout.user_jwt(op_name, name, &user.name);
            let creds_path = layout.creds(op_name, name, &user.name);
            let Some((jwt, creds)) = issued.next().transpose()?.flatten() else {
                ops.push(Op::Remove(creds_path));
                users_out.push(GeneratedUser {
                    name: user.name.clone(),
                    public_key: user.public,
                    jwt: jwt_path.exists().then_some(jwt_path),
                    creds: None,
                    revoked: true,
                });
                continue;
            };
            ops.push(Op::write(
                jwt_path.clone(),
                Contents::Public(jwt),
                FILE_MODE,
            ));
            let creds_out = creds.map(|text| {
                ops.push(Op::write(
                    creds_path.clone(),
                    Contents::Secret(text),
                    FILE_MODE,
                ));
                creds_path
            });
            users_out.push(GeneratedUser {
                name: user.name.clone(),
                public_key: user.public,
                jwt: Some(jwt_path),
                creds: creds_out,
                revoked: false,
            });
        }
        generated.push(GeneratedAccount {
            name: name.to_string(),
            public_key: all_keys[i].identity.public_key(),
            users: users_out,
        });
    }

    // The server configs.
    let config = OperatorConfig {
        operator_name: op_name,
        operator_jwt: &operator_jwt,
        system_account: all_keys[0].identity.public_key().to_string(),
        accounts: names
            .iter()
            .zip(&account_jwts)
            .zip(&all_keys)
            .map(|((name, jwt), k)| PreloadAccount {
                name,
                public_key: k.identity.public_key().to_string(),
                jwt,
            })
            .collect(),
    };
    ops.push(Op::Dir(layout.resolver_dir()));
    ops.push(Op::write(
        layout.memory_conf(),
        Contents::Public(config.memory()),
        CONFIG_MODE,
    ));
    ops.push(Op::write(
        layout.full_conf(),
        Contents::Public(config.full(&layout.resolver_dir())),
        CONFIG_MODE,
    ));

    // Write: staged, everything in one pass and one barrier before the rename; in
    // place, the keys and then the rest, each batch made durable.
    let (keys_outcome, outcome) = if target.is_staged() {
        key_ops.append(&mut ops);
        let outcome = target.apply(&key_ops, threads)?;
        timings.writing = clock.elapsed();
        let clock = Instant::now();
        target.barrier(&outcome)?;
        timings.syncing = clock.elapsed();
        (Outcome::default(), outcome)
    } else {
        let keys_outcome = target.apply(&key_ops, threads)?;
        let write_keys = clock.elapsed();
        let sync_clock = Instant::now();
        target.barrier(&keys_outcome)?;
        let sync_keys = sync_clock.elapsed();
        let clock = Instant::now();
        let outcome = target.apply(&ops, threads)?;
        timings.writing = write_keys + clock.elapsed();
        let clock = Instant::now();
        target.barrier(&outcome)?;
        timings.syncing = sync_keys + clock.elapsed();
        (keys_outcome, outcome)
    };
    let clock = Instant::now();
    let root = target.root().to_owned();
    target.commit()?;
    timings.syncing += clock.elapsed();

    let mut written = keys_outcome.written;
    written.extend(outcome.written);
    let mut unchanged = keys_unchanged;
    unchanged.extend(keys_outcome.unchanged);
    unchanged.extend(outcome.unchanged);
    debug_assert_eq!(root, *layout.root());
    Ok(Generated {
        operator: operator.public_key(),
        system_account: all_keys[0].identity.public_key(),
        accounts: generated,
        memory_config: layout.memory_conf(),
        full_config: layout.full_conf(),
        written,
        unchanged,
        removed: outcome.removed,
        timings,
        layout,
    })
}

/// Whether the key file at `path` holds `seed` (compared without deriving either key).
fn key_file_holds(path: &Path, seed: &Seed) -> bool {
    fs::read_to_string(path)
        .ok()
        .and_then(|text| Seed::parse(text.trim()).ok())
        .is_some_and(|found| found.same_as(seed))
}

fn account_claims(
    name: &str,
    spec: Option<&AccountSpec>,
    keys: &AccountKeys,
    accounts: &HashMap<&str, PublicNkey>,
    revocations: &BTreeMap<String, i64>,
) -> AccountClaims {
    let mut claims = AccountClaims::new(keys.identity.public_key().to_string());
    claims.data.name = name.to_string();
    let mut signing_keys = vec![SigningKey::Key(keys.signing.public_key().to_string())];
    claims.nats.revocations = revocations.clone();
    let Some(spec) = spec else {
        claims.nats.signing_keys = signing_keys;
        return claims;
    };
    claims.nats.description = spec.description.clone();
    let (limits, l) = (&mut claims.nats.limits, &spec.limits);
    limits.nats.subs = l.subs;
    limits.nats.data = l.data;
    limits.nats.payload = l.payload;
    limits.account.imports = l.imports;
    limits.account.exports = l.exports;
    limits.account.wildcard_exports = l.wildcards;
    limits.account.disallow_bearer = l.disallow_bearer;
    limits.account.conn = l.conn;
    limits.account.leaf = l.leaf;
    if let Some(js) = &spec.jetstream {
        limits.jetstream = JetStreamLimits {
            mem_storage: js.mem_storage,
            disk_storage: js.disk_storage,
            streams: js.streams,
            consumer: js.consumer,
            max_ack_pending: js.max_ack_pending,
            mem_max_stream_bytes: js.mem_max_stream_bytes,
            disk_max_stream_bytes: js.disk_max_stream_bytes,
            max_bytes_required: js.max_bytes_required,
        };
    }
    for export in &spec.exports {
        claims.nats.exports.push(Export {
            name: export.name.clone(),
            subject: export.subject.clone(),
            export_type: Some(export.export_type),
            response_type: export.response_type.clone().unwrap_or_default(),
            description: export.description.clone(),
            ..Export::default()
        });
    }
    // nats-io/jwt sorts exports and imports by subject before encoding.
    claims
        .nats
        .exports
        .sort_by(|a, b| a.subject.cmp(&b.subject));
    for import in &spec.imports {
        claims.nats.imports.push(Import {
            name: import.name.clone(),
            subject: import.subject.clone(),
            account: accounts
                .get(import.account.as_str())
                .map_or_else(|| import.account.clone(), ToString::to_string),
            local_subject: import.local_subject.clone().unwrap_or_default(),
            import_type: Some(import.import_type),
            ..Import::default()
        });
    }
    claims
        .nats
        .imports
        .sort_by(|a, b| a.subject.cmp(&b.subject));
    for (role, seed) in &keys.roles {
        let Some(role_spec) = spec.roles.get(role) else {
            continue;
        };
        signing_keys.push(SigningKey::Scoped(Box::new(UserScope {
            kind: USER_SCOPE_KIND.to_string(),
            key: seed.public_key().to_string(),
            role: role.clone(),
            template: role_template(role_spec),
            description: role_spec.description.clone(),
        })));
    }
    claims.nats.signing_keys = signing_keys;
    claims
}

/// The seed of the user `name` of `account`: the one of its existing JWT's subject when the
/// store holds that seed, else a new one.
fn user_seed(
    layout: &Layout,
    existing: &Existing,
    account: &str,
    name: &str,
) -> Result<Seed, GenerateError> {
    let old = existing
        .users
        .get(&(account.to_string(), name.to_string()))
        .map(|(_, c)| c.data.subject.as_str());
    let seed = match old {
        Some(public) => load_seed(layout, public)?,
        None => None,
    };
    match seed {
        Some(seed) => Ok(seed),
        None => Ok(Seed::generate(Role::User)?),
    }
}

fn plan_sys_user(
    layout: &Layout,
    spec: &Spec,
    existing: &Existing,
    keys: &AccountKeys,
) -> Result<PlannedUser, GenerateError> {
    let seed = user_seed(layout, existing, &spec.system_account, "sys")?;
    let role = RoleSpec {
        allow_all: true,
        subs: NO_LIMIT,
        data: NO_LIMIT,
        payload: NO_LIMIT,
        ..RoleSpec::default()
    };
    let mut claims = UserClaims::new(seed.public_key().to_string());
    claims.data.name = "sys".to_string();
    claims.nats.permissions = role_template(&role);
    claims.nats.issuer_account = keys.identity.public_key().to_string();
    Ok(PlannedUser {
        name: "sys".to_string(),
        public: seed.public_key(),
        seed: Some(seed),
        claims,
        signer: Signer::Unscoped,
        withdrawn: None,
    })
}

/// When `user`'s sigchain stopped vouching for its KEZ key (or `subject`): the time of
/// the withdrawing link, raised to the `iat` of the user's store JWT for that key so that
/// the revocation covers it. `None` without a sigchain, or while the chain vouches.
fn chain_withdrawal(
    spec: &Spec,
    user: &UserSpec,
    public: &PublicNkey,
    old: Option<&UserClaims>,
) -> Result<Option<i64>, GenerateError> {
    let (Some(chain), Some(key)) = (&user.sigchain, &user.kez_key) else {
        return Ok(None);
    };
    let invalid = |m: String| GenerateError::InvalidSpec(format!("user {:?}: {m}", user.name));
    let key = kez_core::PublicKey::parse_canonical(key).map_err(|e| invalid(e.to_string()))?;
    let subject = user.kez_subject().map_err(invalid)?;
    let path = spec.resolve(chain);
    let bytes = fs::read(&path).map_err(io(&path))?;
    let withdrawal =
        crate::sigchain::withdrawal_jsonl(&bytes, &key, subject.as_ref()).map_err(|error| {
            GenerateError::Sigchain {
                user: user.name.clone(),
                path: path.clone(),
                error: Box::new(error),
            }
        })?;
    Ok(withdrawal.map(|w| {
        let at = i64::try_from(w.link.at).unwrap_or(i64::MAX);
        let issued = old
            .filter(|c| c.data.subject == public.to_string())
            .map_or(0, |c| c.data.issued_at);
        at.max(issued)
    }))
}

fn plan_user(
    layout: &Layout,
    spec: &Spec,
    account: &AccountSpec,
    keys: &AccountKeys,
    user: &UserSpec,
    existing: &Existing,
) -> Result<PlannedUser, GenerateError> {
    let invalid = |m: String| GenerateError::InvalidSpec(format!("user {:?}: {m}", user.name));
    let kez = user.kez_user_key().map_err(invalid)?;
    let (public, seed) = match kez {
        Some(public) => (public, None),
        None => {
            let seed = user_seed(layout, existing, &account.name, &user.name)?;
            (seed.public_key(), Some(seed))
        }
    };
    let old = existing
        .users
        .get(&(account.name.clone(), user.name.clone()))
        .map(|(_, c)| c);
    let withdrawn = chain_withdrawal(spec, user, &public, old)?;
    let mut claims = UserClaims::new(public.to_string());
    claims.data.name = user.name.clone();
    claims.data.expires = user.expires_at().map_err(invalid)?;
    claims.nats.issuer_account = keys.identity.public_key().to_string();
    let signer = if let [role] = user.roles.as_slice() {
        // Scoped users carry no permissions or limits of their own.
        claims.nats.permissions = UserPermissionLimits::default();
        Signer::Role(role.clone())
    } else {
        let templates: Vec<UserPermissionLimits> = user
            .roles
            .iter()
            .filter_map(|r| account.roles.get(r))
            .map(role_template)
            .collect();
        claims.nats.permissions = merge(&templates);
        Signer::Unscoped
    };
    Ok(PlannedUser {
        name: user.name.clone(),
        public,
        seed,
        claims,
        signer,
        withdrawn,
    })
}
