//! Expected results and the verdicts read from adapter answers (`docs/SCENARIOS.md`,
//! "Expectations"; outcomes and reasons are SPEC §8.1, §8.2 and, for chains, §7 / §8.6-3).
//!
//! A scenario expects one of:
//! - a verdict: `outcome = "valid"`, or `outcome = "invalid"` with a `reason`, or another SPEC
//!   §8.1 outcome (`revoked`, `expired`, `fork`, `unreachable`);
//! - `outcome = "acceptable"` with `flags`: the result is implementation-defined (the flags say
//!   which SPEC latitude applies); any verdict passes and is recorded;
//! - `error = "<kind>"`: the adapter must answer `ok: false` with that error kind.

use serde_json::Value;
use std::fmt;

/// SPEC §8.1 outcomes.
pub const OUTCOMES: &[&str] = &[
    "valid",
    "invalid",
    "revoked",
    "expired",
    "fork",
    "unreachable",
];

/// SPEC §8.2 claim reasons and the chain reasons of docs/ADAPTER.md (`fork` for chains).
pub const REASONS: &[&str] = &[
    "malformed",
    "unsupported",
    "bad_signature",
    "wrong_subject",
    "unknown_key",
    "device_key",
    "key_retired",
    "key_not_yet_valid",
    "not_yet_valid",
    "not_bound",
    "bad_chain",
    "fork",
];

/// The reason codes of the NATS operations (docs/ADAPTER.md, "NATS operations"): the nkey
/// codes and the finding codes of docs/NATS.md that the NATS ops report.
pub const NATS_REASONS: &[&str] = &[
    "nkey.empty",
    "nkey.whitespace",
    "nkey.padding",
    "nkey.length",
    "nkey.base32",
    "nkey.crc",
    "nkey.role",
    "nkey.form",
    "nkey.wrong_role",
    "jwt.malformed",
    "jwt.v1",
    "jwt.type_missing",
    "jwt.type_other",
    "jwt.version_unsupported",
    "jwt.claims_invalid",
    "jwt.signature_invalid",
    "jwt.issuer_invalid",
    "jwt.subject_invalid",
    "jwt.expired",
    "jwt.not_yet_valid",
    "perm.unknown_field",
    "chain.operator_not_self_signed",
    "chain.signing_key_invalid",
    "chain.account_self_signed",
    "chain.account_untrusted",
    "chain.strict_signing_key",
    "chain.scope_kind_unknown",
    "chain.account_unknown",
    "chain.user_untrusted",
    "chain.issuer_account_missing",
    "chain.scoped_user_has_permissions",
    "chain.bearer_disallowed",
    "chain.user_revoked",
    "creds.malformed",
    "creds.seed_mismatch",
    "creds.not_user",
    "config.operator_missing",
    "config.preload_mismatch",
];

/// Whether `reason` is a reason kind: a SPEC one, or NATS codes joined with `+` (sorted,
/// distinct: a `nats_check` rejection names every error code it found).
pub fn is_reason(reason: &str) -> bool {
    if REASONS.contains(&reason) {
        return true;
    }
    let codes: Vec<&str> = reason.split('+').collect();
    codes.iter().all(|c| NATS_REASONS.contains(c)) && codes.windows(2).all(|w| w[0] < w[1])
}

/// docs/ADAPTER.md error kinds.
pub const ERROR_KINDS: &[&str] = &["unsupported", "usage", "internal"];

/// One verdict: an outcome, and a reason when it is `invalid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// A SPEC §8.1 outcome.
    pub outcome: String,
    /// The reason kind, for `invalid`.
    pub reason: Option<String>,
}

impl Verdict {
    /// `valid`.
    pub fn valid() -> Self {
        Verdict {
            outcome: "valid".into(),
            reason: None,
        }
    }

    /// `invalid` with `reason`.
    pub fn invalid(reason: &str) -> Self {
        Verdict {
            outcome: "invalid".into(),
            reason: Some(reason.into()),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            Some(r) => write!(f, "{}:{}", self.outcome, r),
            None => f.write_str(&self.outcome),
        }
    }
}

