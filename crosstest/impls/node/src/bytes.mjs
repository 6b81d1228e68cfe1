// Byte, UTF-8 and hex helpers (SPEC §1.2: lengths count UTF-8 bytes; hex is lowercase).

import { malformed } from './errors.mjs';

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF-8 bytes of a well-formed string. @param {string} s */
export function utf8(s) {
  return encoder.encode(s);
}

/** Number of UTF-8 bytes of a string. @param {string} s */
export function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Text of an input given either as bytes (must be well-formed UTF-8) or as a JS string (must be
 * well-formed UTF-16, i.e. hold no lone surrogate, so that it has a UTF-8 form). A BOM is kept.
 * @param {string | Uint8Array} input
 * @returns {string}
 */
export function toText(input) {
  if (typeof input === 'string') {
    if (!input.isWellFormed()) throw malformed('input is not well-formed UTF-8 (lone surrogate)');
    return input;
  }
  try {
    return strictDecoder.decode(input);
  } catch {
    throw malformed('input is not well-formed UTF-8');
  }
}

/** @param {Uint8Array} bytes */
export function toHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/**
 * Strict lowercase hex to bytes; returns null if `s` is not lowercase hex of even length.
 * @param {string} s
 */
export function fromLowerHex(s) {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** @param {Uint8Array} a @param {Uint8Array} b */
export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** @param {...Uint8Array} parts */
export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Unicode White_Space (SPEC §1.2 `ws`). */
export const WS_CLASS = '\\p{White_Space}';
const leadingWs = /^\p{White_Space}+/u;
const trailingWs = /\p{White_Space}+$/u;

/** Remove leading and trailing Unicode White_Space. @param {string} s */
export function trimWs(s) {
  return s.replace(leadingWs, '').replace(trailingWs, '');
}

/** Remove leading Unicode White_Space. @param {string} s */
export function trimStartWs(s) {
  return s.replace(leadingWs, '');
}
