//! Published test vectors, one libtest-mimic trial per vector, named `<file>/<case>`.
//!
//! The vectors are read from `<workspace>/../shared/vectors/` (see its `SOURCES.md`), or
//! from `<workspace>/fixtures/vectors/` when that is absent; the run fails if neither
//! exists. Each file also gets a `<file>/count` trial that checks how many vectors were
//! read, so a truncated file fails the run instead of shrinking it.
//!
//! | file | checks |
//! |---|---|
//! | `ed25519/rfc8032_section7_1.json`, `ed25519/sign.input.dalek-subset.txt` | key derivation, exact signature bytes, verification |
//! | `wycheproof/ed25519_test.json` | `valid` verifies, `invalid` is rejected |
//! | `cctv-ed25519/ed25519vectors.json` | verdict equals the SPEC.md §4.3 policy computed from the flags |
//! | `bip340/test-vectors.csv` | key derivation and signing (rows with a secret key), verdict equals the CSV |
//! | `jcs/input/*.json` | canonical bytes equal `jcs/outhex/*.txt` |
//! | `nostr/nip01_events_*.json` | valid events verify with their exact preimage; negative events fail |

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kez_core::json::canonicalize_bytes;
use kez_core::nostr_event::{Event, EventError};
use kez_core::{Algorithm, PublicKey, SecretKey, Signature};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

type Outcome = Result<(), Failed>;

/// The CCTV flags that SPEC.md §4.3 rejects outright.
const CCTV_REJECTED_FLAGS: [&str; 4] = [
    "low_order_A",
    "low_order_R",
    "non_canonical_A",
    "non_canonical_R",
];

/// How many vectors each file must yield.
const EXPECTED_COUNTS: [(&str, usize); 8] = [
    (RFC8032, 5),
    (DALEK, 128),
    (WYCHEPROOF, 151),
    (CCTV, 914),
    (BIP340, 19),
    (JCS, 6),
    (NOSTR_VALID, 32),
    (NOSTR_NEGATIVE, 16),
];

const RFC8032: &str = "ed25519/rfc8032_section7_1.json";
const DALEK: &str = "ed25519/sign.input.dalek-subset.txt";
const WYCHEPROOF: &str = "wycheproof/ed25519_test.json";
const CCTV: &str = "cctv-ed25519/ed25519vectors.json";
const BIP340: &str = "bip340/test-vectors.csv";
const JCS: &str = "jcs/input";
const NOSTR_VALID: &str = "nostr/nip01_events_valid.json";
const NOSTR_NEGATIVE: &str = "nostr/nip01_events_negative.json";

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let dir = match vectors_dir() {
        Ok(dir) => dir,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let loaders: [(&str, Loader); 8] = [
        (RFC8032, rfc8032),
        (DALEK, dalek),
        (WYCHEPROOF, wycheproof),
        (CCTV, cctv),
        (BIP340, bip340),
        (JCS, jcs),
        (NOSTR_VALID, nostr_valid),
        (NOSTR_NEGATIVE, nostr_negative),
    ];
    let mut trials = Vec::new();
    for (file, load) in loaders {
        let loaded = load(&dir);
        let count = loaded.as_ref().map_or(0, Vec::len);
        match loaded {
            Ok(file_trials) => trials.extend(file_trials),
            Err(message) => {
                trials.push(Trial::test(format!("{file}/load"), move || {
                    Err(message.into())
                }));
            }
        }
        let expected = EXPECTED_COUNTS
            .iter()
            .find(|(f, _)| *f == file)
            .map(|&(_, n)| n);
        trials.push(Trial::test(
            format!("{file}/count"),
            move || match expected {
                Some(n) if n == count => Ok(()),
                Some(n) => Err(format!("read {count} vectors, expected {n}").into()),
                None => Err("no expected count recorded for this file".into()),
            },
        ));
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// Loads one file and returns one trial per vector, or why the file could not be read.
type Loader = fn(&Path) -> Result<Vec<Trial>, String>;

/// `<workspace>/../shared/vectors`, else `<workspace>/fixtures/vectors`.
fn vectors_dir() -> Result<PathBuf, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = workspace.join("../shared/vectors");
    let fixtures = workspace.join("fixtures/vectors");
    if shared.is_dir() {
        Ok(shared)
    } else if fixtures.is_dir() {
        Ok(fixtures)
    } else {
        Err(format!(
            "no test vectors: neither {} nor {} is a directory",
            shared.display(),
            fixtures.display()
        ))
    }
}

fn read(dir: &Path, file: &str) -> Result<Vec<u8>, String> {
    fs::read(dir.join(file)).map_err(|e| format!("cannot read {}: {e}", dir.join(file).display()))
}

fn read_json(dir: &Path, file: &str) -> Result<Value, String> {
    serde_json::from_slice(&read(dir, file)?).map_err(|e| format!("{file}: invalid JSON: {e}"))
}

fn str_field<'a>(value: &'a Value, name: &str) -> Result<&'a str, String> {
    value[name]
        .as_str()
        .ok_or_else(|| format!("member {name:?} is not a string in {value}"))
}

