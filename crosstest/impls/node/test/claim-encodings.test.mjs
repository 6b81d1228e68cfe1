// SPEC §5 (claims) and §6 (encodings): rules and negative cases of the strict decoders.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { appendixA, hex } from '../support/helpers.mjs';
import { utf8, toHex, concat } from '../src/bytes.mjs';
import { parseStrict, jcs } from '../src/json.mjs';
import { KezError } from '../src/errors.mjs';
import { secretKey, signObjectBytes } from '../src/keys.mjs';
import { parseClaimJson, readClaim, signClaim } from '../src/claim.mjs';
import { initEncodings, decodeClaims, encodeClaim } from '../src/encoding/index.mjs';
import { decodeCompact, base64urlDecodeStrict, base64urlEncode, readFrame } from '../src/encoding/compact.mjs';
import { claimBlocks } from '../src/encoding/markdown.mjs';
import { parsePresentation } from '../src/encoding/dns.mjs';

const A = appendixA();
const K1 = secretKey('ed25519', hex(A.keys.K1.secret));

before(async () => {
  await initEncodings();
});

const rejects = (fn, kind = 'malformed', re) =>
  assert.throws(fn, (e) => e instanceof KezError && e.kind === kind && (!re || re.test(e.message)));

/** Sign any object with K1 (no checks), returning its JCS text. */
function signAny(obj, key = K1) {
  const o = parseStrict(JSON.stringify(obj));
  delete o.sig;
  o.sig = toHex(signObjectBytes(key, utf8(jcs(o))));
  return jcs(o);
}

const base = () => {
  const o = JSON.parse(A.a2.signedBytes);
  return o;
};

// ---------------------------------------------------------------- §5

test('§5.1 claim rules and the unsupported/malformed order (§1.3-1, §5.1-2)', () => {
  assert.equal(parseClaimJson(A.a2.claim).jcs, A.a2.claim);
  // any layout (§6.1-1)
  const pretty = JSON.stringify(JSON.parse(A.a2.claim), null, 2).replace('1767225600', '1.7672256e9');
  assert.equal(parseClaimJson(pretty).id, A.a2.id);
  // version first
  rejects(() => parseClaimJson(signAny({ ...base(), kez: '0.3' })), 'unsupported');
  rejects(() => parseClaimJson(JSON.stringify({ kez: '0.3', type: 7 })), 'unsupported');
  rejects(() => parseClaimJson('{"kez":"1.0"}'), 'unsupported');
  rejects(() => parseClaimJson('{"type":"claim"}'), 'malformed');
  rejects(() => parseClaimJson('{"kez":0.2}'), 'malformed');
  rejects(() => parseClaimJson('{"kez":"0.3","kez":"0.3"}'), 'malformed'); // strict JSON comes first
  rejects(() => parseClaimJson('["kez"]'), 'malformed');
  const bad = [
    { type: 'link' },
    { subject: 'github:Jason' }, // not canonical (§3.1-5)
    { subject: 'github:jаson' },
    { key: A.keys.K1.public.toUpperCase() },
    { key: 'ed25519:' + '00'.repeat(32) }, // small order (§4.1-2)
    { key: 'ed25519:' + 'ff'.repeat(32) }, // y >= p
    { key: 'bip340:' + 'ff'.repeat(32) },
    { key: A.keys.K2.npub },
    { created_at: -1 },
    { created_at: 1.5 },
    { created_at: 9007199254740992 },
    { created_at: '1767225600' },
    { created_at: null },
    { expires_at: null },
    { expires_at: 1767225600 }, // not greater than created_at
    { expires_at: 1 },
    { nonce: 'short' },
    { nonce: 'a'.repeat(65) },
    { nonce: 'S0VaLXNwZWMtdmVjdG9yLTE=' },
    { nonce: null },
    { chain: 'http://example.com/chain' },
    { chain: 'https://example.com/' + 'a'.repeat(500) },
    { chain: 1 },
    { big: 'x'.repeat(4000) }, // JCS over 4096 bytes (§5.4-1)
  ];
  for (const patch of bad) rejects(() => parseClaimJson(signAny({ ...base(), ...patch })), 'malformed');
  for (const name of ['type', 'subject', 'key', 'created_at']) {
    const o = base();
    delete o[name];
    rejects(() => parseClaimJson(signAny(o)), 'malformed');
  }
  rejects(() => parseClaimJson(JSON.stringify(base())), 'malformed'); // no sig
  const upper = JSON.parse(A.a2.claim);
  upper.sig = upper.sig.toUpperCase();
  rejects(() => parseClaimJson(JSON.stringify(upper)), 'malformed');
  upper.sig = upper.sig.slice(0, 126).toLowerCase();
  rejects(() => parseClaimJson(JSON.stringify(upper)), 'malformed');
  // a chain of exactly 512 bytes is fine
  const chain = 'https://example.com/' + 'a'.repeat(512 - 20);
  assert.equal(parseClaimJson(signAny({ ...base(), chain })).value.chain, chain);
});

