// SPEC §4: keys, text forms, signed bytes, the Ed25519 acceptance policy (§4.3) and BIP-340
// (§4.4). Curve arithmetic comes from @noble/curves; the §4.3 policy is composed here from
// noble's point API so that every rule of the policy is explicit:
//   - A and R: y < p, decodes to a point, no sign bit on x = 0, not of small order;
//   - S < L;
//   - k = SHA-512(R ‖ A ‖ M) over the bytes as given, reduced mod L;
//   - the cofactored equation [8]([S]B − R − [k]A) = identity.

import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { bech32 } from '@scure/base';
import { malformed, UsageError } from './errors.mjs';
import { toHex, fromLowerHex } from './bytes.mjs';

const EdPoint = ed25519.Point;
const ED_P = EdPoint.Fp.ORDER; // 2^255 - 19
const ED_L = EdPoint.Fn.ORDER; // 2^252 + 27742317777372353535851937790883648493
const SECP_N = schnorr.Point.Fn.ORDER;

export const ALGS = Object.freeze(['ed25519', 'bip340']);

/** Little-endian bytes to bigint. @param {Uint8Array} b */
function leToBig(b) {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}

/** Big-endian bytes to bigint. @param {Uint8Array} b */
function beToBig(b) {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

// ---------------------------------------------------------------- Ed25519 (§4.3)

/**
 * Decode a 32-byte Ed25519 point encoding under §4.3-1 (a)–(d). Returns the point, or null if
 * the encoding is rejected.
 * @param {Uint8Array} enc
 */
export function ed25519DecodeStrict(enc) {
  if (!(enc instanceof Uint8Array) || enc.length !== 32) return null;
  const yBytes = enc.slice();
  yBytes[31] &= 0x7f;
  const y = leToBig(yBytes);
  if (y >= ED_P) return null; // (a) y >= p
  let point;
  try {
    // zip215 = false: rejects y >= p and the sign bit on x = 0 (c); throws if no point (b).
    point = EdPoint.fromBytes(enc, false);
  } catch {
    return null;
  }
  const signBit = (enc[31] & 0x80) !== 0;
  if (signBit && point.x === 0n) return null; // (c), checked again explicitly
  if (point.isSmallOrder()) return null; // (d) [8]P = identity
  return point;
}

/** §4.3-1: is this a valid Ed25519 public key? @param {Uint8Array} pub */
export function ed25519KeyValid(pub) {
  return ed25519DecodeStrict(pub) !== null;
}

/**
 * Ed25519 verification under the KEZ policy (§4.3-2, §4.3-3). PureEdDSA, no context.
 * @param {Uint8Array} pub 32 bytes
 * @param {Uint8Array} msg any length
 * @param {Uint8Array} sig 64 bytes
 */
export function ed25519Verify(pub, msg, sig) {
  if (!(sig instanceof Uint8Array) || sig.length !== 64) return false;
  const A = ed25519DecodeStrict(pub);
  if (!A) return false;
  const rBytes = sig.subarray(0, 32);
  const R = ed25519DecodeStrict(rBytes);
  if (!R) return false;
  const S = leToBig(sig.subarray(32, 64));
  if (S >= ED_L) return false;
  const h = new Uint8Array(32 + 32 + msg.length);
  h.set(rBytes, 0);
  h.set(pub, 32);
  h.set(msg, 64);
  const k = leToBig(sha512(h)) % ED_L;
  const SB = EdPoint.BASE.multiplyUnsafe(S);
  const kA = A.multiplyUnsafe(k);
  // Cofactored: [8]([S]B - R - [k]A) == identity.
  return SB.subtract(R).subtract(kA).clearCofactor().is0();
}

/** @param {Uint8Array} seed 32 bytes */
export function ed25519PublicKey(seed) {
  return ed25519.getPublicKey(seed);
}

/** Deterministic Ed25519 signature (RFC 8032). @param {Uint8Array} seed @param {Uint8Array} msg */
export function ed25519Sign(seed, msg) {
  return ed25519.sign(msg, seed);
}

// ---------------------------------------------------------------- BIP-340 (§4.4)

/** §4.4-1: x < p and lift_x succeeds. @param {Uint8Array} pub */
export function bip340KeyValid(pub) {
  if (!(pub instanceof Uint8Array) || pub.length !== 32) return false;
  try {
    schnorr.utils.lift_x(beToBig(pub));
    return true;
  } catch {
    return false;
  }
}

/**
 * BIP-340 verification of a message of any length (§4.4-2, §4.4-3).
 * @param {Uint8Array} pub @param {Uint8Array} msg @param {Uint8Array} sig
 */
export function bip340Verify(pub, msg, sig) {
  if (!(sig instanceof Uint8Array) || sig.length !== 64) return false;
  if (!bip340KeyValid(pub)) return false;
  try {
    return schnorr.verify(sig, msg, pub);
  } catch {
    return false;
  }
}

/** @param {Uint8Array} secret */
export function bip340SecretValid(secret) {
  if (!(secret instanceof Uint8Array) || secret.length !== 32) return false;
  const d = beToBig(secret);
  return d >= 1n && d < SECP_N;
}

/** @param {Uint8Array} secret */
export function bip340PublicKey(secret) {
  return schnorr.getPublicKey(secret);
}

/**
 * @param {Uint8Array} secret @param {Uint8Array} msg @param {Uint8Array} [aux] 32 bytes; random if absent
 */
export function bip340Sign(secret, msg, aux) {
  return aux === undefined ? schnorr.sign(msg, secret) : schnorr.sign(msg, secret, aux);
}

// ---------------------------------------------------------------- suites

/**
 * Raw verification for either suite; a key the policy rejects gives false.
 * @param {string} alg @param {Uint8Array} pub @param {Uint8Array} msg @param {Uint8Array} sig
 */
export function verifyRaw(alg, pub, msg, sig) {
  if (alg === 'ed25519') return ed25519Verify(pub, msg, sig);
  if (alg === 'bip340') return bip340Verify(pub, msg, sig);
  throw new UsageError(`unknown algorithm ${JSON.stringify(alg)}`);
}

/** @param {string} alg @param {Uint8Array} secret @param {Uint8Array} msg @param {Uint8Array} [aux] */
export function signRaw(alg, secret, msg, aux) {
  if (alg === 'ed25519') {
    if (secret.length !== 32) throw new UsageError('an Ed25519 seed is 32 bytes');
    return ed25519Sign(secret, msg);
  }
  if (alg === 'bip340') {
    if (!bip340SecretValid(secret)) throw new UsageError('a BIP-340 secret is 32 bytes, 1 <= d <= n-1');
    if (aux !== undefined && aux.length !== 32) throw new UsageError('aux_rand is 32 bytes');
    return bip340Sign(secret, msg, aux);
  }
  throw new UsageError(`unknown algorithm ${JSON.stringify(alg)}`);
}

/** @param {string} alg @param {Uint8Array} bytes */
export function keyValid(alg, bytes) {
  if (alg === 'ed25519') return ed25519KeyValid(bytes);
  if (alg === 'bip340') return bip340KeyValid(bytes);
  return false;
}

/**
 * @typedef {{alg: 'ed25519' | 'bip340', bytes: Uint8Array, text: string}} PublicKey
 * @typedef {{alg: 'ed25519' | 'bip340', secret: Uint8Array, pub: PublicKey}} SecretKey
 */

const KEY_TEXT_RE = /^(ed25519|bip340):([0-9a-f]{64})$/;

/**
 * Parse `key-text` (§4.1) and apply the suite's key checks (§4.1-2). Throws malformed.
 * @param {unknown} text
 * @returns {PublicKey}
 */
export function parseKeyText(text) {
  if (typeof text !== 'string') throw malformed('a key must be a string');
  const m = KEY_TEXT_RE.exec(text);
  if (!m) throw malformed(`not a key text (ed25519:<64 lowercase hex> or bip340:<64 lowercase hex>)`);
  const alg = /** @type {'ed25519'|'bip340'} */ (m[1]);
  const bytes = fromLowerHex(m[2]);
  if (!keyValid(alg, bytes)) throw malformed(`the ${alg} key fails the key checks of SPEC §4.${alg === 'ed25519' ? 3 : 4}`);
  return { alg, bytes, text };
}

/** @param {string} alg @param {Uint8Array} bytes @returns {PublicKey} */
export function publicKey(alg, bytes) {
  return { alg: /** @type {any} */ (alg), bytes, text: `${alg}:${toHex(bytes)}` };
}

/**
 * A secret key from the adapter form {alg, secret: hex}.
 * @param {string} alg @param {Uint8Array} secret @returns {SecretKey}
 */
export function secretKey(alg, secret) {
  if (alg === 'ed25519') {
    if (secret.length !== 32) throw new UsageError('an Ed25519 seed is 32 bytes');
    return { alg, secret, pub: publicKey(alg, ed25519PublicKey(secret)) };
  }
  if (alg === 'bip340') {
    if (!bip340SecretValid(secret)) throw new UsageError('a BIP-340 secret is 32 bytes, 1 <= d <= n-1');
    return { alg, secret, pub: publicKey(alg, bip340PublicKey(secret)) };
  }
  throw new UsageError(`unknown algorithm ${JSON.stringify(alg)}`);
}

// ---------------------------------------------------------------- signed bytes (§4.2)

/**
 * Sign the signed bytes of an object: Ed25519 over the bytes, BIP-340 over SHA-256(bytes).
 * @param {SecretKey} key @param {Uint8Array} signedBytes @param {Uint8Array} [aux]
 */
export function signObjectBytes(key, signedBytes, aux) {
  if (key.alg === 'ed25519') return ed25519Sign(key.secret, signedBytes);
  return bip340Sign(key.secret, sha256(signedBytes), aux);
}

/**
 * Verify a signature over an object's signed bytes (§4.2-2, §4.2-3).
 * @param {PublicKey} key @param {Uint8Array} signedBytes @param {Uint8Array} sig
 */
export function verifyObjectBytes(key, signedBytes, sig) {
  if (key.alg === 'ed25519') return ed25519Verify(key.bytes, signedBytes, sig);
  return bip340Verify(key.bytes, sha256(signedBytes), sig);
}

const SIG_TEXT_RE = /^[0-9a-f]{128}$/;

/** Parse `sig-text` (§4.1-3). Throws malformed. @param {unknown} text */
export function parseSigText(text) {
  if (typeof text !== 'string' || !SIG_TEXT_RE.test(text)) {
    throw malformed('a signature must be 128 lowercase hex digits');
  }
  return fromLowerHex(text);
}

// ---------------------------------------------------------------- npub (NIP-19, §3.2-2)

/** @param {Uint8Array} bytes 32-byte x-only key */
export function npubEncode(bytes) {
  return bech32.encode('npub', bech32.toWords(bytes), 90);
}

/**
 * Decode an `npub1…` string under §3.2-2: all lowercase, hrp `npub`, Bech32 (not Bech32m)
 * checksum, exactly 32 bytes, no non-zero padding, a valid BIP-340 key. Returns null on failure.
 * @param {string} s
 */
export function npubDecode(s) {
  if (typeof s !== 'string' || s !== s.toLowerCase() || !/^[\x21-\x7e]+$/.test(s)) return null;
  if (!/^npub1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$/.test(s)) return null;
  let words;
  try {
    const d = bech32.decode(/** @type {`${string}1${string}`} */ (s), 90);
    if (d.prefix !== 'npub') return null;
    words = d.words;
  } catch {
    return null;
  }
  let bytes;
  try {
    bytes = Uint8Array.from(bech32.fromWords(words)); // rejects excess or non-zero padding
  } catch {
    return null;
  }
  if (bytes.length !== 32 || !bip340KeyValid(bytes)) return null;
  return bytes;
}
