//! End-to-end tests of the `kez-verify` binary: every command, its output and its exit
//! code (SPEC.md §8.6), run in temporary directories with stdin closed or piped.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Harness

/// The output of one run.
struct Out {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Out {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.text()))
    }

    /// Asserts the exit code (showing both streams when it differs) and that nothing
    /// panicked.
    fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            expected,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.text(),
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }
}

/// Runs the binary in a directory, with a clean environment for the variables it reads.
#[derive(Clone)]
struct Kez {
    dir: PathBuf,
    envs: Vec<(String, String)>,
}

impl Kez {
    fn new(dir: &Path) -> Self {
        Kez {
            dir: dir.to_owned(),
            envs: Vec::new(),
        }
    }

    fn env(&self, key: &str, value: &str) -> Self {
        let mut kez = self.clone();
        kez.envs.push((key.into(), value.into()));
        kez
    }

    /// Pretends the current time is `rfc3339` (`KEZ_NOW`).
    fn at(&self, rfc3339: &str) -> Self {
        self.env("KEZ_NOW", rfc3339)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kez-verify"));
        c.args(args)
            .current_dir(&self.dir)
            .env_remove("KEZ_PASSPHRASE")
            .env_remove("KEZ_SCRYPT_WORK_FACTOR")
            .env_remove("KEZ_NOW")
            .env_remove("KEZ_SECRET_HEX")
            .env("NO_COLOR", "1");
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        c
    }

    /// Runs `args` (split on whitespace) with stdin closed.
    fn run(&self, args: &str) -> Out {
        self.run_args(&args.split_whitespace().collect::<Vec<_>>())
    }

