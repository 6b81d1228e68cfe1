//! The operations of the adapter protocol (docs/ADAPTER.md, "Operations"), each a call
//! into `kez_core` or the CLI's helpers around it.
//!
//! Where docs/ADAPTER.md leaves a choice open this adapter decides as follows:
//!
//! * `verify_raw`: a `public` or `sig` of the wrong length (but valid hex) is `valid:
//!   false`, like a key the policy rejects: nothing verifies under it.
//! * `encode`, and `claim` in `chain_build` specs: an input holding several claims stands
//!   for its first claim that decodes.
//! * `claim_sign`: `subject` must already be canonical, and `extra` may not name a member
//!   SPEC.md §5.1 defines (both `usage`). Other identities (`claim_verify`'s `subject`, a
//!   `revoke` spec's `subject`) may be in any form and are normalised.
//! * `chain_build`: link `i` gets seq `i` and the previous link's hash as `prev`; which
//!   key signs is the spec's business. A spec whose op is unknown is `unsupported`.

use std::collections::HashSet;

use kez_core::claim::PROTOCOL_VERSION as SPEC_VERSION;
use kez_core::encoding::{self, Decoded, Located};
use kez_core::sigchain::{
    self, Comparison, JsonlLines, Link, LinkBuilder, Op, RevokeTarget, Track,
};
use kez_core::verdict::{self, InvalidReason};
use kez_core::{Algorithm, Claim, ClaimBuilder, DecodeError, Identity, PublicKey, Signature};
use serde_json::{json, Value};

use super::args::Args;
use super::nats;
use super::protocol::{parse_request, OpError, Response, PROTOCOL_VERSION};
use crate::chain;
use crate::commands::decode_input;

/// The result of an op, before it is framed.
type OpResult = Result<Value, OpError>;

/// An operation: its arguments in, its result out.
type OpFn = fn(&Args<'_>) -> OpResult;

/// Every op this adapter implements, in docs/ADAPTER.md order.
const OPS: &[(&str, OpFn)] = &[
    ("hello", hello),
    ("canonicalize", canonicalize),
    ("sign_raw", sign_raw),
    ("verify_raw", verify_raw),
    ("claim_sign", claim_sign),
    ("encode", encode),
    ("decode", decode),
    ("claim_verify", claim_verify),
    ("chain_build", chain_build),
    ("chain_verify", chain_verify),
    ("chain_compare", chain_compare),
    ("chain_export", chain_export),
    ("nats_nkey_create", nats::nkey_create),
    ("nats_nkey_decode", nats::nkey_decode),
    ("nats_jwt_encode", nats::jwt_encode),
    ("nats_jwt_sign_raw", nats::jwt_sign_raw),
    ("nats_jwt_decode", nats::jwt_decode),
    ("nats_creds_format", nats::creds_format),
    ("nats_creds_parse", nats::creds_parse),
    ("nats_check", nats::check_set),
    ("shutdown", shutdown),
];

/// Answers one request line; the flag is true after `shutdown`.
pub(crate) fn handle(line: &[u8]) -> (Response, bool) {
    let request = match parse_request(line) {
        Ok(request) => request,
        Err((id, error)) => return (Response::failure(id, error), false),
    };
    let Some(&(name, op)) = OPS.iter().find(|(name, _)| *name == request.op) else {
        let shown: String = request.op.chars().take(64).collect();
        return (
            Response::failure(
                request.id,
                OpError::unsupported(format!("unknown op {shown:?}")),
            ),
            false,
        );
    };
    let args = Args::new(&request.args);
    // A panic in one op must not take the harness's adapter down with it; the panic
    // message goes to stderr through the default hook.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op(&args)))
        .unwrap_or_else(|_| {
            Err(OpError::internal(format!(
                "{name} panicked (the message is on stderr)"
            )))
        });
    let response = match result {
        Ok(value) => Response::success(request.id, value),
        Err(error) => Response::failure(request.id, error),
    };
    (response, name == "shutdown")
}

// ---------------------------------------------------------------------------------------
// Shared pieces

/// The reason kind of a claim that does not decode (SPEC.md §8.2).
fn decode_reason(error: &DecodeError) -> &'static str {
    if error.is_unsupported() {
        InvalidReason::Unsupported.name()
    } else {
        InvalidReason::Malformed.name()
    }
}