fn array_field<'a>(value: &'a Value, name: &str) -> Result<&'a Vec<Value>, String> {
    value[name]
        .as_array()
        .ok_or_else(|| format!("member {name:?} is not an array"))
}

fn unhex(what: &str, text: &str) -> Result<Vec<u8>, String> {
    hex::decode(text).map_err(|e| format!("{what}: bad hex {text:?}: {e}"))
}

fn array<const N: usize>(what: &str, text: &str) -> Result<[u8; N], String> {
    unhex(what, text)?
        .try_into()
        .map_err(|v: Vec<u8>| format!("{what}: {} bytes, expected {N}", v.len()))
}

/// Verifies under the Ed25519 policy; a key the policy rejects is a rejected signature.
fn ed25519_accepts(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    PublicKey::from_bytes(Algorithm::Ed25519, key)
        .is_ok_and(|pk| pk.verify_raw(message, &Signature(*signature)).is_ok())
}

/// The three checks for an Ed25519 vector with a secret key: derivation, exact
/// deterministic signature, verification.
fn ed25519_sign_and_verify(secret: &str, public: &str, message: &[u8], signature: &str) -> Outcome {
    let sk = SecretKey::from_hex(Algorithm::Ed25519, secret)
        .map_err(|e| format!("secret key rejected: {e}"))?;
    let derived = hex::encode(sk.public_key().to_bytes());
    if derived != public {
        return Err(format!("derived public key {derived}, expected {public}").into());
    }
    let signed = sk.sign_raw(message, None).to_hex();
    if signed != signature {
        return Err(format!("signature {signed}, expected {signature}").into());
    }
    let pk = PublicKey::from_hex(Algorithm::Ed25519, public)
        .map_err(|e| format!("public key rejected: {e}"))?;
    let sig = Signature::from_hex(signature).map_err(|e| e.to_string())?;
    pk.verify_raw(message, &sig)
        .map_err(|e| format!("signature rejected: {e}").into())
}

fn rfc8032(dir: &Path) -> Result<Vec<Trial>, String> {
    let doc = read_json(dir, RFC8032)?;
    array_field(&doc, "vectors")?
        .iter()
        .map(|v| {
            let name = str_field(v, "name")?.replace(' ', "-");
            let secret = str_field(v, "secret_key")?.to_owned();
            let public = str_field(v, "public_key")?.to_owned();
            let message = unhex("message", str_field(v, "message")?)?;
            let signature = str_field(v, "signature")?.to_owned();
            Ok(Trial::test(format!("{RFC8032}/{name}"), move || {
                ed25519_sign_and_verify(&secret, &public, &message, &signature)
            }))
        })
        .collect()
}

/// Lines of the form `sk‖pk:pk:msg:sig‖msg:` (hex).
fn dalek(dir: &Path) -> Result<Vec<Trial>, String> {
    let text = String::from_utf8(read(dir, DALEK)?).map_err(|e| e.to_string())?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let number = i + 1;
            let parts: Vec<&str> = line.trim_end().split(':').collect();
            let [keys, public, message, sig_msg, ""] = parts[..] else {
                return Err(format!(
                    "{DALEK} line {number}: expected 5 ':'-separated fields"
                ));
            };
            let (secret, public_again) = keys
                .split_at_checked(64)
                .ok_or_else(|| format!("{DALEK} line {number}: short key field"))?;
            let (signature, message_again) = sig_msg
                .split_at_checked(128)
                .ok_or_else(|| format!("{DALEK} line {number}: short signature field"))?;
            let secret = secret.to_owned();
            let public = public.to_owned();
            let signature = signature.to_owned();
            let consistent = public_again == public && message_again == message;
            let message = unhex("message", message)?;
            Ok(Trial::test(format!("{DALEK}/line-{number}"), move || {
                if !consistent {
                    return Err("line repeats pk or msg inconsistently".into());
                }
                ed25519_sign_and_verify(&secret, &public, &message, &signature)
            }))
        })
        .collect()
}