    /// Runs `args` with stdin closed.
    fn run_args(&self, args: &[&str]) -> Out {
        let out = self
            .command(args)
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs");
        Out {
            code: out.status.code().expect("exited normally"),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs `args` (split on whitespace) with `input` on stdin.
    fn run_stdin(&self, args: &str, input: &[u8]) -> Out {
        let mut child = self
            .command(&args.split_whitespace().collect::<Vec<_>>())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let mut stdin = child.stdin.take().unwrap();
        // The child may exit before reading everything; that is its answer, not ours.
        let _ = stdin.write_all(input);
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        Out {
            code: out.status.code().expect("exited normally"),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    fn read_text(&self, name: &str) -> String {
        String::from_utf8(self.read(name)).unwrap()
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) {
        std::fs::write(self.path(name), bytes).unwrap();
    }

    fn mode(&self, name: &str) -> u32 {
        std::fs::metadata(self.path(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    /// Writes a new plaintext key file and returns its public key text.
    fn new_key(&self, alg: &str, name: &str) -> String {
        let out = self.run(&format!("key new --alg {alg} --out {name}"));
        out.code(0);
        out.text().lines().next().unwrap().to_string()
    }

    /// The public key text of a key file.
    fn public_of(&self, name: &str) -> String {
        let out = self.run(&format!("--format json key show {name}"));
        out.code(0);
        out.json()["public_key"].as_str().unwrap().to_string()
    }

    /// Writes a new claim for `subject` signed by `key` to `out`; returns its id.
    fn new_claim(&self, key: &str, subject: &str, out: &str, encoding: &str) -> String {
        let run = self.run(&format!(
            "--format json claim new --subject {subject} --key {key} --encoding {encoding} --out {out}"
        ));
        run.code(0);
        run.json()["id"].as_str().unwrap().to_string()
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The hex secret in a plaintext key file.
fn secret_of(key_file: &str) -> String {
    key_file
        .lines()
        .find_map(|l| l.strip_prefix("kez-secret-key-v1:"))
        .and_then(|rest| rest.split(':').nth(1))
        .unwrap()
        .to_string()
}

const JAN1: &str = "2026-01-01T00:00:00Z";
const JAN2: &str = "2026-01-02T00:00:00Z";
const JAN3: &str = "2026-01-03T00:00:00Z";
const JAN4: &str = "2026-01-04T00:00:00Z";
const JAN5: &str = "2026-01-05T00:00:00Z";

// ---------------------------------------------------------------------------------------
// canon

#[test]
fn canon_prints_the_exact_jcs_bytes_without_a_newline() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    // RFC 8785 §3.2.2 and §3.2.3: number formatting and UTF-16 key order.
    let input = r#"{ "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
        "\u20ac": "Euro", "\r": "cr", "1": "one", "é": "\u00e9" }"#;
    let expected = "{\"\\r\":\"cr\",\"1\":\"one\",\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"é\":\"é\",\"€\":\"Euro\"}";
    kez.write("in.json", input);
    let out = kez.run("canon in.json");
    out.code(0);
    assert_eq!(out.text(), expected);
    let out = kez.run_stdin("canon -", input.as_bytes());
    out.code(0);
    assert_eq!(out.stdout, expected.as_bytes());
    let out = kez.run_stdin("canon", b" [1, true , null] \n");
    out.code(0);
    assert_eq!(out.stdout, b"[1,true,null]");
}

#[test]
fn canon_rejects_input_that_is_not_i_json_with_exit_2() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    let cases: [(&str, &[u8]); 4] = [
        (
            "line 2 column 3: duplicate member name \"a\"",
            b"{\"a\":1,\n\"a\":2}",
        ),
        ("line 1 column 9: trailing characters", b"{\"a\":1} x"),
        ("line 1 column", b"\"\\ud800\""),
        ("line 1 column", b"{\"a\":\"\\udc00x\"}"),
    ];
    for (needle, input) in cases {
        let out = kez.run_stdin("canon", input);
        out.code(2);
        assert!(out.stdout.is_empty(), "nothing on stdout: {}", out.text());
        assert!(
            out.stderr
                .starts_with("error: <stdin>: invalid JSON at line"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
    }
    let out = kez.run("canon missing.json");
    out.code(2);
    assert!(
        out.stderr.contains("cannot read missing.json"),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------------------
// sig

/// RFC 8032 §7.1 TEST 1, 2 and 3 (secret seed, public key, message, signature), as in
/// /work/shared/vectors/ed25519/rfc8032_section7_1.json.
const RFC8032: [[&str; 4]; 3] = [
    [
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ],
    [
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ],
    [
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ],
];

/// Rows of bitcoin/bips bip-0340/test-vectors.csv (commit 7fe0b034…, copied in
/// /work/shared/vectors/bip340/test-vectors.csv): index, secret key, public key,
/// aux_rand, message, signature. Rows 0-3 sign 32-byte messages; rows 15-18 are the
/// 2022-12 additions with messages of 0, 1, 17 and 100 bytes.
const BIP340_ROWS: [[&str; 6]; 8] = [
    ["0", "0000000000000000000000000000000000000000000000000000000000000003", "F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9", "0000000000000000000000000000000000000000000000000000000000000000", "0000000000000000000000000000000000000000000000000000000000000000", "E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA821525F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0"],
    ["1", "B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "0000000000000000000000000000000000000000000000000000000000000001", "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89", "6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8DCF8C78DE33418906D11AC976ABCCB20B091292BFF4EA897EFCB639EA871CFA95F6DE339E4B0A"],
    ["2", "C90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B14E5C9", "DD308AFEC5777E13121FA72B9CC1B7CC0139715309B086C960E18FD969774EB8", "C87AA53824B4D7AE2EB035A2B5BBBCCC080E76CDC6D1692C4B0B62D798E6D906", "7E2D58D8B3BCDF1ABADEC7829054F90DDA9805AAB56C77333024B9D0A508B75C", "5831AAEED7B44BB74E5EAB94BA9D4294C49BCF2A60728D8B4C200F50DD313C1BAB745879A5AD954A72C45A91C3A51D3C7ADEA98D82F8481E0E1E03674A6F3FB7"],
    ["3", "0B432B2677937381AEF05BB02A66ECD012773062CF3FA2549E44F58ED2401710", "25D1DFF95105F5253C4022F628A996AD3A0D95FBF21D468A1B33F8C160D8F517", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "7EB0509757E246F19449885651611CB965ECC1A187DD51B64FDA1EDC9637D5EC97582B9CB13DB3933705B32BA982AF5AF25FD78881EBB32771FC5922EFC66EA3"],
    ["15", "0340034003400340034003400340034003400340034003400340034003400340", "778CAA53B4393AC467774D09497A87224BF9FAB6F6E68B23086497324D6FD117", "0000000000000000000000000000000000000000000000000000000000000000", "", "71535DB165ECD9FBBC046E5FFAEA61186BB6AD436732FCCC25291A55895464CF6069CE26BF03466228F19A3A62DB8A649F2D560FAC652827D1AF0574E427AB63"],
    ["16", "0340034003400340034003400340034003400340034003400340034003400340", "778CAA53B4393AC467774D09497A87224BF9FAB6F6E68B23086497324D6FD117", "0000000000000000000000000000000000000000000000000000000000000000", "11", "08A20A0AFEF64124649232E0693C583AB1B9934AE63B4C3511F3AE1134C6A303EA3173BFEA6683BD101FA5AA5DBC1996FE7CACFC5A577D33EC14564CEC2BACBF"],
    ["17", "0340034003400340034003400340034003400340034003400340034003400340", "778CAA53B4393AC467774D09497A87224BF9FAB6F6E68B23086497324D6FD117", "0000000000000000000000000000000000000000000000000000000000000000", "0102030405060708090A0B0C0D0E0F1011", "5130F39A4059B43BC7CAC09A19ECE52B5D8699D1A71E3C52DA9AFDB6B50AC370C4A482B77BF960F8681540E25B6771ECE1E5A37FD80E5A51897C5566A97EA5A5"],
    ["18", "0340034003400340034003400340034003400340034003400340034003400340", "778CAA53B4393AC467774D09497A87224BF9FAB6F6E68B23086497324D6FD117", "0000000000000000000000000000000000000000000000000000000000000000", "99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999", "403B12B0D8555A344175EA7EC746566303321E5DBFA8BE6F091635163ECA79A8585ED3E3170807E7C03B720FC54C7B23897FCBA0E9D0B4A06894CFD249F22367"],
];

/// bip-0340/test-vectors.csv row 5: "public key not on the curve".
const BIP340_ROW5: [&str; 3] = [
    "EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34",
    "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
    "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E17776969E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
];

fn sig_verify(kez: &Kez, alg: &str, public: &str, msg: &str, sig: &str) -> Out {
    kez.run(&format!(
        "sig verify --alg {alg} --pub {public} --msg={msg} --sig {sig}"
    ))
}

#[test]
fn sig_verify_accepts_rfc8032_vectors_in_either_case() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    for [_, public, msg, sig] in RFC8032 {
        let out = sig_verify(&kez, "ed25519", public, msg, sig);
        out.code(0);
        assert_eq!(out.text(), "valid\n");
        let (public, msg, sig) = (
            public.to_uppercase(),
            msg.to_uppercase(),
            sig.to_uppercase(),
        );
        sig_verify(&kez, "ed25519", &public, &msg, &sig).code(0);
    }
}

#[test]
fn sig_verify_flipped_signature_is_invalid_exit_1() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    let [_, public, msg, sig] = RFC8032[1];
    let mut flipped = sig.to_string();
    flipped.replace_range(0..1, "8");
    let out = sig_verify(&kez, "ed25519", public, msg, &flipped);
    out.code(1);
    assert!(
        out.text().starts_with("invalid: ed25519: "),
        "{}",
        out.text()
    );
    // A good signature over another message is invalid too.
    sig_verify(&kez, "ed25519", public, "73", sig).code(1);
}

#[test]
fn sig_verify_malformed_arguments_exit_2() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    let [_, public, msg, sig] = RFC8032[1];
    let bad_hex = format!("{}zz", &public[..62]);
    let cases = [
        (
            "ed25519",
            bad_hex.as_str(),
            msg,
            sig,
            "--pub: not hex: invalid character 'z' at position 63",
        ),
        (
            "ed25519",
            &public[..62],
            msg,
            sig,
            "--pub: expected 64 hex characters (32 bytes), found 62",
        ),
        (
            "ed25519",
            public,
            "7",
            sig,
            "--msg: expected an even number of hex characters",
        ),
        (
            "ed25519",
            public,
            msg,
            &sig[..126],
            "--sig: expected 128 hex characters (64 bytes), found 126",
        ),
        (
            "rsa",
            public,
            msg,
            sig,
            "invalid value 'rsa' for '--alg <ALG>'",
        ),
    ];
    for (alg, public, msg, sig, needle) in cases {
        let out = sig_verify(&kez, alg, public, msg, sig);
        out.code(2);
        assert!(out.stdout.is_empty());
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
    }
}

#[test]
fn sig_verify_rejected_keys_are_invalid_not_malformed() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    // The identity point (y = 1) has small order: the Ed25519 policy rejects it.
    let small_order = format!("01{}", "00".repeat(31));
    let out = sig_verify(&kez, "ed25519", &small_order, "", RFC8032[0][3]);
    out.code(1);
    assert_eq!(
        out.text(),
        "invalid: ed25519 public key rejected: public key has small order\n"
    );
    let [public, msg, sig] = BIP340_ROW5;
    let out = kez.run(&format!(
        "--format json sig verify --alg bip340 --pub {public} --msg {msg} --sig {sig}"
    ));
    out.code(1);
    assert_eq!(
        out.json(),
        serde_json::json!({
            "valid": false,
            "reason": "bip340 public key is not the x coordinate of a secp256k1 point"
        })
    );
}

#[test]
fn sig_verify_bip340_messages_of_any_length() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    for [index, _, public, _, msg, sig] in BIP340_ROWS {
        let out = kez.run(&format!(
            "--format json sig verify --alg bip340 --pub {public} --msg={msg} --sig {sig}"
        ));
        out.code(0);
        assert_eq!(
            out.json(),
            serde_json::json!({"valid": true, "reason": null}),
            "row {index}"
        );
    }
    // The same signature over a message one byte longer does not verify.
    let [_, _, public, _, msg, sig] = BIP340_ROWS[6];
    let out = sig_verify(&kez, "bip340", public, &format!("{msg}00"), sig);
    out.code(1);
    assert_eq!(out.text(), "invalid: bip340: signature does not verify\n");
}

#[test]
fn sig_sign_matches_rfc8032_exactly() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    for [secret, _, msg, sig] in RFC8032 {
        let out = kez.run(&format!(
            "sig sign --alg ed25519 --secret {secret} --msg={msg}"
        ));
        out.code(0);
        assert_eq!(out.text(), format!("{sig}\n"));
    }
    // The secret may come from the environment instead of the command line.
    let [secret, _, msg, sig] = RFC8032[2];
    let out = kez
        .env("KEZ_SECRET_HEX", secret)
        .run(&format!("sig sign --alg ed25519 --msg {msg}"));
    out.code(0);
    assert_eq!(out.text(), format!("{sig}\n"));
}

#[test]
fn sig_sign_bip340_with_aux_matches_the_csv_rows() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    for [index, secret, _, aux, msg, sig] in BIP340_ROWS {
        let out = kez.run(&format!(
            "sig sign --alg bip340 --secret {secret} --msg={msg} --aux {aux}"
        ));
        out.code(0);
        assert_eq!(
            out.text(),
            format!("{}\n", sig.to_lowercase()),
            "row {index}"
        );
    }
}

#[test]
fn sig_sign_bip340_without_aux_gives_a_signature_that_verifies() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    let [_, secret, public, _, msg, _] = BIP340_ROWS[1];
    let out = kez.run(&format!(
        "sig sign --alg bip340 --secret {secret} --msg {msg}"
    ));
    out.code(0);
    let sig = out.text().trim().to_string();
    assert_eq!(sig.len(), 128);
    sig_verify(&kez, "bip340", public, msg, &sig).code(0);
}

#[test]
fn sig_sign_errors_never_echo_the_secret() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    let secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdXY";
    let out = kez.run(&format!("sig sign --alg ed25519 --secret {secret} --msg="));
    out.code(2);
    assert!(out.stderr.contains("--secret: not hex"), "{}", out.stderr);
    assert!(!out.stderr.contains("0123456789"), "{}", out.stderr);
    let out = kez.run(&format!(
        "sig sign --alg ed25519 --secret {} --msg=",
        &secret[..60]
    ));
    out.code(2);
    assert!(out.stderr.contains("found 60"), "{}", out.stderr);
    assert!(!out.stderr.contains("0123456789"), "{}", out.stderr);
    // A scalar above the group order is well-formed hex but not a BIP-340 key.
    let order = "F".repeat(64);
    let out = kez.run(&format!("sig sign --alg bip340 --secret {order} --msg="));
    out.code(2);
    assert!(
        out.stderr.contains("not below the group order"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.to_uppercase().contains("FFFFFFFF"),
        "{}",
        out.stderr
    );
    // --aux is for BIP-340 only.
    let out = kez.run(&format!(
        "sig sign --alg ed25519 --secret {} --msg= --aux {}",
        RFC8032[0][0],
        "00".repeat(32)
    ));
    out.code(2);
    assert!(!out.stderr.contains(RFC8032[0][0]), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------
// key

#[test]
fn key_new_writes_0600_refuses_overwrite_and_never_prints_the_secret() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    let out = kez.run("key new --alg ed25519 --out k.key");
    out.code(0);
    let public = out.text();
    assert!(
        public.starts_with("ed25519:") && public.lines().count() == 1,
        "{public}"
    );
    assert_eq!(kez.mode("k.key"), 0o600);
    let file = kez.read_text("k.key");
    let secret = secret_of(&file);
    assert!(!out.text().contains(&secret) && !out.stderr.contains(&secret));
    assert!(file.contains(&format!("# public: {}", public.trim())));

    let again = kez.run("key new --alg ed25519 --out k.key");
    again.code(2);
    assert_eq!(
        again.stderr,
        "error: k.key exists; pass --force to replace it\n"
    );
    assert_eq!(kez.read_text("k.key"), file, "the file is unchanged");

    let forced = kez.run("key new --alg ed25519 --out k.key --force");
    forced.code(0);
    assert_ne!(kez.read_text("k.key"), file);
    assert_eq!(kez.mode("k.key"), 0o600);
    let new_secret = secret_of(&kez.read_text("k.key"));
    assert!(!forced.text().contains(&new_secret) && !forced.stderr.contains(&new_secret));
}

#[test]
fn key_new_bip340_prints_the_npub_too() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    let out = kez.run("key new --alg bip340 --out n.key");
    out.code(0);
    let lines: Vec<String> = out.text().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("bip340:") && lines[1].starts_with("npub1"));
    let shown = kez.run("--format json key show n.key");
    shown.code(0);
    let report = shown.json();
    assert_eq!(report["algorithm"], "bip340");
    assert_eq!(report["public_key"], lines[0].as_str());
    assert_eq!(report["npub"], lines[1].as_str());
    assert_eq!(report["encrypted"], false);
    assert_eq!(report["mode"], "0600");
}

#[test]
fn encrypted_key_new_and_show_use_the_passphrase_sources() {
    let dir = tempdir();
    let kez = Kez::new(dir.path()).env("KEZ_SCRYPT_WORK_FACTOR", "10");
    let with_pass = kez.env("KEZ_PASSPHRASE", "correct horse");
    let out = with_pass.run("key new --alg ed25519 --out e.key --passphrase");
    out.code(0);
    let public = out.text().trim().to_string();
    assert!(kez
        .read_text("e.key")
        .starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert_eq!(kez.mode("e.key"), 0o600);

    let shown = with_pass.run("--format json key show e.key");
    shown.code(0);
    assert_eq!(shown.json()["public_key"], public.as_str());
    assert_eq!(shown.json()["encrypted"], true);
    assert!(shown.json().get("secret").is_none());

    let wrong = kez.env("KEZ_PASSPHRASE", "wrong").run("key show e.key");
    wrong.code(2);
    assert_eq!(wrong.stderr, "error: e.key: wrong passphrase\n");
    assert!(wrong.stdout.is_empty());

    kez.write("pass.txt", "correct horse\nsecond line ignored\n");
    let from_file = kez.run("key show e.key --passphrase-file pass.txt");
    from_file.code(0);
    assert!(from_file.text().contains(&public));

    // No source and stdin is not a terminal: the error names all three options.
    let none = kez.run("key show e.key");
    none.code(2);
    for option in ["KEZ_PASSPHRASE", "--passphrase-file", "terminal"] {
        assert!(none.stderr.contains(option), "{}", none.stderr);
    }
    let none = kez.run("key new --alg bip340 --out f.key --passphrase");
    none.code(2);
    assert!(none.stderr.contains("--passphrase-file"), "{}", none.stderr);
    assert!(!kez.path("f.key").exists());

    let bad_factor = with_pass
        .env("KEZ_SCRYPT_WORK_FACTOR", "99")
        .run("key new --alg bip340 --out f.key --passphrase");
    bad_factor.code(2);
    assert!(
        bad_factor.stderr.contains("KEZ_SCRYPT_WORK_FACTOR"),
        "{}",
        bad_factor.stderr
    );
    assert!(!kez.path("f.key").exists());
}

#[test]
fn key_show_prints_the_secret_only_when_asked() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    kez.new_key("ed25519", "k.key");
    let secret = secret_of(&kez.read_text("k.key"));
    let plain = kez.run("key show k.key");
    plain.code(0);
    assert!(!plain.text().contains(&secret));
    assert!(plain.text().contains("encrypted:  no"), "{}", plain.text());
    let asked = kez.run("key show k.key --secret");
    asked.code(0);
    assert!(
        asked.text().contains(&format!("secret:     {secret}")),
        "{}",
        asked.text()
    );
    let json = kez.run("--format json key show k.key --secret");
    json.code(0);
    assert_eq!(json.json()["secret"], secret.as_str());
}

#[test]
fn key_show_warns_when_others_can_read_the_file() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    kez.new_key("ed25519", "k.key");
    let quiet = kez.run("key show k.key");
    quiet.code(0);
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
    std::fs::set_permissions(kez.path("k.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let warned = kez.run("key show k.key");
    warned.code(0);
    assert!(
        warned
            .stderr
            .contains("warning: k.key is readable by group or others (mode 0644)"),
        "{}",
        warned.stderr
    );
}

#[test]
fn key_show_rejects_a_file_that_is_not_a_key() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    kez.write("not.key", "hello\n");
    let out = kez.run("key show not.key");
    out.code(2);
    assert!(
        out.stderr.starts_with("error: not.key: line 1"),
        "{}",
        out.stderr
    );
    kez.run("key show missing.key").code(2);
}

/// Runs `key backup FILE`, reads the 24 words from stdout, then answers each
/// `word #N: ` prompt on stderr with `answer(N, words)`. Returns the run and the
/// positions asked.
fn backup_with_answers(
    kez: &Kez,
    file: &str,
    answer: impl Fn(usize, &[String]) -> String,
) -> (Out, Vec<usize>) {
    let mut child = kez
        .command(&["key", "backup", file])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    assert_eq!(words.len(), 24, "{line}");
    let mut stderr = child.stderr.take().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut seen = String::new();
    let mut asked = Vec::new();
    for _ in 0..3 {
        // Read stderr up to the next `word #N: ` prompt.
        let position = loop {
            let mut byte = [0u8; 1];
            let n = stderr.read(&mut byte).unwrap();
            assert_eq!(n, 1, "stderr ended before a prompt: {seen}");
            seen.push(byte[0] as char);
            if let Some(p) = seen
                .strip_suffix(": ")
                .and_then(|s| s.rsplit_once("word #"))
                .and_then(|(_, n)| n.parse::<usize>().ok())
            {
                break p;
            }
        };
        asked.push(position);
        writeln!(stdin, "{}", answer(position, &words)).unwrap();
    }
    drop(stdin);
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let mut tail = Vec::new();
    stdout.read_to_end(&mut tail).unwrap();
    let status = child.wait().unwrap();
    assert!(
        asked.windows(2).all(|w| w[0] < w[1]),
        "ascending: {asked:?}"
    );
    assert!(asked.iter().all(|p| (1..=24).contains(p)), "{asked:?}");
    let out = Out {
        code: status.code().unwrap(),
        stdout: [line.into_bytes(), tail].concat(),
        stderr: seen + &rest,
    };
    (out, asked)
}

#[test]
fn key_backup_recall_check_passes_with_the_right_words() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    kez.new_key("bip340", "k.key");
    // Answers are accepted in any case, with surrounding spaces.
    let (out, _) = backup_with_answers(&kez, "k.key", |n, words| {
        format!("  {} ", words[n - 1].to_uppercase())
    });
    out.code(0);
    assert!(
        out.stderr
            .ends_with("recall check passed: the backup is confirmed\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn key_backup_recall_check_fails_with_wrong_words_exit_1() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    kez.new_key("ed25519", "k.key");
    // Answer every prompt with a word of the backup that is not the one asked for.
    let (out, asked) = backup_with_answers(&kez, "k.key", |n, words| {
        words.iter().find(|w| **w != words[n - 1]).unwrap().clone()
    });
    out.code(1);
    let expected = format!(
        "error: recall check failed: word(s) {}, {}, {} do not match; the backup is not confirmed\n",
        asked[0], asked[1], asked[2]
    );
    assert!(out.stderr.ends_with(&expected), "{}", out.stderr);
}

#[test]
fn key_backup_recall_check_fails_at_end_of_input_and_can_be_skipped() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    kez.new_key("ed25519", "k.key");
    let out = kez.run("key backup k.key");
    out.code(1);
    assert_eq!(out.text().split_whitespace().count(), 24);
    assert!(out.stderr.contains("(end of input)"), "{}", out.stderr);
    let skipped = kez.run("key backup k.key --skip-recall-check");
    skipped.code(0);
    assert_eq!(
        skipped.stdout, out.stdout,
        "the same key gives the same words"
    );
    assert!(
        skipped.stderr.contains("warning: recall check skipped"),
        "{}",
        skipped.stderr
    );
}

#[test]
fn key_restore_from_the_backup_gives_the_same_key() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    for alg in ["ed25519", "bip340"] {
        let public = kez.new_key(alg, &format!("{alg}.key"));
        let words = kez.run(&format!("key backup {alg}.key --skip-recall-check"));
        words.code(0);
        let restored = kez.run_stdin(
            &format!("key restore --alg {alg} --out {alg}.restored"),
            &words.stdout,
        );
        restored.code(0);
        assert_eq!(restored.text().lines().next().unwrap(), public);
        assert_eq!(kez.mode(&format!("{alg}.restored")), 0o600);
        assert_eq!(
            secret_of(&kez.read_text(&format!("{alg}.restored"))),
            secret_of(&kez.read_text(&format!("{alg}.key")))
        );
    }
    // Through a words file written with --out.
    let public = kez.new_key("ed25519", "w.key");
    let out = kez.run("key backup w.key --out w.words --skip-recall-check");
    out.code(0);
    assert!(out.stdout.is_empty());
    assert_eq!(kez.mode("w.words"), 0o600);
    let restore = "key restore --alg ed25519 --out w.restored --words-file w.words";
    let restored = kez.run(restore);
    restored.code(0);
    assert_eq!(restored.text().trim(), public);
    // It refuses to replace the key file without --force.
    kez.run(restore).code(2);
    kez.run(&format!("{restore} --force")).code(0);
}

#[test]
fn key_restore_rejects_bad_words_exit_2() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    let all_abandon = ["abandon"; 24].join(" ");
    let cases: [(&[u8], &str); 3] = [
        (b"abandon abandon", "<stdin>: expected 24 words, found 2"),
        (
            all_abandon.as_bytes(),
            "<stdin>: the BIP-39 checksum does not match",
        ),
        (
            b"abandon abandn",
            "word 2 \"abandn\" is not in the BIP-39 English list",
        ),
    ];
    for (input, needle) in cases {
        let out = kez.run_stdin("key restore --alg ed25519 --out x.key", input);
        out.code(2);
        assert!(out.stderr.contains(needle), "{}", out.stderr);
        assert!(!kez.path("x.key").exists());
    }
}

