//! The organisation description [`crate::generate`] turns into NATS credentials: a TOML
//! file with one operator, its accounts (limits, JetStream, exports, imports), roles
//! (permissions) and users (people and services). The schema is in `docs/NATS.md`.
//!
//! Unknown keys are errors: a misspelt permission must not silently grant everything,
//! which is exactly what NATS does with a misspelt member of a JWT.
//!
//! ```
//! let spec = kez_nats::spec::Spec::parse(r#"
//!     [operator]
//!     name = "acme"
//!
//!     [[accounts]]
//!     name = "ORDERS"
//!     [accounts.roles.reader]
//!     sub_allow = ["orders.>"]
//!     [[accounts.users]]
//!     name = "alice"
//!     kind = "person"
//!     roles = ["reader"]
//! "#)?;
//! assert_eq!(spec.accounts[0].users[0].roles, ["reader"]);
//! # Ok::<(), kez_nats::spec::SpecError>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::claims::ExportType;
use crate::nkey::{PublicNkey, Role};

/// The default name of the system account.
pub const DEFAULT_SYSTEM_ACCOUNT: &str = "SYS";

/// Why a spec was refused. Errors name the offending field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        #[source]
        error: std::io::Error,
    },
    /// The text is not TOML of the schema (unknown keys included).
    #[error("{0}")]
    Toml(String),
    /// A field has a value the schema refuses.
    #[error("{field}: {message}")]
    Invalid {
        /// The field, e.g. `accounts[1].users[0].roles`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl SpecError {
    /// The stable kind: always `malformed` (`transport` for I/O).
    pub fn kind(&self) -> &'static str {
        match self {
            SpecError::Io { .. } => "transport",
            _ => "malformed",
        }
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The whole description.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Spec {
    /// The operator.
    pub operator: OperatorSpec,
    /// The system account's name (default `SYS`); it is always generated, with one user
    /// `sys`.
    #[serde(default = "default_system_account")]
    pub system_account: String,
    /// The accounts.
    #[serde(default)]
    pub accounts: Vec<AccountSpec>,
    /// The directory relative paths in the spec (`sigchain`) are resolved against: the
    /// spec file's directory with [`Spec::from_file`], else the working directory.
    #[serde(skip)]
    pub base_dir: Option<PathBuf>,
}

fn default_system_account() -> String {
    DEFAULT_SYSTEM_ACCOUNT.to_string()
}

fn default_true() -> bool {
    true
}

/// `[operator]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OperatorSpec {
    /// The operator's name (the store directory's name).
    pub name: String,
    /// Require accounts to be signed by the operator's signing key, never its identity
    /// key (`strict_signing_key_usage`). Default true.
    #[serde(default = "default_true")]
    pub strict_signing_keys: bool,
}

/// `[[accounts]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AccountSpec {
    /// The account's name.
    pub name: String,
    /// A description for people.
    #[serde(default)]
    pub description: String,
    /// Connection and message limits; unlimited when absent.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// JetStream limits; JetStream is off when absent.
    #[serde(default)]
    pub jetstream: Option<JetStreamSpec>,
    /// Exports.
    #[serde(default)]
    pub exports: Vec<ExportSpec>,
    /// Imports.
    #[serde(default)]
    pub imports: Vec<ImportSpec>,
    /// Roles, by name.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleSpec>,
    /// Users.
    #[serde(default)]
    pub users: Vec<UserSpec>,
}

fn unlimited() -> i64 {
    -1
}