test('§5.3 unknown members are accepted, signed and part of the id', () => {
  const c = readClaim(parseStrict(signAny({ ...base(), zeta: [1, { b: null }], alpha: 'x' })));
  assert.deepEqual(c.unknown, ['alpha', 'zeta']);
  assert.notEqual(c.id, A.a2.id);
  const made = signClaim(K1, { subject: 'github:jason', createdAt: 1, extra: parseStrict('{"toJSON":"x","__proto__":1}') });
  assert.deepEqual(made.unknown, ['__proto__', 'toJSON']);
  assert.ok(made.jcs.includes('"__proto__":1'));
});

// ---------------------------------------------------------------- §6.2 compact

/** A zstd frame holding `content` in raw blocks, built by hand (RFC 8878). */
function rawFrame(content, { fcs = content.length, fhd, did, checksum, extraHeader } = {}) {
  const parts = [Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd)];
  let h;
  if (fhd !== undefined) {
    h = [fhd, ...(extraHeader ?? [])];
  } else if (fcs < 256) {
    h = [0x20 | (did ? 1 : 0) | (checksum ? 4 : 0), ...(did ? [did] : []), fcs];
  } else {
    const v = fcs - 256;
    h = [0x60 | (did ? 1 : 0) | (checksum ? 4 : 0), ...(did ? [did] : []), v & 0xff, v >> 8];
  }
  parts.push(Uint8Array.from(h));
  const size = content.length;
  parts.push(Uint8Array.of(((size << 3) | 1) & 0xff, (size >> 5) & 0xff, (size >> 13) & 0xff), content);
  if (checksum) parts.push(Uint8Array.of(1, 2, 3, 4));
  return concat(...parts);
}
const compactOf = (bytes) => 'kez:z1:' + base64urlEncode(bytes);

test('§6.2 compact: hand-made frames decode; every violation is rejected', () => {
  const jcsBytes = utf8(A.a2.claim);
  // a raw-block frame is a valid encoding too
  assert.equal(decodeCompact(compactOf(rawFrame(jcsBytes))).id, A.a2.id);
  // step 1: length first, before the version
  rejects(() => decodeCompact('kez:z2:' + 'A'.repeat(8200)), 'malformed', /8192/);
  rejects(() => decodeCompact('kez:z1:' + 'A'.repeat(8200)), 'malformed', /8192/);
  // step 2: version
  rejects(() => decodeCompact('kez:z2:abcd'), 'unsupported');
  rejects(() => decodeCompact('kez:'), 'unsupported');
  rejects(() => decodeCompact('kez:Z1:abcd'), 'unsupported');
  rejects(() => decodeCompact('KEZ:z1:abcd'), 'malformed');
  // step 3: strict base64url
  const good = compactOf(rawFrame(jcsBytes));
  for (const t of [good + '=', good.slice(0, 20) + ' ' + good.slice(20), good + 'A', 'kez:z1:', good.replace('-', '+')]) {
    if (t === good) continue;
    rejects(() => decodeCompact(t), 'malformed');
  }
  assert.equal(base64urlDecodeStrict('QR'), null); // non-zero unused bits
  assert.equal(base64urlDecodeStrict('QUJ'), null);
  assert.equal(base64urlDecodeStrict('Q'), null); // length 1 mod 4
  assert.equal(base64urlDecodeStrict('QQ=='), null);
  assert.deepEqual([...base64urlDecodeStrict('QUI')], [65, 66]);
  // step 4: no Frame_Content_Size; declared size over 4096 rejected before inflating
  rejects(() => decodeCompact(compactOf(rawFrame(jcsBytes, { fhd: 0x00, extraHeader: [0x58] }))), 'malformed', /content size/);
  const bomb = concat(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0xa0), Uint8Array.of(0x00, 0x00, 0x00, 0x40)); // 1 GiB, no blocks
  rejects(() => decodeCompact(compactOf(bomb)), 'malformed', /declares/);
  rejects(() => decodeCompact(compactOf(rawFrame(new Uint8Array(4097)))), 'malformed', /declares/);
  // step 5: exactly one frame
  rejects(() => decodeCompact(compactOf(concat(rawFrame(jcsBytes), Uint8Array.of(0)))), 'malformed', /after the zstd frame/);
  rejects(() => decodeCompact(compactOf(concat(rawFrame(jcsBytes), rawFrame(jcsBytes)))), 'malformed');
  const skippable = concat(Uint8Array.of(0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0), Uint8Array.of(1, 2, 3, 4));
  rejects(() => decodeCompact(compactOf(skippable)), 'malformed');
  rejects(() => decodeCompact(compactOf(rawFrame(jcsBytes).slice(0, -1))), 'malformed');
  // step 6: dictionary, checksum, size mismatch
  rejects(() => decodeCompact(compactOf(rawFrame(jcsBytes, { did: 7 }))), 'malformed');
  rejects(() => decodeCompact(compactOf(rawFrame(jcsBytes, { checksum: true }))), 'malformed');
  rejects(() => decodeCompact(compactOf(rawFrame(jcsBytes, { fcs: jcsBytes.length + 1 }))), 'malformed');
  // step 7: the inflated bytes must be the JCS form; version errors as in §5
  const spaced = utf8(JSON.stringify(JSON.parse(A.a2.claim), null, 1));
  rejects(() => decodeCompact(compactOf(rawFrame(spaced))), 'malformed', /JCS/);
  const v03 = utf8(signAny({ ...base(), kez: '0.3' }));
  rejects(() => decodeCompact(compactOf(rawFrame(v03))), 'unsupported');
  rejects(() => decodeCompact(compactOf(rawFrame(new Uint8Array(0)))), 'malformed');
  rejects(() => decodeCompact(compactOf(rawFrame(Uint8Array.of(0xff, 0xfe)))), 'malformed');
});