// ---------------------------------------------------------------------------------------
// claim

#[test]
fn claim_new_in_each_encoding_verifies() {
    let dir = tempdir();
    let kez = Kez::new(dir.path()).at(JAN1);
    kez.new_key("ed25519", "k.key");
    for encoding in ["json", "compact", "markdown", "dns"] {
        // To stdout.
        let out = kez.run(&format!(
            "claim new --subject github:Jason --key k.key --encoding {encoding}"
        ));
        out.code(0);
        assert!(out.stdout.ends_with(b"\n"));
        kez.write(&format!("stdout.{encoding}"), &out.stdout);
        let verified = kez.run(&format!("claim verify stdout.{encoding}"));
        verified.code(0);
        assert!(
            verified.text().contains("subject:  github:jason"),
            "{}",
            verified.text()
        );
        // To a file, mode 0644.
        let file = format!("c.{encoding}");
        let id = kez.new_claim("k.key", "dns:Example.COM.", &file, encoding);
        assert_eq!(kez.mode(&file), 0o644);
        let verified = kez.run(&format!("--format json claim verify {file}"));
        verified.code(0);
        let report = verified.json();
        assert_eq!(report["encoding"], encoding);
        assert_eq!(report["outcome"], "valid");
        let verdict = &report["results"][0]["verdict"];
        assert_eq!(verdict["subject"], "dns:example.com");
        assert_eq!(verdict["created_at"], 1_767_225_600);
        assert_eq!(verdict["claim_id"], id.as_str());
    }
    assert!(kez
        .read_text("c.json")
        .starts_with("{\"created_at\":1767225600,"));
    assert!(kez.read_text("c.compact").starts_with("kez:z1:"));
    assert!(kez.read_text("c.markdown").starts_with("```kez\n{"));
    assert!(kez
        .read_text("c.dns")
        .starts_with("_kez.example.com. 3600 IN TXT \"kez:z1:"));
}