fn wycheproof(dir: &Path) -> Result<Vec<Trial>, String> {
    let doc = read_json(dir, WYCHEPROOF)?;
    let mut trials = Vec::new();
    for group in array_field(&doc, "testGroups")? {
        let key = unhex("pk", str_field(&group["publicKey"], "pk")?)?;
        for test in array_field(group, "tests")? {
            let id = test["tcId"]
                .as_u64()
                .ok_or_else(|| format!("tcId is not an integer in {test}"))?;
            let message = unhex("msg", str_field(test, "msg")?)?;
            let signature = unhex("sig", str_field(test, "sig")?)?;
            let expected = match str_field(test, "result")? {
                "valid" => true,
                "invalid" => false,
                other => return Err(format!("tcId {id}: unexpected result {other:?}")),
            };
            let flags = test["flags"].clone();
            let key = key.clone();
            trials.push(Trial::test(format!("{WYCHEPROOF}/tcId-{id}"), move || {
                let accepted = match (
                    <[u8; 32]>::try_from(&key[..]),
                    <[u8; 64]>::try_from(&signature[..]),
                ) {
                    (Ok(k), Ok(s)) => ed25519_accepts(&k, &message, &s),
                    // A key or signature of the wrong length is a rejection.
                    _ => false,
                };
                if accepted == expected {
                    Ok(())
                } else {
                    Err(format!(
                        "wycheproof says {}, we {} (flags {flags})",
                        if expected { "valid" } else { "invalid" },
                        if accepted { "accept" } else { "reject" },
                    )
                    .into())
                }
            }));
        }
    }
    Ok(trials)
}

fn cctv(dir: &Path) -> Result<Vec<Trial>, String> {
    let doc = read_json(dir, CCTV)?;
    doc.as_array()
        .ok_or_else(|| format!("{CCTV}: expected an array"))?
        .iter()
        .map(|v| {
            let number = v["number"]
                .as_u64()
                .ok_or_else(|| format!("number is not an integer in {v}"))?;
            let key = array::<32>("key", str_field(v, "key")?)?;
            let signature = array::<64>("sig", str_field(v, "sig")?)?;
            let message = str_field(v, "msg")?.as_bytes().to_vec();
            // `flags` is null on the one vector that has none.
            let flags: Vec<String> = match &v["flags"] {
                Value::Null => Vec::new(),
                Value::Array(a) => a
                    .iter()
                    .map(|f| f.as_str().map(str::to_owned))
                    .collect::<Option<_>>()
                    .ok_or_else(|| format!("vector {number}: a flag is not a string"))?,
                other => return Err(format!("vector {number}: flags is {other}")),
            };
            // Every CCTV vector satisfies the cofactored equation, so only the flags decide.
            let policy = !flags
                .iter()
                .any(|f| CCTV_REJECTED_FLAGS.contains(&f.as_str()));
            Ok(Trial::test(format!("{CCTV}/{number}"), move || {
                let accepted = ed25519_accepts(&key, &message, &signature);
                if accepted == policy {
                    Ok(())
                } else {
                    Err(format!(
                        "policy says {}, we {} (flags {flags:?})",
                        if policy { "accept" } else { "reject" },
                        if accepted { "accept" } else { "reject" },
                    )
                    .into())
                }
            }))
        })
        .collect()
}

/// `index,secret key,public key,aux_rand,message,signature,verification result,comment`,
/// upper-case hex, CRLF line ends; no field is quoted and only the comment may hold a comma.
fn bip340(dir: &Path) -> Result<Vec<Trial>, String> {
    let text = String::from_utf8(read(dir, BIP340)?).map_err(|e| e.to_string())?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or_else(|| format!("{BIP340} is empty"))?;
    if !header
        .starts_with("index,secret key,public key,aux_rand,message,signature,verification result")
    {
        return Err(format!("{BIP340}: unexpected header {header:?}"));
    }
    lines
        .map(|line| {
            let fields: Vec<String> = line
                .trim_end_matches('\r')
                .splitn(8, ',')
                .map(str::to_ascii_lowercase)
                .collect();
            let [index, secret, public, aux, message, signature, result, _comment] = &fields[..]
            else {
                return Err(format!("{BIP340}: row {line:?} has fewer than 8 fields"));
            };
            let expected = match result.as_str() {
                "true" => true,
                "false" => false,
                other => return Err(format!("{BIP340} row {index}: result {other:?}")),
            };
            let public = array::<32>("public key", public)?;
            let message = unhex("message", message)?;
            let signature = array::<64>("signature", signature)?;
            let signing = if secret.is_empty() {
                None
            } else {
                Some((secret.clone(), array::<32>("aux_rand", aux)?))
            };
            Ok(Trial::test(format!("{BIP340}/{index}"), move || {
                if let Some((secret, aux)) = signing {
                    let sk = SecretKey::from_hex(Algorithm::Bip340, &secret)
                        .map_err(|e| format!("secret key rejected: {e}"))?;
                    let derived = sk.public_key().to_bytes();
                    if derived != public {
                        return Err(format!(
                            "derived public key {}, expected {}",
                            hex::encode(derived),
                            hex::encode(public)
                        )
                        .into());
                    }
                    let signed = sk.sign_raw(&message, Some(&aux));
                    if signed.0 != signature {
                        return Err(format!(
                            "signature {signed}, expected {}",
                            hex::encode(signature)
                        )
                        .into());
                    }
                }
                let verified = PublicKey::from_bytes(Algorithm::Bip340, &public)
                    .is_ok_and(|pk| pk.verify_raw(&message, &Signature(signature)).is_ok());
                if verified == expected {
                    Ok(())
                } else {
                    Err(format!("verification gave {verified}, the vector says {expected}").into())
                }
            }))
        })
        .collect()
}

