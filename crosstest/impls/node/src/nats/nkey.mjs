// NATS nkeys (docs/NATS.md "Nkeys"; nats-io/nkeys strkey.go): base32 without padding of a
// prefix byte (a seed: two), 32 Ed25519 bytes and a little-endian CRC-16/XMODEM. Encoding,
// base32, CRC and signatures are @nats-io/nkeys'; the checks before decoding are ours, so that
// a rejection names what is wrong (reason codes `nkey.*` of docs/ADAPTER.md).

import nkeys from '@nats-io/nkeys';
import codecModule from '@nats-io/nkeys/lib/codec.js';
import { NatsError } from './errors.mjs';

const { Codec } = codecModule;
const { Prefix, fromSeed, fromPublic } = nkeys;

export const PUBLIC_KEY_LEN = 56;
export const SEED_LEN = 58;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Role name ↔ nkeys prefix byte, for the roles kez-verify and nats-io/jwt accept. */
const ROLES = {
  operator: Prefix.Operator,
  account: Prefix.Account,
  user: Prefix.User,
  server: Prefix.Server,
  cluster: Prefix.Cluster,
};
const ROLE_OF_PREFIX = new Map(Object.entries(ROLES).map(([name, p]) => [p, name]));

/** The roles whose keys may be created here. */
export const CREATED_ROLES = ['operator', 'account', 'user'];

const enc = new TextEncoder();
const dec = new TextDecoder();

function precheck(text, len) {
  if (text.length === 0) throw new NatsError('nkey.empty', 'empty nkey');
  const ws = text.search(/\s/u);
  if (ws >= 0) throw new NatsError('nkey.whitespace', `whitespace at offset ${ws}`);
  const pad = text.indexOf('=');
  if (pad >= 0) throw new NatsError('nkey.padding', `padding '=' at offset ${pad}`);
  const chars = [...text].length;
  if (chars !== len) throw new NatsError('nkey.length', `expected ${len} characters, found ${chars}`);
  const bad = [...text].findIndex((c) => !ALPHABET.includes(c));
  if (bad >= 0) throw new NatsError('nkey.base32', `not base32 at offset ${bad}`);
  // Bits past the last whole byte must be zero (a seed's 58 characters carry 2 spare bits).
  const spare = (len * 5) % 8;
  if (spare && (ALPHABET.indexOf(text[len - 1]) & ((1 << spare) - 1)) !== 0) {
    throw new NatsError('nkey.base32', `non-zero trailing bits at offset ${len - 1}`);
  }
}

/** base32 and CRC by the library; a CRC failure is `nkey.crc`. */
function rawDecode(text) {
  try {
    return Codec._decode(enc.encode(text));
  } catch (e) {
    if (e && e.code === nkeys.NKeysErrorCode.InvalidChecksum) throw new NatsError('nkey.crc', 'checksum mismatch');
    throw new NatsError('nkey.base32', 'not base32');
  }
}

/**
 * Decodes a public key (`O…`, `A…`, `U…`, `N…`, `C…`).
 * @returns {{role: string, key: Uint8Array, public: string}}
 */
export function decodePublic(text) {
  if (text.startsWith('S') && text.length === SEED_LEN) throw new NatsError('nkey.form', 'expected a public key, found a seed');
  precheck(text, PUBLIC_KEY_LEN);
  const raw = rawDecode(text);
  const role = ROLE_OF_PREFIX.get(raw[0]);
  if (!role) throw new NatsError('nkey.role', `unsupported nkey role prefix '${text[0]}'`);
  fromPublic(text); // the library agrees that it is a public key
  return { role, key: raw.slice(1, 33), public: text };
}

/**
 * Decodes a seed (`SO…`, `SA…`, `SU…`, …).
 * @returns {{role: string, raw: Uint8Array, public: string, key: Uint8Array, pair: object}}
 */
export function decodeSeed(text) {
  if (!text.startsWith('S') && text.length === PUBLIC_KEY_LEN) throw new NatsError('nkey.form', 'expected a seed, found a public key');
  precheck(text, SEED_LEN);
  const raw = rawDecode(text);
  const [kind, rolePrefix] = Codec._decodePrefix(raw);
  if (kind !== Prefix.Seed) throw new NatsError('nkey.form', 'expected a seed, found a public key');
  const role = ROLE_OF_PREFIX.get(rolePrefix);
  if (!role) throw new NatsError('nkey.role', 'unsupported nkey role prefix in the seed');
  const pair = fromSeed(enc.encode(text));
  const pub = pair.getPublicKey();
  return { role, raw: raw.slice(2, 34), public: pub, key: decodePublic(pub).key, pair };
}

/** Decodes either form (a seed starts with `S`); with `role`, the key must have it. */
export function decodeAny(text, role) {
  const found = text.startsWith('S') ? { form: 'seed', ...decodeSeed(text) } : { form: 'public', ...decodePublic(text) };
  if (role !== undefined && found.role !== role) {
    throw new NatsError('nkey.wrong_role', `expected a ${role} key, found a ${found.role} key`);
  }
  return found;
}

/** The seed text of `role` whose 32-byte RFC 8032 seed is `raw`. */
export function seedFromRaw(role, raw) {
  if (!CREATED_ROLES.includes(role)) throw new Error(`keys of role ${role} are not created here`);
  if (raw.length !== 32) throw new Error('a raw seed is 32 bytes');
  return dec.decode(Codec.encodeSeed(ROLES[role], raw));
}

/** Whether `text` is a public key of `role`. */
export function isKey(text, role) {
  try {
    return typeof text === 'string' && decodePublic(text).role === role;
  } catch {
    return false;
  }
}

/** Verifies an Ed25519 signature by public key `text` (through @nats-io/nkeys). */
export function verifyWith(text, message, signature) {
  try {
    return fromPublic(text).verify(message, signature);
  } catch {
    return false;
  }
}
