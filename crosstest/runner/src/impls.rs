//! The implementation registry, `crosstest/impls.toml` (`docs/SCENARIOS.md`, "Implementations";
//! the protocol is `docs/ADAPTER.md`).
//!
//! ```toml
//! schema = 1
//!
//! [[impl]]
//! name = "node"
//! command = ["node", "crosstest/impls/node/src/adapter.mjs"]
//! protocol = 1
//! ops = ["hello", "claim_sign", "claim_verify", "shutdown"]
//! requires = [{ path = "crosstest/impls/node/node_modules", hint = "run `npm ci` in crosstest/impls/node" }]
//! ```
//!
//! Words of `command` and `requires.path` may use `${VAR}` and `${VAR:-default}`; relative
//! paths are taken from the workspace root, where the command also runs.

use crate::Error;
use std::path::{Path, PathBuf};

/// The protocol version this harness speaks (`docs/ADAPTER.md`).
pub const PROTOCOL: u64 = 1;

/// Every op of protocol 1.
pub const KNOWN_OPS: &[&str] = &[
    "hello",
    "canonicalize",
    "sign_raw",
    "verify_raw",
    "claim_sign",
    "encode",
    "decode",
    "claim_verify",
    "chain_build",
    "chain_verify",
    "chain_compare",
    "chain_export",
    "nats_nkey_create",
    "nats_nkey_decode",
    "nats_jwt_encode",
    "nats_jwt_sign_raw",
    "nats_jwt_decode",
    "nats_creds_format",
    "nats_creds_parse",
    "nats_check",
    "shutdown",
];

/// Something that must exist before an adapter can start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// A file or directory (with `${…}` expansion).
    pub path: String,
    /// What to do when it is missing.
    pub hint: String,
}

/// One implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Implementation {
    /// Its name, used in case ids and reports.
    pub name: String,
    /// The adapter command (program and arguments, with `${…}` expansion).
    pub command: Vec<String>,
    /// The adapter protocol version it speaks.
    pub protocol: u64,
    /// The ops it supports; a step with any other op is reported as unsupported.
    pub ops: Vec<String>,
    /// Files that must exist first.
    pub requires: Vec<Requirement>,
}

/// The registry: every implementation, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// The implementations.
    pub impls: Vec<Implementation>,
}

impl Registry {
    /// Read and check a registry file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = crate::read_to_string(path)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse registry text; `name` names it in errors.
    pub fn parse(text: &str, name: &str) -> Result<Self, Error> {
        let err = |m: String| Error::Config(format!("{name}: {m}"));
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| err(e.to_string()))?;
        let mut impls = Vec::new();
        for (k, v) in &table {
            match k.as_str() {
                "schema" => {
                    if v.as_integer() != Some(1) {
                        return Err(err(format!("schema: expected 1, found {v}")));
                    }
                }
                "impl" => {}
                other => {
                    return Err(err(format!(
                        "unknown field `{other}` (expected `schema`, `impl`)"
                    )))
                }
            }
        }
        if table.get("schema").is_none() {
            return Err(err("schema: missing (write `schema = 1`)".into()));
        }
        let Some(list) = table.get("impl").and_then(|v| v.as_array()) else {
            return Err(err(
                "impl: missing; declare implementations as [[impl]] tables".into(),
            ));
        };
        for (i, entry) in list.iter().enumerate() {
            let at = format!("impl[{i}]");
            let Some(t) = entry.as_table() else {
                return Err(err(format!("{at}: expected a table")));
            };
            for k in t.keys() {
                if !["name", "command", "protocol", "ops", "requires"].contains(&k.as_str()) {
                    return Err(err(format!("{at}: unknown field `{k}` (expected `name`, `command`, `protocol`, `ops`, `requires`)")));
                }
            }
            let name = t
                .get("name")
                .and_then(|v| v.as_str())
                .ok_or_else(|| err(format!("{at}.name: missing or not a string")))?
                .to_string();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(err(format!(
                    "{at}.name: {name:?} must be lowercase letters, digits and `-`"
                )));
            }
            if impls.iter().any(|x: &Implementation| x.name == name) {
                return Err(err(format!("{at}.name: {name:?} is declared twice")));
            }
            let strings = |field: &str| -> Result<Vec<String>, Error> {
                let arr = t
                    .get(field)
                    .and_then(|v| v.as_array())
                    .ok_or_else(|| err(format!("{at}.{field}: missing or not an array")))?;
                arr.iter()
                    .enumerate()
                    .map(|(j, v)| {
                        v.as_str().map(str::to_string).ok_or_else(|| {
                            err(format!("{at}.{field}[{j}]: expected a string, found {v}"))
                        })
                    })
                    .collect()
            };
            let command = strings("command")?;
            if command.is_empty() {
                return Err(err(format!("{at}.command: must name a program")));
            }
            let protocol = t
                .get("protocol")
                .and_then(|v| v.as_integer())
                .and_then(|p| u64::try_from(p).ok())
                .ok_or_else(|| err(format!("{at}.protocol: missing or not a whole number")))?;
            let ops = strings("ops")?;
            for (j, op) in ops.iter().enumerate() {
                if !KNOWN_OPS.contains(&op.as_str()) {
                    return Err(err(format!(
                        "{at}.ops[{j}]: {op:?} is not an op of protocol {PROTOCOL} (docs/ADAPTER.md)"
                    )));
                }
            }
            for must in ["hello", "shutdown"] {
                if !ops.iter().any(|o| o == must) {
                    return Err(err(format!(
                        "{at}.ops: every adapter implements `{must}`; add it"
                    )));
                }
            }
            let mut requires = Vec::new();
            if let Some(r) = t.get("requires") {
                let arr = r
                    .as_array()
                    .ok_or_else(|| err(format!("{at}.requires: expected an array of tables")))?;
                for (j, item) in arr.iter().enumerate() {
                    let rt = item.as_table().ok_or_else(|| {
                        err(format!(
                            "{at}.requires[{j}]: expected a table {{ path, hint }}"
                        ))
                    })?;
                    let get = |f: &str| {
                        rt.get(f)
                            .and_then(|v| v.as_str())
                            .map(str::to_string)
                            .ok_or_else(|| {
                                err(format!("{at}.requires[{j}].{f}: missing or not a string"))
                            })
                    };
                    if let Some(k) = rt.keys().find(|k| *k != "path" && *k != "hint") {
                        return Err(err(format!(
                            "{at}.requires[{j}]: unknown field `{k}` (expected `path`, `hint`)"
                        )));
                    }
                    requires.push(Requirement {
                        path: get("path")?,
                        hint: get("hint")?,
                    });
                }
            }
            impls.push(Implementation {
                name,
                command,
                protocol,
                ops,
                requires,
            });
        }
        if impls.is_empty() {
            return Err(err("impl: declares no implementation".into()));
        }
        Ok(Registry { impls })
    }

    /// The implementation called `name`.
    pub fn by_name(&self, name: &str) -> Option<&Implementation> {
        self.impls.iter().find(|i| i.name == name)
    }

    /// Every name, in file order.
    pub fn names(&self) -> Vec<String> {
        self.impls.iter().map(|i| i.name.clone()).collect()
    }
}

