//! Paper backup of a secret key as 24 BIP-39 English words (SPEC.md §9).
//!
//! The 32 secret bytes are the BIP-39 entropy; the 24th word carries the checksum. The
//! words do not record the algorithm, so [`restore`] takes it. Reading words is
//! forgiving about case and whitespace, and strict about everything else: an unknown
//! word is named by its position, and a bad checksum is its own error.
//!
//! [`RecallChallenge`] asks for three random words back, to check that a backup was
//! written down.

use std::fmt;

use bip39::Language;
use kez_core::{Algorithm, SecretKey};
use rand_core::CryptoRngCore;
use zeroize::{Zeroize as _, Zeroizing};

/// The number of words in a backup.
pub const WORD_COUNT: usize = 24;

/// The number of words a [`RecallChallenge`] asks for.
pub const RECALL_WORDS: usize = 3;

/// Why words are not a valid backup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MnemonicError {
    /// A word is not in the BIP-39 English list. `word` is shown only when it looks
    /// like a mistyped word (letters only, at most 12), never when it could be a pasted
    /// secret.
    #[error(
        "word {position}{} is not in the BIP-39 English list",
        DisplayWord(word)
    )]
    UnknownWord {
        /// The word's position, from 1.
        position: usize,
        /// The word as read (lowercased), if it is safe to show.
        word: Option<String>,
    },
    /// There are not 24 words.
    #[error("expected {WORD_COUNT} words, found {found}")]
    WordCount {
        /// How many words there are.
        found: usize,
    },
    /// The words are all in the list, but the checksum does not match.
    #[error("the BIP-39 checksum does not match: a word is wrong or words are out of order")]
    Checksum,
    /// The words decode to bytes that are not a secret key for the algorithm.
    #[error(
        "the words do not give a valid {0} secret key (zero or not below the group order); \
         is this a backup of a key of another algorithm?"
    )]
    InvalidKey(Algorithm),
}

struct DisplayWord<'a>(&'a Option<String>);

impl fmt::Display for DisplayWord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(word) => write!(f, " {word:?}"),
            None => Ok(()),
        }
    }
}

/// Why the words given back for a [`RecallChallenge`] were not accepted. The expected
/// words are never shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecallError {
    /// The number of answers is not [`RECALL_WORDS`] (a caller mistake).
    #[error("expected {RECALL_WORDS} answers, found {found}")]
    AnswerCount {
        /// How many answers there are.
        found: usize,
    },
    /// Some answers do not match the backup.
    #[error("{}", WrongPositions(positions))]
    Wrong {
        /// The positions (from 1) whose answers are wrong, in ascending order.
        positions: Vec<usize>,
    },
}

struct WrongPositions<'a>(&'a [usize]);

impl fmt::Display for WrongPositions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "word {one} does not match the backup"),
            many => {
                f.write_str("words ")?;
                for (i, p) in many.iter().enumerate() {
                    match i {
                        0 => write!(f, "{p}")?,
                        i if i + 1 == many.len() => write!(f, " and {p}")?,
                        _ => write!(f, ", {p}")?,
                    }
                }
                f.write_str(" do not match the backup")
            }
        }
    }
}

/// A backup of 32 secret bytes as 24 BIP-39 English words. Zeroized on drop; `Debug`
/// does not show the words.
pub struct Mnemonic(bip39::Mnemonic);

impl Mnemonic {
    /// The backup of `key`'s secret bytes.
    pub fn from_key(key: &SecretKey) -> Self {
        Self::from_entropy(key.expose_secret())
    }

    fn from_entropy(bytes: &[u8; 32]) -> Self {
        Mnemonic(
            bip39::Mnemonic::from_entropy_in(Language::English, bytes)
                .expect("32 bytes is a valid BIP-39 entropy length"),
        )
    }