/// What a scenario expects of its verdict step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// This verdict for every entry.
    Verdict(Verdict),
    /// Implementation-defined; the flags say why.
    Acceptable {
        /// Why the result may differ (for example `spec-4.4-zero-r-s`).
        flags: Vec<String>,
    },
    /// An adapter error of this kind.
    Error(String),
}

/// A scenario's `expect` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The expected result.
    pub expected: Expected,
    /// How many entries the verdict step must report (claims in a document, default 1).
    pub count: usize,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.expected {
            Expected::Verdict(v) => write!(f, "{v}")?,
            Expected::Acceptable { flags } => write!(f, "acceptable[{}]", flags.join(","))?,
            Expected::Error(k) => write!(f, "error:{k}")?,
        }
        if self.count != 1 {
            write!(f, " ×{}", self.count)?;
        }
        Ok(())
    }
}

/// Read an `expect` table; `at` names it in errors.
pub fn parse(v: &toml::Value, at: &str) -> Result<Expect, String> {
    let t = v
        .as_table()
        .ok_or_else(|| format!("{at}: expected a table such as {{ outcome = \"valid\" }}"))?;
    for k in t.keys() {
        if !["outcome", "reason", "flags", "error", "count"].contains(&k.as_str()) {
            return Err(format!(
                "{at}: unknown field `{k}` (expected `outcome`, `reason`, `flags`, `error`, `count`)"
            ));
        }
    }
    let get_str = |k: &str| -> Result<Option<&str>, String> {
        match t.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| format!("{at}.{k}: expected a string, found {v}")),
        }
    };
    let count = match t.get("count") {
        None => 1,
        Some(v) => v
            .as_integer()
            .and_then(|c| usize::try_from(c).ok())
            .filter(|c| *c >= 1)
            .ok_or_else(|| format!("{at}.count: expected a whole number ≥ 1, found {v}"))?,
    };
    let outcome = get_str("outcome")?;
    let reason = get_str("reason")?;
    let error = get_str("error")?;
    let flags = t.get("flags");
    let expected = match (outcome, error) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{at}: give either `outcome` or `error`, not both"
            ))
        }
        (None, None) => {
            return Err(format!(
                "{at}: missing `outcome` (valid, invalid, revoked, expired, fork, unreachable, acceptable) or `error`"
            ))
        }
        (None, Some(kind)) => {
            if !ERROR_KINDS.contains(&kind) {
                return Err(format!(
                    "{at}.error: {kind:?} is not an adapter error kind (expected one of {})",
                    ERROR_KINDS.join(", ")
                ));
            }
            if reason.is_some() || flags.is_some() {
                return Err(format!(
                    "{at}: `reason` and `flags` do not go with `error`"
                ));
            }
            Expected::Error(kind.to_string())
        }
        (Some("acceptable"), None) => {
            if reason.is_some() {
                return Err(format!(
                    "{at}.reason: an acceptable result has no single reason; say why in `flags`"
                ));
            }
            let arr = flags.and_then(|f| f.as_array()).ok_or_else(|| {
                format!("{at}.flags: `acceptable` needs flags that say why the result is implementation-defined (for example [\"spec-4.4-zero-r-s\"])")
            })?;
            let mut out = Vec::new();
            for (i, f) in arr.iter().enumerate() {
                let s = f
                    .as_str()
                    .filter(|s| {
                        !s.is_empty()
                            && s.chars().all(|c| {
                                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
                            })
                    })
                    .ok_or_else(|| {
                        format!("{at}.flags[{i}]: expected a lowercase kebab-case word, found {f}")
                    })?;
                out.push(s.to_string());
            }
            if out.is_empty() {
                return Err(format!(
                    "{at}.flags: `acceptable` needs at least one flag"
                ));
            }
            Expected::Acceptable { flags: out }
        }
        (Some(o), None) => {
            if !OUTCOMES.contains(&o) {
                return Err(format!(
                    "{at}.outcome: {o:?} is not an outcome (expected one of {}, acceptable)",
                    OUTCOMES.join(", ")
                ));
            }
            if flags.is_some() {
                return Err(format!(
                    "{at}.flags: only an `acceptable` outcome has flags"
                ));
            }
            match (o, reason) {
                ("invalid", None) => {
                    return Err(format!(
                        "{at}.reason: `invalid` needs a reason kind (one of {})",
                        REASONS.join(", ")
                    ))
                }
                ("invalid", Some(r)) if !is_reason(r) => {
                    return Err(format!(
                        "{at}.reason: {r:?} is not a reason kind (expected one of {}, or NATS codes of docs/ADAPTER.md joined with `+` in order)",
                        REASONS.join(", ")
                    ))
                }
                (_, Some(_)) if o != "invalid" => {
                    return Err(format!(
                        "{at}.reason: only `invalid` has a reason (outcome is {o:?})"
                    ))
                }
                _ => {}
            }
            Expected::Verdict(Verdict {
                outcome: o.to_string(),
                reason: reason.map(str::to_string),
            })
        }
    };
    Ok(Expect { expected, count })
}

