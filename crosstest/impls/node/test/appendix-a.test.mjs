// Every vector of SPEC.md Appendix A, parsed from SPEC.md at test time, reproduced byte for byte.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2.js';
import { appendixA, hex } from '../support/helpers.mjs';
import { toHex, utf8 } from '../src/bytes.mjs';
import { parseStrict, jcs } from '../src/json.mjs';
import { secretKey, npubEncode, signRaw, verifyRaw, signObjectBytes } from '../src/keys.mjs';
import { normalizeIdentity } from '../src/identity.mjs';
import { parseClaimJson, signClaim, claimSignatureValid, digest } from '../src/claim.mjs';
import { initEncodings, decodeClaims, encodeClaim } from '../src/encoding/index.mjs';
import { readFrame, base64urlDecodeStrict, PREFIX } from '../src/encoding/compact.mjs';
import { parsePresentation } from '../src/encoding/dns.mjs';
import { verifyChain, signLink } from '../src/sigchain.mjs';
import { evaluateClaim } from '../src/verdict.mjs';

const A = appendixA();
const key = (name) => secretKey(A.keys[name].alg, hex(A.keys[name].secret));

before(async () => {
  await initEncodings();
});

test('A.1 keys: public key texts and the npub of K2', () => {
  for (const name of ['K1', 'K2', 'K3']) {
    assert.equal(key(name).pub.text, A.keys[name].public, name);
  }
  assert.equal(npubEncode(key('K2').pub.bytes), A.keys.K2.npub);
  assert.equal(normalizeIdentity(`nostr:${A.keys.K2.npub}`), `nostr:${A.keys.K2.npub}`);
  assert.equal(normalizeIdentity(`nostr:${A.keys.K2.public.slice(7).toUpperCase()}`), `nostr:${A.keys.K2.npub}`);
});

test('A.2 Ed25519 claim: signed bytes, signature, JCS, id', () => {
  const K1 = key('K1');
  const unsigned = parseStrict(A.a2.signedBytes);
  assert.equal(jcs(unsigned), A.a2.signedBytes, 'the signed bytes are a JCS form');
  const sig = signRaw('ed25519', K1.secret, utf8(A.a2.signedBytes));
  assert.equal(toHex(sig), A.a2.signature);
  assert.ok(verifyRaw('ed25519', K1.pub.bytes, utf8(A.a2.signedBytes), sig));
  // the signing procedure of §5.2 gives the same claim
  const claim = signClaim(K1, {
    subject: unsigned.subject,
    createdAt: unsigned.created_at,
    expiresAt: unsigned.expires_at,
    nonce: unsigned.nonce,
  });
  assert.equal(claim.jcs, A.a2.claim);
  assert.equal(claim.id, A.a2.id);
  // and a verifier reads it back
  const read = parseClaimJson(A.a2.claim);
  assert.equal(read.jcs, A.a2.claim);
  assert.equal(read.id, A.a2.id);
  assert.equal(new TextDecoder().decode(read.signedBytes), A.a2.signedBytes);
  assert.ok(claimSignatureValid(read));
  assert.equal(digest(utf8(A.a2.claim)), A.a2.id);
});

function a3Claim() {
  const obj = parseStrict(A.a3.signedBytes);
  obj.sig = A.a3.signature;
  return jcs(obj);
}

test('A.3 BIP-340 claim: message, aux_rand, signature, id', () => {
  const K2 = key('K2');
  assert.equal(jcs(parseStrict(A.a3.signedBytes)), A.a3.signedBytes);
  assert.equal(toHex(sha256(utf8(A.a3.signedBytes))), A.a3.message);
  const sig = signObjectBytes(K2, utf8(A.a3.signedBytes), hex(A.a3.aux));
  assert.equal(toHex(sig), A.a3.signature);
  assert.equal(toHex(signRaw('bip340', K2.secret, hex(A.a3.message), hex(A.a3.aux))), A.a3.signature);
  const unsigned = parseStrict(A.a3.signedBytes);
  const claim = signClaim(K2, {
    subject: unsigned.subject,
    createdAt: unsigned.created_at,
    nonce: unsigned.nonce,
    aux: hex(A.a3.aux),
  });
  assert.equal(claim.jcs, a3Claim());
  assert.equal(claim.id, A.a3.id);
  assert.ok(claimSignatureValid(parseClaimJson(a3Claim())));
});

