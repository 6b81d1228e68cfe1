// NATS v2 JWTs (docs/NATS.md "JWTs"; nats-io/jwt v2 claims.go, header.go, decoder.go):
// b64url(header) "." b64url(payload) "." b64url(signature), base64url without padding, the
// header {"typ":"JWT","alg":"ed25519-nkey"}, an Ed25519 signature by the issuer's nkey over
// `header.payload` (over the payload segment alone for v1 and untyped claims), and `jti` =
// base32(SHA-512/256(Go JSON of the registered claims with jti empty)).

import { base32nopad } from '@scure/base';
import { sha512_256 } from '@noble/hashes/sha2.js';
import { NatsError } from './errors.mjs';
import { CLAIMS_DATA, NATS_SCHEMA, defaults, marshal, marshalPayload, merge, validate } from './claims.mjs';
import { decodePublic, decodeSeed, verifyWith } from './nkey.mjs';

export const HEADER_JSON = '{"typ":"JWT","alg":"ed25519-nkey"}';
export const TYPES = ['operator', 'account', 'user'];

/** The roles whose keys may sign each claim type (`ExpectedPrefixes`), and the subject's. */
export const ISSUER_ROLES = { operator: ['operator'], account: ['account', 'operator'], user: ['account'] };
export const SUBJECT_ROLE = { operator: 'operator', account: 'account', user: 'user' };

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export function b64url(bytes) {
  return Buffer.from(typeof bytes === 'string' ? enc.encode(bytes) : bytes).toString('base64url');
}