/// `[accounts.limits]`; `-1` is unlimited, the default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LimitsSpec {
    /// Active connections.
    #[serde(default = "unlimited")]
    pub conn: i64,
    /// Leaf node connections.
    #[serde(default = "unlimited")]
    pub leaf: i64,
    /// Subscriptions.
    #[serde(default = "unlimited")]
    pub subs: i64,
    /// Bytes.
    #[serde(default = "unlimited")]
    pub data: i64,
    /// Largest message payload, bytes.
    #[serde(default = "unlimited")]
    pub payload: i64,
    /// Imports.
    #[serde(default = "unlimited")]
    pub imports: i64,
    /// Exports.
    #[serde(default = "unlimited")]
    pub exports: i64,
    /// Wildcard exports allowed (default true).
    #[serde(default = "default_true")]
    pub wildcards: bool,
    /// Refuse bearer-token user JWTs.
    #[serde(default)]
    pub disallow_bearer: bool,
}

impl Default for LimitsSpec {
    fn default() -> Self {
        Self {
            conn: -1,
            leaf: -1,
            subs: -1,
            data: -1,
            payload: -1,
            imports: -1,
            exports: -1,
            wildcards: true,
            disallow_bearer: false,
        }
    }
}

/// `[accounts.jetstream]`; `-1` is unlimited, the default for storage, streams and
/// consumers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JetStreamSpec {
    /// Memory storage, bytes.
    #[serde(default = "unlimited")]
    pub mem_storage: i64,
    /// Disk storage, bytes.
    #[serde(default = "unlimited")]
    pub disk_storage: i64,
    /// Streams.
    #[serde(default = "unlimited")]
    pub streams: i64,
    /// Consumers.
    #[serde(default = "unlimited")]
    pub consumer: i64,
    /// Unacknowledged messages per consumer (0: server default).
    #[serde(default)]
    pub max_ack_pending: i64,
    /// Largest memory stream, bytes (0: unlimited).
    #[serde(default)]
    pub mem_max_stream_bytes: i64,
    /// Largest disk stream, bytes (0: unlimited).
    #[serde(default)]
    pub disk_max_stream_bytes: i64,
    /// Every stream must declare its maximum size.
    #[serde(default)]
    pub max_bytes_required: bool,
}

/// `[[accounts.exports]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ExportSpec {
    /// A name for people.
    #[serde(default)]
    pub name: String,
    /// The subject exported.
    pub subject: String,
    /// `stream` or `service`.
    #[serde(rename = "type")]
    pub export_type: ExportType,
    /// For services: `Singleton` (default), `Stream` or `Chunked`.
    #[serde(default)]
    pub response_type: Option<String>,
    /// A description.
    #[serde(default)]
    pub description: String,
}

/// `[[accounts.imports]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ImportSpec {
    /// A name for people.
    #[serde(default)]
    pub name: String,
    /// The exporting account: a name in this spec, or an account public key.
    pub account: String,
    /// The subject, as the exporter exports it.
    pub subject: String,
    /// `stream` or `service`.
    #[serde(rename = "type")]
    pub import_type: ExportType,
    /// Where the import appears in this account (default: `subject`).
    #[serde(default)]
    pub local_subject: Option<String>,
}

/// `[accounts.roles.<name>]`: what users holding the role may do. A role becomes a
/// scoped signing key of the account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RoleSpec {
    /// A description for people.
    #[serde(default)]
    pub description: String,
    /// Subjects the user may publish to.
    #[serde(default)]
    pub pub_allow: Vec<String>,
    /// Subjects the user may not publish to.
    #[serde(default)]
    pub pub_deny: Vec<String>,
    /// Subjects the user may subscribe to.
    #[serde(default)]
    pub sub_allow: Vec<String>,
    /// Subjects the user may not subscribe to.
    #[serde(default)]
    pub sub_deny: Vec<String>,
    /// Allow replying to this many responses per request received (`resp.max`).
    #[serde(default)]
    pub resp_max: Option<i64>,
    /// How long the reply permission lasts, milliseconds (`resp.ttl`).
    #[serde(default)]
    pub resp_ttl_ms: Option<i64>,
    /// Subscriptions (-1 unlimited, the default).
    #[serde(default = "unlimited")]
    pub subs: i64,
    /// Bytes (-1 unlimited, the default).
    #[serde(default = "unlimited")]
    pub data: i64,
    /// Largest payload (-1 unlimited, the default).
    #[serde(default = "unlimited")]
    pub payload: i64,
    /// Client networks allowed (CIDR); any when empty.
    #[serde(default)]
    pub src: Vec<String>,
    /// Connection types allowed (`STANDARD`, `WEBSOCKET`, `LEAFNODE`, `MQTT`, …); any
    /// when empty.
    #[serde(default)]
    pub allowed_connection_types: Vec<String>,
    /// Connect with the JWT alone, without proving the user key.
    #[serde(default)]
    pub bearer_token: bool,
    /// Say so to grant every subject: a role with no allow or deny list is refused
    /// otherwise, since NATS reads "no permissions" as "everything".
    #[serde(default)]
    pub allow_all: bool,
}