test('A.4 compact: inflates to the JCS of A.2; declared size; our encoding round-trips', () => {
  const [entry] = decodeClaims(A.a4.compact);
  assert.ok(entry.claim, entry.error?.message);
  assert.equal(entry.claim.jcs, A.a2.claim);
  assert.equal(entry.claim.id, A.a2.id);
  const frame = readFrame(base64urlDecodeStrict(A.a4.compact.slice(PREFIX.length)));
  assert.equal(frame.contentSize, A.a4.declared);
  assert.equal(A.a4.declared, utf8(A.a2.claim).length);
  // Our own compressed bytes may differ (§6.2-9); only the inflated bytes are fixed.
  const ours = encodeClaim(parseClaimJson(A.a2.claim), 'compact');
  assert.ok(ours.startsWith('kez:z1:'));
  assert.equal(readFrame(base64urlDecodeStrict(ours.slice(PREFIX.length))).contentSize, A.a4.declared);
  assert.equal(decodeClaims(ours, 'compact')[0].claim.jcs, A.a2.claim);
});

test('A.5 Markdown encoding of A.2', () => {
  assert.ok(A.a5.usesTildes);
  const expected = A.a5.shown.replaceAll('~~~', '```') + '\n';
  assert.equal(encodeClaim(parseClaimJson(A.a2.claim), 'markdown'), expected);
  // the shown (tilde) form and the written form both decode
  for (const doc of [A.a5.shown, expected]) {
    const entries = decodeClaims(doc);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].line, 1);
    assert.equal(entries[0].claim.jcs, A.a2.claim);
  }
});

test('A.6 DNS TXT zone line of A.3', () => {
  const records = parsePresentation(A.a6.line);
  assert.equal(records.length, 1);
  const entries = decodeClaims(A.a6.line);
  assert.equal(entries.length, 1);
  assert.ok(entries[0].claim, entries[0].error?.message);
  assert.equal(entries[0].claim.jcs, a3Claim());
  // character-string lengths as stated
  const strings = [...A.a6.line.matchAll(/"([^"]*)"/g)].map((m) => m[1].length);
  assert.equal(strings.length, A.a6.count);
  assert.deepEqual(strings, A.a6.lengths);
  // our encoder: same owner, TTL, class and type; strings of 255 then the rest
  const ours = encodeClaim(parseClaimJson(a3Claim()), 'dns');
  assert.match(ours, /^_kez\.example\.com\. 3600 IN TXT "[^"]{255}"( "[^"]{255}")* "[^"]{1,255}"\n$/);
  assert.ok(A.a6.line.startsWith('_kez.example.com. 3600 IN TXT "'));
  assert.equal(decodeClaims(ours)[0].claim.jcs, a3Claim());
});

test('A.7 sigchain: verifies, hashes, and is rebuilt byte for byte', () => {
  const v = verifyChain(A.a7.jsonl);
  assert.equal(v.length, A.a7.links.length);
  v.links.forEach((l, i) => {
    assert.equal(l.seq, A.a7.links[i].seq);
    assert.equal(l.op, A.a7.links[i].op);
    assert.equal(l.hash, A.a7.links[i].hash);
  });
  assert.equal(v.head, A.a7.links.at(-1).hash);
  assert.equal(v.state.root, A.keys.K1.public);
  assert.equal(v.state.primary, A.keys.K3.public);
  // rebuild: init by K1, add A.2, rotate K1 -> K3, revoke A.2 by K3 (Ed25519 is deterministic)
  const lines = A.a7.jsonl.split('\n').slice(0, -1).map((l) => parseStrict(l));
  const claim = parseClaimJson(A.a2.claim);
  const specs = [
    { signer: key('K1'), op: 'init', body: {} },
    { signer: key('K1'), op: 'add', body: { claim: claim.id, subject: claim.subject } },
    { signer: key('K1'), op: 'rotate', body: { new_key: key('K3').pub.text }, newKey: key('K3') },
    { signer: key('K3'), op: 'revoke', body: { claim: claim.id } },
  ];
  let prev = null;
  let out = '';
  specs.forEach((s, seq) => {
    const link = signLink({ ...s, seq, prev, createdAt: lines[seq].created_at });
    out += link.line + '\n';
    prev = link.hash;
  });
  assert.equal(out, A.a7.jsonl);
});

test('A.8 verdicts of A.2 against A.7', () => {
  const claim = parseClaimJson(A.a2.claim);
  assert.ok(A.a8.length >= 3);
  for (const row of A.a8) {
    const chain = { kind: 'verified', chain: verifyChain(A.a7.jsonl, row.at) };
    const v = evaluateClaim(claim, { at: row.at, chain });
    assert.equal(v.outcome, row.outcome, `at ${row.at}`);
    const m = /rotated away at seq (\d+)/.exec(row.why);
    if (m) assert.deepEqual(v.conditions[0], { outcome: 'revoked', by: 'rotated', seq: Number(m[1]), at: v.conditions[0].at });
    if (row.outcome === 'valid') assert.deepEqual(v.conditions, []);
  }
});
