// SPEC §2: strict I-JSON input (§2.1) and the JCS canonical form (§2.2).
//
// JSON.parse cannot be used: it accepts duplicate member names, lone surrogate escapes and any
// depth. This is a small recursive-descent parser for RFC 8259 that rejects everything §2.1
// rejects. Objects are built with a null prototype so that a member named "__proto__" is an
// ordinary member. The JCS form is produced by the `canonicalize` package (RFC 8785).

import canonicalize from 'canonicalize';
import { malformed } from './errors.mjs';
import { toText, utf8 } from './bytes.mjs';

export const MAX_DEPTH = 64;

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4_RE = /^[0-9a-fA-F]{4}$/;

/**
 * A number as written in the input, for the few readers that must see its spelling (NIP-01
 * events, SPEC §4.6-1). Only produced when parseStrict is called with {numberLiterals: true}.
 */
export class NumberLiteral {
  /** @param {string} text @param {number} value */
  constructor(text, value) {
    this.text = text;
    this.value = value;
  }
}

class Parser {
  /** @param {string} text @param {boolean} numberLiterals */
  constructor(text, numberLiterals) {
    this.s = text;
    this.i = 0;
    this.numberLiterals = numberLiterals;
  }

  fail(what) {
    return malformed(`invalid JSON at offset ${this.i}: ${what}`);
  }

  ws() {
    const s = this.s;
    for (;;) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else return;
    }
  }

  /** @param {number} depth nesting level of the enclosing container (0 at top level) */
  value(depth) {
    const c = this.s[this.i];
    switch (c) {
      case '{':
        return this.object(depth + 1);
      case '[':
        return this.array(depth + 1);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.number();
        throw this.fail(c === undefined ? 'unexpected end of input' : 'unexpected character');
    }
  }

  literal(word, v) {
    if (this.s.startsWith(word, this.i)) {
      this.i += word.length;
      return v;
    }
    throw this.fail('invalid literal');
  }

  number() {
    NUMBER_RE.lastIndex = this.i;
    const m = NUMBER_RE.exec(this.s);
    if (!m) throw this.fail('invalid number');
    this.i += m[0].length;
    // §2.1-5: read as ECMAScript reads it (nearest binary64); overflow is rejected.
    const v = Number(m[0]);
    if (!Number.isFinite(v)) throw this.fail(`number ${m[0]} is not a finite binary64 value`);
    return this.numberLiterals ? new NumberLiteral(m[0], v) : v;
  }

  string() {
    const s = this.s;
    this.i++; // opening quote
    let out = '';
    let start = this.i;
    for (;;) {
      if (this.i >= s.length) throw this.fail('unterminated string');
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        out += s.slice(start, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) throw this.fail('unescaped control character in string');
      if (c !== 0x5c) {
        this.i++;
        continue;
      }
      out += s.slice(start, this.i);
      const e = s[this.i + 1];
      this.i += 2;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const u = this.hex4();
          if (u >= 0xd800 && u <= 0xdbff) {
            // §2.1-4: a high surrogate escape must be followed by a low surrogate escape.
            if (s[this.i] !== '\\' || s[this.i + 1] !== 'u') throw this.fail('unpaired surrogate escape');
            this.i += 2;
            const lo = this.hex4();
            if (lo < 0xdc00 || lo > 0xdfff) throw this.fail('unpaired surrogate escape');
            out += String.fromCharCode(u, lo);
          } else if (u >= 0xdc00 && u <= 0xdfff) {
            throw this.fail('unpaired surrogate escape');
          } else {
            out += String.fromCharCode(u);
          }
          break;
        }
        default:
          throw this.fail('invalid escape');
      }
      start = this.i;
    }
  }

  hex4() {
    const h = this.s.slice(this.i, this.i + 4);
    if (!HEX4_RE.test(h)) throw this.fail('invalid \\u escape');
    this.i += 4;
    return parseInt(h, 16);
  }

  /** @param {number} depth */
  array(depth) {
    if (depth > MAX_DEPTH) throw this.fail(`nesting deeper than ${MAX_DEPTH} levels`);
    this.i++;
    const out = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value(depth));
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
      } else if (c === ']') {
        this.i++;
        return out;
      } else {
        throw this.fail("expected ',' or ']'");
      }
    }
  }

  /** @param {number} depth */
  object(depth) {
    if (depth > MAX_DEPTH) throw this.fail(`nesting deeper than ${MAX_DEPTH} levels`);
    this.i++;
    const out = Object.create(null);
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') throw this.fail('expected a member name');
      const name = this.string();
      // §2.1-3: duplicate names (after unescaping) are rejected at any depth.
      if (Object.hasOwn(out, name)) throw this.fail(`duplicate member name ${JSON.stringify(name)}`);
      this.ws();
      if (this.s[this.i] !== ':') throw this.fail("expected ':'");
      this.i++;
      this.ws();
      out[name] = this.value(depth);
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
      } else if (c === '}') {
        this.i++;
        return out;
      } else {
        throw this.fail("expected ',' or '}'");
      }
    }
  }
}

/**
 * Parse a JSON text strictly (SPEC §2.1). Throws KezError("malformed") on any violation.
 * @param {string | Uint8Array} input bytes (must be UTF-8) or a string (must be well-formed)
 * @param {{numberLiterals?: boolean}} [options] numberLiterals: numbers as NumberLiteral
 * @returns {any} null | boolean | number | string | any[] | null-prototype object
 */
export function parseStrict(input, options = {}) {
  const text = toText(input); // §2.1-1: well-formed UTF-8
  if (text.charCodeAt(0) === 0xfeff) throw malformed('a byte order mark is not allowed'); // §2.1-1
  const p = new Parser(text, !!options.numberLiterals);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.i !== text.length) throw p.fail('unexpected data after the JSON value'); // §2.1-2
  return v;
}

/** True for a parsed JSON object (not an array, not null). */
export function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The JCS form (RFC 8785, SPEC §2.2) of a parsed value, as a string.
 * @param {any} value
 */
export function jcs(value) {
  return canonicalize(value);
}

/** The JCS form as UTF-8 bytes. @param {any} value */
export function jcsBytes(value) {
  return utf8(canonicalize(value));
}

/**
 * Strictly parse, then canonicalise (the `canonicalize` adapter op).
 * @param {string | Uint8Array} input
 */
export function canonicalizeText(input) {
  return jcs(parseStrict(input));
}

/**
 * Convert a value produced by JSON.parse (e.g. adapter arguments) into this module's
 * representation: null-prototype objects. Numbers must be finite.
 * @param {any} v
 */
export function fromPlain(v) {
  if (Array.isArray(v)) return v.map(fromPlain);
  if (v !== null && typeof v === 'object') {
    const out = Object.create(null);
    for (const k of Object.keys(v)) out[k] = fromPlain(v[k]);
    return out;
  }
  return v;
}