/// Expand `${VAR}` and `${VAR:-default}` in `s` from the process environment.
pub fn expand(s: &str) -> Result<String, String> {
    expand_with(s, &|k| std::env::var(k).ok())
}

/// [`expand`] with a given lookup (for tests).
pub fn expand_with(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated ${{ in {s:?}"))?;
        let body = &after[..end];
        let (var, default) = match body.split_once(":-") {
            Some((v, d)) => (v, Some(d)),
            None => (body, None),
        };
        match lookup(var).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(&v),
            None => match default {
                Some(d) => out.push_str(d),
                None => return Err(format!("{s:?}: environment variable {var} is not set")),
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Implementation {
    /// Check the requirements; the error says what is missing and what to do.
    pub fn check_requires(&self, root: &Path) -> Result<(), String> {
        for r in &self.requires {
            let p = expand(&r.path)?;
            let full = root.join(&p);
            if !full.exists() {
                return Err(format!(
                    "implementation {:?}: {} does not exist: {}",
                    self.name,
                    full.display(),
                    r.hint
                ));
            }
        }
        Ok(())
    }

    /// The program and its arguments, expanded; a program path with a `/` is taken from `root`.
    pub fn resolve_command(&self, root: &Path) -> Result<(PathBuf, Vec<String>), String> {
        let mut words = Vec::with_capacity(self.command.len());
        for w in &self.command {
            words.push(expand(w).map_err(|e| format!("implementation {:?}: {e}", self.name))?);
        }
        let program = words.remove(0);
        let program = if program.contains('/') {
            root.join(program)
        } else {
            PathBuf::from(program)
        };
        Ok((program, words))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion() {
        let env = |k: &str| (k == "SET").then(|| "x/y".to_string());
        assert_eq!(
            expand_with("${SET:-a}/b", &env).unwrap(),
            "x/y/b".to_string()
        );
        assert_eq!(expand_with("${UNSET:-a/b}", &env).unwrap(), "a/b");
        assert!(expand_with("${UNSET}", &env).is_err());
        assert!(expand_with("${SET", &env).is_err());
    }

    #[test]
    fn registry_errors_name_the_field() {
        let e = Registry::parse("schema = 1\n[[impl]]\nname = \"a\"\ncommand = []\nprotocol = 1\nops = [\"hello\", \"shutdown\"]\n", "impls.toml")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "impls.toml: impl[0].command: must name a program"
        );
        let e = Registry::parse("schema = 1\n[[impl]]\nname = \"a\"\ncommand = [\"x\"]\nprotocol = 1\nops = [\"hello\", \"frob\"]\n", "impls.toml")
            .unwrap_err();
        assert!(e.to_string().contains("impl[0].ops[1]: \"frob\""), "{e}");
    }
}