#[test]
fn claim_new_nonce_expiry_chain_and_refusals() {
    let dir = tempdir();
    let kez = Kez::new(dir.path()).at(JAN1);
    kez.new_key("bip340", "k.key");
    let out = kez.run(
        "claim new --subject github:jason --key k.key --expires-in 30d \
         --chain https://example.com/chain.jsonl",
    );
    out.code(0);
    let claim: Value = serde_json::from_slice(&out.stdout).unwrap();
    let nonce = claim["nonce"].as_str().unwrap();
    assert_eq!(nonce.len(), 22);
    assert!(nonce
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(claim["expires_at"], 1_767_225_600 + 30 * 86_400);
    assert_eq!(claim["chain"], "https://example.com/chain.jsonl");

    let out = kez.run("claim new --subject github:jason --key k.key --no-nonce");
    out.code(0);
    let claim: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(claim.get("nonce").is_none());

    // A chain hint that is not https, a look-alike subject, a bad duration: exit 2.
    let out = kez.run("claim new --subject github:jason --key k.key --chain http://x");
    out.code(2);
    assert!(out.stderr.contains("member \"chain\""), "{}", out.stderr);
    kez.run("claim new --subject github:jаson --key k.key")
        .code(2);
    kez.run("claim new --subject github:jason --key k.key --expires-in soon")
        .code(2);
    kez.new_claim("k.key", "github:jason", "c.json", "json");
    let again = kez.run("claim new --subject github:jason --key k.key --out c.json");
    again.code(2);
    assert!(again.stderr.contains("c.json exists"), "{}", again.stderr);
}

#[test]
fn claim_verify_after_expiry_is_expired_exit_1() {
    let dir = tempdir();
    let kez = Kez::new(dir.path()).at(JAN1);
    kez.new_key("ed25519", "k.key");
    kez.run("claim new --subject github:jason --key k.key --expires-in 1d --out c.json")
        .code(0);
    kez.run(&format!("claim verify c.json --at {JAN1}")).code(0);
    let expired = kez.run(&format!("--format json claim verify c.json --at {JAN3}"));
    expired.code(1);
    let report = expired.json();
    assert_eq!(report["schema"], "kez-verify/claim-verify/v1");
    assert_eq!(report["at"], 1_767_225_600 + 2 * 86_400);
    assert_eq!(report["outcome"], "expired");
    assert_eq!(report["results"][0]["line"], 1);
    assert_eq!(report["results"][0]["verdict"]["outcome"], "expired");
    assert_eq!(
        report["results"][0]["verdict"]["conditions"][0]["expires_at"],
        1_767_225_600 + 86_400
    );
    let human = kez.run(&format!("claim verify c.json --at {JAN3}"));
    human.code(1);
    assert!(
        human.text().contains("c.json line 1: expired"),
        "{}",
        human.text()
    );
    assert!(
        human.text().contains("expires:  2026-01-02T00:00:00Z"),
        "{}",
        human.text()
    );
    // A malformed --at is a usage error.
    kez.run("claim verify c.json --at tomorrow").code(2);
}

#[test]
fn claim_verify_wrong_subject_exit_1() {
    let dir = tempdir();
    let kez = Kez::new(dir.path()).at(JAN1);
    kez.new_key("ed25519", "k.key");
    kez.new_claim("k.key", "github:jason", "c.json", "json");
    kez.run(&format!(
        "claim verify c.json --at {JAN2} --subject GitHub:@Jason"
    ))
    .code(0);
    let out = kez.run(&format!(
        "--format json claim verify c.json --at {JAN2} --subject github:someone"
    ));
    out.code(1);
    let verdict = &out.json()["results"][0]["verdict"];
    assert_eq!(verdict["outcome"], "invalid");
    assert_eq!(verdict["reason"], "wrong_subject");
}

#[test]
fn claim_verify_tampered_claim_is_invalid_or_malformed() {
    let dir = tempdir();
    let kez = Kez::new(dir.path()).at(JAN1);
    kez.new_key("ed25519", "k.key");
    kez.new_claim("k.key", "github:jason", "c.json", "json");
    let original = kez.read_text("c.json");
    let cases = [
        // A signed byte changed: well-formed, bad signature, exit 1.
        (
            "\"created_at\":1767225600",
            "\"created_at\":1767225601",
            1,
            "bad_signature",
        ),
        // A byte that breaks the JSON: malformed, exit 2.
        ("\"type\":\"claim\"", "\"type\":\"claim", 2, "malformed"),
        // A version this verifier does not speak: unsupported, exit 2.
        ("\"kez\":\"0.2\"", "\"kez\":\"0.3\"", 2, "unsupported"),
    ];
    for (from, to, code, reason) in cases {
        let tampered = original.replacen(from, to, 1);
        assert_ne!(tampered, original);
        kez.write("t.json", &tampered);
        let out = kez.run(&format!("--format json claim verify t.json --at {JAN2}"));
        out.code(code);
        assert_eq!(out.json()["outcome"], "invalid");
        assert_eq!(out.json()["results"][0]["verdict"]["reason"], reason);
    }
    // Input that is no claim at all.
    let out = kez.run_stdin("claim verify", b"hello world\n");
    out.code(2);
    assert!(
        out.text().contains("<stdin> line 1: invalid (malformed)"),
        "{}",
        out.text()
    );
}

#[test]
fn claim_verify_truncated_compact_exit_2() {
    let dir = tempdir();
    let kez = Kez::new(dir.path()).at(JAN1);
    kez.new_key("ed25519", "k.key");
    kez.new_claim("k.key", "github:jason", "c.compact", "compact");
    let compact = kez.read_text("c.compact");
    let truncated = &compact[..compact.len() / 2];
    let out = kez.run_stdin("claim verify -", truncated.as_bytes());
    out.code(2);
    assert!(
        out.text().contains("<stdin> line 1: invalid (malformed)"),
        "{}",
        out.text()
    );
    assert!(out.text().contains("compact form"), "{}", out.text());
}

#[test]
fn claim_verify_several_claims_and_a_forced_encoding() {
    let dir = tempdir();
    let kez = Kez::new(dir.path()).at(JAN1);
    kez.new_key("ed25519", "k.key");
    kez.new_claim("k.key", "github:jason", "a.md", "markdown");
    kez.new_claim("k.key", "github:other", "b.md", "markdown");
    let doc = format!(
        "# Proofs\n\n{}\nsome text\n\n{}\n```kez\nnot a claim\n```\n",
        kez.read_text("a.md"),
        kez.read_text("b.md")
    );
    kez.write("doc.md", &doc);
    let out = kez.run(&format!(
        "--format json claim verify doc.md --at {JAN2} --encoding markdown"
    ));
    out.code(2);
    let report = out.json();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["line"], 3);
    assert_eq!(results[0]["verdict"]["outcome"], "valid");
    assert_eq!(results[1]["verdict"]["outcome"], "valid");
    assert_eq!(results[2]["verdict"]["reason"], "malformed");
    assert_eq!(report["outcome"], "invalid");
    // Without the bad fence, all are valid.
    kez.write("good.md", doc.replace("```kez\nnot a claim\n```\n", ""));
    kez.run(&format!("claim verify good.md --at {JAN2}"))
        .code(0);
    // Forcing the wrong encoding gives malformed input.
    kez.run(&format!(
        "claim verify good.md --at {JAN2} --encoding compact"
    ))
    .code(2);
}

