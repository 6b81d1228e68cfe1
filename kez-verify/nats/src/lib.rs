//! # kez-nats
//!
//! NATS credentials for KEZ identities, in the formats of nats-io/jwt v2, nsc and
//! nats-server (`docs/NATS.md` lists each format with its upstream source):
//!
//! * [`nkey`]: nkey public keys and seeds; a KEZ Ed25519 key is a NATS user key.
//! * [`claims`], [`jwt`]: operator, account and user JWTs, their `jti`, signing and
//!   verification.
//! * [`creds`]: `.creds` files, written exactly as upstream and read as tolerantly.
//! * [`spec`], [`generate`]: a TOML description of an organisation turned into an NSC
//!   store, keys, `.creds` and two nats-server configs ([`layout`], [`serverconf`]);
//!   [`issue`] issues one user for a person's own KEZ key; [`sigchain`] finds the keys
//!   a KEZ sigchain retired, to revoke them.
//! * [`check`]: checks any of those, including what nats-server silently accepts.
//! * [`callout`]: an auth callout service admitting clients by their KEZ key, its
//!   sigchain and a role mapping (the service itself behind the `callout` feature).
//!
//! ```
//! use kez_nats::check::{self, CheckOptions};
//! use kez_nats::generate::{generate, GenerateOptions};
//! use kez_nats::spec::Spec;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let spec = Spec::parse(r#"
//!     [operator]
//!     name = "acme"
//!     [[accounts]]
//!     name = "APP"
//!     [accounts.roles.worker]
//!     pub_allow = ["jobs.done"]
//!     sub_allow = ["jobs.todo"]
//!     [[accounts.users]]
//!     name = "worker-1"
//!     kind = "service"
//!     roles = ["worker"]
//! "#)?;
//! let dir = tempfile::tempdir()?;
//! let now = 1_767_225_600; // 2026-01-01
//! let generated = generate(&spec, dir.path(), &GenerateOptions::at(now))?;
//! assert!(generated.memory_config.is_file());
//!
//! let report = check::check_with(dir.path(), CheckOptions::at(now))?;
//! assert!(report.findings().is_empty());
//! # Ok(())
//! # }
//! ```

pub mod callout;
pub mod check;
pub mod claims;
pub mod creds;
pub mod generate;
pub mod interop;
pub mod issue;
pub mod jwt;
pub mod layout;
pub mod nkey;
pub mod serverconf;
pub mod sigchain;
pub mod spec;

mod gojson;
mod parallel;