impl RoleSpec {
    /// Why the role cannot stand as written, if it cannot: it lists no subjects and
    /// does not set `allow_all` (NATS would allow everything), or does both.
    pub(crate) fn grant_error(&self) -> Option<&'static str> {
        let grants = !(self.pub_allow.is_empty()
            && self.pub_deny.is_empty()
            && self.sub_allow.is_empty()
            && self.sub_deny.is_empty());
        if !grants && !self.allow_all {
            return Some(
                "no pub_allow, pub_deny, sub_allow or sub_deny: NATS would let its users publish and subscribe to everything; list subjects, or set allow_all = true",
            );
        }
        if grants && self.allow_all {
            return Some("allow_all = true with subject lists");
        }
        None
    }
}

/// What a user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserKind {
    /// A person; may bring a KEZ key.
    Person,
    /// A service; always gets a generated key.
    Service,
}

/// `[[accounts.users]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct UserSpec {
    /// The user's name.
    pub name: String,
    /// A person or a service.
    pub kind: UserKind,
    /// The roles held (at least one).
    pub roles: Vec<String>,
    /// Expiry, RFC 3339 (e.g. `2027-01-01T00:00:00Z`).
    #[serde(default)]
    pub expires: Option<String>,
    /// A person's KEZ key (`ed25519:<hex>`), used as the user key: no seed is
    /// generated and no `.creds` written; the person issues their own with
    /// `kez-verify nats user`.
    #[serde(default)]
    pub kez_key: Option<String>,
    /// The person's KEZ sigchain (a JSONL file; relative to the spec file), which must
    /// hold `kez_key` as a primary or device key. Once the chain rotates the key away or
    /// withdraws the device — or revokes every claim of `subject` — the next
    /// [`crate::generate`] revokes the user key, at the time of that link.
    #[serde(default)]
    pub sigchain: Option<String>,
    /// The KEZ identity (e.g. `github:alice`) whose claims in `sigchain` vouch for the
    /// person; optional, needs `sigchain`.
    #[serde(default)]
    pub subject: Option<String>,
}

impl UserSpec {
    /// The expiry as Unix seconds, 0 when none.
    pub fn expires_at(&self) -> Result<i64, String> {
        match &self.expires {
            None => Ok(0),
            Some(text) => {
                let time = humantime::parse_rfc3339(text)
                    .map_err(|e| format!("{text:?} is not an RFC 3339 time: {e}"))?;
                let secs = time
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_err(|_| format!("{text:?} is before 1970"))?
                    .as_secs();
                i64::try_from(secs).map_err(|_| format!("{text:?} is too far away"))
            }
        }
    }

    /// The `subject`, parsed, if one is given.
    pub fn kez_subject(&self) -> Result<Option<kez_core::Identity>, String> {
        self.subject
            .as_deref()
            .map(|text| kez_core::Identity::parse(text).map_err(|e| e.to_string()))
            .transpose()
    }

