//! Stable-toolchain fuzz smoke: runs every target over seed inputs built from kez-core and
//! kez-nats, the files under `fixtures/` and the NATS vectors in `../shared/vectors/nats`,
//! then over deterministic mutations of them (byte flips,
//! truncations, insertions, splices). A panic anywhere fails the test. The number of
//! mutations per target is `KEZ_FUZZ_SMOKE_ITERS` (default 20,000); the walk is seeded, so a
//! failure reproduces exactly.

use std::path::Path;

use kez_core::claim::ClaimBuilder;
use kez_core::encoding::{encode, Encoding};
use kez_core::sigchain::{LinkBuilder, Op};
use kez_core::{Algorithm, SecretKey};

/// xorshift64*: a tiny deterministic generator for reproducible mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn generated_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for (i, alg) in [Algorithm::Ed25519, Algorithm::Bip340]
        .into_iter()
        .enumerate()
    {
        let key = SecretKey::from_bytes(alg, &[i as u8 + 1; 32]).expect("valid key");
        let claim = ClaimBuilder::new("dns:example.com".parse().expect("identity"), 1_767_225_600)
            .expires_at(1_798_761_600)
            .nonce("AAAAAAAAAAAAAAAAAAAAAA")
            .sign(&key, Some(&[0; 32]))
            .expect("claim signs");
        for encoding in Encoding::ALL {
            seeds.push(encode(&claim, encoding).into_bytes());
        }
        let init = LinkBuilder::init(1_767_225_600)
            .sign(&key, None)
            .expect("init signs");
        let add = LinkBuilder::after(
            &init,
            Op::Add {
                claim: claim.id(),
                subject: claim.subject().clone(),
            },
            1_767_225_601,
        )
        .sign(&key, None)
        .expect("add signs");
        let mut chain = init.to_jcs().to_vec();
        chain.push(b'\n');
        chain.extend_from_slice(add.to_jcs());
        chain.push(b'\n');
        seeds.push(chain);
    }
    for id in [
        "github:@Jason",
        "dns:Bücher.example.",
        "ap:@alice@example.social",
        "mastodon:a@b.co",
        "bluesky:alice.bsky.social",
    ] {
        seeds.push(id.as_bytes().to_vec());
    }
    seeds.push(br#"{"b":[1,2.5e3,"\u00e9"],"a":{"z":null,"y":true}}"#.to_vec());
    seeds.extend(nats_seeds());
    seeds
}

/// An operator, account and user JWT, a `.creds` file and nkeys of every role, from
/// fixed seeds.
fn nats_seeds() -> Vec<Vec<u8>> {
    use kez_nats::claims::{AccountClaims, OperatorClaims, SigningKey, UserClaims};
    use kez_nats::jwt;
    use kez_nats::nkey::Seed;
    let seed = |text: &str| Seed::parse(text).expect("fixed seed");
    let operator = seed("SOAAOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOB4CS4");
    let account = seed("SAAAOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOB6O4U");
    let user = seed("SUAAOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBZ5FE");
    let mut op = OperatorClaims::new(operator.public_key().to_string());
    op.data.name = "fuzz".into();
    op.nats.strict_signing_key_usage = true;
    op.nats.signing_keys = vec![operator.public_key().to_string()];
    let mut acc = AccountClaims::new(account.public_key().to_string());
    acc.nats.signing_keys = vec![SigningKey::Key(account.public_key().to_string())];
    acc.nats
        .revocations
        .insert(user.public_key().to_string(), 1_767_225_600);
    let mut usr = UserClaims::new(user.public_key().to_string());
    usr.data.name = "u <&> \u{2028}".into();
    usr.nats.permissions.permissions.publish.allow = vec!["a.>".into()];
    let op_jwt = jwt::encode(&mut op, &operator, 1_767_225_600).expect("operator JWT");
    let acc_jwt = jwt::encode(&mut acc, &operator, 1_767_225_600).expect("account JWT");
    let usr_jwt = jwt::encode(&mut usr, &account, 1_767_225_600).expect("user JWT");
    let creds = kez_nats::creds::format(&usr_jwt, &user);
    vec![
        op_jwt.into_bytes(),
        acc_jwt.into_bytes(),
        usr_jwt.into_bytes(),
        creds.as_bytes().to_vec(),
        format!("{}\n", creds.as_str()).into_bytes(),
        operator.public_key().to_string().into_bytes(),
        account.public_key().to_string().into_bytes(),
        user.public_key().to_string().into_bytes(),
        user.to_text().as_bytes().to_vec(),
    ]
}

fn file_seeds(dir: &Path, out: &mut Vec<Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            file_seeds(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes.len() <= 64 * 1024 {
                out.push(bytes);
            }
        }
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(3) {
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data.truncate(i);
            }
            2 => {
                let i = rng.below(data.len() + 1);
                let byte =
                    [b'"', b'{', b'}', b'\\', b'\n', b':', b',', 0xff, b'0', b'`'][rng.below(10)];
                data.insert(i, byte);
            }
            3 if !data.is_empty() => {
                let i = rng.below(data.len());
                let n = rng.below(data.len() - i + 1);
                data.drain(i..i + n);
            }
            4 if !other.is_empty() => {
                let i = rng.below(data.len() + 1);
                let j = rng.below(other.len());
                let n = rng.below(other.len() - j + 1).min(64);
                data.splice(i..i, other[j..j + n].iter().copied());
            }
            _ => {
                let i = rng.below(data.len() + 1);
                data.insert(i, rng.next() as u8);
            }
        }
    }
    data
}

#[test]
fn every_target_survives_seeds_and_mutations() {
    let iterations: usize = std::env::var("KEZ_FUZZ_SMOKE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut seeds = generated_seeds();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    file_seeds(&root.join("../fixtures"), &mut seeds);
    file_seeds(&root.join("../../shared/vectors/nats"), &mut seeds);
    assert!(
        seeds.len() >= 14,
        "seed corpus unexpectedly small: {}",
        seeds.len()
    );
    for (name, target) in kez_fuzz::TARGETS {
        for seed in &seeds {
            target(seed);
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
        for n in 0..iterations {
            let seed = &seeds[rng.below(seeds.len())];
            let other = &seeds[rng.below(seeds.len())];
            let input = mutate(&mut rng, seed, other);
            let outcome = std::panic::catch_unwind(|| target(&input));
            assert!(
                outcome.is_ok(),
                "target {name} panicked on mutation {n}: {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}
