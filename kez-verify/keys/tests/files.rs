//! Key files on disk (SPEC.md §9): write, read back, modes, refusals and typed errors.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use kez_core::{Algorithm, SecretKey};
use kez_keys::encrypted::{DecryptError, DecryptOptions, EncryptOptions};
use kez_keys::keyfile::{self, KeyFileError};
use kez_keys::mnemonic::{self, MnemonicError};
use kez_keys::store::{self, StoreError, WriteError};

const FAST: EncryptOptions = EncryptOptions {
    work_factor: Some(10),
};

/// A fixed secret whose hex we look for in every error.
const SECRET: [u8; 32] = [
    0x3c, 0x91, 0x5e, 0x07, 0xa2, 0x44, 0x6d, 0xf0, 0x18, 0xbe, 0x29, 0x73, 0xc5, 0x0a, 0x96, 0x41,
    0xe8, 0x2f, 0x5b, 0x7d, 0x13, 0xa4, 0x6c, 0x99, 0x0e, 0xd1, 0x37, 0x82, 0x4f, 0xb6, 0x25, 0x60,
];

/// Whether an error is the one a case expects.
type Check = fn(&StoreError) -> bool;

fn pass(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn key(algorithm: Algorithm) -> SecretKey {
    SecretKey::from_bytes(algorithm, &SECRET).expect("a valid key in both suites")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("file exists")
        .permissions()
        .mode()
        & 0o7777
}

fn no_passphrase() -> Result<SecretString, std::io::Error> {
    panic!("a plaintext key file must not ask for a passphrase")
}

fn given(p: &str) -> impl FnOnce() -> Result<SecretString, std::io::Error> + '_ {
    move || Ok(pass(p))
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("kez.key");
    (dir, path)
}

#[test]
fn plaintext_round_trip_both_algorithms() {
    for algorithm in [Algorithm::Ed25519, Algorithm::Bip340] {
        let (_dir, path) = setup();
        let sk = key(algorithm);
        store::write_key_file(&path, &sk, None, false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, keyfile::encode(&sk).as_str());
        assert!(text.ends_with(&format!(
            "kez-secret-key-v1:{}:{}\n",
            algorithm.name(),
            hex::encode(SECRET)
        )));
        let (back, info) = store::read_key_file(&path, no_passphrase).unwrap();
        assert_eq!(back.algorithm(), algorithm);
        assert_eq!(back.expose_secret(), &SECRET);
        assert!(!info.encrypted);
        assert_eq!(info.mode, Some(0o600));
        assert!(!info.is_shared());
    }
}

#[test]
fn encrypted_round_trip_both_algorithms() {
    for algorithm in [Algorithm::Ed25519, Algorithm::Bip340] {
        let (_dir, path) = setup();
        let sk = key(algorithm);
        store::write_key_file(&path, &sk, Some((&pass("hunter2"), FAST)), false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"),
            "{text}"
        );
        assert!(!text.contains(&hex::encode(SECRET)));
        let mut asked = 0;
        let (back, info) = store::read_key_file(&path, || {
            asked += 1;
            Ok::<_, std::io::Error>(pass("hunter2"))
        })
        .unwrap();
        assert_eq!(asked, 1);
        assert_eq!(back.expose_secret(), &SECRET);
        assert_eq!(back.algorithm(), algorithm);
        assert!(info.encrypted);
        assert_eq!(mode(&path), 0o600);
    }
}

#[test]
fn default_work_factor_encrypts_and_decrypts() {
    let (_dir, path) = setup();
    let sk = key(Algorithm::Ed25519);
    store::write_key_file(
        &path,
        &sk,
        Some((&pass("default"), EncryptOptions::default())),
        false,
    )
    .unwrap();
    let (back, _) = store::read_key_file(&path, given("default")).unwrap();
    assert_eq!(back.public_key(), sk.public_key());
}

#[test]
fn max_work_factor_is_applied_when_reading() {
    let (_dir, path) = setup();
    store::write_key_file(
        &path,
        &key(Algorithm::Ed25519),
        Some((&pass("pw"), FAST)),
        false,
    )
    .unwrap();
    let low = DecryptOptions {
        max_work_factor: Some(9),
    };
    let err = store::read_key_file_with(&path, low, given("pw")).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Decrypt {
                error: DecryptError::WorkFactorTooHigh {
                    required: 10,
                    max: 9
                },
                ..
            }
        ),
        "{err:?}"
    );
    let enough = DecryptOptions {
        max_work_factor: Some(10),
    };
    let (back, _) = store::read_key_file_with(&path, enough, given("pw")).unwrap();
    assert_eq!(back.expose_secret(), &SECRET);
}

