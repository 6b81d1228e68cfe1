//! The Ed25519 acceptance policy (SPEC.md §4.3) and batch verification (SPEC.md §4.5).
//!
//! A signature `(R, S)` by key `A` over message `M` is accepted iff all of:
//!
//! | check | rejected when |
//! |---|---|
//! | `A` encoding | not a point, or not canonical (`y >= p`, or a sign bit on `x = 0`) |
//! | `A` order | `A` has small order (one of the 8 torsion points) |
//! | `R` encoding | not a point, or not canonical |
//! | `R` order | `R` has small order |
//! | `S` | `S >= L` (non-canonical scalar) |
//! | equation | `[8][S]B != [8]R + [8][k]A` with `k = SHA-512(R ‖ A ‖ M) mod L` over the bytes as given |
//!
//! The equation is RFC 8032 §5.1.7's cofactored one. Mixed-order points (a torsion
//! component on a point that is not itself of small order) are therefore accepted when
//! the cofactored equation holds. This is the only choice under which single and batch
//! verification accept exactly the same signatures ("Taming the many EdDSAs", Chalkias,
//! Garillot and Nikolaenko, 2020): a random-linear-combination batch cannot reproduce the
//! cofactorless check, and ed25519-dalek's `verify_batch` does accept signatures that its
//! `verify_strict` rejects (the test `dalek_batch_accepts_what_verify_strict_rejects` shows
//! one). [`verify_batch`] closes the gap by filtering every item through the encoding and
//! small-order checks above before the batch equation, and by bisecting a batch whose
//! equation fails down to items verified alone.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use sha2::{Digest, Sha512};

/// Why an Ed25519 public key or signature is rejected under SPEC.md §4.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Ed25519Rejection {
    /// The public key bytes are not the encoding of a curve point.
    #[error("public key is not a curve point")]
    KeyNotAPoint,
    /// The public key is a point, but its encoding is not the canonical one.
    #[error("public key encoding is not canonical")]
    KeyNotCanonical,
    /// The public key is one of the eight small-order points.
    #[error("public key has small order")]
    KeySmallOrder,
    /// `R` is not the encoding of a curve point.
    #[error("signature R is not a curve point")]
    RNotAPoint,
    /// `R` is a point, but its encoding is not the canonical one.
    #[error("signature R encoding is not canonical")]
    RNotCanonical,
    /// `R` is one of the eight small-order points.
    #[error("signature R has small order")]
    RSmallOrder,
    /// `S` is not reduced modulo the group order `L`.
    #[error("signature S is not below the group order")]
    SNotCanonical,
    /// The verification equation does not hold.
    #[error("signature does not verify")]
    Equation,
}

/// An Ed25519 public key that passed the key checks of SPEC.md §4.3.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ed25519PublicKey {
    dalek: ed25519_dalek::VerifyingKey,
}

impl std::fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Ed25519PublicKey({})",
            hex::encode(self.dalek.as_bytes())
        )
    }
}

/// `y >= p` (the field prime `2^255 - 19`) in the little-endian encoding, sign bit ignored.
fn y_not_reduced(bytes: &[u8; 32]) -> bool {
    bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff) && bytes[0] >= 0xed
}

/// The encodings of small-order points with `y < p`: the eight canonical ones, and the
/// two points with `x = 0` written with a sign bit.
fn small_order_encodings() -> &'static [[u8; 32]; 10] {
    static ENCODINGS: std::sync::OnceLock<[[u8; 32]; 10]> = std::sync::OnceLock::new();
    ENCODINGS.get_or_init(|| {
        let mut all = [[0u8; 32]; 10];
        for (slot, point) in all
            .iter_mut()
            .zip(curve25519_dalek::constants::EIGHT_TORSION.iter())
        {
            *slot = point.compress().0;
        }
        all[8] = all[0];
        all[8][31] |= 0x80; // (0, 1) with a sign bit
        all[9] = all[4];
        all[9][31] |= 0x80; // (0, -1) with a sign bit
        all
    })
}

