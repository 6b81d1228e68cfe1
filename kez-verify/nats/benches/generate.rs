//! What `generate` and `check` cost for a large organisation, as ratios against a
//! baseline measured in the same run (absolute times are not compared: machines here are
//! shared and noisy).
//!
//! `cargo bench -p kez-nats --bench generate` generates 1 operator, 100 accounts (plus
//! the system account) and 10,000 users — keys, the NSC store, `.creds` and configs, all
//! written to disk — and prints, in wall-clock time and in CPU time (user + system, the
//! whole process):
//!
//! 1. generating against bare Ed25519 signing (ed25519-dalek, one key per issuer) of the
//!    same JWT signing inputs — target at most 2× — both on one thread, and both on the
//!    machine's N threads (generate's default; the baseline then signs on N threads too);
//! 2. checking the generated home against generating it — target at most 1× (check runs
//!    at least as fast as generate);
//! 3. where generate's time goes: generating the keys (bare key generation, one base
//!    point multiplication per key, measured alone too), encoding (Go's JSON, `jti`,
//!    base64url) and signing, writing the files, making them durable.
//!
//! The output goes under cargo's `target/tmp` (the normal disk), then, when it exists,
//! under `/dev/shm` (memory, which takes the disk out of the figures); the filesystem of
//! each is printed. One round at full size (writing and deleting 30,000 files a round is
//! what costs on a shared disk); with `KEZ_BENCH_QUICK=1` (10 accounts of 100 users) each
//! figure is the median of three.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer as _, SigningKey};
use kez_nats::check::{self, CheckOptions};
use kez_nats::generate::{generate, GenerateOptions, Generated, Timings};
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

/// Signs every input, the inputs split into `threads` contiguous parts signed in
/// parallel (as generate splits its work).
fn sign_all(inputs: &[(SigningKey, Vec<u8>)], threads: usize) {
    let part = inputs.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        for chunk in inputs.chunks(part) {
            scope.spawn(move || {
                for (key, input) in chunk {
                    std::hint::black_box(key.sign(std::hint::black_box(input)));
                }
            });
        }
    });
}

