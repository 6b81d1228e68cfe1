// The NATS operations of the adapter protocol (docs/ADAPTER.md "NATS operations"). A rejected
// input is {"status": "rejected", "reason": <code>, "message"}; a bad request is a UsageError,
// a value this implementation does not support an UnsupportedError.

import { UsageError } from '../errors.mjs';
import { toHex } from '../bytes.mjs';
import { NatsError } from './errors.mjs';
import { CREATED_ROLES, decodeAny, seedFromRaw } from './nkey.mjs';
import { TYPES, decodeVerified, encode, signRaw } from './jwt.mjs';
import { format as formatCreds, parse as parseCreds } from './creds.mjs';
import { checkSet } from './check.mjs';

/** Thrown for a well-formed value this implementation does not support. */
export class NatsUnsupported extends Error {}

const ROLES = ['operator', 'account', 'user'];

function get(args, name, type, optional = false) {
  const v = args[name];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw new UsageError(`missing argument ${name}`);
  }
  const ok =
    type === 'int' ? Number.isSafeInteger(v) && v >= 0
    : type === 'array' ? Array.isArray(v)
    : type === 'object' ? typeof v === 'object' && !Array.isArray(v)
    : typeof v === type;
  if (!ok) throw new UsageError(`argument ${name}: expected ${type}`);
  return v;
}

function strings(args, name) {
  const list = get(args, name, 'array', true) ?? [];
  if (list.some((s) => typeof s !== 'string')) throw new UsageError(`argument ${name}: expected strings`);
  return list;
}

function role(args, name, optional = false) {
  const r = get(args, name, 'string', optional);
  if (r !== undefined && !ROLES.includes(r)) throw new NatsUnsupported(`unsupported role ${JSON.stringify(r.slice(0, 24))}`);
  return r;
}

/** fn's result, or a rejection for a NatsError. */
function orRejected(fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NatsError) return { status: 'rejected', reason: e.reason, message: e.message };
    throw e;
  }
}

function seedArg(args, name) {
  const text = get(args, name, 'string');
  try {
    decodeAny(text);
  } catch (e) {
    if (e instanceof NatsError) throw new UsageError(`argument ${name}: not an nkey seed: ${e.message}`);
    throw e;
  }
  if (!text.startsWith('S')) throw new UsageError(`argument ${name}: not an nkey seed`);
  return text;
}

export const NATS_OPS = {
  nats_nkey_create(args) {
    const r = role(args, 'role');
    const raw = get(args, 'raw', 'string');
    if (!/^[0-9a-fA-F]{64}$/.test(raw)) throw new UsageError('argument raw: expected 64 hex digits');
    if (!CREATED_ROLES.includes(r)) throw new NatsUnsupported(`keys of role ${r} are not created`);
    const seed = seedFromRaw(r, Uint8Array.from(Buffer.from(raw, 'hex')));
    return { seed, public: decodeAny(seed).public };
  },

  nats_nkey_decode(args) {
    const text = get(args, 'text', 'string');
    const wanted = role(args, 'role', true);
    return orRejected(() => {
      const k = decodeAny(text, wanted);
      const out = { status: 'ok', form: k.form, role: k.role, public: k.public, key: toHex(k.key) };
      if (k.form === 'seed') out.raw = toHex(k.raw);
      return out;
    });
  },

  nats_jwt_encode(args) {
    const type = get(args, 'type', 'string');
    if (!TYPES.includes(type)) throw new NatsUnsupported(`unsupported claim type ${JSON.stringify(type.slice(0, 24))}`);
    const params = {
      type,
      signer: seedArg(args, 'signer'),
      subject: get(args, 'subject', 'string'),
      iat: get(args, 'iat', 'int'),
      name: get(args, 'name', 'string', true),
      expires: get(args, 'expires', 'int', true),
      notBefore: get(args, 'not_before', 'int', true),
      audience: get(args, 'audience', 'string', true),
      nats: get(args, 'nats', 'object', true),
    };
    try {
      return { status: 'ok', jwt: encode(params) };
    } catch (e) {
      if (e instanceof NatsError && e.reason === 'unknown_member') throw new UsageError(`argument ${e.message}`);
      if (e instanceof NatsError && e.reason === 'jwt.claims_invalid') throw new UsageError(`argument ${e.message}`);
      if (e instanceof NatsError && e.reason === 'unsupported_member') throw new NatsUnsupported(e.message);
      if (e instanceof NatsError) return { status: 'rejected', reason: e.reason, message: e.message };
      throw e;
    }
  },

  nats_jwt_sign_raw(args) {
    const over = get(args, 'over', 'string', true) ?? 'jwt';
    if (over !== 'jwt' && over !== 'payload') throw new UsageError('argument over: expected "jwt" or "payload"');
    const header = get(args, 'header', 'string', true);
    return { jwt: signRaw({ signer: seedArg(args, 'signer'), payload: get(args, 'payload', 'string'), header, over }) };
  },

  nats_jwt_decode(args) {
    const text = get(args, 'jwt', 'string');
    const at = get(args, 'at', 'int', true);
    return orRejected(() => {
      const jwt = decodeVerified(text);
      const p = jwt.payload;
      if (at !== undefined && (p.exp ?? 0) > 0 && at > p.exp) throw new NatsError('jwt.expired', `expired at ${p.exp}`);
      if (at !== undefined && (p.nbf ?? 0) > 0 && p.nbf > at) throw new NatsError('jwt.not_yet_valid', `not valid before ${p.nbf}`);
      return { status: 'ok', type: jwt.type, issuer: p.iss, subject: p.sub, claims: p };
    });
  },

  nats_creds_format(args) {
    const jwt = get(args, 'jwt', 'string');
    const seed = get(args, 'seed', 'string');
    return orRejected(() => ({ status: 'ok', creds: formatCreds(jwt, seed) }));
  },

  nats_creds_parse(args) {
    const text = get(args, 'creds', 'string');
    return orRejected(() => ({ status: 'ok', ...parseCreds(text) }));
  },

  nats_check(args) {
    const findings = checkSet({
      operator: get(args, 'operator', 'string'),
      accounts: strings(args, 'accounts'),
      creds: strings(args, 'creds'),
      at: get(args, 'at', 'int'),
    });
    const codes = [...new Set(findings.map((f) => f.code))].sort();
    const errors = [...new Set(findings.filter((f) => f.severity === 'error').map((f) => f.code))].sort();
    const out = { status: errors.length ? 'rejected' : 'ok', errors, codes, findings };
    if (errors.length) {
      out.reason = errors.join('+');
      out.message = `${errors.length} error finding(s)`;
    }
    return out;
  },
};