/// The verdicts in an adapter's successful `result` for `op`.
///
/// `claim_verify` gives one per entry of `results`, `decode` one per entry of `claims`
/// (`ok` is valid, `rejected` is invalid with its reason); `verify_raw` gives valid or
/// invalid:bad_signature; ops with a `status` give valid or invalid with the rejection reason;
/// every other op that answered is valid.
pub fn verdicts(op: &str, result: &Value) -> Result<Vec<Verdict>, String> {
    let entry_status = |e: &Value| -> Result<Verdict, String> {
        match e.get("status").and_then(Value::as_str) {
            Some("ok") => Ok(Verdict::valid()),
            Some("rejected") => {
                let r = e
                    .get("reason")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("a rejection without a string `reason`: {e}"))?;
                Ok(Verdict::invalid(r))
            }
            _ => Err(format!("`status` must be \"ok\" or \"rejected\": {e}")),
        }
    };
    match op {
        "claim_verify" => {
            let results = result
                .get("results")
                .and_then(Value::as_array)
                .ok_or("claim_verify answered without a `results` array")?;
            results
                .iter()
                .map(|r| {
                    let outcome = r
                        .get("outcome")
                        .and_then(Value::as_str)
                        .filter(|o| OUTCOMES.contains(o))
                        .ok_or_else(|| format!("a result without a SPEC §8.1 `outcome`: {r}"))?;
                    let reason = match r.get("reason") {
                        None | Some(Value::Null) => None,
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(other) => {
                            return Err(format!("`reason` must be a string or null: {other}"))
                        }
                    };
                    if (outcome == "invalid") != reason.is_some() {
                        return Err(format!(
                            "`reason` must be given exactly when the outcome is invalid: {r}"
                        ));
                    }
                    Ok(Verdict {
                        outcome: outcome.to_string(),
                        reason,
                    })
                })
                .collect()
        }
        "decode" => result
            .get("claims")
            .and_then(Value::as_array)
            .ok_or("decode answered without a `claims` array")?
            .iter()
            .map(entry_status)
            .collect(),
        "verify_raw" => match result.get("valid") {
            Some(Value::Bool(true)) => Ok(vec![Verdict::valid()]),
            Some(Value::Bool(false)) => Ok(vec![Verdict::invalid("bad_signature")]),
            _ => Err("verify_raw answered without a boolean `valid`".into()),
        },
        _ if result.get("status").is_some() => Ok(vec![entry_status(result)?]),
        _ => Ok(vec![Verdict::valid()]),
    }
}

