// NATS credentials (docs/NATS.md, docs/ADAPTER.md "NATS operations"): nkeys, v2 JWTs, .creds
// files and credential-set checks, against the upstream vectors of ../shared/vectors/nats.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VECTORS } from '../support/helpers.mjs';
import { decodeAny, seedFromRaw } from '../src/nats/nkey.mjs';
import { decode, decodeVerified, encode, jti, signRaw } from '../src/nats/jwt.mjs';
import { blocks, format, parse } from '../src/nats/creds.mjs';
import { checkSet } from '../src/nats/check.mjs';
import { NatsError } from '../src/nats/errors.mjs';

const vector = (name) => readFileSync(join(VECTORS, 'nats', name), 'utf8');

const reason = (fn) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof NatsError) return e.reason;
    throw e;
  }
  return 'accepted';
};

const raw = (byte) => new Uint8Array(32).fill(byte);
const op = seedFromRaw('operator', raw(0x11));
const acct = seedFromRaw('account', raw(0x22));
const user = seedFromRaw('user', raw(0x33));
const pub = (seed) => decodeAny(seed).public;
const T0 = 1767225600;

test('upstream nats.rs creds: byte-identical layout, JWT verifies, seed is the sub, jti reproduces', () => {
  const text = vector('nats.rs_TestUser.creds');
  const creds = parse(text);
  assert.equal(creds.canonical, true);
  assert.equal(format(creds.jwt, creds.seed), text);
  const jwt = decodeVerified(creds.jwt);
  assert.equal(jwt.type, 'user');
  assert.equal(jwt.payload.sub, creds.public);
  assert.equal(jwt.payload.iss, 'ADTQS7ZCFVJNW5726GOYXW5TSCZFNIQSHK2ZGYUBCD5D77OTNLOOKZOZ');
  assert.equal(jti(jwt.payload), jwt.payload.jti);
});

test('upstream nats-server one.creds: verifies and reproduces its jti', () => {
  const creds = parse(vector('nats-server_one.creds'));
  const jwt = decodeVerified(creds.jwt);
  assert.equal(jwt.payload.name, 'one');
  assert.equal(jti(jwt.payload), jwt.payload.jti);
  assert.equal(jwt.payload.sub, creds.public);
});

test('upstream legacy v1 operator JWT: decodes, refused as v2, signed over the payload by its seed', () => {
  const token = blocks(vector('nats-server_op.jwt'))[0];
  const jwt = decode(token);
  assert.equal(jwt.v1, true);
  assert.equal(reason(() => decodeVerified(token)), 'jwt.v1');
  const seed = decodeAny(blocks(vector('nats-server_test.seed'))[0]);
  assert.equal(seed.role, 'operator');
  assert.equal(seed.public, jwt.payload.iss);
  assert.ok(seed.pair.verify(jwt.signingInput, jwt.signature));
});

test('nkeys: raw bytes round-trip; typed rejections', () => {
  const k = decodeAny(user);
  assert.equal(k.form, 'seed');
  assert.deepEqual(k.raw, raw(0x33));
  assert.equal(k.public, 'UAL4W6P3FNASB4VR5RS6IGMNNYELFDUBH7VQDZFEACBZXBPBQCAM4C47');
  assert.deepEqual(decodeAny(k.public).key, k.key);
  assert.equal(reason(() => decodeAny('')), 'nkey.empty');
  assert.equal(reason(() => decodeAny(`${k.public}====`)), 'nkey.padding');
  assert.equal(reason(() => decodeAny(k.public.slice(1))), 'nkey.length');
  assert.equal(reason(() => decodeAny(k.public.toLowerCase())), 'nkey.base32');
  assert.equal(reason(() => decodeAny('UAL4W6P3FNBSB4VR5RS6IGMNNYELFDUBH7VQDZFEACBZXBPBQCAM4C47')), 'nkey.crc');
  assert.equal(reason(() => decodeAny('XAL4W6P3FNASB4VR5RS6IGMNNYELFDUBH7VQDZFEACBZXBPBQCAM5J7N')), 'nkey.role');
  assert.equal(reason(() => decodeAny(k.public, 'account')), 'nkey.wrong_role');
  // A seed's 2 spare bits must be zero.
  const last = user.at(-1);
  const twisted = user.slice(0, -1) + 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'['ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.indexOf(last) ^ 1];
  assert.equal(reason(() => decodeAny(twisted)), 'nkey.base32');
});