/// Process CPU time (user + system, every thread); zero with `KEZ_BENCH_NO_CPU` set
/// (for valgrind, under which rustix's vDSO lookup fails).
#[cfg(target_os = "linux")]
fn cpu_time() -> Duration {
    if std::env::var_os("KEZ_BENCH_NO_CPU").is_some() {
        return Duration::ZERO;
    }
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

#[cfg(not(target_os = "linux"))]
fn cpu_time() -> Duration {
    Duration::ZERO
}

/// Wall-clock and CPU time of one run of `f`.
#[derive(Clone, Copy, Default)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

fn measure<T>(f: impl FnOnce() -> T) -> (T, Cost) {
    let (wall, cpu) = (Instant::now(), cpu_time());
    let out = f();
    let cost = Cost {
        wall: wall.elapsed(),
        cpu: cpu_time().saturating_sub(cpu),
    };
    (out, cost)
}

fn median(mut costs: Vec<Cost>) -> Cost {
    costs.sort_by_key(|c| c.wall);
    costs[costs.len() / 2]
}

fn median_timings(mut timings: Vec<Timings>) -> Timings {
    timings.sort_by_key(|t| t.keys + t.signing + t.writing + t.syncing);
    timings[timings.len() / 2]
}

/// The filesystem type of the mount holding `dir` (`/proc/self/mounts`).
fn filesystem(dir: &Path) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (device, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            let point = point.replace("\\040", " ");
            dir.starts_with(&point)
                .then(|| (point.len(), format!("{kind} ({device} on {point})")))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "unknown filesystem".to_string(), |(_, what)| what)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn run(base: &Path, spec: &Spec, threads: usize, rounds: usize) {
    println!("\noutput under {}: {}", base.display(), filesystem(base));
    let mut costs: [Vec<Cost>; 7] = Default::default();
    let mut split = Vec::new();
    let (mut jwts, mut files, mut new_keys) = (0, 0, 0);
    for _ in 0..rounds {
        let dir = tempfile::tempdir_in(base).expect("temp dir");
        let one = dir.path().join("one");
        let many = dir.path().join("many");

        let mut options = GenerateOptions::at(NOW);
        options.threads = 1;
        let (generated, cost) = measure(|| generate(spec, &one, &options).expect("generates"));
        costs[0].push(cost);
        split.push(generated.timings);
        files = generated.written.len();
        new_keys = generated
            .written
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "nk"))
            .count();

        options.threads = threads;
        let (_, cost) = measure(|| generate(spec, &many, &options).expect("generates"));
        costs[1].push(cost);

        let (report, cost) =
            measure(|| check::check_with(&many, CheckOptions::at(NOW)).expect("checks"));
        costs[2].push(cost);
        assert!(
            report.findings().is_empty(),
            "generated output has findings: {:?}",
            &report.findings()[..report.findings().len().min(5)]
        );

        let inputs = signing_inputs(&generated);
        jwts = inputs.len();
        costs[3].push(measure(|| sign_all(&inputs, 1)).1);
        costs[4].push(measure(|| sign_all(&inputs, threads)).1);

        // Bare key generation: what deriving as many public keys costs, alone.
        let seeds: Vec<[u8; 32]> = (0..new_keys)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
                seed
            })
            .collect();
        let (_, cost) = measure(|| {
            for seed in &seeds {
                std::hint::black_box(SigningKey::from_bytes(std::hint::black_box(seed)));
            }
        });
        costs[5].push(cost);
        let (_, cost) = measure(|| drop(dir));
        costs[6].push(cost);
    }
    let [gen1, gen_n, check, sign1, sign_n, keygen, _cleanup] = costs.map(median);
    let split = median_timings(split);

    println!("  {jwts} JWTs, {new_keys} new keys, {files} files; {threads} threads available");
    println!("  {:<44} {:>11} {:>11}", "", "wall", "cpu");
    let row = |what: &str, c: Cost| println!("  {what:<44} {:>11} {:>11}", ms(c.wall), ms(c.cpu));
    row("bare Ed25519 signing, 1 thread", sign1);
    row(&format!("bare Ed25519 signing, {threads} threads"), sign_n);
    row(
        &format!("bare key generation ({new_keys} keys), 1 thread"),
        keygen,
    );
    row("generate, 1 thread", gen1);
    row(&format!("generate, {threads} threads"), gen_n);
    row(&format!("check, {threads} threads"), check);

    let encode = split.signing.saturating_sub(sign1.cpu);
    println!("  generate on 1 thread, by phase (wall):");
    let phase = |what: &str, d: Duration| {
        println!(
            "    {what:<42} {:>11} = {:>5.2}× bare signing",
            ms(d),
            ratio(d, sign1.cpu)
        )
    };
    phase("keys: generate (incl. planning the claims)", split.keys);
    phase("JSON + jti + base64 + .creds", encode);
    phase("Ed25519 signing (the baseline)", split.signing - encode);
    phase("file writes", split.writing);
    phase("durability (syncfs) + rename into place", split.syncing);

    println!("  ratios (target):");
    let gen1_wall = ratio(gen1.wall, sign1.wall);
    println!(
        "    generate / bare signing, 1 thread each:   wall {gen1_wall:>5.2}×, cpu {:>5.2}× (≤ 2.00×): {}",
        ratio(gen1.cpu, sign1.cpu),
        verdict(gen1_wall <= 2.0)
    );
    let gen_n_wall = ratio(gen_n.wall, sign_n.wall);
    println!(
        "    generate / bare signing, {threads} threads each:  wall {gen_n_wall:>5.2}×, cpu {:>5.2}× (≤ 2.00×): {}",
        ratio(gen_n.cpu, sign_n.cpu),
        verdict(gen_n_wall <= 2.0)
    );
    println!(
        "    generate on {threads} threads / bare signing on 1:  wall {:>5.2}×",
        ratio(gen_n.wall, sign1.wall),
    );
    let check_wall = ratio(check.wall, gen_n.wall);
    println!(
        "    check / generate, {threads} threads each:         wall {check_wall:>5.2}×, cpu {:>5.2}× (≤ 1.00×): {}",
        ratio(check.cpu, gen_n.cpu),
        verdict(check_wall <= 1.0)
    );
    println!(
        "    floor: key generation alone = {:.2}× bare signing (cpu); keys + signing = {:.2}×",
        ratio(keygen.cpu, sign1.cpu),
        ratio(keygen.cpu + sign1.cpu, sign1.cpu)
    );
}

fn main() {
    let (accounts, users, rounds) = if quick() { (10, 100, 3) } else { (100, 100, 1) };
    let spec = spec(accounts, users);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "kez-nats generate/check: 1 operator, {accounts} accounts (+ SYS), {} users (+ sys)",
        accounts * users,
    );
    let disk = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&disk).expect("target/tmp");
    run(&disk, &spec, threads, rounds);
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        run(shm, &spec, threads, rounds);
    }
}