/** Strict base64url without padding: alphabet, length and zero trailing bits. */
export function unb64url(text, segment) {
  const bad = () => new NatsError('jwt.malformed', `${segment} is not base64url without padding`);
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw bad();
  const spare = (text.length * 6) % 8;
  if (spare && (B64URL.indexOf(text[text.length - 1]) & ((1 << spare) - 1)) !== 0) throw bad();
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

/** The jti nats-io/jwt computes for these registered claims. */
export function jti(data) {
  const json = marshal(CLAIMS_DATA, { ...data, jti: '' });
  return base32nopad.encode(sha512_256(enc.encode(json)));
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function claimRoleCheck(type, subject, issuerRole) {
  try {
    if (decodePublic(subject).role !== SUBJECT_ROLE[type]) throw new NatsError('nkey.wrong_role', 'wrong role');
  } catch (e) {
    throw new NatsError('jwt.subject_invalid', `sub is not a ${SUBJECT_ROLE[type]} public key: ${e.message}`);
  }
  if (!ISSUER_ROLES[type].includes(issuerRole)) {
    throw new NatsError('jwt.issuer_invalid', `${type} claims cannot be issued by a ${issuerRole} key`);
  }
}

/**
 * Encodes and signs claims as nats-io/jwt's Encode: `New…Claims(subject)` with `nats` merged
 * in, then iss, iat, nats.type, nats.version = 2 and jti set.
 */
export function encode({ type, signer, subject, iat, name, expires, notBefore, audience, nats }) {
  const seed = decodeSeed(signer);
  claimRoleCheck(type, subject, seed.role);
  const body = merge(defaults(type), nats ?? {});
  body.type = type;
  body.version = 2;
  const data = { aud: audience, exp: expires, iat, iss: seed.public, name, nbf: notBefore, sub: subject };
  data.jti = jti(data);
  const payload = marshalPayload(type, data, body);
  const input = `${b64url(HEADER_JSON)}.${b64url(payload)}`;
  return `${input}.${b64url(seed.pair.sign(enc.encode(input)))}`;
}

/** Signs exactly `payload` (and `header`) over `header.payload` or, with over = "payload", the payload segment. */
export function signRaw({ signer, payload, header = HEADER_JSON, over = 'jwt' }) {
  const seed = decodeSeed(signer);
  const h = b64url(header);
  const p = b64url(payload);
  const input = over === 'payload' ? p : `${h}.${p}`;
  return `${h}.${p}.${b64url(seed.pair.sign(enc.encode(input)))}`;
}

/**
 * Decodes without verifying (v2 or v1): three segments, JSON header with typ JWT (any case) and
 * alg ed25519-nkey or ed25519 (any case), a JSON object payload, a 64-byte signature.
 */
export function decode(text) {
  const parts = text.split('.');
  if (parts.length !== 3) throw new NatsError('jwt.malformed', `expected 3 dot-separated segments, found ${parts.length}`);
  const [h, p, s] = parts;
  const headerBytes = unb64url(h, 'header');
  const payloadBytes = unb64url(p, 'payload');
  const signature = unb64url(s, 'signature');
  const json = (bytes, what) => {
    try {
      const v = JSON.parse(dec.decode(bytes));
      if (!isObject(v)) throw new Error('not an object');
      return v;
    } catch (e) {
      throw new NatsError('jwt.malformed', `${what} is not a JSON object: ${e.message}`);
    }
  };
  const header = json(headerBytes, 'header');
  for (const k of ['typ', 'alg']) {
    if (k in header && typeof header[k] !== 'string') throw new NatsError('jwt.malformed', `header ${k} is not a string`);
  }
  if ((header.typ ?? '').toUpperCase() !== 'JWT') throw new NatsError('jwt.malformed', 'header typ is not JWT');
  const alg = (header.alg ?? '').toLowerCase();
  if (alg !== 'ed25519-nkey' && alg !== 'ed25519') throw new NatsError('jwt.malformed', 'header alg is not ed25519-nkey');
  const payload = json(payloadBytes, 'payload');
  if (signature.length !== 64) throw new NatsError('jwt.malformed', `signature is ${signature.length} bytes, expected 64`);
  const nats = isObject(payload.nats) ? payload.nats : undefined;
  const v1 = typeof payload.type === 'string' && payload.type !== '';
  const version = v1 ? 1 : Number.isSafeInteger(nats?.version) ? nats.version : 0;
  let type = v1 ? payload.type : typeof nats?.type === 'string' && nats.type !== '' ? nats.type : undefined;
  const knownV2 = version >= 2 && TYPES.includes(type);
  return {
    text,
    header,
    headerCanonical: dec.decode(headerBytes) === HEADER_JSON,
    legacyAlg: alg === 'ed25519',
    payload,
    nats,
    v1,
    version,
    type,
    signature,
    signingInput: enc.encode(knownV2 ? `${h}.${p}` : p),
  };
}

/** Whether the signature verifies with public key `key`. */
export function verifiesWith(jwt, key) {
  return verifyWith(key, jwt.signingInput, jwt.signature);
}

/** The claims of `jwt` checked against the schema of its type (`jwt.claims_invalid`). */
export function checkClaims(jwt) {
  validate(CLAIMS_DATA, jwt.payload, 'claims');
  if (jwt.payload.nats !== undefined && !isObject(jwt.payload.nats)) {
    throw new NatsError('jwt.claims_invalid', 'claims.nats: expected an object');
  }
  validate(NATS_SCHEMA[jwt.type], jwt.nats ?? {}, 'nats');
}

/**
 * Decodes and verifies as nats-io/jwt's Decode…Claims: v2 only, a known type, claims of the
 * right JSON types, the signature by iss, iss and sub of the roles the type needs.
 */
export function decodeVerified(text) {
  const jwt = decode(text);
  if (jwt.legacyAlg || jwt.v1) throw new NatsError('jwt.v1', 'legacy v1 JWT');
  if (jwt.version !== 2) throw new NatsError('jwt.version_unsupported', `nats.version is ${jwt.version}, expected 2`);
  if (jwt.type === undefined) throw new NatsError('jwt.type_missing', 'no nats.type: nats-io/jwt reads generic claims');
  if (!TYPES.includes(jwt.type)) throw new NatsError('jwt.type_other', `claim type ${JSON.stringify(jwt.type)} is not operator, account or user`);
  checkClaims(jwt);
  const iss = jwt.payload.iss ?? '';
  let issuerRole;
  try {
    issuerRole = decodePublic(iss).role;
  } catch (e) {
    throw new NatsError('jwt.issuer_invalid', `iss is not a public nkey: ${e.message}`);
  }
  if (!verifiesWith(jwt, iss)) throw new NatsError('jwt.signature_invalid', 'signature does not verify with the issuer key');
  claimRoleCheck(jwt.type, jwt.payload.sub ?? '', issuerRole);
  return jwt;
}