test('JWT encode matches the Go member order, and issuer and subject roles are enforced', () => {
  const token = encode({ type: 'user', signer: acct, subject: pub(user), iat: T0, name: 'a<b', nats: { pub: { allow: ['x.>'] } } });
  const payload = Buffer.from(token.split('.')[1], 'base64url').toString();
  assert.match(payload, /^\{"jti":"[A-Z2-7]{52}","iat":1767225600,"iss":"A[A-Z2-7]{55}","name":"a\\u003cb","sub":"U/);
  assert.match(payload, /"nats":\{"pub":\{"allow":\["x.\\u003e"\]\},"sub":\{\},"subs":-1,"data":-1,"payload":-1,"type":"user","version":2\}\}$/);
  assert.equal(decodeVerified(token).payload.name, 'a<b');
  assert.equal(reason(() => encode({ type: 'user', signer: user, subject: pub(user), iat: T0 })), 'jwt.issuer_invalid');
  assert.equal(reason(() => encode({ type: 'user', signer: acct, subject: pub(acct), iat: T0 })), 'jwt.subject_invalid');
  assert.equal(reason(() => encode({ type: 'operator', signer: op, subject: pub(op), iat: T0, nats: { signing_key: [] } })), 'unknown_member');
});

test('JWT decode: padding, tampering, missing type, version, self-signed user', () => {
  const token = encode({ type: 'account', signer: op, subject: pub(acct), iat: T0 });
  assert.equal(decodeVerified(token).type, 'account');
  assert.equal(reason(() => decodeVerified(token.replace('ifQ.', 'ifQ==.'))), 'jwt.malformed');
  const [h, p, s] = token.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[0] ^= 1;
  assert.equal(reason(() => decodeVerified(`${h}.${p}.${sig.toString('base64url')}`)), 'jwt.signature_invalid');
  const untyped = signRaw({ signer: op, over: 'payload', payload: JSON.stringify({ iss: pub(op), sub: pub(acct), nats: { version: 2 } }) });
  assert.equal(reason(() => decodeVerified(untyped)), 'jwt.type_missing');
  const v3 = signRaw({ signer: op, payload: JSON.stringify({ iss: pub(op), sub: pub(acct), nats: { type: 'account', version: 3 } }) });
  assert.equal(reason(() => decodeVerified(v3)), 'jwt.version_unsupported');
  const selfUser = signRaw({ signer: user, payload: JSON.stringify({ iss: pub(user), sub: pub(user), nats: { type: 'user', version: 2 } }) });
  assert.equal(reason(() => decodeVerified(selfUser)), 'jwt.issuer_invalid');
  const badTypes = signRaw({ signer: op, payload: JSON.stringify({ iss: pub(op), sub: pub(acct), nats: { limits: { conn: 'many' }, type: 'account', version: 2 } }) });
  assert.equal(reason(() => decodeVerified(badTypes)), 'jwt.claims_invalid');
});

test('.creds: format refuses non-user input; tolerant parse notices every departure', () => {
  const token = encode({ type: 'user', signer: acct, subject: pub(user), iat: T0 });
  const text = format(token, user);
  assert.equal(parse(text).canonical, true);
  assert.equal(parse(text.replaceAll('\n', '\r\n')).canonical, false);
  assert.equal(parse(text.trimEnd()).jwt, token);
  assert.equal(reason(() => format(token, acct)), 'creds.malformed');
  assert.equal(reason(() => format(encode({ type: 'account', signer: op, subject: pub(acct), iat: T0 }), user)), 'creds.not_user');
  assert.equal(reason(() => parse('nothing')), 'creds.malformed');
});

test('credential-set check: a clean chain, then each defect with its code', () => {
  const operator = encode({ type: 'operator', signer: op, subject: pub(op), iat: T0 });
  const account = encode({ type: 'account', signer: op, subject: pub(acct), iat: T0, nats: { revocations: { [pub(user)]: T0 } } });
  const good = encode({ type: 'user', signer: acct, subject: pub(user), iat: T0 + 1, nats: { pub: { allow: ['a'] } } });
  const codes = (set) => [...new Set(checkSet({ at: T0 + 10, ...set }).map((f) => f.code))].sort();
  assert.deepEqual(codes({ operator, accounts: [account], creds: [format(good, user)] }), []);
  const revoked = encode({ type: 'user', signer: acct, subject: pub(user), iat: T0, nats: { pub: { allow: ['a'] } } });
  assert.deepEqual(codes({ operator, accounts: [account], creds: [format(revoked, user)] }), ['chain.user_revoked']);
  const selfSigned = encode({ type: 'account', signer: acct, subject: pub(acct), iat: T0 });
  assert.deepEqual(codes({ operator, accounts: [selfSigned] }), ['chain.account_self_signed']);
  const other = seedFromRaw('user', raw(0x66));
  assert.deepEqual(codes({ operator, accounts: [account], creds: [format(good, other)] }), ['creds.seed_mismatch']);
  const open = encode({ type: 'user', signer: acct, subject: pub(user), iat: T0 + 1 });
  assert.deepEqual(codes({ operator, accounts: [account], creds: [format(open, user)] }), ['perm.allow_all']);
  const stranger = encode({ type: 'user', signer: acct, subject: pub(user), iat: T0 + 1, nats: { pub: { allow: ['a'] } } });
  assert.deepEqual(codes({ operator, accounts: [], creds: [format(stranger, user)] }), ['chain.incomplete']);
});
