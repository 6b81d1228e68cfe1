//! End-to-end tests of `kez-verify adapter`, the crosstest adapter protocol v1
//! (docs/ADAPTER.md): sessions over a real pipe covering every op, its rejections and the
//! framing rules, and a cross-check against the independent Node implementation.
//!
//! The cross-check runs when `KEZ_CROSSTEST_NODE=1` (scripts/test.sh sets it after
//! `npm ci` in crosstest/impls/node); it then fails, rather than skips, when the Node
//! adapter cannot be run.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// Harness

/// One adapter process and the session with it.
struct Session {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Session {
    fn spawn(name: &'static str, mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {name} adapter: {e}"));
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Session {
            name,
            child,
            stdin,
            stdout,
            next_id: 0,
        }
    }

    /// `kez-verify adapter`.
    fn rust() -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kez-verify"));
        command.arg("adapter").current_dir(workspace_root());
        Session::spawn("rust", command)
    }

    /// Writes one raw line (a newline is added).
    fn send_line(&mut self, line: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(line).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Reads one response line, which must be a JSON object with exactly the members of
    /// docs/ADAPTER.md's framing.
    fn response(&mut self) -> Value {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).unwrap();
        assert!(n > 0, "{}: stdout closed before a response", self.name);
        assert!(line.ends_with('\n'), "{}: {line:?}", self.name);
        let value: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{}: response is not JSON ({e}): {line:?}", self.name));
        let object = value.as_object().expect("a response is an object");
        let ok = object["ok"].as_bool().expect("ok is a boolean");
        let mut members: Vec<&str> = object.keys().map(String::as_str).collect();
        members.sort_unstable();
        let expected = if ok {
            ["id", "ok", "result"]
        } else {
            ["error", "id", "ok"]
        };
        assert_eq!(members, expected, "{}: {line}", self.name);
        if !ok {
            let error = object["error"].as_object().unwrap();
            assert!(
                ["unsupported", "usage", "internal"].contains(&error["kind"].as_str().unwrap()),
                "{line}"
            );
            assert!(error["message"].is_string(), "{line}");
        }
        value
    }

