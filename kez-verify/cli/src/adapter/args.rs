//! Reading an op's arguments (docs/ADAPTER.md, "Common values").
//!
//! A missing or mistyped argument is a `usage` error naming it by its path
//! (`links[2].signer.secret`); a well-typed value this adapter does not implement (an
//! algorithm, an encoding) is `unsupported`. Messages describe a bad value by its type
//! and never echo it, so secrets cannot leak into them. Hex is read by the CLI's
//! [`hexarg`] helpers (either case, exact lengths). Optional arguments may be absent or
//! `null`.

use kez_core::json::MAX_SAFE_INTEGER;
use kez_core::{Algorithm, Encoding, SecretKey};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::protocol::OpError;
use crate::error::CliError;
use crate::hexarg;

/// The arguments of an op, or a nested object of them, with the path that names it.
#[derive(Debug, Clone)]
pub(crate) struct Args<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A hexarg error as a usage error (its messages never show secret characters).
fn usage(error: CliError) -> OpError {
    OpError::usage(error.to_string())
}

/// Reads an integer time or count: 0 to 2^53 - 1 (SPEC.md §2.3).
fn integer(value: &Value) -> Option<u64> {
    let Value::Number(n) = value else {
        return None;
    };
    if let Some(u) = n.as_u64() {
        return (u <= MAX_SAFE_INTEGER).then_some(u);
    }
    // 1.0 and 1e3 are integers in JSON's number model; the strict parser keeps them f64.
    n.as_f64()
        .filter(|f| f.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER as f64).contains(f))
        .map(|f| f as u64)
}