    /// Reads 24 words, in any case, separated by any whitespace, and checks the
    /// BIP-39 checksum.
    pub fn parse(text: &str) -> Result<Self, MnemonicError> {
        let mut normalized = Zeroizing::new(String::with_capacity(text.len() + 8));
        let mut found = 0;
        for (index, word) in text.split_whitespace().enumerate() {
            let start = normalized.len();
            if index > 0 {
                normalized.push(' ');
            }
            normalized.extend(word.chars().flat_map(char::to_lowercase));
            let lower = normalized[start..].trim_start();
            if Language::English.find_word(lower).is_none() {
                let shown = (lower.len() <= 12 && lower.bytes().all(|b| b.is_ascii_lowercase()))
                    .then(|| lower.to_owned());
                return Err(MnemonicError::UnknownWord {
                    position: index + 1,
                    word: shown,
                });
            }
            found = index + 1;
        }
        if found != WORD_COUNT {
            return Err(MnemonicError::WordCount { found });
        }
        match bip39::Mnemonic::parse_in_normalized(Language::English, &normalized) {
            Ok(m) => Ok(Mnemonic(m)),
            Err(bip39::Error::InvalidChecksum) => Err(MnemonicError::Checksum),
            Err(bip39::Error::UnknownWord(index)) => Err(MnemonicError::UnknownWord {
                position: index + 1,
                word: None,
            }),
            Err(_) => Err(MnemonicError::WordCount { found }),
        }
    }

    /// The secret key of `algorithm` whose secret bytes these words hold.
    pub fn to_key(&self, algorithm: Algorithm) -> Result<SecretKey, MnemonicError> {
        let (mut entropy, len) = self.0.to_entropy_array();
        let mut bytes = Zeroizing::new([0u8; 32]);
        if len == 32 {
            bytes.copy_from_slice(&entropy[..32]);
        }
        entropy.zeroize();
        if len != 32 {
            // Unreachable: `parse` and `from_key` only build 24-word mnemonics.
            return Err(MnemonicError::WordCount {
                found: self.0.word_count(),
            });
        }
        SecretKey::from_bytes(algorithm, &bytes).map_err(|_| MnemonicError::InvalidKey(algorithm))
    }

    /// The words, in order.
    pub fn words(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.words()
    }

    /// The word at `position`, counting from 1; `None` outside `1..=24`.
    pub fn word(&self, position: usize) -> Option<&'static str> {
        position.checked_sub(1).and_then(|i| self.words().nth(i))
    }

    /// The words separated by single spaces, in a buffer zeroized on drop.
    pub fn to_phrase(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(WORD_COUNT * 9));
        for (i, word) in self.words().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(word);
        }
        out
    }
}

impl fmt::Debug for Mnemonic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mnemonic(words redacted)")
    }
}

/// Restores a key of `algorithm` from its 24-word backup (see [`Mnemonic::parse`]).
pub fn restore(algorithm: Algorithm, words: &str) -> Result<SecretKey, MnemonicError> {
    Mnemonic::parse(words)?.to_key(algorithm)
}

/// Three distinct random word positions to ask for back, to check a written backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallChallenge {
    positions: [usize; RECALL_WORDS],
}

impl RecallChallenge {
    /// Picks [`RECALL_WORDS`] distinct positions in `1..=24`, uniformly, from `rng`.
    pub fn new(rng: &mut impl CryptoRngCore) -> Self {
        let mut positions = [0usize; RECALL_WORDS];
        let mut chosen = 0;
        while chosen < RECALL_WORDS {
            let p = uniform_below(rng, WORD_COUNT as u32) as usize + 1;
            if !positions[..chosen].contains(&p) {
                positions[chosen] = p;
                chosen += 1;
            }
        }
        positions.sort_unstable();
        Self { positions }
    }

    /// The positions to ask for, from 1, in ascending order.
    pub fn positions(&self) -> [usize; RECALL_WORDS] {
        self.positions
    }

