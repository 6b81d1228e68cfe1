// SPEC §5: the claim object — members (§5.1), signing (§5.2), unknown members (§5.3), size
// limits (§5.4) and the claim id (§5.5).

import { sha256 } from '@noble/hashes/sha2.js';
import { malformed, unsupported, UsageError, KezError } from './errors.mjs';
import { toHex, utf8Length, utf8 } from './bytes.mjs';
import { parseStrict, isObject, jcs } from './json.mjs';
import { checkCanonicalIdentity } from './identity.mjs';
import { parseKeyText, parseSigText, signObjectBytes, verifyObjectBytes } from './keys.mjs';

export const KEZ_VERSION = '0.2';
export const MAX_CLAIM_BYTES = 4096;
export const MAX_STRING_BYTES = 1024;
export const MAX_TIME = 9007199254740991; // 2^53 - 1

const DEFINED = new Set(['kez', 'type', 'subject', 'key', 'created_at', 'expires_at', 'nonce', 'chain', 'sig']);
const NONCE_RE = /^[A-Za-z0-9_-]{16,64}$/;

/** The digest of §2.4: "sha256:" + lowercase hex. @param {Uint8Array} bytes */
export function digest(bytes) {
  return `sha256:${toHex(sha256(bytes))}`;
}

export const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/**
 * A time or counter (§2.3): a JSON number whose value is an integer in [0, 2^53 - 1].
 * @param {unknown} v @param {string} name
 */
export function checkTime(v, name) {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_TIME) {
    throw malformed(`${name} must be an integer from 0 to 2^53-1`);
  }
  return v === 0 ? 0 : v; // -0 reads as 0
}

/** @param {any} obj @param {string} name */
function checkString(obj, name) {
  const v = obj[name];
  if (typeof v !== 'string') throw malformed(`${name} must be a string`);
  if (utf8Length(v) > MAX_STRING_BYTES) throw malformed(`${name} is longer than ${MAX_STRING_BYTES} bytes`);
  return v;
}

/**
 * @typedef {object} Claim
 * @property {any} value          the parsed claim object
 * @property {string} jcs         its JCS form (sig included)
 * @property {string} id          claim id (§5.5)
 * @property {string} subject
 * @property {import('./keys.mjs').PublicKey} key
 * @property {number} createdAt
 * @property {number | null} expiresAt
 * @property {Uint8Array} sig
 * @property {Uint8Array} signedBytes
 * @property {string[]} unknown  names of members §5.1 does not define, in JCS order
 */

/**
 * Check the §1.3 version rule and §5.1 step (3) on a parsed value that is an object.
 * @param {any} value
 */
function checkVersion(value) {
  if (!Object.hasOwn(value, 'kez')) throw malformed('the claim has no kez member');
  if (typeof value.kez !== 'string') throw malformed('kez must be a string');
  if (value.kez !== KEZ_VERSION) throw unsupported(`unsupported KEZ version ${JSON.stringify(value.kez)}`);
}

/**
 * Validate a parsed value as a claim, in the order of §5.1-2 (after step 1, strict JSON).
 * Signatures are not checked here.
 * @param {any} value
 * @returns {Claim}
 */
export function readClaim(value) {
  // (2) an object
  if (!isObject(value)) throw malformed('a claim must be a JSON object');
  // (3) kez
  checkVersion(value);
  // (4) every other rule of §5.1 and §5.4
  for (const name of ['type', 'subject', 'key', 'created_at', 'sig']) {
    if (!Object.hasOwn(value, name)) throw malformed(`the claim has no ${name} member`);
  }
  if (checkString(value, 'type') !== 'claim') throw malformed('type must be "claim"');
  const subject = checkCanonicalIdentity(checkString(value, 'subject'));
  const key = parseKeyText(checkString(value, 'key'));
  const createdAt = checkTime(value.created_at, 'created_at');
  let expiresAt = null;
  if (Object.hasOwn(value, 'expires_at')) {
    expiresAt = checkTime(value.expires_at, 'expires_at');
    if (!(expiresAt > createdAt)) throw malformed('expires_at must be greater than created_at');
  }
  if (Object.hasOwn(value, 'nonce')) {
    const nonce = checkString(value, 'nonce');
    if (!NONCE_RE.test(nonce)) throw malformed('nonce must be 16 to 64 base64url characters');
  }
  if (Object.hasOwn(value, 'chain')) {
    const chain = checkString(value, 'chain');
    if (!chain.startsWith('https://')) throw malformed('chain must start with https://');
    if (utf8Length(chain) > 512) throw malformed('chain is longer than 512 bytes');
  }
  const sig = parseSigText(checkString(value, 'sig'));
  const text = jcs(value);
  if (utf8Length(text) > MAX_CLAIM_BYTES) throw malformed(`the claim's JCS form is longer than ${MAX_CLAIM_BYTES} bytes`);
  const unsigned = Object.create(null);
  for (const k of Object.keys(value)) if (k !== 'sig') unsigned[k] = value[k];
  return {
    value,
    jcs: text,
    id: digest(utf8(text)),
    subject,
    key,
    createdAt,
    expiresAt,
    sig,
    signedBytes: utf8(jcs(unsigned)),
    unknown: Object.keys(value).filter((k) => !DEFINED.has(k)).sort(),
  };
}

/**
 * Parse a claim from JSON text: strict JSON (§2.1), then §5.
 * @param {string | Uint8Array} input
 */
export function parseClaimJson(input) {
  return readClaim(parseStrict(input));
}

/** Does the claim's sig verify under its key (§4.2)? @param {Claim} claim */
export function claimSignatureValid(claim) {
  return verifyObjectBytes(claim.key, claim.signedBytes, claim.sig);
}

/**
 * Make a claim (§5.2).
 * @param {import('./keys.mjs').SecretKey} key
 * @param {{subject: string, createdAt: number, expiresAt?: number, nonce?: string, chain?: string,
 *          extra?: Record<string, any>, aux?: Uint8Array}} fields
 * @returns {Claim}
 */
export function signClaim(key, fields) {
  const obj = Object.create(null);
  obj.kez = KEZ_VERSION;
  obj.type = 'claim';
  obj.subject = fields.subject;
  obj.key = key.pub.text;
  obj.created_at = fields.createdAt;
  if (fields.expiresAt !== undefined) obj.expires_at = fields.expiresAt;
  if (fields.nonce !== undefined) obj.nonce = fields.nonce;
  if (fields.chain !== undefined) obj.chain = fields.chain;
  if (fields.extra) {
    for (const k of Object.keys(fields.extra)) {
      if (DEFINED.has(k)) throw new UsageError(`extra member ${JSON.stringify(k)} is defined by SPEC §5.1`);
      obj[k] = fields.extra[k];
    }
  }
  const signedBytes = utf8(jcs(obj));
  obj.sig = toHex(signObjectBytes(key, signedBytes, fields.aux));
  // §5.2-1: check the result as a verifier would.
  try {
    const claim = readClaim(obj);
    if (!claimSignatureValid(claim)) throw new KezError('bad_signature', 'the new signature does not verify');
    return claim;
  } catch (e) {
    if (e instanceof KezError) throw new UsageError(`the claim would be rejected: ${e.kind}: ${e.message}`);
    throw e;
  }
}
