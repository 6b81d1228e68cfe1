//! Shared helpers for the kez-nats integration tests.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use kez_nats::check::{self, CheckOptions, Code, Report};
use kez_nats::nkey::Seed;

pub mod nats_server;

/// 2026-01-01T00:00:00Z.
pub const NOW: i64 = 1_767_225_600;

/// A spec exercising every feature: limits, JetStream, exports and imports, scoped and
/// multi-role users, a person with a KEZ key, expiry.
pub fn spec_text(kez_key: &str) -> String {
    format!(
        r#"
[operator]
name = "acme"

[[accounts]]
name = "ORDERS"
description = "order processing"
[accounts.limits]
conn = 100
payload = 1048576
[accounts.jetstream]
disk_storage = 1073741824
streams = 10
[[accounts.exports]]
name = "order events"
subject = "orders.events.>"
type = "stream"
[[accounts.exports]]
name = "order lookup"
subject = "orders.lookup"
type = "service"
response_type = "Singleton"
[accounts.roles.reader]
description = "reads order events"
sub_allow = ["orders.events.>", "_INBOX.>"]
pub_allow = ["orders.lookup"]
[accounts.roles.writer]
pub_allow = ["orders.events.>"]
pub_deny = ["orders.events.audit"]
resp_max = 1
resp_ttl_ms = 5000
subs = 100
[[accounts.users]]
name = "alice"
kind = "person"
roles = ["reader"]
kez_key = "{kez_key}"
[[accounts.users]]
name = "bob"
kind = "person"
roles = ["reader", "writer"]
expires = "2030-01-01T00:00:00Z"
[[accounts.users]]
name = "order-service"
kind = "service"
roles = ["writer"]

[[accounts]]
name = "BILLING"
[[accounts.imports]]
name = "orders"
account = "ORDERS"
subject = "orders.events.>"
type = "stream"
local_subject = "imported.orders.>"
[accounts.roles.all]
allow_all = true
[[accounts.users]]
name = "billing-service"
kind = "service"
roles = ["all"]
"#
    )
}

/// Checks `path` at [`NOW`].
pub fn check(path: &Path) -> Report {
    check::check_with(path, CheckOptions::at(NOW)).expect("checkable input")
}

/// The codes of a report's findings.
pub fn codes(report: &Report) -> Vec<Code> {
    report.findings().iter().map(|f| f.code()).collect()
}

/// Signs an arbitrary payload as a v2 JWT (for building defective JWTs).
pub fn sign_payload(payload: &serde_json::Value, signer: &Seed) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap());
    let input = format!("{header}.{body}");
    let sig = URL_SAFE_NO_PAD.encode(signer.sign(input.as_bytes()));
    format!("{input}.{sig}")
}

/// Every regular file under `dir`, with its bytes.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    walk(dir, &mut out);
    out
}

/// The workspace's test vectors: `<workspace>/../shared/vectors/nats`, else
/// `<workspace>/fixtures/vectors/nats`.
pub fn vectors() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = workspace.join("../shared/vectors/nats");
    if shared.is_dir() {
        return shared;
    }
    let fixtures = workspace.join("fixtures/vectors/nats");
    assert!(
        fixtures.is_dir(),
        "no NATS vectors in ../shared/vectors or fixtures/vectors"
    );
    fixtures
}