#[test]
fn claim_encode_round_trips_between_all_encodings() {
    let dir = tempdir();
    let kez = Kez::new(dir.path()).at(JAN1);
    kez.new_key("bip340", "k.key");
    kez.new_claim("k.key", "dns:example.com", "c.json", "json");
    let jcs = kez.read("c.json");
    let encodings = ["json", "compact", "markdown", "dns"];
    for from in encodings {
        let source = kez.run(&format!("claim encode --to {from} c.json"));
        source.code(0);
        kez.write(&format!("from.{from}"), &source.stdout);
        for to in encodings {
            let out = kez.run(&format!("claim encode --to {to} from.{from}"));
            out.code(0);
            let back = kez.run_stdin("claim encode --to json", &out.stdout);
            back.code(0);
            assert_eq!(back.stdout, jcs, "{from} -> {to} -> json");
        }
    }
    let json = kez.run("--format json claim encode --to compact --from dns from.dns");
    json.code(0);
    let report = json.json();
    assert_eq!(report["schema"], "kez-verify/claim-encode/v1");
    assert_eq!(report["from"], "dns");
    assert_eq!(report["to"], "compact");
    assert!(report["claims"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("kez:z1:"));
}

#[test]
fn claim_encode_does_not_verify_but_rejects_undecodable_input() {
    let dir = tempdir();
    let kez = Kez::new(dir.path()).at(JAN1);
    kez.new_key("ed25519", "k.key");
    kez.new_claim("k.key", "github:jason", "c.json", "json");
    // A bad signature still re-encodes: encode is transport only, as its help says.
    let tampered = kez.read_text("c.json").replacen(
        "\"created_at\":1767225600",
        "\"created_at\":1767225601",
        1,
    );
    kez.write("t.json", tampered);
    kez.run("claim encode --to compact t.json").code(0);
    let help = kez.run("claim encode --help");
    help.code(0);
    assert!(
        help.text().contains("signatures are NOT verified"),
        "{}",
        help.text()
    );
    // Nothing decodes: exit 2, naming the line.
    kez.write("bad.md", "intro\n\n```kez\n{\"kez\":\"0.2\"}\n```\n");
    let out = kez.run("claim encode --to json bad.md");
    out.code(2);
    assert!(
        out.stderr
            .contains("no claim in bad.md decodes (line 3: member \"type\" is missing)"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
    // Some decode: those are written, the others named on stderr.
    let doc = format!(
        "```kez\n{}```\n\n```kez\nbroken\n```\n",
        kez.read_text("c.json")
    );
    kez.write("mixed.md", doc);
    let out = kez.run("claim encode --to json mixed.md");
    out.code(0);
    assert_eq!(out.stdout, kez.read("c.json"));
    assert!(
        out.stderr.contains("warning: mixed.md line 5:") && out.stderr.contains("(skipped)"),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------------------
// sigchain

/// A chain `chain.jsonl` rooted at `k.key` (ed25519), created on Jan 1, with the claim
/// `c.json` (created Jan 1) added on Jan 2. Returns the claim id.
fn chain_with_claim(kez: &Kez) -> String {
    kez.new_key("ed25519", "k.key");
    kez.at(JAN1)
        .run("sigchain init --key k.key --out chain.jsonl")
        .code(0);
    let id = kez
        .at(JAN1)
        .new_claim("k.key", "github:jason", "c.json", "json");
    kez.at(JAN2)
        .run("sigchain add --chain chain.jsonl --key k.key --claim c.json")
        .code(0);
    id
}

/// `claim verify --format json CLAIM --at AT --chain …`.
fn verify_with_chain(kez: &Kez, claim: &str, chains: &[&str], at: &str) -> Out {
    let chains: String = chains.iter().map(|c| format!(" --chain {c}")).collect();
    kez.run(&format!(
        "--format json claim verify {claim} --at {at}{chains}"
    ))
}

#[test]
fn sigchain_init_add_revoke_then_the_claim_is_revoked() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    let id = chain_with_claim(&kez);
    assert_eq!(kez.mode("chain.jsonl"), 0o644);
    let valid = verify_with_chain(&kez, "c.json", &["chain.jsonl"], JAN3);
    valid.code(0);
    let verdict = &valid.json()["results"][0]["verdict"];
    assert_eq!(verdict["chain"]["length"], 2);
    assert_eq!(verdict["claim_id"], id.as_str());

    let out = kez
        .at(JAN4)
        .run("--format json sigchain revoke --chain chain.jsonl --key k.key --claim c.json");
    out.code(0);
    assert_eq!(out.json()["seq"], 2);
    assert_eq!(out.json()["op"], "revoke");
    let revoked = verify_with_chain(&kez, "c.json", &["chain.jsonl"], JAN5);
    revoked.code(1);
    assert_eq!(revoked.json()["outcome"], "revoked");
    let human = kez.run(&format!(
        "claim verify c.json --at {JAN5} --chain chain.jsonl"
    ));
    human.code(1);
    assert!(
        human.text().contains("revoked by claim at seq 2"),
        "{}",
        human.text()
    );
    // As of before the revocation it was valid.
    verify_with_chain(&kez, "c.json", &["chain.jsonl"], JAN3).code(0);
    // A claim the chain does not bind is invalid (not_bound).
    kez.at(JAN1)
        .new_claim("k.key", "github:jason", "other.json", "json");
    let unbound = verify_with_chain(&kez, "other.json", &["chain.jsonl"], JAN3);
    unbound.code(1);
    assert_eq!(
        unbound.json()["results"][0]["verdict"]["reason"],
        "not_bound"
    );
}

#[test]
fn sigchain_revoke_by_claim_id_and_by_subject() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    let id = chain_with_claim(&kez);
    kez.at(JAN2)
        .new_claim("k.key", "github:other", "o.json", "json");
    kez.at(JAN2)
        .run("sigchain add --chain chain.jsonl --key k.key --claim o.json")
        .code(0);
    kez.at(JAN3)
        .run(&format!(
            "sigchain revoke --chain chain.jsonl --key k.key --claim-id {id}"
        ))
        .code(0);
    verify_with_chain(&kez, "c.json", &["chain.jsonl"], JAN4).code(1);
    verify_with_chain(&kez, "o.json", &["chain.jsonl"], JAN4).code(0);
    kez.at(JAN4)
        .run("sigchain revoke --chain chain.jsonl --key k.key --subject github:other")
        .code(0);
    let out = verify_with_chain(&kez, "o.json", &["chain.jsonl"], JAN5);
    out.code(1);
    assert_eq!(
        out.json()["results"][0]["verdict"]["conditions"][0]["by"],
        "subject"
    );
    // A bad id is a usage error; so is no target at all (clap's).
    let out = kez.run("sigchain revoke --chain chain.jsonl --key k.key --claim-id sha256:xyz");
    out.code(2);
    assert!(
        out.stderr.contains("--claim-id: expected sha256:"),
        "{}",
        out.stderr
    );
    kez.run("sigchain revoke --chain chain.jsonl --key k.key")
        .code(2);
}

#[test]
fn sigchain_rotate_revokes_claims_of_the_old_key() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    chain_with_claim(&kez);
    let new_public = kez.new_key("bip340", "new.key");
    kez.at(JAN3)
        .run("sigchain rotate --chain chain.jsonl --key k.key --new-key new.key")
        .code(0);
    let revoked = verify_with_chain(&kez, "c.json", &["chain.jsonl"], JAN4);
    revoked.code(1);
    assert_eq!(revoked.json()["outcome"], "revoked");
    let verdict = &revoked.json()["results"][0]["verdict"];
    assert_eq!(verdict["conditions"][0]["by"], "rotated");
    assert_eq!(verdict["chain"]["primary"], new_public.as_str());
    // The old key can no longer extend the chain; the new one can.
    kez.at(JAN4)
        .new_claim("new.key", "github:jason", "n.compact", "compact");
    kez.at(JAN4)
        .run("sigchain add --chain chain.jsonl --key k.key --claim n.compact")
        .code(1);
    kez.at(JAN4)
        .run("sigchain add --chain chain.jsonl --key new.key --claim n.compact")
        .code(0);
    verify_with_chain(&kez, "n.compact", &["chain.jsonl"], JAN5).code(0);
}

#[test]
fn sigchain_device_keys_can_add_claims_until_revoked() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    chain_with_claim(&kez);
    kez.new_key("ed25519", "device.key");
    kez.at(JAN2)
        .run(
            "sigchain add-device --chain chain.jsonl --key k.key --device device.key --name laptop",
        )
        .code(0);
    // The claim is signed by the primary key; the device signs the add link.
    kez.at(JAN2)
        .new_claim("k.key", "dns:example.com", "d.json", "json");
    let added = kez
        .at(JAN3)
        .run("--format json sigchain add --chain chain.jsonl --key device.key --claim d.json");
    added.code(0);
    assert_eq!(added.json()["signer"], kez.public_of("device.key").as_str());
    verify_with_chain(&kez, "d.json", &["chain.jsonl"], JAN4).code(0);
    // A claim signed by the device key itself is refused: claims need the primary.
    kez.at(JAN3)
        .new_claim("device.key", "github:jason", "dev.json", "json");
    kez.at(JAN3)
        .run("sigchain add --chain chain.jsonl --key device.key --claim dev.json")
        .code(1);

    // A second device given as public key text, then the first one revoked.
    let other = kez.new_key("bip340", "other.key");
    kez.at(JAN3)
        .run(&format!(
            "sigchain add-device --chain chain.jsonl --key k.key --device {other}"
        ))
        .code(0);
    kez.at(JAN4)
        .run("sigchain revoke-device --chain chain.jsonl --key k.key --device device.key")
        .code(0);
    kez.at(JAN2)
        .new_claim("k.key", "github:late", "late.json", "json");
    let before = kez.read("chain.jsonl");
    kez.at(JAN5)
        .run("sigchain add --chain chain.jsonl --key device.key --claim late.json")
        .code(1);
    assert_eq!(kez.read("chain.jsonl"), before);
    kez.at(JAN5)
        .run("sigchain add --chain chain.jsonl --key other.key --claim late.json")
        .code(0);
    // Show lists both devices and their periods.
    let shown = kez.run("--format json sigchain show chain.jsonl");
    shown.code(0);
    let devices = shown.json()["devices"].as_array().unwrap().clone();
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[0]["name"], "laptop");
    assert_eq!(devices[0]["from"]["seq"], 2);
    assert_eq!(devices[0]["until"]["seq"], 5);
    assert_eq!(devices[1]["key"], other.as_str());
    assert!(devices[1]["until"].is_null());
    // Neither a key nor a file.
    let out = kez.run("sigchain add-device --chain chain.jsonl --key k.key --device nope");
    out.code(2);
    assert!(
        out.stderr.contains("neither a public key"),
        "{}",
        out.stderr
    );
}