    /// Checks `answers`, one per position in the order of [`Self::positions`], against
    /// `mnemonic`, ignoring case and surrounding whitespace.
    pub fn check(
        &self,
        mnemonic: &Mnemonic,
        answers: &[impl AsRef<str>],
    ) -> Result<(), RecallError> {
        if answers.len() != RECALL_WORDS {
            return Err(RecallError::AnswerCount {
                found: answers.len(),
            });
        }
        let positions: Vec<usize> = self
            .positions
            .iter()
            .zip(answers)
            .filter(|(&position, answer)| {
                let expected = mnemonic.word(position).unwrap_or_default();
                !answer.as_ref().trim().eq_ignore_ascii_case(expected)
            })
            .map(|(&position, _)| position)
            .collect();
        if positions.is_empty() {
            Ok(())
        } else {
            Err(RecallError::Wrong { positions })
        }
    }
}

/// A uniform integer in `0..n` (rejection sampling; no modulo bias).
fn uniform_below(rng: &mut impl CryptoRngCore, n: u32) -> u32 {
    let zone = u32::MAX - u32::MAX % n;
    loop {
        let x = rng.next_u32();
        if x < zone {
            return x % n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn all_zero_entropy_is_abandon_art() {
        let sk = SecretKey::from_bytes(Algorithm::Ed25519, &[0; 32]).unwrap();
        let m = Mnemonic::from_key(&sk);
        let expected = format!("{}art", "abandon ".repeat(23));
        assert_eq!(m.to_phrase().as_str(), expected);
        assert_eq!(m.word(1), Some("abandon"));
        assert_eq!(m.word(24), Some("art"));
        assert_eq!(m.word(0), None);
        assert_eq!(m.word(25), None);
    }

    #[test]
    fn known_vector_from_the_bip39_test_set() {
        // BIP-39 English test vector for 32 bytes of 0x7f.
        let m = Mnemonic::from_entropy(&[0x7f; 32]);
        assert_eq!(
            m.to_phrase().as_str(),
            "legal winner thank year wave sausage worth useful legal winner thank year \
             wave sausage worth useful legal winner thank year wave sausage worth title"
        );
    }

    #[test]
    fn round_trips_both_algorithms() {
        for algorithm in [Algorithm::Ed25519, Algorithm::Bip340] {
            let sk = SecretKey::generate(algorithm);
            let phrase = Mnemonic::from_key(&sk).to_phrase();
            assert_eq!(phrase.split(' ').count(), WORD_COUNT);
            let back = restore(algorithm, &phrase).unwrap();
            assert_eq!(back.expose_secret(), sk.expose_secret());
            assert_eq!(back.public_key(), sk.public_key());
        }
    }

    #[test]
    fn case_and_whitespace_are_normalised() {
        let sk = SecretKey::generate(Algorithm::Bip340);
        let phrase = Mnemonic::from_key(&sk).to_phrase();
        let messy: String = phrase
            .split(' ')
            .enumerate()
            .map(|(i, w)| {
                let w = if i % 2 == 0 {
                    w.to_uppercase()
                } else {
                    w.to_owned()
                };
                if i % 5 == 0 {
                    format!("\n\t {w}  ")
                } else {
                    format!("{w} ")
                }
            })
            .collect();
        let back = restore(Algorithm::Bip340, &messy).unwrap();
        assert_eq!(back.public_key(), sk.public_key());
    }

    #[test]
    fn unknown_word_is_named_by_position() {
        let mut words: Vec<&str> = vec!["abandon"; 23];
        words.push("art");
        words[6] = "Abandn";
        let err = restore(Algorithm::Ed25519, &words.join(" ")).unwrap_err();
        assert_eq!(
            err,
            MnemonicError::UnknownWord {
                position: 7,
                word: Some("abandn".into())
            }
        );
        assert_eq!(
            err.to_string(),
            "word 7 \"abandn\" is not in the BIP-39 English list"
        );
    }

    #[test]
    fn unknown_word_that_could_be_a_secret_is_not_echoed() {
        let hex = hex::encode([0x5a; 32]);
        let err = restore(Algorithm::Ed25519, &hex).unwrap_err();
        assert_eq!(
            err,
            MnemonicError::UnknownWord {
                position: 1,
                word: None
            }
        );
        assert_eq!(err.to_string(), "word 1 is not in the BIP-39 English list");
    }

    #[test]
    fn wrong_word_count() {
        let twelve = ["abandon"; 11].join(" ") + " about";
        assert_eq!(
            restore(Algorithm::Ed25519, &twelve).unwrap_err(),
            MnemonicError::WordCount { found: 12 }
        );
        assert_eq!(
            restore(Algorithm::Ed25519, "  ").unwrap_err(),
            MnemonicError::WordCount { found: 0 }
        );
    }

    #[test]
    fn checksum_failure_is_its_own_error() {
        let phrase = ["abandon"; 24].join(" ");
        let err = restore(Algorithm::Ed25519, &phrase).unwrap_err();
        assert_eq!(err, MnemonicError::Checksum);
    }

    #[test]
    fn bip340_secret_not_below_the_order_is_a_clear_error() {
        let phrase = Mnemonic::from_entropy(&[0xff; 32]).to_phrase();
        let err = restore(Algorithm::Bip340, &phrase).unwrap_err();
        assert_eq!(err, MnemonicError::InvalidKey(Algorithm::Bip340));
        assert!(
            err.to_string().contains("not below the group order"),
            "{err}"
        );
        // The same bytes are a fine Ed25519 seed.
        let ed = restore(Algorithm::Ed25519, &phrase).unwrap();
        assert_eq!(ed.expose_secret(), &[0xff; 32]);
    }

    #[test]
    fn debug_hides_the_words() {
        let m = Mnemonic::from_entropy(&[0; 32]);
        assert_eq!(format!("{m:?}"), "Mnemonic(words redacted)");
    }

    #[test]
    fn challenge_positions_are_distinct_sorted_and_in_range() {
        let mut seen = [false; WORD_COUNT + 1];
        for _ in 0..500 {
            let c = RecallChallenge::new(&mut OsRng);
            let p = c.positions();
            assert!(p[0] < p[1] && p[1] < p[2], "{p:?}");
            assert!(p.iter().all(|&x| (1..=WORD_COUNT).contains(&x)), "{p:?}");
            for x in p {
                seen[x] = true;
            }
        }
        // 1500 draws over 24 positions: every position shows up.
        assert!(seen[1..].iter().all(|&s| s));
    }

    #[test]
    fn challenge_accepts_right_answers_in_any_case() {
        let sk = SecretKey::generate(Algorithm::Ed25519);
        let m = Mnemonic::from_key(&sk);
        let c = RecallChallenge::new(&mut OsRng);
        let answers: Vec<String> = c
            .positions()
            .iter()
            .map(|&p| format!("  {} ", m.word(p).unwrap().to_uppercase()))
            .collect();
        assert_eq!(c.check(&m, &answers), Ok(()));
    }

    #[test]
    fn challenge_names_wrong_positions_without_the_expected_word() {
        let m = Mnemonic::from_entropy(&[0x7f; 32]);
        let c = RecallChallenge {
            positions: [2, 5, 24],
        };
        // Right, wrong, wrong.
        let err = c.check(&m, &["winner", "legal", "worth"]).unwrap_err();
        assert_eq!(
            err,
            RecallError::Wrong {
                positions: vec![5, 24]
            }
        );
        let shown = err.to_string();
        assert_eq!(shown, "words 5 and 24 do not match the backup");
        for expected in ["wave", "title"] {
            assert!(!shown.contains(expected) && !format!("{err:?}").contains(expected));
        }
        let err = c.check(&m, &["thank", "wave", "title"]).unwrap_err();
        assert_eq!(err.to_string(), "word 2 does not match the backup");
        assert_eq!(c.check(&m, &["winner", "wave", "title"]), Ok(()));
        assert_eq!(
            c.check(&m, &["winner"]),
            Err(RecallError::AnswerCount { found: 1 })
        );
    }

    #[test]
    fn uniform_below_stays_in_range() {
        for _ in 0..1000 {
            assert!(uniform_below(&mut OsRng, 24) < 24);
        }
    }
}