/// A short text for a list of verdicts: `valid`, `invalid:malformed`, `valid ×2`, `[valid, expired]`.
pub fn summarize(vs: &[Verdict]) -> String {
    match vs {
        [] => "no entries".into(),
        [one] => one.to_string(),
        [first, rest @ ..] if rest.iter().all(|v| v == first) => {
            format!("{first} ×{}", vs.len())
        }
        _ => format!(
            "[{}]",
            vs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Compare what the verdict step reported with the expectation.
pub fn check(expect: &Expect, observed: &[Verdict]) -> Result<(), String> {
    if observed.len() != expect.count {
        return Err(format!(
            "expected {} entr{}, found {}: {}",
            expect.count,
            if expect.count == 1 { "y" } else { "ies" },
            observed.len(),
            summarize(observed)
        ));
    }
    match &expect.expected {
        Expected::Verdict(v) => match observed.iter().find(|o| *o != v) {
            None => Ok(()),
            Some(_) => Err(format!("expected {v}, found {}", summarize(observed))),
        },
        Expected::Acceptable { .. } => Ok(()),
        Expected::Error(k) => Err(format!(
            "expected the adapter to answer error kind {k:?}, found {}",
            summarize(observed)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_str(s: &str) -> Result<Expect, String> {
        let v: toml::Table = toml::from_str(s).unwrap();
        parse(&v["expect"], "expect")
    }

    #[test]
    fn parse_forms() {
        assert_eq!(
            parse_str("expect = { outcome = \"invalid\", reason = \"bad_signature\" }")
                .unwrap()
                .to_string(),
            "invalid:bad_signature"
        );
        assert_eq!(
            parse_str("expect = { outcome = \"acceptable\", flags = [\"spec-4.4\"] }")
                .unwrap()
                .to_string(),
            "acceptable[spec-4.4]"
        );
        assert_eq!(
            parse_str("expect = { error = \"unsupported\" }")
                .unwrap()
                .to_string(),
            "error:unsupported"
        );
        assert!(parse_str("expect = { outcome = \"invalid\" }")
            .unwrap_err()
            .contains("needs a reason"));
        assert!(parse_str("expect = { outcome = \"valid\", reason = \"malformed\" }").is_err());
        assert!(parse_str("expect = { outcome = \"acceptable\" }").is_err());
        assert!(parse_str("expect = { outcome = \"invalid\", reason = \"bad_sig\" }").is_err());
    }

    #[test]
    fn nats_reasons_are_codes_joined_in_order() {
        assert!(is_reason("bad_signature"));
        assert!(is_reason("nkey.crc"));
        assert!(is_reason("chain.account_self_signed+jwt.signature_invalid"));
        assert!(!is_reason(
            "jwt.signature_invalid+chain.account_self_signed"
        ));
        assert!(!is_reason("jwt.signature_invalid+jwt.signature_invalid"));
        assert!(!is_reason("jwt.nonsense"));
        assert!(parse_str("expect = { outcome = \"invalid\", reason = \"nkey.padding\" }").is_ok());
        assert!(parse_str("expect = { outcome = \"invalid\", reason = \"nkey.pad\" }").is_err());
    }

    #[test]
    fn verdicts_by_op() {
        let r = json!({"results": [{"line": 1, "outcome": "invalid", "reason": "malformed"}]});
        assert_eq!(
            verdicts("claim_verify", &r).unwrap(),
            vec![Verdict::invalid("malformed")]
        );
        let r = json!({"claims": [{"status": "ok", "jcs": "{}"}, {"status": "rejected", "reason": "malformed"}]});
        assert_eq!(
            summarize(&verdicts("decode", &r).unwrap()),
            "[valid, invalid:malformed]"
        );
        assert_eq!(
            verdicts("verify_raw", &json!({"valid": false})).unwrap(),
            vec![Verdict::invalid("bad_signature")]
        );
        assert_eq!(
            verdicts(
                "chain_verify",
                &json!({"status": "rejected", "reason": "fork"})
            )
            .unwrap(),
            vec![Verdict::invalid("fork")]
        );
        assert_eq!(
            verdicts("chain_build", &json!({"jsonl": ""})).unwrap(),
            vec![Verdict::valid()]
        );
        assert!(verdicts(
            "claim_verify",
            &json!({"results": [{"outcome": "valid", "reason": "x"}]})
        )
        .is_err());
    }
}