#[test]
fn sigchain_unauthorised_signer_is_refused_and_the_file_is_unchanged() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    chain_with_claim(&kez);
    let stranger = kez.new_key("ed25519", "stranger.key");
    let before = kez.read("chain.jsonl");
    let attempts = [
        "sigchain revoke --chain chain.jsonl --key stranger.key --claim c.json",
        "sigchain rotate --chain chain.jsonl --key stranger.key --new-key k.key",
        "sigchain add-device --chain chain.jsonl --key stranger.key --device stranger.key",
        "sigchain revoke-device --chain chain.jsonl --key stranger.key --device k.key",
    ];
    for args in attempts {
        let out = kez.at(JAN3).run(args);
        out.code(1);
        assert!(out.stdout.is_empty());
        assert!(
            out.stderr.starts_with(
                "error: refusing to extend chain.jsonl (the file is unchanged): seq 2: "
            ),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains(&stranger),
            "names the signer: {}",
            out.stderr
        );
        assert_eq!(kez.read("chain.jsonl"), before, "{args}");
    }
    // Revoking a device that was never added breaks a structural rule: exit 2.
    let out = kez
        .at(JAN3)
        .run("sigchain revoke-device --chain chain.jsonl --key k.key --device stranger.key");
    out.code(2);
    assert!(
        out.stderr.contains("the device is not active"),
        "{}",
        out.stderr
    );
    assert_eq!(kez.read("chain.jsonl"), before);
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn sigchain_add_refuses_bad_claims_naming_both_keys() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    chain_with_claim(&kez);
    let before = kez.read("chain.jsonl");
    // Signed by a key that is not the chain's primary.
    let stranger = kez.new_key("bip340", "stranger.key");
    kez.at(JAN2)
        .new_claim("stranger.key", "github:jason", "s.json", "json");
    let out = kez
        .at(JAN3)
        .run("sigchain add --chain chain.jsonl --key k.key --claim s.json");
    out.code(1);
    let primary = kez.public_of("k.key");
    assert_eq!(
        out.stderr,
        format!(
            "error: s.json is signed by {stranger}, but the current primary key of chain.jsonl \
             is {primary}; refusing to add it\n"
        )
    );
    // A claim whose signature does not verify.
    let tampered = kez.read_text("c.json").replacen(
        "\"subject\":\"github:jason\"",
        "\"subject\":\"github:jasom\"",
        1,
    );
    kez.write("t.json", tampered);
    let out = kez
        .at(JAN3)
        .run("sigchain add --chain chain.jsonl --key k.key --claim t.json");
    out.code(1);
    assert!(
        out.stderr
            .contains("t.json: the claim's signature does not verify"),
        "{}",
        out.stderr
    );
    // A claim that is already bound; a file with no claim.
    let out = kez
        .at(JAN3)
        .run("sigchain add --chain chain.jsonl --key k.key --claim c.json");
    out.code(2);
    assert!(
        out.stderr.contains("already bound to chain.jsonl at seq 1"),
        "{}",
        out.stderr
    );
    kez.at(JAN3)
        .run("sigchain add --chain chain.jsonl --key k.key --claim k.key")
        .code(2);
    assert_eq!(kez.read("chain.jsonl"), before);
}

