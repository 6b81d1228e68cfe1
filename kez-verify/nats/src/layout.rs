//! Where nsc keeps things, relative to one output directory (nats-io/nsc
//! `cmd/store/store.go`, `cmd/store/keys.go`).
//!
//! With `NSC_HOME` stores under `stores/` and `NKEYS_PATH` at `keys/`, nsc lays out:
//!
//! | path | contents |
//! |---|---|
//! | `stores/<Op>/.nsc` | `{"managed":false,"name":"<Op>","kind":"operator","version":"1"}` |
//! | `stores/<Op>/<Op>.jwt` | the operator JWT, no newline |
//! | `stores/<Op>/accounts/<A>/<A>.jwt` | each account JWT |
//! | `stores/<Op>/accounts/<A>/users/<U>.jwt` | each user JWT |
//! | `keys/keys/<K>/<XY>/<pub>.nk` | each seed, no newline; `<K>` is the public key's first character, `<XY>` the next two |
//! | `keys/creds/<Op>/<A>/<U>.creds` | each user's `.creds` |
//! | `keys/.gitignore` | ignores `*.nk` and `*.creds` |
//!
//! Files are written with mode `0600` and directories `0700`, as nsc does.

use std::path::{Path, PathBuf};

use crate::nkey::PublicNkey;

/// The directory of operator stores.
pub const STORES_DIR: &str = "stores";
/// The key store root (`NKEYS_PATH`).
pub const KEYSTORE_DIR: &str = "keys";
/// The name of a store's descriptor file.
pub const NSC_FILE: &str = ".nsc";
/// The contents nsc writes to the key store's `.gitignore`.
pub const GITIGNORE: &str =
    "# ignore all nk files \n**/*.nk\n\n# ignore all creds files\n**/*.creds\n";
/// The memory resolver config file generated next to the store.
pub const MEMORY_CONF: &str = "nats-server.conf";
/// The full (NATS-based) resolver config file.
pub const FULL_CONF: &str = "nats-server-full.conf";
/// The full resolver's JWT directory.
pub const RESOLVER_DIR: &str = "jwt";

/// The paths of one nsc home: `stores/` and `keys/` under `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// A layout rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `stores/<operator>`.
    pub fn store(&self, operator: &str) -> PathBuf {
        self.root.join(STORES_DIR).join(operator)
    }

    /// `stores/<operator>/.nsc`.
    pub fn nsc_file(&self, operator: &str) -> PathBuf {
        self.store(operator).join(NSC_FILE)
    }

    /// `stores/<operator>/<operator>.jwt`.
    pub fn operator_jwt(&self, operator: &str) -> PathBuf {
        self.store(operator).join(jwt_name(operator))
    }

    /// `stores/<operator>/accounts/<account>/<account>.jwt`.
    pub fn account_jwt(&self, operator: &str, account: &str) -> PathBuf {
        self.store(operator)
            .join("accounts")
            .join(account)
            .join(jwt_name(account))
    }

    /// `stores/<operator>/accounts/<account>/users/<user>.jwt`.
    pub fn user_jwt(&self, operator: &str, account: &str, user: &str) -> PathBuf {
        self.store(operator)
            .join("accounts")
            .join(account)
            .join("users")
            .join(jwt_name(user))
    }

    /// `keys/`.
    pub fn keystore(&self) -> PathBuf {
        self.root.join(KEYSTORE_DIR)
    }

    /// `keys/keys/<K>/<XY>/<pub>.nk`.
    pub fn key(&self, key: &PublicNkey) -> PathBuf {
        key_path(&self.keystore(), &key.to_string())
    }

    /// `keys/creds/<operator>/<account>/<user>.creds`.
    pub fn creds(&self, operator: &str, account: &str, user: &str) -> PathBuf {
        self.keystore()
            .join("creds")
            .join(operator)
            .join(account)
            .join(format!("{user}.creds"))
    }

    /// The memory resolver config.
    pub fn memory_conf(&self) -> PathBuf {
        self.root.join(MEMORY_CONF)
    }

    /// The full resolver config.
    pub fn full_conf(&self) -> PathBuf {
        self.root.join(FULL_CONF)
    }

    /// The full resolver's JWT directory.
    pub fn resolver_dir(&self) -> PathBuf {
        self.root.join(RESOLVER_DIR)
    }
}

/// `<name>.jwt`, the name trimmed as nsc's `SafeName` does.
pub fn jwt_name(name: &str) -> String {
    format!("{}.jwt", name.trim())
}

/// `<keystore>/keys/<K>/<XY>/<pub>.nk` (nsc `GetKeyPath`).
pub fn key_path(keystore: &Path, public: &str) -> PathBuf {
    let kind = public.get(0..1).unwrap_or("_");
    let shard = public.get(1..3).unwrap_or("__");
    keystore
        .join("keys")
        .join(kind)
        .join(shard)
        .join(format!("{public}.nk"))
}

/// The `.nsc` file contents for `operator` (Go's JSON of nsc's `store.Info`).
pub fn nsc_file_contents(operator: &str) -> String {
    #[derive(serde::Serialize)]
    struct Info<'a> {
        managed: bool,
        name: &'a str,
        kind: &'a str,
        version: &'a str,
    }
    let info = Info {
        managed: false,
        name: operator,
        kind: "operator",
        version: "1",
    };
    String::from_utf8(crate::gojson::to_vec(&info).unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_nsc() {
        let layout = Layout::new("/out");
        let key: PublicNkey = "UAFHG6FUD2UU4SDFVAFUL5LDFO2XM4WYM76UNXTPJYJK7EEMYRBHT2VE"
            .parse()
            .unwrap();
        assert_eq!(
            layout.key(&key),
            Path::new(
                "/out/keys/keys/U/AF/UAFHG6FUD2UU4SDFVAFUL5LDFO2XM4WYM76UNXTPJYJK7EEMYRBHT2VE.nk"
            )
        );
        assert_eq!(
            layout.user_jwt("acme", "ORDERS", "alice"),
            Path::new("/out/stores/acme/accounts/ORDERS/users/alice.jwt")
        );
        assert_eq!(
            layout.creds("acme", "ORDERS", "alice"),
            Path::new("/out/keys/creds/acme/ORDERS/alice.creds")
        );
        assert_eq!(
            nsc_file_contents("acme"),
            r#"{"managed":false,"name":"acme","kind":"operator","version":"1"}"#
        );
    }
}