test('§6.2-8 our encoder: one frame, content size declared, no dictionary', () => {
  const text = encodeClaim(parseClaimJson(A.a2.claim), 'compact');
  const frame = readFrame(base64urlDecodeStrict(text.slice(7)));
  assert.equal(frame.contentSize, utf8(A.a2.claim).length);
  assert.equal(frame.dictionaryId, 0);
});

// ---------------------------------------------------------------- §6.3 Markdown

test('§6.3 Markdown claim blocks', () => {
  const c = A.a2.claim;
  const isBlock = (open) => claimBlocks(`${open}\n${c}\n${open.replace(/[^`~].*$/, '').trim()}\n`).length === 1;
  assert.ok(isBlock('```kez'));
  assert.ok(isBlock('~~~~ kez extra words'));
  assert.ok(isBlock('````kez'));
  assert.ok(isBlock('``` kez'));
  assert.ok(isBlock('```k&#101;z')); // entity processing
  assert.ok(isBlock('```\\kez') === false); // backslash before k is literal (k is not punctuation)
  for (const open of ['```kezz', '```KEZ', '```kez{.x}', '```', '``` x kez']) assert.ok(!isBlock(open), open);

  const doc = [
    '# Proofs', // 1
    '', // 2
    '> ```kez', // 3: in a block quote
    `> ${c}`,
    '> ```',
    '',
    '- item', // 7
    '',
    '  ~~~kez', // 9: in a list item
    `  ${c}`,
    '  ~~~',
    '',
    'A paragraph ends the list.', // 13
    '',
    '    ```kez', // 15: indented code block: not a fence
    `    ${c}`,
    '    ```',
    '',
    '````md', // 19: a fence inside another code block is not one
    '```kez',
    c,
    '```',
    '````',
    '',
    '```kez', // 25: a failing block does not affect the others
    '{"kez":"0.2"}',
    '```',
    '',
    '```kez', // 29: compact in a block, never closed: runs to the end
    '',
    '   ' + encodeClaim(parseClaimJson(c), 'compact') + '  ',
  ].join('\n');
  const entries = decodeClaims(doc);
  assert.deepEqual(entries.map((e) => e.line), [3, 9, 25, 29]);
  assert.equal(entries[0].claim.id, A.a2.id);
  assert.equal(entries[1].claim.id, A.a2.id);
  assert.equal(entries[2].error.kind, 'malformed');
  assert.equal(entries[3].claim.id, A.a2.id);
  // no claim block: malformed (§6.3-4)
  const none = decodeClaims('# nothing here\n\n```json\n{}\n```\n', 'markdown');
  assert.equal(none.length, 1);
  assert.equal(none[0].line, 1);
  assert.equal(none[0].error.kind, 'malformed');
  // a fence inside an HTML block is not a fence
  assert.equal(claimBlocks(`<div>\n\`\`\`kez\n${c}\n\`\`\`\n</div>\n`).length, 0);
  // CRLF documents
  assert.equal(decodeClaims(`\`\`\`kez\r\n${c}\r\n\`\`\`\r\n`)[0].claim.id, A.a2.id);
});

// ---------------------------------------------------------------- §6.4 DNS