#[test]
fn sigchain_init_refuses_to_overwrite() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    chain_with_claim(&kez);
    let before = kez.read("chain.jsonl");
    let out = kez.run("sigchain init --key k.key --out chain.jsonl");
    out.code(2);
    assert!(out.stderr.contains("pass --force"), "{}", out.stderr);
    assert_eq!(kez.read("chain.jsonl"), before);
    kez.at(JAN5)
        .run("sigchain init --key k.key --out chain.jsonl --force")
        .code(0);
    assert_eq!(kez.read_text("chain.jsonl").lines().count(), 1);
}

#[test]
fn sigchain_verify_flipped_signature_exit_1() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    chain_with_claim(&kez);
    let ok = kez.run("sigchain verify chain.jsonl");
    ok.code(0);
    assert!(
        ok.text()
            .starts_with("chain.jsonl: ok, 2 links, head sha256:"),
        "{}",
        ok.text()
    );
    let text = kez.read_text("chain.jsonl");
    let at = text.rfind("\"sig\":\"").unwrap() + 7;
    let replacement = if &text[at..at + 1] == "0" { "1" } else { "0" };
    let mut flipped = text.clone();
    flipped.replace_range(at..at + 1, replacement);
    kez.write("flipped.jsonl", flipped);
    let out = kez.run("--format json sigchain verify flipped.jsonl");
    out.code(1);
    let report = out.json();
    assert_eq!(report["schema"], "kez-verify/sigchain-verify/v1");
    assert_eq!(report["ok"], false);
    assert_eq!(report["kind"], "bad_signature");
    // Appending to a chain that does not verify is refused.
    let out = kez
        .at(JAN3)
        .run("sigchain revoke --chain flipped.jsonl --key k.key --subject github:jason");
    out.code(1);
    assert!(
        out.stderr.contains("flipped.jsonl does not verify: seq 1:"),
        "{}",
        out.stderr
    );
}

