// SPEC §6.4: claims in DNS TXT records, exchanged in the zone-file presentation form
// (RFC 1035 §5.1, the subset that §6.4 defines).

import { malformed } from '../errors.mjs';
import { utf8, concat } from '../bytes.mjs';
import { asciiLower } from '../identity.mjs';

const WS_RE = /\p{White_Space}/u;
const ALL_WS_RE = /^\p{White_Space}*$/u;
const SP = new Set([' ', '\t', '\n', '\f', '\r']); // ASCII whitespace (`sp`)
const MAX_CHAR_STRING = 255;
const KEZ_BYTES = utf8('kez:');

/** @param {string} line @param {number} lineNo @param {string} what */
const lineError = (lineNo, what) => malformed(`DNS presentation form, line ${lineNo}: ${what}`);

/** Leading Unicode White_Space length of `s` from `pos`. */
function skipWs(s, pos) {
  while (pos < s.length) {
    const cp = s.codePointAt(pos);
    const ch = String.fromCodePoint(cp);
    if (!WS_RE.test(ch)) break;
    pos += ch.length;
  }
  return pos;
}

/** Is the rest of `s` from `pos` only White_Space? */
const restIsWs = (s, pos) => ALL_WS_RE.test(s.slice(pos));

/**
 * Read an escape at s[pos] === "\\" into `out` (array of byte arrays). Returns the new position.
 */
function readEscape(s, pos, out, lineNo) {
  pos++; // the backslash
  if (pos >= s.length) throw lineError(lineNo, '"\\" at the end of the line');
  if (s[pos] >= '0' && s[pos] <= '9') {
    const d = s.slice(pos, pos + 3);
    if (!/^[0-9]{3}$/.test(d)) throw lineError(lineNo, '"\\" followed by fewer than three digits');
    const v = parseInt(d, 10);
    if (v > 255) throw lineError(lineNo, `\\${d} is above 255`);
    out.push(Uint8Array.of(v));
    return pos + 3;
  }
  const ch = String.fromCodePoint(s.codePointAt(pos));
  out.push(utf8(ch));
  return pos + ch.length;
}

/**
 * Parse `rdata` (or `DQUOTE-started-rdata`) from s[pos]. Returns the concatenated value bytes.
 */
function parseRdata(s, pos, lineNo) {
  /** @type {Uint8Array[]} */
  const strings = [];
  for (;;) {
    while (pos < s.length && SP.has(s[pos])) pos++;
    if (pos >= s.length || restIsWs(s, pos)) break;
    const c = s[pos];
    if (c === ';') {
      if (strings.length === 0) throw lineError(lineNo, 'no character-string before the comment');
      break; // comment to the end of the line
    }
    /** @type {Uint8Array[]} */
    const parts = [];
    if (c === '"') {
      pos++;
      for (;;) {
        if (pos >= s.length) throw lineError(lineNo, 'unterminated quoted string');
        const q = s[pos];
        if (q === '"') {
          pos++;
          break;
        }
        if (q === '\\') {
          pos = readEscape(s, pos, parts, lineNo);
          continue;
        }
        const ch = String.fromCodePoint(s.codePointAt(pos));
        parts.push(utf8(ch));
        pos += ch.length;
      }
    } else {
      // bare: bfirst excludes sp, DQUOTE, ";" (checked above) and "\" (an escape is allowed)
      while (pos < s.length) {
        const b = s[pos];
        if (SP.has(b)) break;
        if (b === '\\') {
          pos = readEscape(s, pos, parts, lineNo);
          continue;
        }
        const ch = String.fromCodePoint(s.codePointAt(pos));
        if (WS_RE.test(ch) && restIsWs(s, pos)) break; // trailing *ws of the line
        parts.push(utf8(ch));
        pos += ch.length;
      }
    }
    const str = concat(...parts);
    if (str.length > MAX_CHAR_STRING) throw lineError(lineNo, `a character-string is longer than ${MAX_CHAR_STRING} bytes`);
    strings.push(str);
  }
  if (strings.length === 0) throw lineError(lineNo, 'no character-string');
  return concat(...strings);
}

/**
 * Classify a line. Returns {kind: 'blank'|'comment'|'rdata'|'rr'|'other', start} where `start`
 * is the position of the rdata for 'rdata' and 'rr'.
 * @param {string} line
 */
function classify(line) {
  const p = skipWs(line, 0);
  if (p >= line.length) return { kind: 'blank' };
  if (line[p] === ';') return { kind: 'comment' };
  if (line[p] === '"') return { kind: 'rdata', start: p };
  // rr-line: the first token equal to "TXT" (ASCII case-insensitive) before the first DQUOTE.
  const q = line.indexOf('"');
  const head = q < 0 ? line.length : q;
  let pos = p;
  while (pos < head) {
    const tokStart = pos;
    while (pos < head) {
      const ch = String.fromCodePoint(line.codePointAt(pos));
      if (WS_RE.test(ch)) break;
      pos += ch.length;
    }
    const token = line.slice(tokStart, pos);
    if (asciiLower(token) === 'txt' && token.length === 3) {
      return { kind: 'rr', start: skipWs(line, pos) };
    }
    pos = skipWs(line, pos);
  }
  return { kind: 'other' };
}

/**
 * @typedef {{line: number, value: Uint8Array}} TxtRecord
 */

/**
 * Parse the presentation form into records (§6.4-6). Any syntax error rejects the whole input.
 * @param {string} text
 * @returns {TxtRecord[]}
 */
export function parsePresentation(text) {
  const lines = text.split('\n');
  /** @type {TxtRecord[]} */
  const records = [];
  lines.forEach((line, i) => {
    const lineNo = i + 1;
    const c = classify(line);
    if (c.kind === 'blank' || c.kind === 'comment') return;
    if (c.kind === 'other') throw lineError(lineNo, 'neither blank, a comment, RDATA starting with ", nor a TXT record');
    records.push({ line: lineNo, value: parseRdata(line, c.start, lineNo) });
  });
  return records;
}

/** Does a record value start with the bytes "kez:" (§6.4-3)? @param {Uint8Array} v */
export function isKezRecord(v) {
  return v.length >= 4 && v[0] === KEZ_BYTES[0] && v[1] === KEZ_BYTES[1] && v[2] === KEZ_BYTES[2] && v[3] === KEZ_BYTES[3];
}

/**
 * §6.5-1 step 4: does the text look like DNS presentation form?
 * @param {string} text
 */
export function looksLikeDns(text) {
  for (const line of text.split('\n')) {
    const c = classify(line);
    if (c.kind === 'blank' || c.kind === 'comment') continue;
    return c.kind === 'rdata' || c.kind === 'rr';
  }
  return false;
}

/**
 * §6.4-5, §6.4-7: the zone line of a claim's compact text.
 * @param {string} compact the compact text
 * @param {string} subject canonical subject
 */
export function encodeDnsLine(compact, subject) {
  const owner = subject.startsWith('dns:') ? `_kez.${subject.slice(4)}.` : '_kez';
  const bytes = utf8(compact);
  const strings = [];
  for (let i = 0; i < bytes.length; i += MAX_CHAR_STRING) {
    let s = '';
    for (const b of bytes.subarray(i, i + MAX_CHAR_STRING)) {
      if (b === 0x22) s += '\\"';
      else if (b === 0x5c) s += '\\\\';
      else if (b >= 0x20 && b <= 0x7e) s += String.fromCharCode(b);
      else s += '\\' + String(b).padStart(3, '0');
    }
    strings.push(`"${s}"`);
  }
  return `${owner} 3600 IN TXT ${strings.join(' ')}\n`;
}