impl Ed25519PublicKey {
    /// Checks `bytes` against the key rules of SPEC.md §4.3.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, Ed25519Rejection> {
        // The only canonical-y encodings that do not round-trip put a sign bit on x = 0;
        // both such points have small order, so the small-order check rejects them.
        if y_not_reduced(bytes) {
            return Err(Ed25519Rejection::KeyNotCanonical);
        }
        let dalek = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| Ed25519Rejection::KeyNotAPoint)?;
        if dalek.to_edwards().is_small_order() {
            return Err(if small_order_encodings()[..8].contains(bytes) {
                Ed25519Rejection::KeySmallOrder
            } else {
                Ed25519Rejection::KeyNotCanonical
            });
        }
        Ok(Self { dalek })
    }

    /// The 32-byte encoding of the key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.dalek.to_bytes()
    }

    /// Verifies `signature` over `message` under the policy of SPEC.md §4.3.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), Ed25519Rejection> {
        let (r, s) = check_signature_encoding(signature)?;
        let k = challenge(&signature[..32], self.dalek.as_bytes(), message);
        // [S]B - [k]A, then compare with R after clearing the cofactor.
        let r_expected =
            EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-self.dalek.to_edwards(), &s);
        if (r_expected - r).mul_by_cofactor().is_identity() {
            Ok(())
        } else {
            Err(Ed25519Rejection::Equation)
        }
    }
}

/// The checks on `R` and `S` that need no curve arithmetic: `S < L`, `R` not a
/// non-canonical or small-order encoding. What remains (`R` not a point at all) is left
/// to decompression.
fn check_signature_bytes(signature: &[u8; 64]) -> Result<Scalar, Ed25519Rejection> {
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&signature[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
        .ok_or(Ed25519Rejection::SNotCanonical)?;
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&signature[..32]);
    if y_not_reduced(&r_bytes) {
        return Err(Ed25519Rejection::RNotCanonical);
    }
    let small = small_order_encodings();
    if small[..8].contains(&r_bytes) {
        return Err(Ed25519Rejection::RSmallOrder);
    }
    if small[8..].contains(&r_bytes) {
        return Err(Ed25519Rejection::RNotCanonical);
    }
    Ok(s)
}

/// The encoding checks on `R` and `S` (everything but the equation).
fn check_signature_encoding(
    signature: &[u8; 64],
) -> Result<(EdwardsPoint, Scalar), Ed25519Rejection> {
    let s = check_signature_bytes(signature)?;
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&signature[..32]);
    let r = CompressedEdwardsY(r_bytes)
        .decompress()
        .ok_or(Ed25519Rejection::RNotAPoint)?;
    Ok((r, s))
}

fn challenge(r: &[u8], a: &[u8; 32], message: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(message);
    Scalar::from_hash(h)
}

/// One item of a batch: key, message, signature.
#[derive(Debug, Clone, Copy)]
pub struct BatchItem<'a> {
    /// The signer's key.
    pub key: &'a Ed25519PublicKey,
    /// The signed message.
    pub message: &'a [u8],
    /// The 64-byte signature.
    pub signature: &'a [u8; 64],
}

/// Verifies many signatures at once; the result for item `i` is exactly what
/// [`Ed25519PublicKey::verify`] returns for it (SPEC.md §4.5).
///
/// Items that fail an encoding or small-order check are rejected individually; the rest
/// are checked with ed25519-dalek's random-linear-combination batch equation. When that
/// equation fails, the batch is bisected while only one half fails (a lone bad signature
/// costs a few batches of shrinking size), and its items are verified alone once both
/// halves fail; a bad signature never changes another item's result.
pub fn verify_batch(items: &[BatchItem<'_>]) -> Vec<Result<(), Ed25519Rejection>> {
    let mut results: Vec<Result<(), Ed25519Rejection>> = Vec::with_capacity(items.len());
    let mut candidates = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match check_signature_bytes(item.signature) {
            Ok(_) => {
                results.push(Ok(()));
                candidates.push(i);
            }
            Err(e) => results.push(Err(e)),
        }
    }
    if candidates.is_empty() {
        return results;
    }
    if !batch_holds(items, &candidates) {
        settle(items, &candidates, &mut results);
    }
    results
}