test('§6.4 DNS presentation form', () => {
  const compact = encodeClaim(parseClaimJson(A.a2.claim), 'compact');
  const split = (s) => [s.slice(0, 255), s.slice(255)].filter((x) => x);
  const quoted = split(compact).map((x) => `"${x}"`).join(' ');
  const docs = [
    `_kez.example.com. 3600 IN TXT ${quoted}`,
    quoted,
    `  ${quoted}  ; comment`,
    `_kez IN txt ${quoted}\r`,
    `_kez TXT${quoted}`,
    `TXT ${split(compact).join(' ')}`, // bare strings
    `"${compact.slice(0, 4)}""${compact.slice(4, 200)}"${compact.slice(200, 255)} ${compact.slice(255)}`,
    `"\\107ez:${compact.slice(4, 200)}" "${compact.slice(200)}"`, // \DDD escape
  ];
  for (const d of docs) {
    const entries = decodeClaims(`; zone\n\n${d}\n`);
    assert.equal(entries.length, 1, d);
    assert.ok(entries[0].claim, `${d}: ${entries[0].error?.message}`);
    assert.equal(entries[0].line, 3);
    assert.equal(entries[0].claim.id, A.a2.id);
  }
  // several records: each on its own; other records ignored
  const multi = [`"v=spf1 -all"`, `_kez TXT "kez:z1:AAAA"`, `_kez TXT ${quoted}`].join('\n');
  const entries = decodeClaims(multi, 'dns');
  assert.deepEqual(entries.map((e) => [e.line, e.claim ? 'ok' : e.error.kind]), [[2, 'malformed'], [3, 'ok']]);
  // escapes: \" \\ and \DDD make bytes; a value that is not UTF-8 is malformed
  assert.deepEqual([...parsePresentation('"a\\"b\\\\c\\255"')[0].value], [0x61, 0x22, 0x62, 0x5c, 0x63, 0xff]);
  assert.equal(decodeClaims('"kez:\\255"', 'dns')[0].error.kind, 'malformed');
  // whole-input errors
  const bad = [
    `"${'a'.repeat(256)}"`, // char-string over 255 bytes
    '"kez:abc', // unterminated
    '"kez:\\12"', // one or two digits only
    '"kez:\\1"',
    '"kez:\\256"',
    '_kez TXT kez:\\',
    '$ORIGIN example.com.',
    '$TTL 3600',
    '_kez IN A 192.0.2.1',
    '_kez IN TXT',
    '_kez IN TXT ; nothing',
    'kez:z1:abc',
  ];
  for (const b of bad) {
    const e = decodeClaims(`${quoted}\n${b}\n`, 'dns');
    assert.equal(e.length, 1, b);
    assert.equal(e[0].error?.kind, 'malformed', b);
  }
  // a parenthesised record is not a KEZ record; no KEZ record at all: malformed
  assert.equal(decodeClaims(`_kez IN TXT ( ${quoted} )`, 'dns')[0].error.kind, 'malformed');
  assert.equal(decodeClaims('"v=spf1"\n', 'dns')[0].error.kind, 'malformed');
  // the value is not trimmed
  assert.equal(decodeClaims(`" ${compact}"`, 'dns')[0].error.kind, 'malformed');
});

// ---------------------------------------------------------------- §6.5 detection

test('§6.5 detection', () => {
  const c = A.a2.claim;
  const compact = encodeClaim(parseClaimJson(c), 'compact');
  const cases = [
    [`\n  ${c}\n`, 'ok'],
    [`\u00a0${c}`, 'malformed'], // detected as JSON; U+00A0 is not JSON whitespace
    [`\n ${compact} \n`, 'ok'],
    [`\u3000${compact}\u2003`, 'ok'],
    ['```kez\n' + c + '\n```\n', 'ok'],
    [`_kez.example.com. 3600 IN TXT "${compact.slice(0, 255)}" "${compact.slice(255)}"\n`, 'ok'],
    [`_kez.example.com. 3600 IN TXT "${compact}"\n`, 'malformed'], // a character-string over 255 bytes
    ['hello world', 'malformed'],
    ['', 'malformed'],
    ['\uFEFF' + c, 'malformed'],
    [A.a4.compact, 'ok'],
  ];
  for (const [input, want] of cases) {
    const entries = decodeClaims(input);
    assert.equal(entries.length, 1, JSON.stringify(input).slice(0, 40));
    assert.equal(entries[0].claim ? 'ok' : entries[0].error.kind, want, JSON.stringify(input).slice(0, 60));
  }
  assert.equal(decodeClaims('kez:z9:abc')[0].error.kind, 'unsupported');
  assert.equal(decodeClaims('\ud800')[0].error.kind, 'malformed');
  assert.equal(decodeClaims(Uint8Array.of(0xff))[0].error.kind, 'malformed');
});
