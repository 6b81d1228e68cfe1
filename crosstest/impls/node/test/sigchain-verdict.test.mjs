// SPEC §7 (sigchains) and §8 (verdicts): scenarios built with our own signer.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { appendixA, hex } from '../support/helpers.mjs';
import { KezError } from '../src/errors.mjs';
import { secretKey } from '../src/keys.mjs';
import { parseClaimJson, signClaim } from '../src/claim.mjs';
import { initEncodings } from '../src/encoding/index.mjs';
import { verifyChain, verifyCopies, compareChains, exportChain, signLink } from '../src/sigchain.mjs';
import { evaluateClaim } from '../src/verdict.mjs';

const A = appendixA();
const sk = (byte, alg = 'ed25519') => secretKey(alg, new Uint8Array(32).fill(byte));
const K1 = secretKey('ed25519', hex(A.keys.K1.secret));
const K2 = secretKey('bip340', hex(A.keys.K2.secret));
const K3 = secretKey('ed25519', hex(A.keys.K3.secret));
const D = sk(0x44);
const E = sk(0x55, 'bip340');
const T0 = 1767225600;

before(async () => {
  await initEncodings();
});

/** Sign a list of link specs into JSONL; seq and prev are filled in unless given. */
function build(specs) {
  let prev = null;
  const links = [];
  specs.forEach((s, i) => {
    const link = signLink({ seq: s.seq ?? i, prev: s.prev !== undefined ? s.prev : prev, createdAt: T0 + 60 * i, body: {}, ...s });
    links.push(link);
    prev = link.hash;
  });
  return { jsonl: links.map((l) => l.line + '\n').join(''), links };
}

const fails = (fn, kind, re) =>
  assert.throws(fn, (e) => e instanceof KezError && e.kind === kind && (!re || re.test(e.message)));

const claimBy = (key, fields = {}) => signClaim(key, { subject: 'github:jason', createdAt: T0, ...fields });

// ------------------------------------------------------------------ §7

test('§7.5 as-of state, length and head', () => {
  const v = verifyChain(A.a7.jsonl, T0 - 1);
  assert.equal(v.length, 4);
  assert.equal(v.head, A.a7.links[3].hash);
  assert.equal(v.state.root, null);
  assert.equal(v.state.primary, null);
  assert.equal(verifyChain(A.a7.jsonl, T0 + 90).state.primary, K1.pub.text);
  assert.equal(verifyChain(A.a7.jsonl, T0 + 120).state.primary, K3.pub.text);
  assert.equal(exportChain(A.a7.jsonl, T0 + 119), A.a7.jsonl.split('\n').slice(0, 2).join('\n') + '\n');
  assert.equal(exportChain(A.a7.jsonl), A.a7.jsonl);
});

test('§7.6-1 forks within one copy, and sequence errors', () => {
  const claim = claimBy(K1);
  const { links } = build([{ signer: K1, op: 'init' }, { signer: K1, op: 'add', body: { claim: claim.id, subject: claim.subject } }]);
  const alt = signLink({ seq: 1, prev: links[0].hash, signer: K1, op: 'add_device', body: { device: D.pub.text }, createdAt: T0 + 5 });
  const jsonl = (...ls) => ls.map((l) => l.line + '\n').join('');
  fails(() => verifyChain(jsonl(links[0], links[1], alt)), 'fork');
  try {
    verifyChain(jsonl(links[0], links[1], alt));
  } catch (e) {
    assert.deepEqual(e.detail, { seq: 1, first: links[1].hash, second: alt.hash });
  }
  // a repeated identical line is a sequence error
  fails(() => verifyChain(jsonl(links[0], links[1], links[1])), 'malformed', /sequence/);
  // same seq, different prev: sequence error
  const otherPrev = signLink({ seq: 1, prev: links[1].hash, signer: K1, op: 'add_device', body: { device: D.pub.text }, createdAt: T0 + 5 });
  fails(() => verifyChain(jsonl(links[0], links[1], otherPrev)), 'malformed');
  // same seq, signer without authority before the head: sequence error, not a fork
  const stranger = signLink({ seq: 1, prev: links[0].hash, signer: K3, op: 'add', body: { claim: claim.id, subject: claim.subject }, createdAt: T0 + 5 });
  fails(() => verifyChain(jsonl(links[0], links[1], stranger)), 'malformed');
  // same seq, created_at before the link before the head: sequence error
  const early = signLink({ seq: 1, prev: links[0].hash, signer: K1, op: 'add_device', body: { device: D.pub.text }, createdAt: T0 - 1 });
  fails(() => verifyChain(jsonl(links[0], links[1], early)), 'malformed');
  // two different valid init links: a fork at seq 0
  const init2 = signLink({ seq: 0, prev: null, signer: K3, op: 'init', body: {}, createdAt: T0 });
  fails(() => verifyChain(jsonl(links[0], init2)), 'fork');
  // a fork is reported even if later lines are broken
  fails(() => verifyChain(jsonl(links[0], links[1], alt) + 'garbage\n'), 'fork');
});