/// Below this many items a failed batch is settled one by one rather than bisected.
const BISECT_SINGLE: usize = 4;

/// Settles the items at `positions` after a batch that held them failed. The batch is
/// split in two and each half is batched: a half that holds accepts all of its items; when
/// only one half fails, the bad item(s) are in it and it is settled the same way (so one
/// bad signature among `n` costs about `2 log2(n)` batches of shrinking size instead of `n`
/// single checks); when both halves fail, bad items are spread and every item is verified
/// alone, as is every batch of at most [`BISECT_SINGLE`] items.
fn settle(
    items: &[BatchItem<'_>],
    positions: &[usize],
    results: &mut [Result<(), Ed25519Rejection>],
) {
    let single = |positions: &[usize], results: &mut [Result<(), Ed25519Rejection>]| {
        for &i in positions {
            let item = &items[i];
            results[i] = item.key.verify(item.message, item.signature);
        }
    };
    if positions.len() <= 2 * BISECT_SINGLE {
        return single(positions, results);
    }
    let (first, second) = positions.split_at(positions.len() / 2);
    match (batch_holds(items, first), batch_holds(items, second)) {
        (true, true) => {} // the failure was the random combination's: impossible in practice
        (false, true) => settle(items, first, results),
        (true, false) => settle(items, second, results),
        (false, false) => single(positions, results),
    }
}

/// Whether the batch equation holds for the items at `positions` (which passed
/// [`check_signature_bytes`]).
fn batch_holds(items: &[BatchItem<'_>], positions: &[usize]) -> bool {
    let mut messages = Vec::with_capacity(positions.len());
    let mut signatures = Vec::with_capacity(positions.len());
    let mut keys = Vec::with_capacity(positions.len());
    for &i in positions {
        let item = &items[i];
        keys.push(item.key.dalek);
        messages.push(item.message);
        signatures.push(ed25519_dalek::Signature::from_bytes(item.signature));
    }
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use ed25519_dalek::{Signer, SigningKey};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn honest_signature_verifies_and_any_flip_fails() {
        let sk = key(7);
        let pk = Ed25519PublicKey::from_bytes(&sk.verifying_key().to_bytes()).unwrap();
        let sig = sk.sign(b"hello").to_bytes();
        assert_eq!(pk.verify(b"hello", &sig), Ok(()));
        assert!(pk.verify(b"hellp", &sig).is_err());
        for i in 0..64 {
            let mut bad = sig;
            bad[i] ^= 0x01;
            assert!(
                pk.verify(b"hello", &bad).is_err(),
                "flip in byte {i} accepted"
            );
        }
    }

    #[test]
    fn small_order_keys_are_rejected() {
        for t in EIGHT_TORSION.iter() {
            let bytes = t.compress().0;
            let r = Ed25519PublicKey::from_bytes(&bytes);
            assert!(
                matches!(
                    r,
                    Err(Ed25519Rejection::KeySmallOrder | Ed25519Rejection::KeyNotCanonical)
                ),
                "{r:?}"
            );
        }
    }

    #[test]
    fn non_canonical_s_is_rejected() {
        let sk = key(9);
        let pk = Ed25519PublicKey::from_bytes(&sk.verifying_key().to_bytes()).unwrap();
        let mut sig = sk.sign(b"m").to_bytes();
        // S + L has the same value mod L; the policy must reject it.
        let s = Scalar::from_canonical_bytes(sig[32..].try_into().unwrap()).unwrap();
        // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
        let l_bytes: [u8; 32] =
            hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
                .unwrap()
                .try_into()
                .unwrap();
        let mut sum = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = s.to_bytes()[i] as u16 + l_bytes[i] as u16 + carry;
            sum[i] = v as u8;
            carry = v >> 8;
        }
        if carry == 0 {
            sig[32..].copy_from_slice(&sum);
            assert_eq!(pk.verify(b"m", &sig), Err(Ed25519Rejection::SNotCanonical));
        }
    }

    /// A signature whose `R` carries an order-2 component: the cofactorless equation fails,
    /// the cofactored one holds.
    fn residue_signature(sk: &SigningKey, message: &[u8]) -> [u8; 64] {
        let a = sk.verifying_key().to_bytes();
        let r_scalar = Scalar::from_bytes_mod_order([42u8; 32]);
        let torsion = EIGHT_TORSION[4]; // (0, -1), order 2
        let r_point = ED25519_BASEPOINT_POINT * r_scalar + torsion;
        let r_bytes = r_point.compress().0;
        let k = challenge(&r_bytes, &a, message);
        let s = r_scalar + k * sk.to_scalar();
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r_bytes);
        sig[32..].copy_from_slice(&s.to_bytes());
        sig
    }

    #[test]
    fn dalek_batch_accepts_what_verify_strict_rejects() {
        // The gap this module closes: for a signature with a torsion component in R,
        // ed25519-dalek's verify_strict (cofactorless) rejects, while verify_batch accepts
        // whenever its random coefficient is even (probability 1/2 per message).
        let sk = key(3);
        let vk = sk.verifying_key();
        let mut batch_accepted_strict_rejected = false;
        for n in 0u32..64 {
            let message = n.to_le_bytes();
            let sig = residue_signature(&sk, &message);
            let dalek_sig = ed25519_dalek::Signature::from_bytes(&sig);
            assert!(vk.verify_strict(&message, &dalek_sig).is_err());
            if ed25519_dalek::verify_batch(&[&message[..]], &[dalek_sig], &[vk]).is_ok() {
                batch_accepted_strict_rejected = true;
                break;
            }
        }
        assert!(batch_accepted_strict_rejected);
    }

    #[test]
    fn our_batch_and_single_agree_on_residue_signatures() {
        let sk = key(3);
        let pk = Ed25519PublicKey::from_bytes(&sk.verifying_key().to_bytes()).unwrap();
        let messages: Vec<[u8; 4]> = (0u32..32).map(|n| n.to_le_bytes()).collect();
        let sigs: Vec<[u8; 64]> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                if i % 3 == 0 {
                    residue_signature(&sk, m)
                } else {
                    sk.sign(m).to_bytes()
                }
            })
            .collect();
        let items: Vec<BatchItem<'_>> = messages
            .iter()
            .zip(&sigs)
            .map(|(m, s)| BatchItem {
                key: &pk,
                message: m,
                signature: s,
            })
            .collect();
        let batch = verify_batch(&items);
        for (item, got) in items.iter().zip(batch) {
            assert_eq!(got, pk.verify(item.message, item.signature));
            assert_eq!(got, Ok(()), "cofactored policy accepts residue signatures");
        }
    }

    #[test]
    fn batch_rejects_small_order_r_that_dalek_batch_would_accept() {
        // R = identity and S = 0 with small-order key is the classic "accept anything" case;
        // with an honest key, a small-order R can never verify, and must be filtered first.
        let sk = key(5);
        let pk = Ed25519PublicKey::from_bytes(&sk.verifying_key().to_bytes()).unwrap();
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&EIGHT_TORSION[0].compress().0);
        let good = sk.sign(b"x").to_bytes();
        let items = [
            BatchItem {
                key: &pk,
                message: b"x",
                signature: &good,
            },
            BatchItem {
                key: &pk,
                message: b"y",
                signature: &sig,
            },
        ];
        let got = verify_batch(&items);
        assert_eq!(got[0], Ok(()));
        assert_eq!(got[1], Err(Ed25519Rejection::RSmallOrder));
    }
}
