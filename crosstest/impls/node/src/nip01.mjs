// SPEC §4.6: NIP-01 events. The id is recomputed from the body and never trusted (§4.6-3); the
// signature is BIP-340 over the 32-byte recomputed id (§4.6-4).

import { sha256 } from '@noble/hashes/sha2.js';
import { KezError, malformed } from './errors.mjs';
import { toHex, fromLowerHex, utf8 } from './bytes.mjs';
import { parseStrict, isObject, NumberLiteral } from './json.mjs';
import { bip340KeyValid, bip340Verify } from './keys.mjs';

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;
const MAX_TIME = 9007199254740991n;

/** An integer literal read directly (§4.6-1): digits only, no fraction, no exponent, no sign. */
function integerLiteral(v, name, max) {
  if (!(v instanceof NumberLiteral) || !/^(?:0|[1-9][0-9]*)$/.test(v.text) || BigInt(v.text) > max) {
    throw malformed(`${name} must be an integer literal from 0 to ${max}`);
  }
  return v.text;
}

/**
 * The id preimage of §4.6-2. JSON.stringify escapes strings exactly as §4.6-2 says.
 * @param {{pubkey: string, createdAt: string, kind: string, tags: string[][], content: string}} e
 */
export function eventPreimage(e) {
  const tags = '[' + e.tags.map((t) => '[' + t.map((s) => JSON.stringify(s)).join(',') + ']').join(',') + ']';
  return `[0,${JSON.stringify(e.pubkey)},${e.createdAt},${e.kind},${tags},${JSON.stringify(e.content)}]`;
}

/**
 * Read and verify a NIP-01 event. Throws KezError (malformed, bad_signature).
 * @param {string | Uint8Array} input
 */
export function verifyEvent(input) {
  const v = parseStrict(input, { numberLiterals: true });
  if (!isObject(v)) throw malformed('an event is a JSON object');
  for (const k of ['id', 'pubkey', 'created_at', 'kind', 'tags', 'content', 'sig']) {
    if (!Object.hasOwn(v, k)) throw malformed(`the event has no ${k}`);
  }
  if (typeof v.id !== 'string' || !HEX64.test(v.id)) throw malformed('id must be 64 lowercase hex');
  if (typeof v.pubkey !== 'string' || !HEX64.test(v.pubkey)) throw malformed('pubkey must be 64 lowercase hex');
  const pub = fromLowerHex(v.pubkey);
  if (!bip340KeyValid(pub)) throw malformed('pubkey is not a valid BIP-340 key');
  const createdAt = integerLiteral(v.created_at, 'created_at', MAX_TIME);
  const kind = integerLiteral(v.kind, 'kind', 65535n);
  if (!Array.isArray(v.tags) || !v.tags.every((t) => Array.isArray(t) && t.every((s) => typeof s === 'string'))) {
    throw malformed('tags must be an array of arrays of strings');
  }
  if (typeof v.content !== 'string') throw malformed('content must be a string');
  if (typeof v.sig !== 'string' || !HEX128.test(v.sig)) throw malformed('sig must be 128 lowercase hex');
  const preimage = eventPreimage({ pubkey: v.pubkey, createdAt, kind, tags: v.tags, content: v.content });
  const id = sha256(utf8(preimage));
  if (toHex(id) !== v.id) throw malformed('the stated id is not the hash of the event');
  if (!bip340Verify(pub, id, fromLowerHex(v.sig))) throw new KezError('bad_signature', 'sig does not verify over the id');
  return { id: v.id, pubkey: v.pubkey, createdAt: Number(createdAt), kind: Number(kind), tags: v.tags, content: v.content, preimage };
}