fn jcs(dir: &Path) -> Result<Vec<Trial>, String> {
    let input_dir = dir.join(JCS);
    let mut names: Vec<String> = fs::read_dir(&input_dir)
        .map_err(|e| format!("cannot list {}: {e}", input_dir.display()))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let input = read(dir, &format!("{JCS}/{name}"))?;
            let stem = name.trim_end_matches(".json");
            let outhex = read(dir, &format!("jcs/outhex/{stem}.txt"))?;
            let outhex: String = String::from_utf8_lossy(&outhex)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let expected = unhex("outhex", &outhex)?;
            Ok(Trial::test(format!("{JCS}/{name}"), move || {
                let got = canonicalize_bytes(&input).map_err(|e| e.to_string())?;
                if got == expected {
                    Ok(())
                } else {
                    Err(format!(
                        "canonical form differs:\n  got      {}\n  expected {}",
                        String::from_utf8_lossy(&got),
                        String::from_utf8_lossy(&expected)
                    )
                    .into())
                }
            }))
        })
        .collect()
}

/// A case's event, as the JSON bytes a relay would hand over.
fn event_bytes(case: &Value) -> Result<Vec<u8>, String> {
    match &case["event"] {
        event @ Value::Object(_) => serde_json::to_vec(event).map_err(|e| e.to_string()),
        other => Err(format!("case event is not an object: {other}")),
    }
}

fn nostr_valid(dir: &Path) -> Result<Vec<Trial>, String> {
    let doc = read_json(dir, NOSTR_VALID)?;
    array_field(&doc, "cases")?
        .iter()
        .map(|case| {
            let name = str_field(case, "case")?.to_owned();
            let bytes = event_bytes(case)?;
            let preimage = match &case["nip01_serialization"] {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => return Err(format!("{name}: nip01_serialization is {other}")),
            };
            let expect = &case["expect"];
            if !(expect.is_null() || (expect["id_matches"] == true && expect["sig_valid"] == true))
            {
                return Err(format!("{name}: a valid case expects {expect}"));
            }
            Ok(Trial::test(format!("{NOSTR_VALID}/{name}"), move || {
                let event = Event::from_json(&bytes).map_err(|e| format!("parse: {e}"))?;
                if let Some(preimage) = preimage {
                    let ours = event.id_preimage();
                    if ours != preimage {
                        return Err(format!(
                            "preimage differs:\n  ours     {ours}\n  expected {preimage}"
                        )
                        .into());
                    }
                }
                let verified = event.verify().map_err(|e| format!("verify: {e}"))?;
                if verified.id() != &event.id {
                    return Err("verified id differs from the stated id".into());
                }
                Ok(())
            }))
        })
        .collect()
}

fn nostr_negative(dir: &Path) -> Result<Vec<Trial>, String> {
    let doc = read_json(dir, NOSTR_NEGATIVE)?;
    array_field(&doc, "cases")?
        .iter()
        .map(|case| {
            let name = str_field(case, "case")?.to_owned();
            let bytes = event_bytes(case)?;
            let computed_id = case["computed_id"].as_str().map(str::to_owned);
            let id_matches = case["observed"]["id_matches"].as_bool();
            Ok(Trial::test(format!("{NOSTR_NEGATIVE}/{name}"), move || {
                let event = Event::from_json(&bytes).map_err(|e| format!("parse: {e}"))?;
                if let Some(expected) = computed_id {
                    let ours = hex::encode(event.compute_id());
                    if ours != expected {
                        return Err(format!("computed id {ours}, the file says {expected}").into());
                    }
                }
                match (event.verify(), id_matches) {
                    (Ok(_), _) => Err("event verified; it must be rejected".into()),
                    (Err(EventError::IdMismatch { .. }), Some(false) | None) => Ok(()),
                    (
                        Err(EventError::Signature(_) | EventError::PublicKey(_)),
                        Some(true) | None,
                    ) => Ok(()),
                    (Err(e), Some(matches)) => Err(format!(
                        "rejected for the wrong reason ({e}); the file says id_matches = {matches}"
                    )
                    .into()),
                    (Err(e), None) => Err(format!("unexpected rejection: {e}").into()),
                }
            }))
        })
        .collect()
}