#[test]
fn wrong_passphrase_is_a_distinct_error() {
    let (_dir, path) = setup();
    store::write_key_file(
        &path,
        &key(Algorithm::Bip340),
        Some((&pass("right"), FAST)),
        false,
    )
    .unwrap();
    let err = store::read_key_file(&path, given("wrong")).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Decrypt {
                error: DecryptError::WrongPassphrase,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("{}: wrong passphrase", path.display())
    );
}

#[test]
fn passphrase_provider_errors_are_passed_through() {
    let (_dir, path) = setup();
    store::write_key_file(
        &path,
        &key(Algorithm::Ed25519),
        Some((&pass("pw"), FAST)),
        false,
    )
    .unwrap();
    let err = store::read_key_file(&path, || {
        Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "prompt cancelled",
        ))
    })
    .unwrap_err();
    assert!(matches!(err, StoreError::Passphrase { .. }), "{err:?}");
    assert!(err.to_string().contains("prompt cancelled"), "{err}");
}

#[test]
fn key_files_are_mode_0600_even_over_a_looser_file() {
    let (_dir, path) = setup();
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    store::write_key_file(&path, &key(Algorithm::Ed25519), None, true).unwrap();
    assert_eq!(mode(&path), 0o600);
    store::write_key_file(
        &path,
        &key(Algorithm::Ed25519),
        Some((&pass("pw"), FAST)),
        true,
    )
    .unwrap();
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn existing_files_are_not_replaced_without_overwrite() {
    let (_dir, path) = setup();
    std::fs::write(&path, "precious").unwrap();
    for encryption in [None, Some((&pass("pw"), FAST))] {
        let err =
            store::write_key_file(&path, &key(Algorithm::Ed25519), encryption, false).unwrap_err();
        assert!(
            matches!(&err, StoreError::Write(WriteError::Exists { path: p }) if p == &path),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("{} exists; pass --force to replace it", path.display())
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
    }
    store::write_key_file(&path, &key(Algorithm::Ed25519), None, true).unwrap();
    assert!(store::read_key_file(&path, no_passphrase).is_ok());
}

#[test]
fn loose_modes_are_reported_not_refused() {
    let (_dir, path) = setup();
    store::write_key_file(&path, &key(Algorithm::Ed25519), None, false).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (back, info) = store::read_key_file(&path, no_passphrase).unwrap();
    assert_eq!(back.expose_secret(), &SECRET);
    assert_eq!(info.mode, Some(0o644));
    assert!(info.is_shared());
}

#[test]
fn missing_file_is_a_read_error() {
    let (_dir, path) = setup();
    let err = store::read_key_file(&path, no_passphrase).unwrap_err();
    assert!(matches!(err, StoreError::Read { .. }), "{err:?}");
}

#[test]
fn oversized_file_is_refused() {
    let (_dir, path) = setup();
    std::fs::write(&path, vec![b'#'; store::MAX_FILE_LEN + 1]).unwrap();
    let err = store::read_key_file(&path, no_passphrase).unwrap_err();
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err:?}");
}

#[test]
fn truncated_plaintext_file_is_a_typed_error() {
    let (_dir, path) = setup();
    let text = keyfile::encode(&key(Algorithm::Ed25519));
    // Cut inside the secret hex.
    let cut = text.len() - 20;
    std::fs::write(&path, &text.as_bytes()[..cut]).unwrap();
    let err = store::read_key_file(&path, no_passphrase).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::KeyFile {
                error: KeyFileError::SecretHex { line: 3 },
                ..
            }
        ),
        "{err:?}"
    );
    // Cut before the secret line.
    let cut = text.find("kez-secret-key-v1").unwrap();
    std::fs::write(&path, &text.as_bytes()[..cut]).unwrap();
    let err = store::read_key_file(&path, no_passphrase).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::KeyFile {
                error: KeyFileError::MissingSecret,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn truncated_encrypted_file_is_corrupt_not_wrong_passphrase() {
    let (_dir, path) = setup();
    store::write_key_file(
        &path,
        &key(Algorithm::Ed25519),
        Some((&pass("pw"), FAST)),
        false,
    )
    .unwrap();
    let armored = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = armored.lines().collect();
    // Drop the end marker and the last data line.
    let truncated = lines[..lines.len() - 2].join("\n") + "\n";
    std::fs::write(&path, truncated).unwrap();
    let err = store::read_key_file(&path, given("pw")).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Decrypt {
                error: DecryptError::Corrupt { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn garbage_files_are_typed_errors() {
    let (_dir, path) = setup();
    let cases: [(&[u8], Check); 5] = [
        (b"", |e| {
            matches!(
                e,
                StoreError::KeyFile {
                    error: KeyFileError::MissingSecret,
                    ..
                }
            )
        }),
        (b"\x00\xff\xfe\x80 binary", |e| {
            matches!(
                e,
                StoreError::KeyFile {
                    error: KeyFileError::NotUtf8,
                    ..
                }
            )
        }),
        (b"hello world\n", |e| {
            matches!(
                e,
                StoreError::KeyFile {
                    error: KeyFileError::UnexpectedLine { line: 1 },
                    ..
                }
            )
        }),
        (
            b"-----BEGIN AGE ENCRYPTED FILE-----\nnot base64 at all!\n-----END AGE ENCRYPTED FILE-----\n",
            |e| {
                matches!(
                    e,
                    StoreError::Decrypt {
                        error: DecryptError::Corrupt { .. },
                        ..
                    }
                )
            },
        ),
        (b"age-encryption.org/v1\n-> scrypt\n", |e| {
            matches!(
                e,
                StoreError::Decrypt {
                    error: DecryptError::Corrupt { .. },
                    ..
                }
            )
        }),
    ];
    for (bytes, expected) in cases {
        std::fs::write(&path, bytes).unwrap();
        let err = store::read_key_file(&path, given("pw")).unwrap_err();
        assert!(expected(&err), "{bytes:?}: {err:?}");
    }
}

/// Every error we can provoke around a known secret, in Display and Debug form, must not
/// contain the secret in hex (either case).
#[test]
fn errors_never_contain_the_secret() {
    let secret_hex = hex::encode(SECRET);
    let (dir, path) = setup();
    let mut shown: Vec<(String, String)> = Vec::new();
    let mut record = |label: &str, display: String, debug: String| {
        shown.push((format!("{label}: {display}"), debug));
    };

    // Plaintext key files that hold the secret but are invalid in every way we can make.
    let ed_public = key(Algorithm::Ed25519).public_key();
    let other_public = SecretKey::generate(Algorithm::Ed25519).public_key();
    let bad_files = [
        format!("{secret_hex}\n"),
        format!("kez-secret-key-v1:{secret_hex}\n"),
        format!("kez-secret-key-v1:x25519:{secret_hex}\n"),
        format!("kez-secret-key-v1:ed25519:{}\n", &secret_hex[..63]),
        format!("kez-secret-key-v1:ed25519:{}\n", secret_hex.to_uppercase()),
        format!("kez-secret-key-v1:ed25519:{secret_hex}00\n"),
        format!("kez-secret-key-v1:ed25519:{secret_hex}\nkez-secret-key-v1:ed25519:{secret_hex}\n"),
        format!("# public: {other_public}\nkez-secret-key-v1:ed25519:{secret_hex}\n"),
        format!("# public: ed25519:{secret_hex}\nkez-secret-key-v1:ed25519:{secret_hex}\n"),
        format!("# public: {secret_hex}\nkez-secret-key-v1:ed25519:{secret_hex}\n"),
        format!(
            "# public: {ed_public}\nkez-secret-key-v1:bip340:{}\n",
            "f".repeat(64)
        ),
        format!("kez-secret-key-v1:ed25519:{secret_hex} {secret_hex}\n"),
        format!(
            "{}\nkez-secret-key-v1:ed25519:{secret_hex}\n",
            "#".repeat(70_000)
        ),
    ];
    for text in &bad_files {
        std::fs::write(&path, text).unwrap();
        let err = store::read_key_file(&path, no_passphrase).unwrap_err();
        record("plaintext file", err.to_string(), format!("{err:?}"));
        if let Err(err) = keyfile::parse(text) {
            record("keyfile::parse", err.to_string(), format!("{err:?}"));
        }
    }

    // Encrypted files: wrong passphrase, a caller-capped work factor, damage, and an
    // encrypted payload that holds the secret but is not a valid key file.
    let sk = key(Algorithm::Bip340);
    store::write_key_file(&path, &sk, Some((&pass("pw"), FAST)), true).unwrap();
    let err = store::read_key_file(&path, given("nope")).unwrap_err();
    record("wrong passphrase", err.to_string(), format!("{err:?}"));
    let capped = DecryptOptions {
        max_work_factor: Some(9),
    };
    let err = store::read_key_file_with(&path, capped, given("pw")).unwrap_err();
    record("work factor", err.to_string(), format!("{err:?}"));
    let mut recipient = age::scrypt::Recipient::new(pass("pw"));
    recipient.set_work_factor(10);
    for payload in [
        format!("kez-secret-key-v1:ed25519:{secret_hex}x\n"),
        format!("{secret_hex}\n"),
    ] {
        let armored = age::encrypt_and_armor(&recipient, payload.as_bytes()).unwrap();
        std::fs::write(&path, armored).unwrap();
        let err = store::read_key_file(&path, given("pw")).unwrap_err();
        record("encrypted payload", err.to_string(), format!("{err:?}"));
    }
    let binary = age::encrypt(&recipient, keyfile::encode(&sk).as_bytes()).unwrap();
    for cut in [30, 80, binary.len() - 1] {
        std::fs::write(&path, &binary[..cut]).unwrap();
        let err = store::read_key_file(&path, given("pw")).unwrap_err();
        record("truncated binary", err.to_string(), format!("{err:?}"));
    }

    // Writing: refusal to overwrite, a missing directory, bad work factors, an empty
    // passphrase.
    let err = store::write_key_file(&path, &sk, None, false).unwrap_err();
    record("exists", err.to_string(), format!("{err:?}"));
    let missing = dir.path().join("no").join("such").join("dir");
    let err = store::write_key_file(&missing, &sk, None, false).unwrap_err();
    record("missing dir", err.to_string(), format!("{err:?}"));
    let other = dir.path().join("other.key");
    for options in [0, 23, 200].map(|w| EncryptOptions {
        work_factor: Some(w),
    }) {
        let err =
            store::write_key_file(&other, &sk, Some((&pass("pw"), options)), false).unwrap_err();
        record("work factor", err.to_string(), format!("{err:?}"));
    }
    let err = store::write_key_file(&other, &sk, Some((&pass(""), FAST)), false).unwrap_err();
    record("empty passphrase", err.to_string(), format!("{err:?}"));

    // Mnemonics built from the secret: a wrong word, a swapped pair, a short list, the
    // hex pasted as words.
    let words = mnemonic::Mnemonic::from_key(&key(Algorithm::Ed25519)).to_phrase();
    let list: Vec<&str> = words.split(' ').collect();
    let mut typo = list.clone();
    typo[3] = "zzzz";
    let mut swapped = list.clone();
    swapped.swap(0, 23);
    let short = list[..23].join(" ");
    for text in [
        typo.join(" "),
        swapped.join(" "),
        short,
        secret_hex.clone(),
        format!("{} {secret_hex}", list[..23].join(" ")),
    ] {
        let err: MnemonicError = mnemonic::restore(Algorithm::Ed25519, &text).unwrap_err();
        record("mnemonic", err.to_string(), format!("{err:?}"));
    }

    assert!(shown.len() >= 35, "only {} errors provoked", shown.len());
    let upper = secret_hex.to_uppercase();
    for (display, debug) in &shown {
        for needle in [&secret_hex, &upper] {
            assert!(!display.contains(needle.as_str()), "{display}");
            assert!(!debug.contains(needle.as_str()), "{display}: {debug}");
        }
        // Nor any long run of the secret (e.g. a truncated echo).
        for window in secret_hex.as_bytes().windows(16) {
            let part = std::str::from_utf8(window).unwrap();
            assert!(!display.contains(part), "{display}");
            assert!(!debug.contains(part), "{display}: {debug}");
        }
    }
}