impl<'a> Args<'a> {
    /// The top-level arguments of a request.
    pub(crate) fn new(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            path: String::new(),
        }
    }

    /// The name of member `name` for messages.
    pub(crate) fn name(&self, name: &str) -> String {
        format!("{}{name}", self.path)
    }

    fn missing(&self, name: &str) -> OpError {
        OpError::usage(format!("missing argument {}", self.name(name)))
    }

    fn mistyped(&self, name: &str, expected: &str, found: &Value) -> OpError {
        OpError::usage(format!(
            "argument {}: expected {expected}, found {}",
            self.name(name),
            type_name(found)
        ))
    }

    /// The value of `name`, `None` when absent or null.
    fn optional(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn required(&self, name: &str) -> Result<&'a Value, OpError> {
        self.optional(name).ok_or_else(|| self.missing(name))
    }

    /// A string argument.
    pub(crate) fn string(&self, name: &str) -> Result<&'a str, OpError> {
        self.opt_string(name)?.ok_or_else(|| self.missing(name))
    }

    /// An optional string argument.
    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<&'a str>, OpError> {
        match self.optional(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.mistyped(name, "a string", other)),
        }
    }

    /// An integer time (Unix seconds).
    pub(crate) fn time(&self, name: &str) -> Result<u64, OpError> {
        self.opt_time(name)?.ok_or_else(|| self.missing(name))
    }

    /// An optional integer time (Unix seconds).
    pub(crate) fn opt_time(&self, name: &str) -> Result<Option<u64>, OpError> {
        match self.optional(name) {
            None => Ok(None),
            Some(value) => integer(value)
                .map(Some)
                .ok_or_else(|| self.mistyped(name, "an integer from 0 to 9007199254740991", value)),
        }
    }

    /// An array argument.
    pub(crate) fn array(&self, name: &str) -> Result<&'a [Value], OpError> {
        self.opt_array(name)?.ok_or_else(|| self.missing(name))
    }

    /// An optional array argument.
    pub(crate) fn opt_array(&self, name: &str) -> Result<Option<&'a [Value]>, OpError> {
        match self.optional(name) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.mistyped(name, "an array", other)),
        }
    }

    /// An array of strings.
    pub(crate) fn strings(&self, name: &str) -> Result<Vec<&'a str>, OpError> {
        self.opt_strings(name)?.ok_or_else(|| self.missing(name))
    }

    /// An optional array of strings.
    pub(crate) fn opt_strings(&self, name: &str) -> Result<Option<Vec<&'a str>>, OpError> {
        let Some(items) = self.opt_array(name)? else {
            return Ok(None);
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .ok_or_else(|| self.mistyped(&format!("{name}[{i}]"), "a string", item))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// An optional object argument.
    pub(crate) fn opt_object(&self, name: &str) -> Result<Option<&'a Map<String, Value>>, OpError> {
        match self.optional(name) {
            None => Ok(None),
            Some(Value::Object(members)) => Ok(Some(members)),
            Some(other) => Err(self.mistyped(name, "an object", other)),
        }
    }

    /// Lowercase (or uppercase) hex bytes of any even length.
    pub(crate) fn hex(&self, name: &str) -> Result<Vec<u8>, OpError> {
        hexarg::decode(&self.name(name), self.string(name)?, None).map_err(usage)
    }

    /// Optional hex of exactly 32 bytes (BIP-340 `aux_rand`).
    pub(crate) fn opt_aux(&self, name: &str) -> Result<Option<[u8; 32]>, OpError> {
        self.opt_string(name)?
            .map(|text| hexarg::decode_array::<32>(&self.name(name), text).map_err(usage))
            .transpose()
    }

    /// A signature suite, `"ed25519"` or `"bip340"`; another name is unsupported.
    pub(crate) fn algorithm(&self, name: &str) -> Result<Algorithm, OpError> {
        let text = self.string(name)?;
        text.parse().map_err(|_| {
            OpError::unsupported(format!(
                "argument {}: unsupported algorithm {:?} (expected \"ed25519\" or \"bip340\")",
                self.name(name),
                text.chars().take(24).collect::<String>()
            ))
        })
    }

    /// A claim encoding name; another name is unsupported.
    pub(crate) fn encoding(&self, name: &str) -> Result<Encoding, OpError> {
        self.opt_encoding(name)?.ok_or_else(|| self.missing(name))
    }

    /// An optional claim encoding name; another name is unsupported.
    pub(crate) fn opt_encoding(&self, name: &str) -> Result<Option<Encoding>, OpError> {
        self.opt_string(name)?
            .map(|text| {
                text.parse::<Encoding>()
                    .map_err(|e| OpError::unsupported(format!("argument {}: {e}", self.name(name))))
            })
            .transpose()
    }

    /// A secret key object `{"alg", "secret": "<64 hex>"}`.
    pub(crate) fn secret_key(&self, name: &str) -> Result<SecretKey, OpError> {
        let key = self.nested(name)?;
        let algorithm = key.algorithm("alg")?;
        key.secret("secret", algorithm)
    }

    /// A secret of `algorithm` in hex: the Ed25519 seed or the BIP-340 scalar.
    pub(crate) fn secret(&self, name: &str, algorithm: Algorithm) -> Result<SecretKey, OpError> {
        let secret: Zeroizing<[u8; 32]> =
            hexarg::decode_secret(&self.name(name), self.string(name)?).map_err(usage)?;
        SecretKey::from_bytes(algorithm, &secret)
            .map_err(|e| OpError::usage(format!("argument {}: {e}", self.name(name))))
    }

    /// The object at `name`, as arguments named under it.
    pub(crate) fn nested(&self, name: &str) -> Result<Args<'a>, OpError> {
        self.item(name, self.required(name)?)
    }

    /// `value`, which was found at `name` (say `links[2]`), as arguments named under it.
    pub(crate) fn item(&self, name: &str, value: &'a Value) -> Result<Args<'a>, OpError> {
        let Value::Object(map) = value else {
            return Err(self.mistyped(name, "an object", value));
        };
        Ok(Args {
            map,
            path: format!("{}.", self.name(name)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::protocol::ErrorKind;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(m) => m,
            _ => unreachable!("test input is an object"),
        }
    }

    #[test]
    fn times_are_safe_integers() {
        let m = map(serde_json::json!({"a": 5, "b": 1e3, "c": -1, "d": 1.5, "e": "5", "f": null}));
        let args = Args::new(&m);
        assert_eq!(args.time("a"), Ok(5));
        assert_eq!(args.time("b"), Ok(1000));
        assert_eq!(args.time("c").unwrap_err().kind, ErrorKind::Usage);
        assert!(args.time("d").is_err() && args.time("e").is_err());
        assert_eq!(args.opt_time("f"), Ok(None));
        assert_eq!(args.time("f").unwrap_err().message, "missing argument f");
    }

    #[test]
    fn a_bad_secret_is_never_echoed() {
        let secret = "c0ffee".repeat(10);
        let m =
            map(serde_json::json!({"key": {"alg": "ed25519", "secret": format!("{secret}zz")}}));
        let err = Args::new(&m).secret_key("key").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Usage);
        assert!(err.message.starts_with("key.secret"), "{}", err.message);
        assert!(!err.message.contains("c0ffee"), "{}", err.message);
    }

    #[test]
    fn unknown_algorithms_and_encodings_are_unsupported() {
        let m = map(serde_json::json!({"alg": "rsa", "to": "yaml", "n": 3}));
        let args = Args::new(&m);
        assert_eq!(
            args.algorithm("alg").unwrap_err().kind,
            ErrorKind::Unsupported
        );
        assert_eq!(
            args.opt_encoding("to").unwrap_err().kind,
            ErrorKind::Unsupported
        );
        assert_eq!(args.algorithm("n").unwrap_err().kind, ErrorKind::Usage);
    }
}
