// Upstream conformance vectors (SPEC Appendix B): RFC 8032, the ed25519-dalek sign.input subset,
// Wycheproof and CCTV Ed25519 (§4.3-4), the BIP-340 CSV (§4.4-4), the RFC 8785 cases (§2.2),
// and the NIP-01 events (§4.6).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { VECTORS, readVector, readVectorText, readVectorJson, hex } from '../support/helpers.mjs';
import { toHex, utf8 } from '../src/bytes.mjs';
import { canonicalizeText } from '../src/json.mjs';
import {
  ed25519PublicKey, ed25519Sign, ed25519Verify, bip340PublicKey, bip340Sign, bip340Verify, bip340KeyValid,
} from '../src/keys.mjs';
import { verifyEvent } from '../src/nip01.mjs';
import { KezError } from '../src/errors.mjs';

test('RFC 8032 §7.1: keys, deterministic signatures, verification', () => {
  const { vectors } = readVectorJson('ed25519/rfc8032_section7_1.json');
  assert.equal(vectors.length, 5);
  for (const v of vectors) {
    const seed = hex(v.secret_key);
    const msg = hex(v.message);
    assert.equal(toHex(ed25519PublicKey(seed)), v.public_key, v.name);
    assert.equal(toHex(ed25519Sign(seed, msg)), v.signature, v.name);
    assert.ok(ed25519Verify(hex(v.public_key), msg, hex(v.signature)), v.name);
    const bad = hex(v.signature);
    bad[0] ^= 1;
    assert.ok(!ed25519Verify(hex(v.public_key), msg, bad), v.name);
  }
});

test('ed25519-dalek sign.input subset (128 lines)', () => {
  const lines = readVectorText('ed25519/sign.input.dalek-subset.txt').split('\n').filter((l) => l);
  assert.equal(lines.length, 128);
  for (const [i, line] of lines.entries()) {
    const [skpk, pk, msg, sigmsg] = line.split(':');
    const seed = hex(skpk.slice(0, 64));
    assert.equal(toHex(ed25519PublicKey(seed)), pk, `line ${i + 1}`);
    const sig = sigmsg.slice(0, 128);
    assert.equal(toHex(ed25519Sign(seed, hex(msg))), sig, `line ${i + 1}`);
    assert.ok(ed25519Verify(hex(pk), hex(msg), hex(sig)), `line ${i + 1}`);
  }
});

test('Wycheproof ed25519_test.json: every label (§4.3-4)', () => {
  const w = readVectorJson('wycheproof/ed25519_test.json');
  let valid = 0;
  let invalid = 0;
  for (const g of w.testGroups) {
    const pk = hex(g.publicKey.pk);
    for (const t of g.tests) {
      const got = pk.length === 32 && ed25519Verify(pk, hex(t.msg), hex(t.sig));
      assert.ok(t.result === 'valid' || t.result === 'invalid', `tcId ${t.tcId}: ${t.result}`);
      assert.equal(got, t.result === 'valid', `tcId ${t.tcId} (${t.comment}; ${t.flags})`);
      if (got) valid++;
      else invalid++;
    }
  }
  assert.equal(valid + invalid, 151);
  assert.equal(valid, 88);
  assert.equal(invalid, 63);
});

test('CCTV ed25519vectors.json: accept exactly the vectors without the four rejecting flags (§4.3-4)', () => {
  const vectors = readVectorJson('cctv-ed25519/ed25519vectors.json');
  assert.equal(vectors.length, 914);
  const rejecting = new Set(['low_order_A', 'low_order_R', 'non_canonical_A', 'non_canonical_R']);
  let accepted = 0;
  let rejected = 0;
  for (const v of vectors) {
    const flags = v.flags ?? [];
    const expect = !flags.some((f) => rejecting.has(f));
    const got = ed25519Verify(hex(v.key), utf8(v.msg), hex(v.sig));
    assert.equal(got, expect, `vector ${v.number} flags ${flags.join(',')}`);
    if (got) accepted++;
    else rejected++;
  }
  assert.equal(accepted, 106);
  assert.equal(rejected, 808);
});

test('BIP-340 test-vectors.csv: all 19 rows, variable-length messages (§4.4-4)', () => {
  const rows = readVectorText('bip340/test-vectors.csv').trim().split('\n').slice(1).map((l) => l.split(','));
  assert.equal(rows.length, 19);
  let varLen = 0;
  for (const [index, sk, pk, aux, msg, sig, result, comment] of rows) {
    const label = `row ${index} ${comment ?? ''}`;
    const m = hex(msg.toLowerCase());
    if (m.length !== 32) varLen++;
    if (sk) {
      const secret = hex(sk.toLowerCase());
      assert.equal(toHex(bip340PublicKey(secret)), pk.toLowerCase(), label);
      assert.equal(toHex(bip340Sign(secret, m, hex(aux.toLowerCase()))), sig.toLowerCase(), label);
    }
    const pub = hex(pk.toLowerCase());
    assert.equal(bip340Verify(pub, m, hex(sig.toLowerCase())), result === 'TRUE', label);
    if (/public key not on the curve|exceeds field size/.test(comment ?? '')) assert.ok(!bip340KeyValid(pub), label);
  }
  assert.ok(varLen >= 4, 'the CSV has rows with messages that are not 32 bytes');
});

test('RFC 8785 cases (cyberphone testdata): input canonicalises to output, byte for byte', () => {
  const dir = join(VECTORS, 'jcs', 'input');
  const names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  assert.equal(names.length, 6);
  for (const name of names) {
    const input = readVector(join('jcs', 'input', name));
    const expected = readVectorText(join('jcs', 'output', name));
    const outhex = readVectorText(join('jcs', 'outhex', name.replace('.json', '.txt'))).replace(/\s+/g, '');
    const got = canonicalizeText(new Uint8Array(input));
    assert.equal(got, expected, name);
    assert.equal(toHex(utf8(got)), outhex.toLowerCase(), name);
  }
});

test('NIP-01 events: valid ones verify with the kept preimage; negative ones fail (§4.6)', () => {
  const valid = readVectorJson('nostr/nip01_events_valid.json').cases;
  assert.ok(valid.length > 0);
  for (const c of valid) {
    const ev = verifyEvent(JSON.stringify(c.event));
    assert.equal(ev.preimage, c.nip01_serialization, c.case);
  }
  const negative = readVectorJson('nostr/nip01_events_negative.json').cases;
  assert.equal(negative.length, 16);
  for (const c of negative) {
    let err = null;
    try {
      verifyEvent(JSON.stringify(c.event));
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof KezError, c.case);
    // a stated id that does not match the body is caught before the signature is looked at
    assert.equal(err.kind, c.observed.id_matches ? 'bad_signature' : 'malformed', `${c.case}: ${err.message}`);
  }
});