    /// Sends a request with the next id and returns the whole response, checking its id.
    fn call(&mut self, op: &str, args: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "op": op, "args": args});
        self.send_line(request.to_string().as_bytes());
        let response = self.response();
        assert_eq!(response["id"], json!(id), "{}: {response}", self.name);
        response
    }

    /// The result of an op that must succeed.
    fn ok(&mut self, op: &str, args: Value) -> Value {
        let response = self.call(op, args.clone());
        assert_eq!(
            response["ok"],
            json!(true),
            "{}: {op} {args}\n→ {response}",
            self.name
        );
        response["result"].clone()
    }

    /// The error of an op that must fail with `kind`.
    fn fails(&mut self, op: &str, args: Value, kind: &str) -> String {
        let response = self.call(op, args.clone());
        assert_eq!(
            response["ok"],
            json!(false),
            "{}: {op} {args}\n→ {response}",
            self.name
        );
        assert_eq!(response["error"]["kind"], json!(kind), "{response}");
        response["error"]["message"].as_str().unwrap().to_string()
    }

    /// Closes stdin and waits: the adapter must exit 0, with nothing more on stdout and
    /// no panic on stderr.
    fn finish(mut self) -> String {
        drop(self.stdin.take());
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(
            rest, "",
            "{}: unexpected output after the last response",
            self.name
        );
        assert_eq!(status.code(), Some(0), "{}: stderr: {stderr}", self.name);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", self.name);
        stderr
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A secret key argument.
fn key(alg: &str, secret: &str) -> Value {
    json!({"alg": alg, "secret": secret})
}

const ED_A: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const ED_B: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const ED_DEVICE: &str = "3333333333333333333333333333333333333333333333333333333333333333";
const ED_STRANGER: &str = "4444444444444444444444444444444444444444444444444444444444444444";
const BIP_A: &str = "0000000000000000000000000000000000000000000000000000000000000003";
const BIP_B: &str = "b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef";
const AUX_1: &str = "0000000000000000000000000000000000000000000000000000000000000001";
const AUX_2: &str = "c87aa53824b4d7ae2eb035a2b5bbbccc080e76cdc6d1692c4b0b62d798e6d906";

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600;

/// RFC 8032 §7.1 test 1.
const RFC8032_SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const RFC8032_SIG: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

/// BIP-340 test vector 0.
const BIP340_PUBLIC: &str = "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9";
const BIP340_AUX: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const BIP340_MSG: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const BIP340_SIG: &str = "e907831f80848d1069a5371b402410364bdf1c5f8307b0084c55f1ce2dca821525f66a4a85ea8b71e482a74f382d2ce5ebeee8fdb2172f477df4900d310536c0";

/// Signs a claim for `subject` with `secret` (Ed25519) created at `created_at`.
fn sign_claim(s: &mut Session, secret: &str, subject: &str, created_at: u64) -> String {
    let result = s.ok(
        "claim_sign",
        json!({"key": key("ed25519", secret), "subject": subject, "created_at": created_at}),
    );
    result["claim"].as_str().unwrap().to_string()
}

/// Builds a chain from link specs and returns its JSONL.
fn build(s: &mut Session, links: Value) -> String {
    s.ok("chain_build", json!({"links": links}))["jsonl"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A chain of A: init, add `claim`, add a device, rotate to B.
fn chain_of_a(s: &mut Session, claim: &str) -> String {
    let device = public_key(s, "ed25519", ED_DEVICE);
    build(
        s,
        json!([
            {"op": "init", "signer": key("ed25519", ED_A), "created_at": T0},
            {"op": "add", "claim": claim, "signer": key("ed25519", ED_A), "created_at": T0 + 20},
            {"op": "add_device", "device": device, "name": "laptop",
             "signer": key("ed25519", ED_A), "created_at": T0 + 30},
            {"op": "rotate", "new_key": key("ed25519", ED_B),
             "signer": key("ed25519", ED_A), "created_at": T0 + 40},
        ]),
    )
}

/// The public key text of a secret, read off a claim it signs.
fn public_key(s: &mut Session, alg: &str, secret: &str) -> String {
    let claim = s.ok(
        "claim_sign",
        json!({"key": key(alg, secret), "subject": "github:jason", "created_at": T0,
               "aux": BIP340_AUX}),
    )["claim"]
        .as_str()
        .unwrap()
        .to_string();
    let object: Value = serde_json::from_str(&claim).unwrap();
    object["key"].as_str().unwrap().to_string()
}

fn lines(jsonl: &str) -> Vec<&str> {
    jsonl.lines().collect()
}

// ---------------------------------------------------------------------------------------
// hello, framing, errors

#[test]
fn hello_names_the_adapter_and_every_op() {
    let mut s = Session::rust();
    let hello = s.ok("hello", json!({}));
    assert_eq!(hello["name"], "rust");
    assert_eq!(hello["protocol"], 1);
    assert_eq!(hello["spec"], "0.2");
    assert_eq!(hello["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        hello["ops"],
        json!([
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
            "shutdown"
        ])
    );
    s.finish();
}

#[test]
fn protocol_errors_are_answered_in_order_and_the_session_goes_on() {
    let mut s = Session::rust();
    let message = s.fails("frobnicate", json!({}), "unsupported");
    assert_eq!(message, "unknown op \"frobnicate\"");

    // Not JSON at all: id null, usage, and the adapter keeps going.
    s.send_line(b"this is not json {\"id\": 5");
    let response = s.response();
    assert_eq!(response["id"], Value::Null);
    assert_eq!(response["error"]["kind"], "usage");

    s.send_line(b"{\"id\": 5, \"op\": \"hello\", \"args\": {\"x\": \"\xff\"}}");
    let response = s.response();
    assert_eq!(
        response["id"],
        Value::Null,
        "not UTF-8, so not JSON: {response}"
    );
    assert_eq!(response["error"]["kind"], "usage");

    // JSON but not a request: the id is kept when there is one.
    s.send_line(br#"[1, 2, 3]"#);
    assert_eq!(s.response()["id"], Value::Null);
    s.send_line(br#"{"id": {"n": 1}, "args": {}}"#);
    let response = s.response();
    assert_eq!(response["id"], json!({"n": 1}));
    assert_eq!(response["error"]["kind"], "usage");
    s.send_line(br#"{"id": "s", "op": "hello", "args": [1]}"#);
    let response = s.response();
    assert_eq!(response["id"], "s");
    assert_eq!(response["error"]["kind"], "usage");
    s.send_line(br#"{"id": 1, "id": 2, "op": "hello", "args": {}}"#);
    assert_eq!(s.response()["error"]["kind"], "usage");

    // Missing and mistyped arguments are usage errors naming the argument.
    let message = s.fails("canonicalize", json!({}), "usage");
    assert_eq!(message, "missing argument json");
    let message = s.fails("canonicalize", json!({"json": 5}), "usage");
    assert_eq!(message, "argument json: expected a string, found a number");
    s.fails("claim_verify", json!({"text": "x", "at": -1}), "usage");
    s.fails("chain_compare", json!({"copies": ["only one"]}), "usage");
    // Unknown argument values are unsupported.
    s.fails(
        "sign_raw",
        json!({"alg": "rsa", "secret": ED_A, "msg": ""}),
        "unsupported",
    );
    s.fails(
        "decode",
        json!({"text": "{}", "encoding": "yaml"}),
        "unsupported",
    );

    // Requests pipelined before any answer is read are answered in order, ids as sent.
    let ids = [
        json!("a"),
        json!(7),
        json!(null),
        json!(-1.5),
        json!([true]),
    ];
    for id in &ids {
        let request = json!({"id": id, "op": "hello", "args": {}});
        s.send_line(request.to_string().as_bytes());
    }
    // Blank lines are not requests.
    s.send_line(b"");
    s.send_line(b"   ");
    for id in &ids {
        let response = s.response();
        assert_eq!(&response["id"], id);
        assert_eq!(response["result"]["protocol"], 1);
    }
    // A request whose args are absent or null runs with no arguments.
    s.send_line(br#"{"id": 99, "op": "hello"}"#);
    assert_eq!(s.response()["result"]["name"], "rust");
    s.finish();
}

#[test]
fn shutdown_answers_then_exits_zero_ignoring_later_lines() {
    let mut s = Session::rust();
    s.ok("hello", json!({}));
    assert_eq!(s.ok("shutdown", json!({})), json!({}));
    // Written after shutdown: the adapter has exited or will not read it.
    if let Some(stdin) = s.stdin.as_mut() {
        let _ = stdin.write_all(b"{\"id\":3,\"op\":\"hello\",\"args\":{}}\n");
    }
    s.finish();
}

#[test]
fn eof_exits_zero_after_answering_everything() {
    let mut s = Session::rust();
    s.send_line(br#"{"id":1,"op":"canonicalize","args":{"json":"[1.0]"}}"#);
    let stdin = s.stdin.as_mut().unwrap();
    // The last request may lack its newline.
    stdin
        .write_all(br#"{"id":2,"op":"canonicalize","args":{"json":"[2.0]"}}"#)
        .unwrap();
    drop(s.stdin.take());
    assert_eq!(s.response()["result"]["canonical"], "[1]");
    assert_eq!(s.response()["result"]["canonical"], "[2]");
    s.finish();
}

#[test]
fn a_request_line_over_16_mib_is_a_usage_error_and_the_session_goes_on() {
    let mut s = Session::rust();
    let mut line = br#"{"id":1,"op":"canonicalize","args":{"json":""#.to_vec();
    line.resize(16 * 1024 * 1024 + 1, b'a');
    s.send_line(&line);
    let response = s.response();
    assert_eq!(response["id"], Value::Null);
    assert_eq!(response["error"]["kind"], "usage");
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("longer than 16777216 bytes"),
        "{response}"
    );
    // Exactly at the cap is still a request (and too big a JSON text is not an error).
    let mut line = br#"{"id":2,"op":"hello","args":{},"pad":""#.to_vec();
    line.resize(16 * 1024 * 1024 - 2, b' ');
    line.extend_from_slice(b"\"}");
    assert_eq!(line.len(), 16 * 1024 * 1024);
    s.send_line(&line);
    let response = s.response();
    assert_eq!(response["id"], 2);
    assert_eq!(response["result"]["protocol"], 1);
    s.finish();
}

#[test]
fn secrets_in_requests_never_appear_in_error_messages() {
    let mut s = Session::rust();
    let secret = "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e7";
    let mut messages = Vec::new();
    // Not hex, wrong length, invalid scalar, in every place a secret is taken.
    messages.push(s.fails(
        "sign_raw",
        json!({"alg": "ed25519", "secret": format!("{secret}zzzz"), "msg": ""}),
        "usage",
    ));
    messages.push(s.fails(
        "sign_raw",
        json!({"alg": "bip340", "secret": secret, "msg": ""}),
        "usage",
    ));
    messages.push(s.fails(
        "sign_raw",
        json!({"alg": "bip340", "secret": "f".repeat(64), "msg": ""}),
        "usage",
    ));
    messages.push(s.fails(
        "claim_sign",
        json!({"key": key("ed25519", &format!("{secret}Q1")), "subject": "github:jason",
               "created_at": T0}),
        "usage",
    ));
    messages.push(s.fails(
        "chain_build",
        json!({"links": [{"op": "rotate", "signer": key("ed25519", ED_A), "created_at": T0,
                          "new_key": key("bip340", &"0".repeat(64))}]}),
        "usage",
    ));
    // A broken request line holding a secret.
    s.send_line(format!(r#"{{"id":1,"op":"sign_raw","args":{{"secret":"{secret}}}"#).as_bytes());
    messages.push(
        s.response()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    for message in &messages {
        assert!(!message.contains("5ec2e7"), "{message}");
        assert!(!message.contains("ffffffff"), "{message}");
        assert!(!message.contains("Q1"), "{message}");
    }
    assert!(messages[0].starts_with("secret:"), "{}", messages[0]);
    assert!(messages[3].starts_with("key.secret:"), "{}", messages[3]);
    assert!(
        messages[4].contains("links[0].new_key.secret"),
        "{}",
        messages[4]
    );
    s.finish();
}

// ---------------------------------------------------------------------------------------
// canonicalize, sign_raw, verify_raw

#[test]
fn canonicalize_gives_jcs_or_a_malformed_rejection() {
    let mut s = Session::rust();
    let result = s.ok("canonicalize", json!({"json": "{\"b\": 1, \"a\": 2.0}"}));
    assert_eq!(
        result,
        json!({"status": "ok", "canonical": "{\"a\":2,\"b\":1}"})
    );
    let result = s.ok("canonicalize", json!({"json": "[1e400]"}));
    assert_eq!(result["status"], "rejected");
    for bad in ["{\"a\": 1, \"a\": 2}", "{", "[1] x", "\"\\ud800\"", ""] {
        let result = s.ok("canonicalize", json!({ "json": bad }));
        assert_eq!(result["status"], "rejected", "{bad:?}: {result}");
        assert_eq!(result["reason"], "malformed", "{bad:?}");
        assert!(
            result["message"].as_str().unwrap().contains("JSON"),
            "{result}"
        );
    }
    s.finish();
}

#[test]
fn raw_signatures_match_the_published_vectors_in_both_suites() {
    let mut s = Session::rust();
    let sig = s.ok(
        "sign_raw",
        json!({"alg": "ed25519", "secret": RFC8032_SECRET, "msg": ""}),
    );
    assert_eq!(sig, json!({ "sig": RFC8032_SIG }));
    let sig = s.ok(
        "sign_raw",
        json!({"alg": "bip340", "secret": BIP_A, "msg": BIP340_MSG, "aux": BIP340_AUX}),
    );
    assert_eq!(sig, json!({ "sig": BIP340_SIG }));
    // Without aux, BIP-340 draws it at random: the signature still verifies.
    let random = s.ok(
        "sign_raw",
        json!({"alg": "bip340", "secret": BIP_A, "msg": "ab"}),
    )["sig"]
        .clone();
    let verify = |s: &mut Session, alg: &str, public: &str, msg: &str, sig: &str| {
        s.ok(
            "verify_raw",
            json!({"alg": alg, "public": public, "msg": msg, "sig": sig}),
        )["valid"]
            .as_bool()
            .unwrap()
    };
    assert!(verify(
        &mut s,
        "bip340",
        BIP340_PUBLIC,
        "ab",
        random.as_str().unwrap()
    ));
    assert!(verify(&mut s, "ed25519", RFC8032_PUBLIC, "", RFC8032_SIG));
    assert!(verify(
        &mut s,
        "bip340",
        BIP340_PUBLIC,
        BIP340_MSG,
        BIP340_SIG
    ));
    assert!(!verify(
        &mut s,
        "ed25519",
        RFC8032_PUBLIC,
        "00",
        RFC8032_SIG
    ));
    assert!(!verify(&mut s, "bip340", BIP340_PUBLIC, "", BIP340_SIG));
    // A small-order Ed25519 key is refused by the policy (SPEC.md §4.3): false.
    let identity_point = format!("01{}", "00".repeat(31));
    assert!(!verify(&mut s, "ed25519", &identity_point, "", RFC8032_SIG));
    // Wrong lengths verify nothing.
    assert!(!verify(
        &mut s,
        "ed25519",
        RFC8032_PUBLIC,
        "",
        &RFC8032_SIG[..126]
    ));
    assert!(!verify(
        &mut s,
        "ed25519",
        &RFC8032_PUBLIC[..62],
        "",
        RFC8032_SIG
    ));
    // Not hex is a malformed request.
    s.fails(
        "verify_raw",
        json!({"alg": "ed25519", "public": RFC8032_PUBLIC, "msg": "0g", "sig": RFC8032_SIG}),
        "usage",
    );
    s.finish();
}

// ---------------------------------------------------------------------------------------
// claims

#[test]
fn claim_sign_is_deterministic_and_checks_its_arguments() {
    let mut s = Session::rust();
    let args = json!({
        "key": key("bip340", BIP_A), "subject": "dns:example.com", "created_at": T0,
        "expires_at": T0 + 86_400, "nonce": "AAAAAAAAAAAAAAAAAAAAAA",
        "chain": "https://example.com/chain.jsonl", "extra": {"zeta": [1, 2.0], "alpha": "x"},
        "aux": AUX_1,
    });
    let claim = s.ok("claim_sign", args.clone())["claim"].clone();
    assert_eq!(s.ok("claim_sign", args)["claim"], claim);
    let text = claim.as_str().unwrap();
    assert!(text.starts_with("{\"alpha\":\"x\",\"chain\":\"https://example.com/chain.jsonl\",\"created_at\":1767225600,\"expires_at\":1767312000,"), "{text}");
    assert!(
        text.ends_with("\"type\":\"claim\",\"zeta\":[1,2]}"),
        "{text}"
    );
    let canonical = s.ok("canonicalize", json!({ "json": text }));
    assert_eq!(canonical["canonical"], claim);

    let base = json!({"key": key("ed25519", ED_A), "subject": "github:jason", "created_at": T0});
    let with = |extra: Value| {
        let mut args = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        args
    };
    let message = s.fails(
        "claim_sign",
        with(json!({"subject": "github:Jason"})),
        "usage",
    );
    assert!(message.contains("not canonical"), "{message}");
    s.fails("claim_sign", with(json!({"subject": "nonsense"})), "usage");
    let message = s.fails(
        "claim_sign",
        with(json!({"extra": {"kez": "0.3"}})),
        "usage",
    );
    assert!(message.contains("\"kez\""), "{message}");
    s.fails("claim_sign", with(json!({"expires_at": T0})), "usage");
    s.fails("claim_sign", with(json!({"nonce": "short"})), "usage");
    s.fails("claim_sign", with(json!({"created_at": "soon"})), "usage");
    s.fails(
        "claim_sign",
        with(json!({"key": {"alg": "ed448", "secret": ED_A}})),
        "unsupported",
    );
    s.finish();
}

#[test]
fn claim_verify_reports_each_outcome_and_reason() {
    let mut s = Session::rust();
    let claim = sign_claim(&mut s, ED_A, "github:jason", T0 + 10);
    let verify = |s: &mut Session, args: Value| s.ok("claim_verify", args)["results"].clone();
    let valid = json!([{"line": 1, "outcome": "valid", "reason": null}]);
    assert_eq!(
        verify(&mut s, json!({"text": claim, "at": T0 + 100})),
        valid
    );

    // Tampered: still a well-formed claim, but the signature no longer covers it.
    let tampered = claim.replace("github:jason", "github:jasom");
    assert_ne!(tampered, claim);
    assert_eq!(
        verify(&mut s, json!({"text": tampered, "at": T0 + 100})),
        json!([{"line": 1, "outcome": "invalid", "reason": "bad_signature"}])
    );
    assert_eq!(
        verify(
            &mut s,
            json!({"text": claim, "at": T0 + 100, "subject": "github:other"})
        ),
        json!([{"line": 1, "outcome": "invalid", "reason": "wrong_subject"}])
    );
    // The expected subject is normalised like any identity.
    assert_eq!(
        verify(
            &mut s,
            json!({"text": claim, "at": T0 + 100, "subject": "GitHub:Jason"})
        ),
        valid
    );
    assert_eq!(
        verify(&mut s, json!({"text": claim, "at": T0 - 1000})),
        json!([{"line": 1, "outcome": "invalid", "reason": "not_yet_valid"}])
    );
    let expiring = s.ok(
        "claim_sign",
        json!({"key": key("ed25519", ED_A), "subject": "github:jason", "created_at": T0,
               "expires_at": T0 + 50}),
    )["claim"]
        .clone();
    assert_eq!(
        verify(&mut s, json!({"text": expiring, "at": T0 + 50})),
        json!([{"line": 1, "outcome": "expired", "reason": null}])
    );
    assert_eq!(
        verify(&mut s, json!({"text": "hello there", "at": T0})),
        json!([{"line": 1, "outcome": "invalid", "reason": "malformed"}])
    );
    let future = claim.replace("\"kez\":\"0.2\"", "\"kez\":\"0.9\"");
    assert_eq!(
        verify(&mut s, json!({"text": future, "at": T0 + 100})),
        json!([{"line": 1, "outcome": "invalid", "reason": "unsupported"}])
    );
    // Every claim of a Markdown document, each at its fence's line.
    let markdown = format!("# Proofs\n\n```kez\n{claim}\n```\n\ntext\n\n```kez\n{{}}\n```\n");
    assert_eq!(
        verify(&mut s, json!({"text": markdown, "at": T0 + 100})),
        json!([
            {"line": 3, "outcome": "valid", "reason": null},
            {"line": 9, "outcome": "invalid", "reason": "malformed"},
        ])
    );
    s.fails("claim_verify", json!({"text": claim}), "usage");
    s.fails(
        "claim_verify",
        json!({"text": claim, "at": T0, "subject": "no scheme"}),
        "usage",
    );
    s.fails(
        "claim_verify",
        json!({"text": claim, "at": T0, "chains": [1]}),
        "usage",
    );
    s.finish();
}

#[test]
fn encode_and_decode_round_trip_through_every_encoding() {
    let mut s = Session::rust();
    let claim = sign_claim(&mut s, ED_A, "dns:example.com", T0);
    for to in ["json", "compact", "markdown", "dns"] {
        let encoded = s.ok("encode", json!({"text": claim, "to": to}));
        assert_eq!(encoded["status"], "ok", "{to}: {encoded}");
        let text = encoded["text"].as_str().unwrap();
        match to {
            "json" => assert_eq!(text, claim),
            "compact" => assert!(text.starts_with("kez:z1:"), "{text}"),
            "markdown" => assert!(text.starts_with("```kez\n"), "{text}"),
            _ => assert!(text.starts_with("_kez.example.com. "), "{text}"),
        }
        let ok = json!({"claims": [{"line": 1, "status": "ok", "jcs": claim}]});
        assert_eq!(s.ok("decode", json!({ "text": text })), ok, "{to}");
        assert_eq!(
            s.ok("decode", json!({"text": text, "encoding": to})),
            ok,
            "{to}"
        );
        // Re-encoding any encoding to JSON gives the JCS form back.
        let back = s.ok("encode", json!({"text": text, "to": "json"}));
        assert_eq!(back["text"], json!(claim), "{to}");
    }
    // Signatures are not checked by either.
    let tampered = claim.replace("example.com", "example.org");
    let decoded = s.ok("decode", json!({ "text": tampered }));
    assert_eq!(decoded["claims"][0]["status"], "ok");
    assert_eq!(
        s.ok("encode", json!({"text": tampered, "to": "json"}))["status"],
        "ok"
    );

    // Rejections.
    let result = s.ok("encode", json!({"text": "not a claim", "to": "compact"}));
    assert_eq!(result["status"], "rejected");
    assert_eq!(result["reason"], "malformed");
    let decoded = s.ok("decode", json!({"text": "not a claim"}));
    let entries = decoded["claims"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["line"], 1);
    assert_eq!(entries[0]["status"], "rejected");
    assert_eq!(entries[0]["reason"], "malformed");
    let decoded = s.ok("decode", json!({"text": claim, "encoding": "compact"}));
    assert_eq!(decoded["claims"][0]["status"], "rejected");
    let future = claim.replace("\"kez\":\"0.2\"", "\"kez\":\"0.3\"");
    let decoded = s.ok("decode", json!({ "text": future }));
    assert_eq!(decoded["claims"][0]["reason"], "unsupported");
    s.fails(
        "encode",
        json!({"text": claim, "to": "yaml"}),
        "unsupported",
    );
    s.fails("encode", json!({ "text": claim }), "usage");
    s.finish();
}

// ---------------------------------------------------------------------------------------
// chains

#[test]
fn chain_build_then_verify_reports_the_state_as_of_a_time() {
    let mut s = Session::rust();
    let claim = sign_claim(&mut s, ED_A, "github:jason", T0 + 10);
    let jsonl = chain_of_a(&mut s, &claim);
    assert_eq!(lines(&jsonl).len(), 4);
    assert!(jsonl.ends_with('\n'));
    // Deterministic: the same specs give the same bytes.
    assert_eq!(chain_of_a(&mut s, &claim), jsonl);
    let a = public_key(&mut s, "ed25519", ED_A);
    let b = public_key(&mut s, "ed25519", ED_B);
    let verified = s.ok("chain_verify", json!({ "jsonl": jsonl }));
    assert_eq!(verified["status"], "ok");
    assert_eq!(verified["length"], 4);
    assert_eq!(verified["root"], json!(a));
    assert_eq!(verified["primary"], json!(b));
    assert!(verified["head"].as_str().unwrap().starts_with("sha256:"));
    let before_rotation = s.ok("chain_verify", json!({"jsonl": jsonl, "at": T0 + 39}));
    assert_eq!(before_rotation["primary"], json!(a));
    assert_eq!(before_rotation["length"], 4);
    assert_eq!(before_rotation["head"], verified["head"]);
    // Before the chain began there is no key yet.
    let before = s.ok("chain_verify", json!({"jsonl": jsonl, "at": T0 - 1}));
    assert_eq!(before["root"], Value::Null);
    assert_eq!(before["primary"], Value::Null);

    // The claim, bound to the chain, through the rotation that retires its key.
    let verify = |s: &mut Session, chains: Value, at: u64| {
        s.ok(
            "claim_verify",
            json!({"text": claim, "at": at, "chains": chains}),
        )["results"][0]
            .clone()
    };
    assert_eq!(
        verify(&mut s, json!([jsonl]), T0 + 35),
        json!({"line": 1, "outcome": "valid", "reason": null})
    );
    assert_eq!(
        verify(&mut s, json!([jsonl]), T0 + 45)["outcome"],
        "revoked"
    );
    // A chain that binds some other claim.
    let other = sign_claim(&mut s, ED_A, "github:jason", T0 + 11);
    let unbound = chain_of_a(&mut s, &other);
    assert_eq!(
        verify(&mut s, json!([unbound]), T0 + 35),
        json!({"line": 1, "outcome": "invalid", "reason": "not_bound"})
    );
    // Revoked by subject, by B after the rotation.
    let revoke = build(
        &mut s,
        json!([
            {"op": "init", "signer": key("ed25519", ED_A), "created_at": T0},
            {"op": "add", "claim": claim, "signer": key("ed25519", ED_A), "created_at": T0 + 20},
            {"op": "revoke", "subject": "github:jason", "signer": key("ed25519", ED_A),
             "created_at": T0 + 30},
        ]),
    );
    assert_eq!(
        verify(&mut s, json!([revoke]), T0 + 35)["outcome"],
        "revoked"
    );
    assert_eq!(verify(&mut s, json!([revoke]), T0 + 25)["outcome"], "valid");
    s.finish();
}

#[test]
fn chain_verify_rejects_a_stranger_signer_and_broken_chains() {
    let mut s = Session::rust();
    let claim = sign_claim(&mut s, ED_A, "github:jason", T0 + 10);
    // chain_build signs whatever it is asked to: a stranger adds a claim to A's chain.
    let stranger = build(
        &mut s,
        json!([
            {"op": "init", "signer": key("ed25519", ED_A), "created_at": T0},
            {"op": "add", "claim": claim, "signer": key("ed25519", ED_STRANGER),
             "created_at": T0 + 20},
        ]),
    );
    let result = s.ok("chain_verify", json!({ "jsonl": stranger }));
    assert_eq!(result["status"], "rejected", "{result}");
    assert_eq!(result["reason"], "bad_signature");
    assert!(
        result["message"].as_str().unwrap().contains("seq 1"),
        "{result}"
    );
    let verdict = s.ok(
        "claim_verify",
        json!({"text": claim, "at": T0 + 30, "chains": [stranger]}),
    );
    assert_eq!(
        verdict["results"][0],
        json!({"line": 1, "outcome": "invalid", "reason": "bad_chain"})
    );
    // Time going back, a truncated line, an empty chain: malformed.
    let back = build(
        &mut s,
        json!([
            {"op": "init", "signer": key("ed25519", ED_A), "created_at": T0},
            {"op": "add", "claim": claim, "signer": key("ed25519", ED_A), "created_at": T0 - 1},
        ]),
    );
    let good = chain_of_a(&mut s, &claim);
    for bad in [back.as_str(), good.trim_end(), "", "{}\n"] {
        let result = s.ok("chain_verify", json!({ "jsonl": bad }));
        assert_eq!(result["status"], "rejected", "{bad:?}");
        assert_eq!(result["reason"], "malformed", "{bad:?}");
    }
    // A tampered signature.
    let mut tampered = lines(&good)
        .iter()
        .map(|l| format!("{l}\n"))
        .collect::<Vec<_>>();
    tampered[1] = tampered[1].replace("\"created_at\":1767225620", "\"created_at\":1767225621");
    let result = s.ok("chain_verify", json!({"jsonl": tampered.concat()}));
    assert_eq!(result["reason"], "bad_signature", "{result}");

    // chain_build itself refuses specs it cannot turn into a well-formed link.
    s.fails(
        "chain_build",
        json!({"links": [{"op": "fly", "signer": key("ed25519", ED_A), "created_at": T0}]}),
        "unsupported",
    );
    for spec in [
        json!({"op": "add", "claim": "not a claim", "signer": key("ed25519", ED_A), "created_at": T0}),
        json!({"op": "revoke", "signer": key("ed25519", ED_A), "created_at": T0}),
        json!({"op": "add_device", "device": "npub1xyz", "signer": key("ed25519", ED_A), "created_at": T0}),
        json!({"op": "add_device", "device": "ed25519:00", "signer": key("ed25519", ED_A), "created_at": T0, "name": ""}),
        json!({"op": "init", "signer": key("ed25519", ED_A)}),
        json!("init"),
    ] {
        s.fails("chain_build", json!({ "links": [spec] }), "usage");
    }
    s.fails("chain_build", json!({}), "usage");
    s.finish();
}

#[test]
fn diverging_copies_are_a_fork_and_prefixes_are_not() {
    let mut s = Session::rust();
    let claim = sign_claim(&mut s, ED_A, "github:jason", T0 + 10);
    let other = sign_claim(&mut s, ED_A, "github:jason", T0 + 11);
    let full = chain_of_a(&mut s, &claim);
    let fork = chain_of_a(&mut s, &other);
    let prefix: String = lines(&full)[..2].iter().map(|l| format!("{l}\n")).collect();
    let compare =
        |s: &mut Session, a: &str, b: &str| s.ok("chain_compare", json!({"copies": [a, b]}));
    assert_eq!(
        compare(&mut s, &full, &full),
        json!({"status": "ok", "relation": "identical"})
    );
    assert_eq!(
        compare(&mut s, &prefix, &full)["relation"],
        "first_is_prefix"
    );
    assert_eq!(
        compare(&mut s, &full, &prefix)["relation"],
        "second_is_prefix"
    );
    let forked = compare(&mut s, &full, &fork);
    assert_eq!(forked["status"], "rejected");
    assert_eq!(forked["reason"], "fork");
    assert!(
        forked["message"].as_str().unwrap().contains("seq 1"),
        "{forked}"
    );
    // A copy that does not verify is its own rejection.
    let broken = compare(&mut s, &full, "garbage\n");
    assert_eq!(broken["reason"], "malformed");

    // Copies given to claim_verify: a fork is the outcome; agreeing copies are fine.
    let verdict = s.ok(
        "claim_verify",
        json!({"text": claim, "at": T0 + 35, "chains": [full, fork]}),
    );
    assert_eq!(
        verdict["results"],
        json!([{"line": 1, "outcome": "fork", "reason": null}])
    );
    let verdict = s.ok(
        "claim_verify",
        json!({"text": claim, "at": T0 + 35, "chains": [prefix, full]}),
    );
    assert_eq!(verdict["results"][0]["outcome"], "valid");

    // Two different links at one seq of one file: a fork too.
    let both = format!("{}{}\n", full, lines(&fork)[1]);
    let inline: String = lines(&full)[..2]
        .iter()
        .chain(&lines(&fork)[1..2])
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        s.ok("chain_verify", json!({ "jsonl": inline }))["reason"],
        "fork"
    );
    assert_eq!(
        s.ok("chain_verify", json!({ "jsonl": both }))["reason"],
        "malformed"
    );
    s.finish();
}

#[test]
fn chain_export_cuts_at_a_time_and_rejects_bad_chains() {
    let mut s = Session::rust();
    let claim = sign_claim(&mut s, ED_A, "github:jason", T0 + 10);
    let jsonl = chain_of_a(&mut s, &claim);
    let export = |s: &mut Session, args: Value| s.ok("chain_export", args);
    assert_eq!(
        export(&mut s, json!({ "jsonl": jsonl })),
        json!({"status": "ok", "jsonl": jsonl})
    );
    let cut: String = lines(&jsonl)[..2]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    // at is inclusive: the link created at T0 + 20 is in, the one at T0 + 30 is not.
    assert_eq!(
        export(&mut s, json!({"jsonl": jsonl, "at": T0 + 20}))["jsonl"],
        json!(cut)
    );
    assert_eq!(
        export(&mut s, json!({"jsonl": jsonl, "at": T0 + 29}))["jsonl"],
        json!(cut)
    );
    assert_eq!(
        export(&mut s, json!({"jsonl": jsonl, "at": T0 - 1}))["jsonl"],
        json!("")
    );
    // A chain that does not verify is not exported: CRLF line ends are not JCS lines.
    let rejected = export(&mut s, json!({"jsonl": jsonl.replace('\n', "\r\n")}));
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reason"], "malformed");
    s.finish();
}

#[test]
fn bip340_chains_with_aux_are_reproducible_and_verify() {
    let mut s = Session::rust();
    let links = json!([
        {"op": "init", "signer": key("bip340", BIP_A), "created_at": T0, "aux": AUX_1},
        {"op": "rotate", "new_key": key("bip340", BIP_B), "signer": key("bip340", BIP_A),
         "created_at": T0 + 5, "aux": AUX_1, "counter_aux": AUX_2},
        {"op": "revoke", "subject": "github:jason", "signer": key("bip340", BIP_B),
         "created_at": T0 + 6, "aux": AUX_2},
    ]);
    let first = build(&mut s, links.clone());
    assert_eq!(build(&mut s, links), first);
    let verified = s.ok("chain_verify", json!({ "jsonl": first }));
    assert_eq!(verified["status"], "ok", "{verified}");
    assert_eq!(verified["length"], 3);
    assert_eq!(verified["root"], json!(format!("bip340:{BIP340_PUBLIC}")));
    // Without aux, the signatures are fresh each time but still verify.
    let random = build(
        &mut s,
        json!([{"op": "init", "signer": key("bip340", BIP_A), "created_at": T0}]),
    );
    assert_ne!(random, lines(&first)[0].to_string() + "\n");
    assert_eq!(
        s.ok("chain_verify", json!({ "jsonl": random }))["status"],
        "ok"
    );
    s.finish();
}

// ---------------------------------------------------------------------------------------
// Cross-check against the Node implementation

/// Strips the free-text `message` members, which implementations word as they like.
fn without_messages(value: &Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .filter(|(k, _)| k.as_str() != "message")
                .map(|(k, v)| (k.clone(), without_messages(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_messages).collect()),
        other => other.clone(),
    }
}

/// Sends `op` to both adapters and requires the same result (messages aside).
fn agree(rust: &mut Session, node: &mut Session, op: &str, args: Value) -> Value {
    let r = rust.ok(op, args.clone());
    let n = node.ok(op, args.clone());
    assert_eq!(
        without_messages(&r),
        without_messages(&n),
        "the Rust and Node adapters disagree on {op} {args}\nrust: {r}\nnode: {n}"
    );
    r
}

/// Sends `op` to both adapters and requires exactly the known, different results.
/// Both adapters give `expected` (messages aside) for `op`.
fn both_give(rust: &mut Session, node: &mut Session, op: &str, args: Value, expected: Value) {
    let r = without_messages(&rust.ok(op, args.clone()));
    let n = without_messages(&node.ok(op, args.clone()));
    assert_eq!(r, expected, "rust's answer to {op} {args}");
    assert_eq!(n, expected, "node's answer to {op} {args}");
}

#[test]
fn node_adapter_agrees_with_the_rust_adapter_when_requested() {
    const VAR: &str = "KEZ_CROSSTEST_NODE";
    match std::env::var_os(VAR) {
        None => {
            eprintln!(
                "{VAR} is not set: the cross-check against crosstest/impls/node was not \
                 requested (scripts/test.sh sets {VAR}=1 after npm ci)"
            );
            assert!(std::env::var_os(VAR).is_none());
            return;
        }
        Some(v) if v == "1" => {}
        Some(v) => panic!("{VAR} is {v:?}; set it to 1 to run the Node cross-check, or unset it"),
    }
    let root = workspace_root();
    let node_dir = root.join("crosstest/impls/node");
    assert!(
        node_dir.join("node_modules").is_dir(),
        "{VAR}=1 but {} does not exist: run `npm ci` in crosstest/impls/node first",
        node_dir.join("node_modules").display()
    );
    let mut command = Command::new("node");
    command
        .arg("crosstest/impls/node/src/adapter.mjs")
        .current_dir(&root);
    let mut node = Session::spawn("node", command);
    let mut rust = Session::rust();
    let hello = node.ok("hello", json!({}));
    assert_eq!(hello["protocol"], 1);
    assert_eq!(hello["spec"], "0.2");

    // canonicalize, accepted and rejected.
    for input in [
        "{\"b\": 1, \"a\": 2.0}",
        "[1e21, 1e-7, 0.1, -0, 9007199254740993, \"\\u00e9\\u20ac\\ud83d\\ude00\"]",
        "{\"\\u00e9\": 1, \"z\": 2, \"a\": {\"\\ud83d\\ude00\": [], \"\\u20ac\": null}}",
        "{\"a\": 1, \"a\": 2}",
        "[1] x",
        "\"\\ud800\"",
        "[1e400]",
    ] {
        agree(
            &mut rust,
            &mut node,
            "canonicalize",
            json!({ "json": input }),
        );
    }

    // claim_sign, Ed25519 and BIP-340 with aux, with every optional member.
    let mut claims = Vec::new();
    let plain =
        json!({"key": key("ed25519", ED_A), "subject": "github:jason", "created_at": T0 + 10});
    for (i, (k, aux)) in [
        (key("ed25519", ED_A), None),
        (key("bip340", BIP_A), Some(AUX_1)),
        (key("bip340", BIP_B), Some(AUX_2)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut args = json!({
            "key": k, "subject": "dns:example.com", "created_at": T0 + 10,
            "expires_at": T0 + 86_400, "nonce": "AAAAAAAAAAAAAAAAAAAAAA",
            "chain": "https://example.com/chain.jsonl",
            "extra": {"zeta": [1, 2.0, "\u{e9}"], "alpha": {"b": true, "a": null}},
        });
        if let Some(aux) = aux {
            args["aux"] = json!(aux);
        }
        let signed = agree(&mut rust, &mut node, "claim_sign", args);
        claims.push(signed["claim"].as_str().unwrap().to_string());
        if i == 0 {
            let signed = agree(&mut rust, &mut node, "claim_sign", plain.clone());
            claims.push(signed["claim"].as_str().unwrap().to_string());
        }
    }
    // claims: [0] Ed25519 A, every member; [1] Ed25519 A, plain; [2] BIP-340 A; [3] BIP-340 B.

    // sign_raw and verify_raw on the published vectors.
    agree(
        &mut rust,
        &mut node,
        "sign_raw",
        json!({"alg": "ed25519", "secret": RFC8032_SECRET, "msg": "af82"}),
    );
    agree(
        &mut rust,
        &mut node,
        "sign_raw",
        json!({"alg": "bip340", "secret": BIP_A, "msg": BIP340_MSG, "aux": BIP340_AUX}),
    );
    agree(
        &mut rust,
        &mut node,
        "verify_raw",
        json!({"alg": "bip340", "public": BIP340_PUBLIC, "msg": BIP340_MSG, "sig": BIP340_SIG}),
    );

    // encode to JSON from every encoding, and decode every encoding.
    for claim in &claims {
        for to in ["json", "compact", "markdown", "dns"] {
            let encoded = rust.ok("encode", json!({"text": claim, "to": to}));
            let text = encoded["text"].as_str().unwrap();
            agree(
                &mut rust,
                &mut node,
                "encode",
                json!({"text": text, "to": "json"}),
            );
            agree(&mut rust, &mut node, "decode", json!({ "text": text }));
        }
        agree(
            &mut rust,
            &mut node,
            "encode",
            json!({"text": claim, "to": "json"}),
        );
    }
    agree(
        &mut rust,
        &mut node,
        "decode",
        json!({"text": "not a claim"}),
    );
    let markdown = format!("intro\n\n```kez\n{}\n```\n\n```kez\n{{}}\n```\n", claims[0]);
    agree(&mut rust, &mut node, "decode", json!({ "text": markdown }));

    // chain_build, Ed25519 and BIP-340 with aux: byte-identical JSONL.
    let device = public_key(&mut rust, "ed25519", ED_DEVICE);
    let ed_links = json!([
        {"op": "init", "signer": key("ed25519", ED_A), "created_at": T0},
        {"op": "add", "claim": claims[1], "signer": key("ed25519", ED_A), "created_at": T0 + 20},
        {"op": "add_device", "device": device, "name": "laptop",
         "signer": key("ed25519", ED_A), "created_at": T0 + 30},
        {"op": "add", "claim": claims[0], "signer": key("ed25519", ED_DEVICE), "created_at": T0 + 31},
        {"op": "revoke", "claim": claims[0], "signer": key("ed25519", ED_A), "created_at": T0 + 32},
        {"op": "revoke_device", "device": device, "signer": key("ed25519", ED_A), "created_at": T0 + 33},
        {"op": "rotate", "new_key": key("ed25519", ED_B), "signer": key("ed25519", ED_A),
         "created_at": T0 + 40},
        {"op": "revoke", "subject": "dns:example.com", "signer": key("ed25519", ED_B),
         "created_at": T0 + 50},
    ]);
    let bip_links = json!([
        {"op": "init", "signer": key("bip340", BIP_A), "created_at": T0, "aux": AUX_1},
        {"op": "add", "claim": claims[2], "signer": key("bip340", BIP_A), "created_at": T0 + 20,
         "aux": AUX_2},
        {"op": "rotate", "new_key": key("bip340", BIP_B), "signer": key("bip340", BIP_A),
         "created_at": T0 + 30, "aux": AUX_1, "counter_aux": AUX_2},
        {"op": "add_device", "device": device, "signer": key("bip340", BIP_B),
         "created_at": T0 + 40, "aux": AUX_2},
    ]);
    let stranger_links = json!([
        {"op": "init", "signer": key("ed25519", ED_A), "created_at": T0},
        {"op": "add", "claim": claims[1], "signer": key("ed25519", ED_STRANGER), "created_at": T0 + 20},
    ]);
    let mut chains = Vec::new();
    for links in [ed_links, bip_links, stranger_links] {
        let built = agree(
            &mut rust,
            &mut node,
            "chain_build",
            json!({ "links": links }),
        );
        chains.push(built["jsonl"].as_str().unwrap().to_string());
    }
    // The same init as chains[0], then another link at seq 1.
    let forked = build(
        &mut rust,
        json!([
            {"op": "init", "signer": key("ed25519", ED_A), "created_at": T0},
            {"op": "add", "claim": claims[3], "signer": key("ed25519", ED_A), "created_at": T0 + 20},
        ]),
    );
    assert_eq!(lines(&forked)[0], lines(&chains[0])[0]);

    // chain_verify, chain_compare and chain_export, as of several times.
    for chain in &chains {
        for at in [
            None,
            Some(T0 - 1),
            Some(T0),
            Some(T0 + 25),
            Some(T0 + 45),
            Some(T0 + 99),
        ] {
            let mut args = json!({ "jsonl": chain });
            if let Some(at) = at {
                args["at"] = json!(at);
            }
            agree(&mut rust, &mut node, "chain_verify", args.clone());
            agree(&mut rust, &mut node, "chain_export", args);
        }
    }
    let prefix: String = lines(&chains[0])[..3]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    for (a, b) in [
        (&chains[0], &chains[0]),
        (&prefix, &chains[0]),
        (&chains[0], &prefix),
        (&chains[0], &forked),
        (&chains[0], &chains[2]),
    ] {
        agree(
            &mut rust,
            &mut node,
            "chain_compare",
            json!({"copies": [a, b]}),
        );
    }

    // claim_verify: every claim against no chain and the full chain as of times across
    // its history, and against the other chains and sets of copies once. (Kept small:
    // Ed25519 in a debug build costs milliseconds a signature.)
    let tampered = claims[0].replace("example.com", "example.org");
    for text in claims.iter().chain([&tampered, &markdown]) {
        for at in [T0, T0 + 25, T0 + 35, T0 + 45, T0 + 100_000] {
            for args in [
                json!({"text": text, "at": at}),
                json!({"text": text, "at": at, "subject": "dns:example.com"}),
                json!({"text": text, "at": at, "chains": [chains[0]]}),
            ] {
                agree(&mut rust, &mut node, "claim_verify", args);
            }
        }
        for copies in [
            vec![&chains[1]],
            vec![&chains[2]],
            vec![&prefix, &chains[0]],
            vec![&chains[0], &forked],
        ] {
            agree(
                &mut rust,
                &mut node,
                "claim_verify",
                json!({"text": text, "at": T0 + 35, "chains": copies}),
            );
        }
    }

    // Which failure wins when several copies of a chain fail in different ways (SPEC.md
    // §7.6-2): every copy is verified in full in the order given, the first failing copy
    // decides, and a broken copy outranks a fork. These three cases once disagreed.
    let late_failure = build(
        &mut rust,
        json!([
            {"op": "init", "signer": key("ed25519", ED_A), "created_at": T0},
            {"op": "add", "claim": claims[1], "signer": key("ed25519", ED_A), "created_at": T0 + 1},
            {"op": "add", "claim": claims[0], "signer": key("ed25519", ED_A), "created_at": T0 + 2},
            {"op": "add", "claim": claims[0], "signer": key("ed25519", ED_STRANGER), "created_at": T0 + 3},
        ]),
    );
    let early_failure = format!("{}\ngarbage\n", lines(&late_failure)[0]);
    // (1) Two failing copies: the first copy's failure wins, though it comes on a later line.
    both_give(
        &mut rust,
        &mut node,
        "chain_compare",
        json!({"copies": [late_failure, early_failure]}),
        json!({"status": "rejected", "reason": "bad_signature"}),
    );
    // The same with the second copy forking within itself (line 3) before the first
    // fails (line 4): the outcome itself differs, with two copies.
    let fork_within = format!(
        "{}\n{}\n{}\n",
        lines(&late_failure)[0],
        lines(&late_failure)[1],
        lines(&forked)[1]
    );
    both_give(
        &mut rust,
        &mut node,
        "claim_verify",
        json!({"text": claims[1], "at": T0 + 25, "chains": [late_failure, fork_within]}),
        json!({"results": [{"line": 1, "outcome": "invalid", "reason": "bad_chain"}]}),
    );
    // (2) Three copies, the first two diverging and the third failing: the failure wins.
    both_give(
        &mut rust,
        &mut node,
        "claim_verify",
        json!({"text": claims[1], "at": T0 + 25, "chains": [chains[0], forked, chains[2]]}),
        json!({"results": [{"line": 1, "outcome": "invalid", "reason": "bad_chain"}]}),
    );

    // Both know what they do not know.
    node.fails("frobnicate", json!({}), "unsupported");
    assert_eq!(node.ok("shutdown", json!({})), json!({}));
    assert_eq!(rust.ok("shutdown", json!({})), json!({}));
    node.finish();
    rust.finish();
}

// ---------------------------------------------------------------------------------------
// NATS operations (docs/ADAPTER.md "NATS operations")

/// The nkey seed and public key of `role` for 32 bytes of `byte`.
fn nkey(s: &mut Session, role: &str, byte: &str) -> (String, String) {
    let key = s.ok(
        "nats_nkey_create",
        json!({"role": role, "raw": byte.repeat(32)}),
    );
    (
        key["seed"].as_str().unwrap().to_string(),
        key["public"].as_str().unwrap().to_string(),
    )
}

fn encode_jwt(s: &mut Session, args: Value) -> String {
    let answer = s.ok("nats_jwt_encode", args);
    assert_eq!(answer["status"], "ok", "{answer}");
    answer["jwt"].as_str().unwrap().to_string()
}

#[test]
fn nats_nkeys_round_trip_and_rejections_are_typed() {
    let mut s = Session::rust();
    let (seed, public) = nkey(&mut s, "user", "33");
    assert_eq!(
        public,
        "UAL4W6P3FNASB4VR5RS6IGMNNYELFDUBH7VQDZFEACBZXBPBQCAM4C47"
    );
    let decoded = s.ok("nats_nkey_decode", json!({"text": seed, "role": "user"}));
    assert_eq!(decoded["raw"], "33".repeat(32));
    assert_eq!(decoded["public"], public.as_str());
    let from_public = s.ok("nats_nkey_decode", json!({"text": public}));
    assert_eq!(from_public["key"], decoded["key"]);
    assert_eq!(from_public["form"], "public");
    for (text, reason) in [
        (format!("{public}===="), "nkey.padding"),
        (public[1..].to_string(), "nkey.length"),
        (public.to_lowercase(), "nkey.base32"),
        (
            "UAL4W6P3FNBSB4VR5RS6IGMNNYELFDUBH7VQDZFEACBZXBPBQCAM4C47".into(),
            "nkey.crc",
        ),
        (
            "XAL4W6P3FNASB4VR5RS6IGMNNYELFDUBH7VQDZFEACBZXBPBQCAM5J7N".into(),
            "nkey.role",
        ),
    ] {
        let answer = s.ok("nats_nkey_decode", json!({ "text": text }));
        assert_eq!(answer["reason"], reason, "{text}: {answer}");
    }
    let wrong = s.ok(
        "nats_nkey_decode",
        json!({"text": public, "role": "account"}),
    );
    assert_eq!(wrong["reason"], "nkey.wrong_role");
    s.fails(
        "nats_nkey_create",
        json!({"role": "server", "raw": "00".repeat(32)}),
        "unsupported",
    );
    s.finish();
}

#[test]
fn nats_chain_checks_clean_and_each_defect_has_its_code() {
    let mut s = Session::rust();
    let (op_seed, op) = nkey(&mut s, "operator", "11");
    let (acct_seed, acct) = nkey(&mut s, "account", "22");
    let (user_seed, user) = nkey(&mut s, "user", "33");
    let t0 = 1_767_225_600u64;
    let operator = encode_jwt(
        &mut s,
        json!({"type": "operator", "signer": op_seed, "subject": op, "iat": t0}),
    );
    let account = encode_jwt(
        &mut s,
        json!({"type": "account", "signer": op_seed, "subject": acct, "iat": t0}),
    );
    let user_jwt = encode_jwt(
        &mut s,
        json!({"type": "user", "signer": acct_seed, "subject": user, "iat": t0,
               "nats": {"pub": {"allow": ["a.>"]}}}),
    );
    let creds = s.ok(
        "nats_creds_format",
        json!({"jwt": user_jwt, "seed": user_seed}),
    )["creds"]
        .as_str()
        .unwrap()
        .to_string();
    let parsed = s.ok("nats_creds_parse", json!({ "creds": creds }));
    assert_eq!(parsed["canonical"], true);
    assert_eq!(parsed["jwt"], user_jwt.as_str());
    let at = t0 + 100;
    let clean = s.ok(
        "nats_check",
        json!({"operator": operator, "accounts": [account], "creds": [creds], "at": at}),
    );
    assert_eq!(clean["status"], "ok", "{clean}");
    assert_eq!(clean["codes"], json!([]));

    let self_signed = encode_jwt(
        &mut s,
        json!({"type": "account", "signer": acct_seed, "subject": acct, "iat": t0}),
    );
    let answer = s.ok(
        "nats_check",
        json!({"operator": operator, "accounts": [self_signed], "at": at}),
    );
    assert_eq!(answer["reason"], "chain.account_self_signed");

    let refused = s.ok(
        "nats_jwt_encode",
        json!({"type": "user", "signer": user_seed, "subject": user, "iat": t0}),
    );
    assert_eq!(refused["reason"], "jwt.issuer_invalid");
    let padded = account.replacen("ifQ.", "ifQ==.", 1);
    let answer = s.ok("nats_jwt_decode", json!({ "jwt": padded }));
    assert_eq!(answer["reason"], "jwt.malformed");
    let untyped = s.ok(
        "nats_jwt_sign_raw",
        json!({"signer": op_seed, "over": "payload",
               "payload": format!("{{\"iss\":\"{op}\",\"sub\":\"{acct}\",\"nats\":{{\"version\":2}}}}")}),
    )["jwt"]
        .clone();
    let answer = s.ok("nats_jwt_decode", json!({ "jwt": untyped }));
    assert_eq!(answer["reason"], "jwt.type_missing");
    let both = s.ok(
        "nats_check",
        json!({"operator": operator, "accounts": [self_signed, untyped], "at": at}),
    );
    assert_eq!(
        both["reason"], "chain.account_self_signed+jwt.type_missing",
        "{both}"
    );
    s.fails(
        "nats_jwt_encode",
        json!({"type": "operator", "signer": op_seed, "subject": op, "iat": t0,
               "nats": {"signing_key": ["x"]}}),
        "usage",
    );
    s.fails(
        "nats_jwt_encode",
        json!({"type": "activation", "signer": op_seed, "subject": op, "iat": t0}),
        "unsupported",
    );
    s.finish();
}

#[test]
fn nats_ops_agree_with_the_node_adapter_when_requested() {
    if std::env::var_os("KEZ_CROSSTEST_NODE").is_none_or(|v| v != "1") {
        eprintln!(
            "KEZ_CROSSTEST_NODE is not 1: the NATS cross-check against Node was not requested"
        );
        return;
    }
    let mut command = Command::new("node");
    command
        .arg("crosstest/impls/node/src/adapter.mjs")
        .current_dir(workspace_root());
    let mut node = Session::spawn("node", command);
    let mut rust = Session::rust();
    let (op_seed, op) = nkey(&mut rust, "operator", "11");
    let (acct_seed, acct) = nkey(&mut rust, "account", "22");
    let (user_seed, user) = nkey(&mut rust, "user", "33");
    assert_eq!(
        nkey(&mut node, "user", "33"),
        (user_seed.clone(), user.clone())
    );
    let t0 = 1_767_225_600u64;
    for args in [
        json!({"type": "operator", "signer": op_seed, "subject": op, "iat": t0, "name": "a<b",
               "nats": {"system_account": acct, "strict_signing_key_usage": true}}),
        json!({"type": "account", "signer": op_seed, "subject": acct, "iat": t0, "expires": t0 + 9,
               "nats": {"limits": {"conn": 3, "streams": 2}, "revocations": {"*": 5, (user.clone()): 7},
                        "signing_keys": [{"kind": "user_scope", "key": acct, "role": "r",
                                          "template": {"sub": {"allow": ["x"]}}}]}}),
        json!({"type": "user", "signer": acct_seed, "subject": user, "iat": t0,
               "nats": {"pub": {"deny": ["y"]}, "src": "10.0.0.0/8, 10.0.0.0/8", "resp": {"max": 1, "ttl": 9}}}),
        json!({"type": "user", "signer": user_seed, "subject": user, "iat": t0}),
        json!({"type": "user", "signer": acct_seed, "subject": acct, "iat": t0}),
    ] {
        let encoded = agree(&mut rust, &mut node, "nats_jwt_encode", args);
        if let Some(jwt) = encoded["jwt"].as_str() {
            agree(
                &mut rust,
                &mut node,
                "nats_jwt_decode",
                json!({"jwt": jwt, "at": t0 + 100}),
            );
            agree(&mut rust, &mut node, "nats_jwt_decode", json!({"jwt": jwt}));
        }
    }
    let user_jwt = encode_jwt(
        &mut rust,
        json!({"type": "user", "signer": acct_seed, "subject": user, "iat": t0}),
    );
    let creds = agree(
        &mut rust,
        &mut node,
        "nats_creds_format",
        json!({"jwt": user_jwt, "seed": user_seed}),
    );
    for text in [
        creds["creds"].as_str().unwrap().to_string(),
        creds["creds"].as_str().unwrap().replace('\n', "\r\n"),
        "nothing".to_string(),
    ] {
        agree(
            &mut rust,
            &mut node,
            "nats_creds_parse",
            json!({ "creds": text }),
        );
    }
    rust.finish();
    node.finish();
}
