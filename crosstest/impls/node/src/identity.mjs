// SPEC §3: identities — syntax (§3.1), schemes (§3.2), domain normalisation (§3.3) and
// look-alike rejection (§3.4). `normalizeIdentity` returns the canonical text or throws
// KezError("malformed").

import tr46 from 'tr46';
import { malformed } from './errors.mjs';
import { utf8Length } from './bytes.mjs';
import { npubDecode, npubEncode, bip340KeyValid } from './keys.mjs';
import { isSingleScript, skeleton, isAscii } from './uts39.mjs';

export const MAX_IDENTITY_BYTES = 320;

const SCHEME_RE = /^[a-z][a-z0-9-]{0,31}$/;
// §3.1-4: White_Space, Cc, U+200B–U+200F, U+202A–U+202E, U+2060–U+2064, U+FEFF.
const FORBIDDEN_RE = /[\p{White_Space}\p{Cc}\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]/u;
const PRINTABLE_ASCII_RE = /^[\x21-\x7e]+$/;
const GITHUB_RE = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
const AP_USER_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$/;

/** ASCII-only lowercase (never Unicode case mapping). @param {string} s */
export function asciiLower(s) {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** @param {string} why */
const reject = (why) => malformed(`invalid identity: ${why}`);

const UTS46_OPTIONS = {
  useSTD3ASCIIRules: true,
  checkHyphens: true,
  checkBidi: true,
  checkJoiners: true,
  transitionalProcessing: false,
  verifyDNSLength: true,
  ignoreInvalidPunycode: false,
};

/**
 * §3.3 domain normalisation (with the §3.4-2 checks of step 6). Returns the canonical domain.
 * @param {string} text
 */
export function normalizeDomain(text) {
  // 1. One trailing "." may be removed; the rest must not be empty or end with ".".
  let d = text;
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d === '' || d.endsWith('.')) throw reject('empty domain label');
  // 2. UTS #46 ToASCII (nontransitional, STD3, CheckHyphens, CheckBidi, CheckJoiners,
  //    VerifyDnsLength).
  const ascii = tr46.toASCII(d, UTS46_OPTIONS);
  if (ascii === null) throw reject(`UTS #46 processing of the domain failed`);
  const labels = ascii.split('.');
  // The result must be the `domain` of §3.2 (no empty label; tr46 also rejects them).
  if (labels.some((l) => l === '')) throw reject('empty domain label');
  // 3. At least two labels.
  if (labels.length < 2) throw reject('a domain needs at least two labels');
  // 4. The last label is not all digits.
  if (/^[0-9]+$/.test(labels[labels.length - 1])) throw reject('the last label is all digits (an IP address?)');
  // 5. No label longer than 63 bytes (implied by step 2).
  if (labels.some((l) => l.length > 63)) throw reject('a label is longer than 63 bytes');
  if (ascii.length > 253) throw reject('the domain is longer than 253 bytes');
  if (!/^[a-z0-9.-]+$/.test(ascii)) throw reject('the domain is not lowercase LDH');
  // 6. Every A-label: to Unicode, then UTS #39 (§3.4-2).
  for (const label of labels) {
    if (!label.startsWith('xn--')) continue;
    const { domain: u, error } = tr46.toUnicode(label, UTS46_OPTIONS);
    if (error) throw reject(`invalid A-label ${label}`);
    if (!isSingleScript(u)) throw reject(`the label ${label} mixes scripts`);
    if (isAscii(skeleton(u))) throw reject(`the label ${label} is a whole-script confusable of an ASCII label`);
  }
  return ascii;
}

/**
 * Canonical account of a scheme (§3.2).
 * @param {string} scheme lowercase, after the mastodon alias
 * @param {string} account non-empty, no forbidden characters
 */
function canonicalAccount(scheme, account) {
  switch (scheme) {
    case 'dns':
      return normalizeDomain(account);
    case 'github': {
      const login = account.startsWith('@') ? account.slice(1) : account;
      if (!GITHUB_RE.test(login)) throw reject('not a GitHub login (1-39 of A-Z a-z 0-9 -, no leading, trailing or double -)');
      return asciiLower(login);
    }
    case 'nostr': {
      let bytes = null;
      if (/^[0-9A-Fa-f]{64}$/.test(account)) {
        const hex = asciiLower(account);
        bytes = Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));
        if (!bip340KeyValid(bytes)) bytes = null;
      } else {
        bytes = npubDecode(account);
      }
      if (!bytes) throw reject('not a valid BIP-340 key as 64 hex digits or npub1…');
      return npubEncode(bytes);
    }
    case 'bluesky': {
      const handle = account.startsWith('@') ? account.slice(1) : account;
      if (handle === '' || !isAscii(handle)) throw reject('a Bluesky handle is ASCII only');
      const d = normalizeDomain(handle);
      if (d.length > 253) throw reject('a Bluesky handle is at most 253 bytes');
      const last = d.slice(d.lastIndexOf('.') + 1);
      if (!/^[a-z]/.test(last)) throw reject("a Bluesky handle's last label starts with a letter");
      return d;
    }
    case 'ap': {
      const rest = account.startsWith('@') ? account.slice(1) : account;
      const at = rest.indexOf('@');
      if (at < 0) throw reject('an ActivityPub account is user@host');
      const user = rest.slice(0, at);
      const host = rest.slice(at + 1);
      if (host.includes('@')) throw reject('an ActivityPub host cannot contain @');
      if (!AP_USER_RE.test(user)) throw reject('not an ActivityPub user name');
      if (host === '') throw reject('empty ActivityPub host');
      return `${asciiLower(user)}@${normalizeDomain(host)}`;
    }
    default:
      if (!PRINTABLE_ASCII_RE.test(account)) throw reject('an opaque account is printable ASCII only');
      return account;
  }
}

/**
 * Normalise an identity input to its canonical text (§3.1, §3.2). Throws malformed.
 * @param {unknown} input
 * @returns {string}
 */
export function normalizeIdentity(input) {
  if (typeof input !== 'string') throw reject('not a string');
  if (!input.isWellFormed()) throw reject('not well-formed Unicode');
  if (utf8Length(input) > MAX_IDENTITY_BYTES) throw reject(`longer than ${MAX_IDENTITY_BYTES} bytes`);
  const colon = input.indexOf(':');
  if (colon < 0) throw reject('no ":"');
  let scheme = asciiLower(input.slice(0, colon));
  if (!SCHEME_RE.test(scheme)) throw reject('invalid scheme');
  if (scheme === 'mastodon') scheme = 'ap';
  const account = input.slice(colon + 1);
  if (account === '') throw reject('empty account');
  if (FORBIDDEN_RE.test(account)) throw reject('forbidden character in the account');
  const canonical = `${scheme}:${canonicalAccount(scheme, account)}`;
  if (utf8Length(canonical) > MAX_IDENTITY_BYTES) throw reject(`canonical form longer than ${MAX_IDENTITY_BYTES} bytes`);
  return canonical;
}

/**
 * Check that a text read from a KEZ object is a canonical identity (§3.1-5).
 * @param {unknown} text
 */
export function checkCanonicalIdentity(text) {
  const canonical = normalizeIdentity(text);
  if (canonical !== text) throw malformed(`identity ${JSON.stringify(text)} is not canonical (canonical: ${JSON.stringify(canonical)})`);
  return canonical;
}

/** The domain of a `dns:` identity, or null. @param {string} identity canonical */
export function dnsDomain(identity) {
  return identity.startsWith('dns:') ? identity.slice(4) : null;
}