test('§7.5 sequence, prev, time and §7.2 authority and key rules', () => {
  const claim = claimBy(K1);
  const add = { op: 'add', body: { claim: claim.id, subject: claim.subject } };
  // a good chain with devices
  const good = build([
    { signer: K1, op: 'init' },
    { signer: K1, op: 'add_device', body: { device: D.pub.text, name: 'laptop' } },
    { signer: D, ...add },
    { signer: K1, op: 'revoke_device', body: { device: D.pub.text } },
    { signer: K1, op: 'rotate', body: { new_key: E.pub.text }, newKey: E },
    { signer: E, op: 'revoke', body: { subject: 'github:jason' } },
  ]);
  assert.equal(verifyChain(good.jsonl).state.primary, E.pub.text);
  const cases = [
    // [specs, kind]
    [[{ signer: K1, op: 'init' }, { signer: K3, ...add }], 'bad_signature'], // stranger
    [[{ signer: K1, op: 'init' }, { signer: K1, op: 'add_device', body: { device: D.pub.text } }, { signer: D, op: 'rotate', body: { new_key: K3.pub.text }, newKey: K3 }], 'bad_signature'],
    [[{ signer: K1, op: 'init' }, { signer: K1, op: 'add_device', body: { device: D.pub.text } }, { signer: D, op: 'add_device', body: { device: K3.pub.text } }], 'bad_signature'],
    [[{ signer: K1, op: 'init' }, { signer: K1, op: 'add_device', body: { device: D.pub.text } }, { signer: K1, op: 'revoke_device', body: { device: D.pub.text } }, { signer: D, ...add }], 'bad_signature'],
    [[{ signer: K1, op: 'init' }, { signer: K1, op: 'add_device', body: { device: D.pub.text } }, { signer: K1, op: 'revoke_device', body: { device: D.pub.text } }, { signer: K1, op: 'add_device', body: { device: D.pub.text } }], 'malformed'],
    [[{ signer: K1, op: 'init' }, { signer: K1, op: 'rotate', body: { new_key: K3.pub.text }, newKey: K3 }, { signer: K3, op: 'rotate', body: { new_key: K1.pub.text }, newKey: K1 }], 'malformed'],
    [[{ signer: K1, op: 'init' }, { signer: K1, op: 'add_device', body: { device: K1.pub.text } }], 'malformed'],
    [[{ signer: K1, op: 'init' }, { signer: K1, op: 'revoke_device', body: { device: D.pub.text } }], 'malformed'],
    [[{ signer: K1, op: 'init' }, { signer: K1, op: 'rotate', body: { new_key: K3.pub.text }, newKey: D }], 'bad_signature'], // countersig by another key
    [[{ signer: K1, op: 'init' }, { signer: K1, op: 'init' }], 'malformed'], // init at seq 1
    [[{ signer: K1, ...add }], 'malformed'], // seq 0 is not init
    [[{ signer: K1, op: 'init' }, { signer: K1, ...add, seq: 2 }], 'malformed'],
    [[{ signer: K1, op: 'init' }, { signer: K1, ...add, prev: 'sha256:' + '0'.repeat(64) }], 'malformed'],
    [[{ signer: K1, op: 'init', createdAt: T0 }, { signer: K1, ...add, createdAt: T0 - 1 }], 'malformed'],
  ];
  for (const [specs, kind] of cases) fails(() => verifyChain(build(specs).jsonl), kind);
  // a bad signature
  const broken = good.jsonl.replace(/"sig":"(.)/, (m, c) => `"sig":"${c === '0' ? '1' : '0'}`);
  fails(() => verifyChain(broken), 'bad_signature');
});

test('§7.1, §7.3 JSONL and link format', () => {
  const { jsonl, links } = build([{ signer: K1, op: 'init' }, { signer: K1, op: 'add_device', body: { device: D.pub.text } }]);
  assert.equal(verifyChain(jsonl).length, 2);
  const bad = [
    '', // empty (§7.3-4)
    jsonl.slice(0, -1), // truncated (§7.3-3)
    jsonl.replaceAll('\n', '\r\n'), // CRLF (§7.3-2)
    '\uFEFF' + jsonl,
    jsonl + '\n', // blank line
    links[0].line.replace('{', '{ ') + '\n', // not JCS
    links[0].line.replace('"kez":"0.2"', '"kez":"0.3"') + '\n', // §1.3-3
    links[0].line.replace('"body":{}', '"body":{},"extra":1') + '\n', // closed object (§7.1-1)
    links[0].line.replace('"body":{}', '"body":{"x":1}') + '\n', // §7.2-2
    links[0].line.replace('"body":{}', '"body":{},"countersig":"' + '0'.repeat(128) + '"') + '\n', // §7.2-4
    links[0].line.replace('"prev":null', '"prev":"sha256:' + '0'.repeat(64) + '"') + '\n',
    '{"a":"' + 'x'.repeat(8200) + '"}\n', // line too long (§7.3-5)
  ];
  for (const b of bad) fails(() => verifyChain(b), 'malformed');
  // body rules (§7.2-2)
  const bodyCases = [
    { op: 'add', body: { claim: 'sha256:' + 'A'.repeat(64), subject: 'github:jason' } },
    { op: 'add', body: { claim: 'sha256:' + 'a'.repeat(64), subject: 'github:Jason' } },
    { op: 'add', body: { claim: 'sha256:' + 'a'.repeat(64) } },
    { op: 'revoke', body: {} },
    { op: 'revoke', body: { claim: 'sha256:' + 'a'.repeat(64), subject: 'github:jason' } },
    { op: 'add_device', body: { device: E.pub.text, name: '' } },
    { op: 'add_device', body: { device: E.pub.text, name: 'x'.repeat(65) } },
    { op: 'add_device', body: { device: 'ed25519:' + '00'.repeat(32) } },
    { op: 'rotate', body: { new_key: A.keys.K2.npub } },
  ];
  for (const bc of bodyCases) {
    assert.throws(() => signLink({ seq: 1, prev: links[0].hash, signer: K1, createdAt: T0, newKey: K3, ...bc }), /malformed/);
  }
});

test('§7.6-2 two copies', () => {
  const claim = claimBy(K1);
  const a = build([{ signer: K1, op: 'init' }, { signer: K1, op: 'add', body: { claim: claim.id, subject: claim.subject } }]);
  const b = build([{ signer: K1, op: 'init' }, { signer: K1, op: 'add_device', body: { device: D.pub.text } }]);
  const prefix = a.links[0].line + '\n';
  assert.equal(compareChains(a.jsonl, a.jsonl).relation, 'identical');
  assert.equal(compareChains(prefix, a.jsonl).relation, 'first_is_prefix');
  assert.equal(compareChains(a.jsonl, prefix).relation, 'second_is_prefix');
  fails(() => compareChains(a.jsonl, b.jsonl), 'fork');
  fails(() => compareChains(a.jsonl, 'x\n'), 'malformed');
  assert.equal(verifyCopies([prefix, a.jsonl, prefix]).length, 2);
  fails(() => verifyCopies([prefix, a.jsonl, b.jsonl]), 'fork');
});

// ------------------------------------------------------------------ §8

test('§8.3 conditions, precedence and reasons', () => {
  const c1 = claimBy(K1, { expiresAt: T0 + 1000 });
  const c1b = claimBy(K1, { nonce: 'AAAAAAAAAAAAAAAA' });
  const byK3early = claimBy(K3, { createdAt: T0 - 1000 });
  const byK1late = claimBy(K1, { createdAt: T0 + 200 });
  const byD = claimBy(D);
  const byK2 = claimBy(K2);
  const other = signClaim(K1, { subject: 'github:other', createdAt: T0 });
  const add = (c, subject = c.subject) => ({ signer: K1, op: 'add', body: { claim: c.id, subject } });
  const chain = build([
    { signer: K1, op: 'init' }, // T0
    add(c1), // +60
    { signer: K1, op: 'add_device', body: { device: D.pub.text } }, // +120
    add(byD), // +180
    add(byK1late), // +240
    add(other, 'github:jason'), // +300: binds to another subject
    { signer: K1, op: 'revoke', body: { claim: c1b.id } }, // +360: pending revocation
    add(c1b), // +420
    { signer: K1, op: 'rotate', body: { new_key: K3.pub.text }, newKey: K3 }, // +480
    { signer: K3, op: 'add', body: { claim: byK3early.id, subject: byK3early.subject } }, // +540
  ]);
  const evaluate = (claim, at, opts = {}) => {
    let evidence = null;
    try {
      evidence = { kind: 'verified', chain: verifyChain(opts.jsonl ?? chain.jsonl, at) };
    } catch (e) {
      evidence = { kind: 'failed', error: e };
    }
    const v = evaluateClaim(claim, { at, subject: opts.subject ?? null, chain: opts.noChain ? null : evidence });
    return [v.outcome, v.reason];
  };
  assert.deepEqual(evaluate(c1, T0 + 90), ['valid', null]);
  assert.deepEqual(evaluate(c1, T0 + 30), ['invalid', 'not_bound']); // the add link is after T
  assert.deepEqual(evaluate(c1, T0 + 90, { subject: 'github:other' }), ['invalid', 'wrong_subject']);
  assert.deepEqual(evaluate(c1, T0 + 1000, { noChain: true }), ['expired', null]);
  assert.deepEqual(evaluate(c1, T0 + 1000), ['revoked', null]); // rotated and expired: revoked
  assert.deepEqual(evaluate(c1, T0 - 400, { noChain: true }), ['invalid', 'not_yet_valid']);
  assert.deepEqual(evaluate(c1, T0 - 300, { noChain: true }), ['valid', null]); // SKEW
  assert.deepEqual(evaluate(c1b, T0 + 450), ['revoked', null]); // pending revocation applies
  assert.deepEqual(evaluate(byD, T0 + 200), ['invalid', 'device_key']);
  assert.deepEqual(evaluate(byK2, T0 + 200), ['invalid', 'unknown_key']);
  assert.deepEqual(evaluate(byK3early, T0 + 600), ['invalid', 'key_not_yet_valid']);
  assert.deepEqual(evaluate(byK3early, T0 + 500), ['invalid', 'key_not_yet_valid']); // before not_bound
  assert.deepEqual(evaluate(claimBy(K3, { createdAt: T0 + 180 }), T0 + 500), ['invalid', 'not_bound']); // within SKEW
  assert.deepEqual(evaluate(claimBy(K3, { createdAt: T0 + 100 }), T0 + 400), ['invalid', 'unknown_key']); // K3 primary only after T
  assert.deepEqual(evaluate(byK1late, T0 + 250), ['valid', null]);
  assert.deepEqual(evaluate(byK1late, T0 + 600), ['revoked', null]); // created before the rotation
  const afterRotation = claimBy(K1, { createdAt: T0 + 500 });
  assert.deepEqual(evaluate(afterRotation, T0 + 600), ['invalid', 'key_retired']);
  assert.deepEqual(evaluate(other, T0 + 310), ['invalid', 'wrong_subject']);
  // bad signature comes first
  const tampered = parseClaimJson(c1.jcs.replace(/"sig":"(.)/, (m, c) => `"sig":"${c === '0' ? '1' : '0'}`));
  assert.deepEqual(evaluate(tampered, T0 + 90, { subject: 'github:other' }), ['invalid', 'bad_signature']);
  // chain failures
  assert.deepEqual(evaluate(c1, T0 + 90, { jsonl: chain.jsonl + 'x\n' }), ['invalid', 'bad_chain']);
  const forked = chain.jsonl + signLink({ seq: 9, prev: chain.links[8].hash, signer: K3, op: 'add_device', body: { device: E.pub.text }, createdAt: T0 + 540 }).line + '\n';
  assert.deepEqual(evaluate(c1, T0 + 5000, { jsonl: forked }), ['fork', null]); // fork beats expired
  assert.deepEqual(evaluate(tampered, T0 + 5000, { jsonl: forked }), ['invalid', 'bad_signature']);
  // revocation by subject affects only claims bound before it
  const s1 = claimBy(K1, { nonce: 'BBBBBBBBBBBBBBBB' });
  const s2 = claimBy(K1, { nonce: 'CCCCCCCCCCCCCCCC' });
  const bySubject = build([
    { signer: K1, op: 'init' },
    add(s1),
    { signer: K1, op: 'revoke', body: { subject: 'github:jason' } },
    add(s2),
  ]);
  assert.deepEqual(evaluate(s1, T0 + 500, { jsonl: bySubject.jsonl }), ['revoked', null]);
  assert.deepEqual(evaluate(s2, T0 + 500, { jsonl: bySubject.jsonl }), ['valid', null]);
  assert.deepEqual(evaluate(s1, T0 + 100, { jsonl: bySubject.jsonl }), ['valid', null]);
});
