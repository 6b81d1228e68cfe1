// SPEC §2 (strict I-JSON, JCS) and §3 (identities): the examples of the SPEC text and negative
// cases for the strict parser.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { specText } from '../support/helpers.mjs';
import { parseStrict, canonicalizeText, jcs } from '../src/json.mjs';
import { KezError } from '../src/errors.mjs';
import { bech32, bech32m } from '@scure/base';
import { normalizeIdentity } from '../src/identity.mjs';
import { initUts39, isSingleScript, skeleton } from '../src/uts39.mjs';

before(async () => {
  await initUts39();
});

const rejects = (fn, kind = 'malformed') =>
  assert.throws(fn, (e) => e instanceof KezError && e.kind === kind);

test('§2.1 strict input: each violation is rejected', () => {
  const bad = [
    '\uFEFF{}', // BOM (§2.1-1)
    '{} {}', // second value (§2.1-2)
    '{}x',
    '{} // c',
    '{}\u0000',
    '{"a":1,"a":2}', // duplicate (§2.1-3)
    '{"a":{"b":1,"b":1}}',
    '[{"x":1,"\\u0078":2}]', // duplicate after unescaping
    '"\\ud800"', // lone high surrogate (§2.1-4)
    '"\\udc00"', // lone low surrogate
    '"\\ud800\\u0041"',
    '"\\ud800x"',
    '1e400', // overflow (§2.1-5)
    '-1e400',
    '[' .repeat(65) + ']'.repeat(65), // depth 65 (§2.1-6)
    '{"a":'.repeat(65) + '1' + '}'.repeat(65),
    '', ' ', '01', '+1', '.5', '1.', '1e', '-', 'NaN', 'Infinity', 'tru', 'nul',
    '"a\u0001"', // unescaped control character
    '"\\x"', '"\\u12"', '"\\U0041"', "'a'", '{a:1}', '{"a":1,}', '[1,]', '[1 2]', '"abc',
    '\u00a0{}', // only SP, HTAB, LF, CR are JSON whitespace
  ];
  for (const b of bad) rejects(() => parseStrict(b), 'malformed');
  rejects(() => parseStrict(Uint8Array.of(0x22, 0xff, 0x22))); // not UTF-8
  rejects(() => parseStrict(Uint8Array.of(0xef, 0xbb, 0xbf, 0x7b, 0x7d))); // BOM as bytes
  rejects(() => parseStrict('"\ud800"')); // a lone surrogate in the text itself
});

test('§2.1 accepted inputs and their JCS forms (§2.2)', () => {
  const ok = [
    ['[' .repeat(64) + ']'.repeat(64), '[' .repeat(64) + ']'.repeat(64)],
    [' \t\r\n{"b": 1, "a": 2.0}\n', '{"a":2,"b":1}'],
    ['9007199254740993', '9007199254740992'],
    ['1e2', '100'],
    ['1767225600.0', '1767225600'],
    ['1.7672256e9', '1767225600'],
    ['-0', '0'],
    ['1e21', '1e+21'],
    ['1e-7', '1e-7'],
    ['0.000001', '0.000001'],
    ['"\\uffff"', '"\uffff"'], // noncharacters are accepted
    ['"\\u001f\\u007f\\/\\u2028"', '"\\u001f\u007f/\u2028"'],
    ['"\\b\\t\\n\\f\\r\\"\\\\"', '"\\b\\t\\n\\f\\r\\"\\\\"'],
    ['{"__proto__":1,"toJSON":2,"constructor":3}', '{"__proto__":1,"constructor":3,"toJSON":2}'],
    ['"\\uD83D\\uDE00"', '"😀"'],
  ];
  for (const [input, out] of ok) assert.equal(canonicalizeText(input), out, input);
  // the §2.2 example: UTF-16 code-unit order
  assert.equal(
    canonicalizeText('{"\\u00e9":1,"e":2,"\\ud83d\\ude00":3,"\\uff41":4}'),
    '{"e":2,"é":1,"😀":3,"ａ":4}',
  );
  // the example quoted in §2.2 is in SPEC.md
  assert.ok(specText().includes('`{"e":2,"é":1,"😀":3,"ａ":4}`'));
  // objects parse with a null prototype; "__proto__" is an ordinary member
  const v = parseStrict('{"__proto__":{"x":1}}');
  assert.equal(Object.getPrototypeOf(v), null);
  assert.equal(jcs(v), '{"__proto__":{"x":1}}');
});

