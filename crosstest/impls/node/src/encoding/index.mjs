// SPEC §6: the four encodings and detection (§6.5). `decodeClaims` returns one entry per claim
// found, in order; an input that holds no claim is one rejected entry at line 1.

import { KezError, malformed } from '../errors.mjs';
import { toText, trimWs, trimStartWs } from '../bytes.mjs';
import { parseClaimJson } from '../claim.mjs';
import { decodeCompact, encodeCompact, initZstd } from './compact.mjs';
import { claimBlocks, encodeMarkdown } from './markdown.mjs';
import { parsePresentation, isKezRecord, looksLikeDns, encodeDnsLine } from './dns.mjs';
import { initUts39 } from '../uts39.mjs';

export const ENCODINGS = Object.freeze(['json', 'compact', 'markdown', 'dns']);

/** Load the WASM and Unicode data every decoder needs. */
export async function initEncodings() {
  await Promise.all([initZstd(), initUts39()]);
}

/**
 * @typedef {{line: number, claim?: import('../claim.mjs').Claim, error?: KezError}} Entry
 */

/** @returns {Entry} */
function attempt(line, fn) {
  try {
    return { line, claim: fn() };
  } catch (e) {
    if (e instanceof KezError) return { line, error: e };
    throw e;
  }
}

/** @param {string} text @returns {Entry[]} */
function decodeMarkdownText(text, blocks = claimBlocks(text)) {
  // §6.3-4: no claim block: malformed.
  if (blocks.length === 0) return [{ line: 1, error: malformed('the Markdown document holds no kez block') }];
  return blocks.map((b) =>
    attempt(b.line, () => (b.content.startsWith('kez:') ? decodeCompact(b.content) : parseClaimJson(b.content))),
  );
}

/** @param {string} text @returns {Entry[]} */
function decodeDnsText(text) {
  let records;
  try {
    records = parsePresentation(text);
  } catch (e) {
    if (e instanceof KezError) return [{ line: 1, error: e }];
    throw e;
  }
  const kez = records.filter((r) => isKezRecord(r.value));
  if (kez.length === 0) return [{ line: 1, error: malformed('no TXT record holds a KEZ claim') }];
  return kez.map((r) => attempt(r.line, () => decodeCompact(toText(r.value))));
}

/**
 * Decode every claim of an input (§6). Signatures are not checked.
 * @param {string | Uint8Array} input
 * @param {string} [encoding] "json" | "compact" | "markdown" | "dns"; detected when absent
 * @returns {Entry[]}
 */
export function decodeClaims(input, encoding) {
  let text;
  try {
    text = toText(input); // §6.5-1: not UTF-8: malformed
  } catch (e) {
    return [{ line: 1, error: e }];
  }
  switch (encoding) {
    case 'json':
      return [attempt(1, () => parseClaimJson(text))];
    case 'compact':
      return [attempt(1, () => decodeCompact(trimWs(text)))];
    case 'markdown':
      return decodeMarkdownText(text);
    case 'dns':
      return decodeDnsText(text);
    case undefined:
    case null:
      break;
    default:
      throw new RangeError(`unknown encoding ${JSON.stringify(encoding)}`);
  }
  // §6.5-1 detection.
  const t = trimStartWs(text);
  if (t.startsWith('{')) return [attempt(1, () => parseClaimJson(text))];
  if (t.startsWith('kez:')) return [attempt(1, () => decodeCompact(trimWs(text)))];
  const blocks = claimBlocks(text);
  if (blocks.length > 0) return decodeMarkdownText(text, blocks);
  if (t.startsWith('"') || looksLikeDns(text)) return decodeDnsText(text);
  return [{ line: 1, error: malformed('the input is in no recognised encoding') }];
}

/**
 * Encode a claim (§6.1-2, §6.2-8, §6.3-5, §6.4-7).
 * @param {import('../claim.mjs').Claim} claim
 * @param {string} to
 */
export function encodeClaim(claim, to) {
  switch (to) {
    case 'json':
      return claim.jcs;
    case 'compact':
      return encodeCompact(claim);
    case 'markdown':
      return encodeMarkdown(claim);
    case 'dns':
      return encodeDnsLine(encodeCompact(claim), claim.subject);
    default:
      throw new RangeError(`unknown encoding ${JSON.stringify(to)}`);
  }
}
