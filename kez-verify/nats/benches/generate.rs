//! What `generate` and `check` cost for a large organisation, as ratios against a
//! baseline measured in the same run (absolute times are not compared: machines here are
//! shared and noisy).
//!
//! `cargo bench -p kez-nats --bench generate` generates 1 operator, 100 accounts (plus
//! the system account) and 10,000 users — keys, the NSC store, `.creds` and configs, all
//! written to disk in a temporary directory — and prints
//!
//! 1. generating against bare Ed25519 signing (ed25519-dalek, one key per issuer) of the
//!    same JWT signing inputs — target at most 2×;
//! 2. checking the generated home against generating it — target at most 1× (check runs
//!    at least as fast as generate).
//!
//! One round at full size (writing and deleting 30,000 files a round is what costs on a
//! shared disk, and ext4 slows down creating files where many were just deleted); with
//! `KEZ_BENCH_QUICK=1` (10 accounts of 100 users) each figure is the median of three.
//! The directory is `TMPDIR`'s: `TMPDIR=/dev/shm` takes the disk out of the figures.

use std::time::{Duration, Instant};

use ed25519_dalek::{Signer as _, SigningKey};
use kez_nats::check::{self, CheckOptions};
use kez_nats::generate::{generate, GenerateOptions, Generated};
use kez_nats::jwt::Jwt;
use kez_nats::spec::Spec;

/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600;

fn quick() -> bool {
    std::env::var_os("KEZ_BENCH_QUICK").is_some()
}

/// `accounts` accounts of `users` users each: three of four users hold one role (signed
/// by its scoped key), every fourth both (signed by the unscoped key, with the union).
fn spec(accounts: usize, users: usize) -> Spec {
    let mut text = String::from("[operator]\nname = \"bench\"\n");
    for a in 0..accounts {
        text.push_str(&format!(
            "\n[[accounts]]\nname = \"A{a:03}\"\n\
             [accounts.roles.reader]\nsub_allow = [\"a{a}.>\", \"_INBOX.>\"]\n\
             [accounts.roles.writer]\npub_allow = [\"a{a}.>\"]\npub_deny = [\"a{a}.audit\"]\n"
        ));
        for u in 0..users {
            let roles = match u % 4 {
                0 => "[\"reader\", \"writer\"]",
                1 => "[\"writer\"]",
                _ => "[\"reader\"]",
            };
            text.push_str(&format!(
                "[[accounts.users]]\nname = \"u{u:05}\"\nkind = \"service\"\nroles = {roles}\n"
            ));
        }
    }
    Spec::parse(&text).expect("bench spec parses")
}

/// Every JWT the run wrote: (issuer's signing key, signing input).
fn signing_inputs(generated: &Generated) -> Vec<(SigningKey, Vec<u8>)> {
    let layout = &generated.layout;
    let mut paths = vec![layout.operator_jwt("bench")];
    for account in &generated.accounts {
        paths.push(layout.account_jwt("bench", &account.name));
        paths.extend(account.users.iter().filter_map(|u| u.jwt.clone()));
    }
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).expect("JWT readable");
            let jwt = Jwt::decode(text.trim()).expect("generated JWT decodes");
            let issuer = jwt.issuer().expect("issuer");
            let seed_text =
                std::fs::read_to_string(layout.key(&issuer)).expect("issuer key file readable");
            let seed = kez_nats::nkey::Seed::parse(seed_text.trim()).expect("issuer seed");
            // The nkey seed is the RFC 8032 seed: a bare dalek key signing the same bytes.
            let key = SigningKey::from_bytes(&seed_bytes(&seed));
            assert_eq!(key.verifying_key().as_bytes(), issuer.as_bytes());
            (key, jwt.signing_input().to_vec())
        })
        .collect()
}

/// The 32 seed bytes of an nkey seed (base32: two prefix bytes, seed, CRC).
fn seed_bytes(seed: &kez_nats::nkey::Seed) -> [u8; 32] {
    let raw = data_encoding::BASE32_NOPAD
        .decode(seed.to_text().as_bytes())
        .expect("seed is base32");
    raw[2..34].try_into().expect("32 seed bytes")
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let (accounts, users, rounds) = if quick() { (10, 100, 3) } else { (100, 100, 1) };
    let spec = spec(accounts, users);
    println!(
        "kez-nats generate/check: 1 operator, {accounts} accounts (+ SYS), {} users (+ sys), files under {}",
        accounts * users,
        std::env::temp_dir().display()
    );

    let mut generate_times = Vec::new();
    let mut check_times = Vec::new();
    let mut sign_times = Vec::new();
    let mut jwts = 0;
    let mut files = 0;
    for _ in 0..rounds {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("out");
        let start = Instant::now();
        let generated = generate(&spec, &out, &GenerateOptions::at(NOW)).expect("generates");
        generate_times.push(start.elapsed());
        files = generated.written.len();

        let start = Instant::now();
        let report = check::check_with(&out, CheckOptions::at(NOW)).expect("checks");
        check_times.push(start.elapsed());
        assert!(
            report.findings().is_empty(),
            "generated output has findings: {:?}",
            &report.findings()[..report.findings().len().min(5)]
        );

        let inputs = signing_inputs(&generated);
        jwts = inputs.len();
        let start = Instant::now();
        for (key, input) in &inputs {
            std::hint::black_box(key.sign(std::hint::black_box(input)));
        }
        sign_times.push(start.elapsed());
    }
    let (generating, checking, signing) = (
        median(generate_times),
        median(check_times),
        median(sign_times),
    );
    println!("  {jwts} JWTs, {files} files written");
    println!("  bare Ed25519 signing of the JWT signing inputs: {signing:>10.2?}");
    println!("  generate:                                      {generating:>10.2?}");
    println!("  check:                                         {checking:>10.2?}");
    let ratio = generating.as_secs_f64() / signing.as_secs_f64();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "  generate / bare signing = {ratio:.2}× (target ≤ 2.00×): {}",
        verdict(ratio <= 2.0)
    );
    let ratio = checking.as_secs_f64() / generating.as_secs_f64();
    println!(
        "  check / generate        = {ratio:.2}× (target ≤ 1.00×): {}",
        verdict(ratio <= 1.0)
    );
}