/** The examples table of SPEC §3.4, parsed from SPEC.md. */
function identityExamples() {
  const spec = specText();
  const start = spec.indexOf('| input | result |');
  const table = spec.slice(start, spec.indexOf('\n\n', start)).split('\n').slice(2);
  const rows = [];
  for (const line of table) {
    const cells = line.split(' | ');
    const inputCell = cells[0].replace(/^\| /, '');
    const resultCell = cells.slice(1).join(' | ').replace(/ \|$/, '');
    const inputs = [...inputCell.matchAll(/`([^`]+)`/g)]
      .map((m) => m[1])
      .filter((s) => s.includes(':'))
      .map((s) => s.replace(/<U\+([0-9A-F]+)>/g, (_, h) => String.fromCodePoint(parseInt(h, 16))));
    const arrow = /→ `([^`]+)`/.exec(resultCell);
    rows.push({ inputs, expect: arrow ? arrow[1] : null, note: resultCell });
  }
  return rows;
}

test('§3.4 examples table: every row', () => {
  const rows = identityExamples();
  assert.ok(rows.length >= 28, `parsed ${rows.length} rows`);
  let n = 0;
  for (const { inputs, expect, note } of rows) {
    for (const input of inputs) {
      n++;
      if (expect !== null) assert.equal(normalizeIdentity(input), expect, `${input} (${note})`);
      else rejects(() => normalizeIdentity(input), 'malformed');
    }
  }
  assert.ok(n >= 32, `checked ${n} inputs`);
  // the 40-character login of the table
  rejects(() => normalizeIdentity('github:' + 'a'.repeat(40)));
  assert.equal(normalizeIdentity('github:' + 'A'.repeat(39)), 'github:' + 'a'.repeat(39));
});

test('§3 further identity rules', () => {
  const ok = {
    'GITHUB:@a-b': 'github:a-b',
    'dns:EXAMPLE。com': 'dns:example.com',
    'dns:ex\u00ADample.com': 'dns:example.com',
    'dns:ⓔxample.com': 'dns:example.com',
    'bluesky:alice.bsky.social.': 'bluesky:alice.bsky.social',
    'ap:@_a.b-c_@Example.COM': 'ap:_a.b-c_@example.com',
    'Mastodon:alice@example.social': 'ap:alice@example.social',
    'x-y:Z': 'x-y:Z',
    [`${'a'.repeat(32)}:x`]: `${'a'.repeat(32)}:x`,
  };
  for (const [input, out] of Object.entries(ok)) assert.equal(normalizeIdentity(input), out, input);
  const bad = [
    'dns:', 'dns:.', 'dns:example.com..', 'dns:.example.com', 'dns:-a.com', 'dns:a-.com', 'dns:a..com',
    'dns:xn--.com', 'dns:xn--abc.com', 'dns:' + 'a'.repeat(64) + '.com', 'dns:com', 'dns:example.123',
    'dns:exa mple.com', 'dns:example.com\u200b', 'github:', 'github:@', 'github:a_b', 'github:@@a',
    'bluesky:alice', 'bluesky:alice.bsky.social\u00e9', 'ap:@alice', 'ap:.alice@example.com',
    'ap:alice.@example.com', 'ap:alice@', 'ap:' + 'a'.repeat(65) + '@example.com', 'nostr:npub1',
    'nostr:' + 'f'.repeat(64), 'nostr:NPUB10XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQPKGE6D',
    `${'a'.repeat(33)}:x`, 'a b:x', 'é:x', ':x', 'x:', 'x:a\u00a0b', 'x:a\u202eb', 'x:a\u2060b', 'x:a\ufeffb',
    'K\u212a:x', // Kelvin sign is not ASCII: ASCII-only lowercasing
    'x:' + 'a'.repeat(319),
  ];
  for (const b of bad) rejects(() => normalizeIdentity(b), 'malformed');
  // a wrong checksum
  rejects(() => normalizeIdentity('nostr:npub10xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqpkge6e'));
});

test('§3.2-2 npub: Bech32 only, 32 bytes, zero padding, lowercase', () => {
  const G = '79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798';
  const bytes = Uint8Array.from(G.match(/../g), (h) => parseInt(h, 16));
  const words = bech32.toWords(bytes);
  const good = bech32.encode('npub', words, 90);
  assert.equal(normalizeIdentity(`nostr:${good}`), `nostr:${good}`);
  assert.equal(normalizeIdentity(`nostr:${G.toUpperCase()}`), `nostr:${good}`);
  rejects(() => normalizeIdentity(`nostr:${bech32m.encode('npub', words, 90)}`)); // Bech32m checksum
  rejects(() => normalizeIdentity(`nostr:${good.toUpperCase()}`)); // must be lowercase
  rejects(() => normalizeIdentity(`nostr:${bech32.encode('nsec', words, 90)}`)); // another hrp
  rejects(() => normalizeIdentity(`nostr:${bech32.encode('npub', bech32.toWords(bytes.slice(0, 31)), 90)}`));
  rejects(() => normalizeIdentity(`nostr:${bech32.encode('npub', bech32.toWords(Uint8Array.of(...bytes, 0)), 90)}`));
  const padded = words.slice();
  padded[padded.length - 1] |= 1; // non-zero padding bits, valid checksum
  rejects(() => normalizeIdentity(`nostr:${bech32.encode('npub', padded, 90)}`));
  // a 32-byte string that is not an x coordinate on secp256k1
  const offCurve = new Uint8Array(32).fill(0xff);
  rejects(() => normalizeIdentity(`nostr:${bech32.encode('npub', bech32.toWords(offCurve), 90)}`));
});

test('§3.4 UTS #39 helpers', () => {
  assert.ok(isSingleScript('bücher'));
  assert.ok(isSingleScript('例子'));
  assert.ok(isSingleScript('ひらがなカタカナ漢字')); // Japanese: Hira + Kana + Hani
  assert.ok(isSingleScript('한국어漢字')); // Korean: Hang + Hani
  assert.ok(isSingleScript('123-'));
  assert.ok(!isSingleScript('раураl'));
  assert.ok(!isSingleScript('аpple'));
  assert.match(skeleton('аррӏе'), /^[a-z]+$/); // pure ASCII: a whole-script confusable
  assert.notEqual(skeleton('bücher'), 'bucher');
});