/// `{"status": "rejected", "reason", "message"}`.
fn rejected(reason: &str, message: impl std::fmt::Display) -> Value {
    json!({"status": "rejected", "reason": reason, "message": message.to_string()})
}

/// Text the library produced as UTF-8 (JCS and JSONL always are).
fn text(bytes: &[u8]) -> Result<String, OpError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| OpError::internal("the library produced text that is not UTF-8"))
}

/// Every claim in `text`, in the encoding given or the one detected (SPEC.md §6.5); an
/// input that decodes to nothing is one failed entry at line 1.
fn decode_all(text: &str, forced: Option<encoding::Encoding>) -> Decoded {
    let items = match decode_input(text.as_bytes(), forced) {
        Ok((_, items)) => items,
        Err(error) => vec![Located {
            line: 1,
            item: Err(error),
        }],
    };
    if items.is_empty() {
        return vec![Located {
            line: 1,
            item: Err(DecodeError::Unrecognised),
        }];
    }
    items
}

/// The first claim in `text` that decodes, or the first reason none does.
fn first_claim(text: &str) -> Result<Claim, DecodeError> {
    let mut first_error = None;
    for Located { item, .. } in decode_all(text, None) {
        match item {
            Ok(claim) => return Ok(claim),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    Err(first_error.unwrap_or(DecodeError::Unrecognised))
}

/// An identity in any form; links and verdicts use its canonical form (SPEC.md §3.2).
fn identity(args: &Args<'_>, name: &str) -> Result<Identity, OpError> {
    Identity::parse(args.string(name)?)
        .map_err(|e| OpError::usage(format!("argument {}: {e}", args.name(name))))
}

/// An identity that must be given in canonical form (SPEC.md §3.2).
fn canonical_identity(args: &Args<'_>, name: &str) -> Result<Identity, OpError> {
    let text = args.string(name)?;
    let identity = identity(args, name)?;
    if identity.to_string() != text {
        return Err(OpError::usage(format!(
            "argument {}: {text:?} is not canonical; the canonical form is {:?}",
            args.name(name),
            identity.to_string()
        )));
    }
    Ok(identity)
}

/// BIP-340 `aux_rand` for a signature by a key of `algorithm` (Ed25519 ignores it).
fn aux_for(algorithm: Algorithm, aux: Option<[u8; 32]>) -> Option<[u8; 32]> {
    aux.filter(|_| algorithm == Algorithm::Bip340)
}

// ---------------------------------------------------------------------------------------
// The operations

fn hello(_: &Args<'_>) -> OpResult {
    let ops: Vec<&str> = OPS.iter().map(|(name, _)| *name).collect();
    Ok(json!({
        "name": "rust",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": PROTOCOL_VERSION,
        "spec": SPEC_VERSION,
        "ops": ops,
    }))
}

fn canonicalize(args: &Args<'_>) -> OpResult {
    let input = args.string("json")?;
    Ok(match kez_core::json::canonicalize_bytes(input.as_bytes()) {
        Ok(canonical) => json!({"status": "ok", "canonical": text(&canonical)?}),
        Err(e) => rejected(InvalidReason::Malformed.name(), e),
    })
}

fn sign_raw(args: &Args<'_>) -> OpResult {
    let algorithm = args.algorithm("alg")?;
    let key = args.secret("secret", algorithm)?;
    let msg = args.hex("msg")?;
    let aux = aux_for(algorithm, args.opt_aux("aux")?);
    let signature = key.sign_raw(&msg, aux.as_ref());
    Ok(json!({"sig": signature.to_hex()}))
}

fn verify_raw(args: &Args<'_>) -> OpResult {
    let algorithm = args.algorithm("alg")?;
    let public = args.hex("public")?;
    let msg = args.hex("msg")?;
    let sig = args.hex("sig")?;
    let valid = match (<[u8; 32]>::try_from(public), <[u8; 64]>::try_from(sig)) {
        (Ok(public), Ok(sig)) => PublicKey::from_bytes(algorithm, &public)
            .is_ok_and(|key| key.verify_raw(&msg, &Signature(sig)).is_ok()),
        _ => false,
    };
    Ok(json!({"valid": valid}))
}

fn claim_sign(args: &Args<'_>) -> OpResult {
    let key = args.secret_key("key")?;
    let subject = canonical_identity(args, "subject")?;
    let mut builder = ClaimBuilder::new(subject, args.time("created_at")?);
    if let Some(t) = args.opt_time("expires_at")? {
        builder = builder.expires_at(t);
    }
    if let Some(nonce) = args.opt_string("nonce")? {
        builder = builder.nonce(nonce);
    }
    if let Some(url) = args.opt_string("chain")? {
        builder = builder.chain(url);
    }
    let extra = args.opt_object("extra")?;
    for (name, value) in extra.into_iter().flatten() {
        builder = builder.extra(name.clone(), value.clone());
    }
    let aux = aux_for(key.algorithm(), args.opt_aux("aux")?);
    let claim = builder
        .sign(&key, aux.as_ref())
        .map_err(|e| OpError::usage(format!("the claim would be rejected: {e}")))?;
    // The builder lets its own members win; a defined member in `extra` is a mistake.
    let unknown = claim.unknown_members();
    if let Some(name) = extra
        .into_iter()
        .flat_map(|m| m.keys())
        .find(|name| !unknown.contains(&name.as_str()))
    {
        return Err(OpError::usage(format!(
            "argument extra: member {:?} is defined by SPEC.md §5.1",
            name.chars().take(40).collect::<String>()
        )));
    }
    Ok(json!({"claim": text(claim.to_jcs())?}))
}

fn encode(args: &Args<'_>) -> OpResult {
    let input = args.string("text")?;
    let to = args.encoding("to")?;
    Ok(match first_claim(input) {
        Ok(claim) => json!({"status": "ok", "text": encoding::encode(&claim, to)}),
        Err(e) => rejected(decode_reason(&e), e),
    })
}

fn decode(args: &Args<'_>) -> OpResult {
    let input = args.string("text")?;
    let forced = args.opt_encoding("encoding")?;
    let claims = decode_all(input, forced)
        .into_iter()
        .map(|Located { line, item }| {
            Ok(match item {
                Ok(claim) => json!({"line": line, "status": "ok", "jcs": text(claim.to_jcs())?}),
                Err(e) => json!({
                    "line": line,
                    "status": "rejected",
                    "reason": decode_reason(&e),
                    "message": e.to_string(),
                }),
            })
        })
        .collect::<Result<Vec<_>, OpError>>()?;
    Ok(json!({"claims": claims}))
}

fn claim_verify(args: &Args<'_>) -> OpResult {
    let input = args.string("text")?;
    let at = args.time("at")?;
    let subject = match args.opt_string("subject")? {
        Some(_) => Some(identity(args, "subject")?),
        None => None,
    };
    let copies: Vec<Vec<u8>> = args
        .opt_strings("chains")?
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.as_bytes().to_vec())
        .collect();
    let items = decode_all(input, None);
    let ids: HashSet<_> = items
        .iter()
        .filter_map(|l| l.item.as_ref().ok())
        .map(Claim::id)
        .collect();
    let evidence = chain::evidence(&copies, ids, at);
    let results: Vec<Value> = items
        .into_iter()
        .map(|Located { line, item }| {
            let verdict = match item {
                Ok(claim) => verdict::evaluate(&claim, evidence.as_chain(), at, subject.as_ref()),
                Err(e) => verdict::undecodable(e.is_unsupported(), e.to_string(), at),
            };
            json!({
                "line": line,
                "outcome": verdict.outcome().name(),
                "reason": verdict.reason().map(InvalidReason::name),
            })
        })
        .collect();
    Ok(json!({"results": results}))
}

/// The op of one link spec of `chain_build`, and the key that countersigns a rotation.
fn link_op(spec: &Args<'_>) -> Result<(Op, Option<kez_core::SecretKey>), OpError> {
    let claim_id = |name: &str| -> Result<Claim, OpError> {
        first_claim(spec.string(name)?).map_err(|e| {
            OpError::usage(format!(
                "argument {}: does not decode: {e}",
                spec.name(name)
            ))
        })
    };
    let device = || -> Result<PublicKey, OpError> {
        PublicKey::parse_canonical(spec.string("device")?)
            .map_err(|e| OpError::usage(format!("argument {}: {e}", spec.name("device"))))
    };
    let name = spec.string("op")?;
    Ok(match name {
        "init" => (Op::Init, None),
        "add" => {
            let claim = claim_id("claim")?;
            let op = Op::Add {
                claim: claim.id(),
                subject: claim.subject().clone(),
            };
            (op, None)
        }
        "revoke" => {
            let target = match (spec.opt_string("claim")?, spec.opt_string("subject")?) {
                (Some(_), None) => RevokeTarget::Claim(claim_id("claim")?.id()),
                (None, Some(_)) => RevokeTarget::Subject(identity(spec, "subject")?),
                _ => {
                    return Err(OpError::usage(format!(
                        "argument {}: revoke takes exactly one of claim and subject",
                        spec.name("op")
                    )))
                }
            };
            (Op::Revoke(target), None)
        }
        "rotate" => {
            let new_key = spec.secret_key("new_key")?;
            let op = Op::Rotate {
                new_key: new_key.public_key(),
            };
            (op, Some(new_key))
        }
        "add_device" => {
            let op = Op::AddDevice {
                device: device()?,
                name: spec.opt_string("name")?.map(str::to_string),
            };
            (op, None)
        }
        "revoke_device" => (Op::RevokeDevice { device: device()? }, None),
        other => {
            return Err(OpError::unsupported(format!(
                "argument {}: unsupported link op {:?}",
                spec.name("op"),
                other.chars().take(24).collect::<String>()
            )))
        }
    })
}

fn chain_build(args: &Args<'_>) -> OpResult {
    let specs = args.array("links")?;
    let mut previous: Option<Link> = None;
    let mut jsonl = Vec::new();
    for (i, value) in specs.iter().enumerate() {
        let spec = args.item(&format!("links[{i}]"), value)?;
        let signer = spec.secret_key("signer")?;
        let created_at = spec.time("created_at")?;
        let (op, new_key) = link_op(&spec)?;
        let aux = aux_for(signer.algorithm(), spec.opt_aux("aux")?);
        let counter_aux = match &new_key {
            Some(k) => aux_for(k.algorithm(), spec.opt_aux("counter_aux")?),
            None => None,
        };
        let builder = match &previous {
            None => LinkBuilder::at(0, None, op, created_at),
            Some(last) => LinkBuilder::after(last, op, created_at),
        };
        let link = builder
            .sign_with_aux(
                &signer,
                new_key.as_ref(),
                aux.as_ref(),
                counter_aux.as_ref(),
            )
            .map_err(|e| {
                OpError::usage(format!(
                    "argument links[{i}]: the link would be malformed: {e}"
                ))
            })?;
        jsonl.extend_from_slice(link.to_jcs());
        jsonl.push(b'\n');
        previous = Some(link);
    }
    Ok(json!({"jsonl": text(&jsonl)?}))
}

fn chain_verify(args: &Args<'_>) -> OpResult {
    let jsonl = args.string("jsonl")?;
    let at = args.opt_time("at")?;
    Ok(
        match sigchain::verify_jsonl(jsonl.as_bytes(), Track::Claims(Default::default()), at) {
            Ok(verified) => json!({
                "status": "ok",
                "length": verified.length(),
                "head": verified.head().to_string(),
                "root": verified.state().root().map(ToString::to_string),
                "primary": verified.state().primary().map(ToString::to_string),
            }),
            Err(e) => rejected(chain::kind_name(&e), e),
        },
    )
}

fn chain_compare(args: &Args<'_>) -> OpResult {
    let copies = args.strings("copies")?;
    let [first, second] = copies[..] else {
        return Err(OpError::usage(format!(
            "argument copies: expected two chains, found {}",
            copies.len()
        )));
    };
    let compared = sigchain::compare_copies(
        JsonlLines::new(first.as_bytes()),
        JsonlLines::new(second.as_bytes()),
    );
    Ok(match compared {
        Ok(relation) => json!({
            "status": "ok",
            "relation": match relation {
                Comparison::Identical => "identical",
                Comparison::FirstIsPrefix => "first_is_prefix",
                Comparison::SecondIsPrefix => "second_is_prefix",
            },
        }),
        Err(e) => rejected(chain::kind_name(&e), e),
    })
}

fn chain_export(args: &Args<'_>) -> OpResult {
    let jsonl = args.string("jsonl")?;
    let at = args.opt_time("at")?;
    Ok(match chain::export(jsonl.as_bytes(), at) {
        Ok(out) => json!({"status": "ok", "jsonl": text(&out)?}),
        Err(e) => rejected(chain::kind_name(&e), e),
    })
}

fn shutdown(_: &Args<'_>) -> OpResult {
    Ok(json!({}))
}