#[test]
fn sigchain_verify_truncated_chain_exit_2() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    chain_with_claim(&kez);
    let bytes = kez.read("chain.jsonl");
    kez.write("truncated.jsonl", &bytes[..bytes.len() - 1]);
    let out = kez.run("sigchain verify truncated.jsonl");
    out.code(2);
    assert_eq!(
        out.text(),
        "malformed: truncated.jsonl: line 2: missing final newline (truncated chain?)\n"
    );
    // A claim checked against it is invalid (bad_chain), exit 1.
    let claim = verify_with_chain(&kez, "c.json", &["truncated.jsonl"], JAN3);
    claim.code(1);
    assert_eq!(claim.json()["results"][0]["verdict"]["reason"], "bad_chain");
    kez.run("sigchain export truncated.jsonl").code(2);
    kez.run("sigchain show truncated.jsonl").code(2);
    kez.run("sigchain verify missing.jsonl").code(2);
}

#[test]
fn sigchain_verify_diverging_copies_is_a_fork_exit_1() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    chain_with_claim(&kez);
    // Copy b: the same init, then another claim at seq 1.
    let init = kez
        .read_text("chain.jsonl")
        .lines()
        .next()
        .unwrap()
        .to_string()
        + "\n";
    kez.write("b.jsonl", &init);
    kez.write("prefix.jsonl", &init);
    kez.at(JAN2)
        .new_claim("k.key", "github:other", "o.json", "json");
    kez.at(JAN2)
        .run("sigchain add --chain b.jsonl --key k.key --claim o.json")
        .code(0);
    kez.run("sigchain verify b.jsonl").code(0);
    let out = kez.run("sigchain verify chain.jsonl --other b.jsonl");
    out.code(1);
    assert!(
        out.text()
            .starts_with("fork: chain.jsonl and b.jsonl: fork at seq 1: sha256:"),
        "{}",
        out.text()
    );
    let json =
        kez.run("--format json sigchain verify prefix.jsonl --other chain.jsonl --other b.jsonl");
    json.code(1);
    assert_eq!(json.json()["kind"], "fork");
    // A prefix is not a fork: the longest copy is used.
    let ok = kez.run("--format json sigchain verify prefix.jsonl --other chain.jsonl");
    ok.code(0);
    assert_eq!(ok.json()["chain"], "chain.jsonl");
    assert_eq!(ok.json()["length"], 2);
    assert_eq!(ok.json()["copies"], 2);
    // claim verify with the diverging copies: outcome fork, exit 1.
    let claim = verify_with_chain(&kez, "c.json", &["chain.jsonl", "b.jsonl"], JAN3);
    claim.code(1);
    assert_eq!(claim.json()["outcome"], "fork");
    assert_eq!(
        claim.json()["results"][0]["verdict"]["conditions"][0]["seq"],
        1
    );
    verify_with_chain(&kez, "c.json", &["prefix.jsonl", "chain.jsonl"], JAN3).code(0);
}

#[test]
fn sigchain_export_is_byte_identical_and_at_cuts() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    chain_with_claim(&kez);
    kez.at(JAN4)
        .run("sigchain revoke --chain chain.jsonl --key k.key --claim c.json")
        .code(0);
    let chain = kez.read("chain.jsonl");
    let out = kez.run("sigchain export chain.jsonl");
    out.code(0);
    assert_eq!(out.stdout, chain);
    let lines: Vec<&str> = std::str::from_utf8(&chain).unwrap().lines().collect();
    assert_eq!(lines.len(), 3);
    let cut = kez.run(&format!("sigchain export chain.jsonl --at {JAN3}"));
    cut.code(0);
    assert_eq!(cut.text(), format!("{}\n{}\n", lines[0], lines[1]));
    let cut = kez.run("sigchain export chain.jsonl --at 2026-01-01T12:00:00Z");
    cut.code(0);
    assert_eq!(cut.text(), format!("{}\n", lines[0]));
    // From stdin too.
    let piped = kez.run_stdin("sigchain export -", &chain);
    piped.code(0);
    assert_eq!(piped.stdout, chain);
}

#[test]
fn sigchain_show_lists_keys_and_claims() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    let id = chain_with_claim(&kez);
    kez.at(JAN4)
        .run("sigchain revoke --chain chain.jsonl --key k.key --claim c.json")
        .code(0);
    let human = kez.run("sigchain show chain.jsonl");
    human.code(0);
    let text = human.text();
    assert!(text.contains("length:   3 links"), "{text}");
    assert!(
        text.contains(&format!(
            "{id}  github:jason  added at seq 1 (2026-01-02T00:00:00Z), \
             revoked at seq 2 (2026-01-04T00:00:00Z) by claim"
        )),
        "{text}"
    );
    let json = kez.run(&format!(
        "--format json sigchain show chain.jsonl --at {JAN3}"
    ));
    json.code(0);
    let report = json.json();
    assert_eq!(report["schema"], "kez-verify/sigchain-show/v1");
    assert_eq!(report["length"], 3);
    assert_eq!(report["claims"][0]["id"], id.as_str());
    assert!(
        report["claims"][0]["revoked"].is_null(),
        "not yet revoked on Jan 3"
    );
    assert_eq!(report["root"], kez.public_of("k.key").as_str());
    assert_eq!(report["root"], report["primary"]);
}

// ---------------------------------------------------------------------------------------
// demo, output formats, pipes

#[test]
fn demo_is_valid_in_all_four_encodings_and_deterministic() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    let out = kez.run("demo");
    out.code(0);
    let text = out.text();
    for encoding in ["json", "compact", "markdown", "dns"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(encoding) && l.ends_with("valid")),
            "{encoding}: {text}"
        );
    }
    assert!(text.contains("subject:  github:jason"));
    assert!(text.contains("created:  2026-01-01T00:00:00Z"));
    assert_eq!(kez.run("demo").stdout, out.stdout, "deterministic");
    let json = kez.run("--format json demo");
    json.code(0);
    let report = json.json();
    assert_eq!(report["schema"], "kez-verify/demo/v1");
    assert_eq!(report["outcome"], "valid");
    let rows = report["results"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for row in rows {
        assert_eq!(row["outcome"], "valid");
        assert_eq!(row["detected"], row["encoding"]);
        assert!(row["bytes"].as_u64().unwrap() > 100);
    }
}

#[test]
fn json_format_outputs_parse() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    chain_with_claim(&kez);
    let runs = [
        format!("--format json claim verify c.json --chain chain.jsonl --at {JAN3}"),
        format!("claim verify --format json c.json --at {JAN3}"),
        "--format json sigchain verify chain.jsonl".into(),
        "--format json sigchain show chain.jsonl".into(),
        "--format json key show k.key".into(),
        "--format json key backup k.key --skip-recall-check".into(),
        "--format json demo".into(),
        "--format json claim encode --to dns c.json".into(),
        format!(
            "--format json sig sign --alg ed25519 --secret {} --msg=",
            RFC8032[0][0]
        ),
    ];
    for args in runs {
        let out = kez.run(&args);
        out.code(0);
        assert!(out.json().is_object(), "{args}");
    }
    let appended = kez
        .at(JAN3)
        .run("--format json sigchain revoke --chain chain.jsonl --key k.key --subject github:x");
    appended.code(0);
    assert_eq!(appended.json()["seq"], 2);
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    for args in [
        "frobnicate",
        "sig verify --alg ed25519",
        "key new --alg ed25519",
        "claim new --subject github:jason",
        "--format yaml demo",
        "key backup k.key --force",
    ] {
        let out = kez.run(args);
        out.code(2);
        assert!(out.stdout.is_empty(), "{args}");
    }
    kez.run("--help").code(0);
    assert!(kez.run("--help").text().contains("Exit codes"));
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let dir = tempdir();
    let kez = Kez::new(dir.path());
    chain_with_claim(&kez);
    for args in [
        &["demo"][..],
        &["sigchain", "export", "chain.jsonl"],
        &["canon", "c.json"],
    ] {
        let mut child = kez
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the child writes (or while it does).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}