    /// The user nkey of the KEZ key, if one is given.
    pub fn kez_user_key(&self) -> Result<Option<PublicNkey>, String> {
        let Some(text) = &self.kez_key else {
            return Ok(None);
        };
        let key = kez_core::PublicKey::parse_canonical(text).map_err(|e| e.to_string())?;
        PublicNkey::from_kez(&key)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

fn check_name(field: &str, name: &str) -> Result<(), SpecError> {
    let bad = name.is_empty()
        || name.trim() != name
        || name.starts_with('.')
        || name.len() > 128
        || name.chars().any(|c| {
            c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
        });
    if bad {
        return Err(invalid(
            field,
            format!("{name:?} cannot be a file name (1-128 characters, no / \\ : * ? \" < > |, no control characters, no leading dot or surrounding spaces)"),
        ));
    }
    Ok(())
}

impl Spec {
    /// Parses and validates spec text.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let spec: Spec = toml::from_str(text).map_err(|e| SpecError::Toml(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Reads, parses and validates a spec file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SpecError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|error| SpecError::Io {
            path: path.display().to_string(),
            error,
        })?;
        let mut spec = Self::parse(&text)?;
        spec.base_dir = Some(path.parent().unwrap_or(Path::new("")).to_owned());
        Ok(spec)
    }

    /// A path of the spec (`sigchain`), resolved against [`Spec::base_dir`].
    pub fn resolve(&self, path: &str) -> PathBuf {
        match &self.base_dir {
            Some(base) => base.join(path),
            None => PathBuf::from(path),
        }
    }

    /// The account named `name`.
    pub fn account(&self, name: &str) -> Option<&AccountSpec> {
        self.accounts.iter().find(|a| a.name == name)
    }

    fn validate(&self) -> Result<(), SpecError> {
        check_name("operator.name", &self.operator.name)?;
        check_name("system_account", &self.system_account)?;
        let mut names = vec![self.system_account.as_str()];
        for (i, account) in self.accounts.iter().enumerate() {
            let at = format!("accounts[{i}]");
            check_name(&format!("{at}.name"), &account.name)?;
            if names.contains(&account.name.as_str()) {
                return Err(invalid(
                    format!("{at}.name"),
                    format!(
                        "{:?} is used twice (the system account is {:?})",
                        account.name, self.system_account
                    ),
                ));
            }
            names.push(&account.name);
            for (name, role) in &account.roles {
                let field = format!("{at}.roles.{name}");
                if name.is_empty() {
                    return Err(invalid(field, "a role needs a name"));
                }
                if let Some(message) = role.grant_error() {
                    return Err(invalid(field, message));
                }
                for (list, subjects) in [
                    ("pub_allow", &role.pub_allow),
                    ("pub_deny", &role.pub_deny),
                    ("sub_allow", &role.sub_allow),
                    ("sub_deny", &role.sub_deny),
                ] {
                    for subject in subjects {
                        check_subject(
                            &format!("{field}.{list}"),
                            subject,
                            list.starts_with("sub"),
                        )?;
                    }
                }
            }
            let mut users: Vec<&str> = Vec::new();
            for (j, user) in account.users.iter().enumerate() {
                let uat = format!("{at}.users[{j}]");
                check_name(&format!("{uat}.name"), &user.name)?;
                if users.contains(&user.name.as_str()) {
                    return Err(invalid(
                        format!("{uat}.name"),
                        format!("{:?} is used twice", user.name),
                    ));
                }
                users.push(&user.name);
                if user.roles.is_empty() {
                    return Err(invalid(
                        format!("{uat}.roles"),
                        "a user needs at least one role (a user without permissions may do everything)",
                    ));
                }
                for role in &user.roles {
                    if !account.roles.contains_key(role) {
                        return Err(invalid(
                            format!("{uat}.roles"),
                            format!("no role {role:?} in account {:?}", account.name),
                        ));
                    }
                }
                user.expires_at()
                    .map_err(|m| invalid(format!("{uat}.expires"), m))?;
                if user.kez_key.is_some() && user.kind != UserKind::Person {
                    return Err(invalid(
                        format!("{uat}.kez_key"),
                        "only people bring KEZ keys",
                    ));
                }
                user.kez_user_key()
                    .map_err(|m| invalid(format!("{uat}.kez_key"), m))?;
                if user.sigchain.is_some() && user.kez_key.is_none() {
                    return Err(invalid(
                        format!("{uat}.sigchain"),
                        "a sigchain vouches for a KEZ key: give kez_key too",
                    ));
                }
                if user.sigchain.as_deref() == Some("") {
                    return Err(invalid(format!("{uat}.sigchain"), "an empty path"));
                }
                if user.subject.is_some() && user.sigchain.is_none() {
                    return Err(invalid(
                        format!("{uat}.subject"),
                        "a subject is checked in a sigchain: give sigchain too",
                    ));
                }
                user.kez_subject()
                    .map_err(|m| invalid(format!("{uat}.subject"), m))?;
            }
            for (j, export) in account.exports.iter().enumerate() {
                check_subject(
                    &format!("{at}.exports[{j}].subject"),
                    &export.subject,
                    false,
                )?;
                if let Some(rt) = &export.response_type {
                    if export.export_type != ExportType::Service {
                        return Err(invalid(
                            format!("{at}.exports[{j}].response_type"),
                            "only services have a response type",
                        ));
                    }
                    if !matches!(rt.as_str(), "Singleton" | "Stream" | "Chunked") {
                        return Err(invalid(
                            format!("{at}.exports[{j}].response_type"),
                            format!("{rt:?} is not Singleton, Stream or Chunked"),
                        ));
                    }
                }
            }
            for (j, import) in account.imports.iter().enumerate() {
                let field = format!("{at}.imports[{j}]");
                check_subject(&format!("{field}.subject"), &import.subject, false)?;
                if import.account == account.name {
                    return Err(invalid(
                        format!("{field}.account"),
                        "an account cannot import from itself",
                    ));
                }
                if self.account(&import.account).is_none()
                    && !PublicNkey::is_valid(&import.account, Role::Account)
                {
                    return Err(invalid(
                        format!("{field}.account"),
                        format!(
                            "{:?} is neither an account of this spec nor an account public key",
                            import.account
                        ),
                    ));
                }
                if let Some(exporter) = self.account(&import.account) {
                    let exported = exporter.exports.iter().any(|e| {
                        e.export_type == import.import_type
                            && subject_within(&import.subject, &e.subject)
                    });
                    if !exported {
                        return Err(invalid(
                            format!("{field}.subject"),
                            format!(
                                "account {:?} exports no {:?} covering {:?}",
                                exporter.name, import.import_type, import.subject
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Checks a subject as nats-io/jwt's `Subject.Validate` does; subscriptions may carry a
/// queue group after one space.
fn check_subject(field: &str, subject: &str, queue_allowed: bool) -> Result<(), SpecError> {
    let parts: Vec<&str> = subject.split(' ').collect();
    if parts.len() > 2 || (parts.len() == 2 && !queue_allowed) {
        return Err(invalid(field, format!("{subject:?} has spaces")));
    }
    for part in parts {
        if part.is_empty()
            || part.starts_with('.')
            || part.ends_with('.')
            || part.contains("..")
            || part.contains(char::is_whitespace)
        {
            return Err(invalid(
                field,
                format!("{subject:?} is not a valid subject"),
            ));
        }
    }
    Ok(())
}

/// Whether every subject matching `inner` matches `outer` (nats-io/jwt
/// `Subject.IsContainedIn`).
fn subject_within(inner: &str, outer: &str) -> bool {
    let outer: Vec<&str> = outer.split('.').collect();
    let inner: Vec<&str> = inner.split('.').collect();
    for (i, token) in outer.iter().enumerate() {
        if *token == ">" && i == outer.len() - 1 {
            return inner.len() >= outer.len();
        }
        match inner.get(i) {
            None => return false,
            Some(t) if *token != "*" && token != t => return false,
            _ => {}
        }
    }
    inner.len() == outer.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Spec::parse(text).unwrap_err().to_string()
    }

    const HEAD: &str = "[operator]\nname = \"acme\"\n";

    #[test]
    fn refuses_what_would_silently_grant_everything() {
        let unknown = format!(
            "{HEAD}[[accounts]]\nname = \"A\"\n[accounts.roles.r]\npublish_allow = [\"x\"]\n"
        );
        assert!(
            err(&unknown).contains("unknown field `publish_allow`"),
            "{}",
            err(&unknown)
        );
        let empty = format!("{HEAD}[[accounts]]\nname = \"A\"\n[accounts.roles.r]\n");
        assert!(
            err(&empty).contains("accounts[0].roles.r: no pub_allow"),
            "{}",
            err(&empty)
        );
        let no_roles = format!("{HEAD}[[accounts]]\nname = \"A\"\n[[accounts.users]]\nname = \"u\"\nkind = \"service\"\nroles = []\n");
        assert!(
            err(&no_roles).contains("accounts[0].users[0].roles"),
            "{}",
            err(&no_roles)
        );
    }

    #[test]
    fn validates_names_keys_imports_and_times() {
        let cases = [
            (format!("{HEAD}[[accounts]]\nname = \"../x\"\n"), "accounts[0].name"),
            (format!("{HEAD}[[accounts]]\nname = \"SYS\"\n"), "used twice"),
            (format!("{HEAD}[[accounts]]\nname = \"A\"\n[accounts.roles.r]\nallow_all = true\n[[accounts.users]]\nname = \"u\"\nkind = \"service\"\nroles = [\"r\"]\nkez_key = \"ed25519:00\"\n"), "only people"),
            (format!("{HEAD}[[accounts]]\nname = \"A\"\n[accounts.roles.r]\nallow_all = true\n[[accounts.users]]\nname = \"u\"\nkind = \"person\"\nroles = [\"r\"]\nkez_key = \"ed25519:00\"\n"), "accounts[0].users[0].kez_key"),
            (format!("{HEAD}[[accounts]]\nname = \"A\"\n[accounts.roles.r]\nallow_all = true\n[[accounts.users]]\nname = \"u\"\nkind = \"person\"\nroles = [\"r\"]\nexpires = \"tomorrow\"\n"), "accounts[0].users[0].expires"),
            (format!("{HEAD}[[accounts]]\nname = \"A\"\n[[accounts.imports]]\naccount = \"B\"\nsubject = \"x\"\ntype = \"stream\"\n"), "neither an account"),
            (format!("{HEAD}[[accounts]]\nname = \"A\"\n[[accounts.imports]]\naccount = \"B\"\nsubject = \"x.y\"\ntype = \"stream\"\n[[accounts]]\nname = \"B\"\n[[accounts.exports]]\nsubject = \"z.>\"\ntype = \"stream\"\n"), "exports no Stream"),
            (format!("{HEAD}[[accounts]]\nname = \"A\"\n[accounts.roles.r]\npub_allow = [\"a..b\"]\n"), "not a valid subject"),
            (format!("{HEAD}[[accounts]]\nname = \"A\"\n[accounts.roles.r]\nallow_all = true\n[[accounts.users]]\nname = \"u\"\nkind = \"person\"\nroles = [\"r\"]\nsigchain = \"u.jsonl\"\n"), "give kez_key too"),
            (format!("{HEAD}[[accounts]]\nname = \"A\"\n[accounts.roles.r]\nallow_all = true\n[[accounts.users]]\nname = \"u\"\nkind = \"person\"\nroles = [\"r\"]\nsubject = \"github:u\"\n"), "give sigchain too"),
        ];
        for (text, needle) in cases {
            let message = err(&text);
            assert!(message.contains(needle), "{needle}: {message}");
        }
        assert!(subject_within("x.y", "x.>") && subject_within("x.y", "x.*"));
        assert!(!subject_within("x", "x.>") && !subject_within("x.y.z", "x.*"));
    }
}
