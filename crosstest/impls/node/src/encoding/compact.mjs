// SPEC §6.2: the compact encoding `kez:z1:` + base64url(zstd(JCS)).
//
// The zstd frame is read here, byte by byte (RFC 8878 §3.1.1), before anything is inflated:
// the header must declare Frame_Content_Size, the declared size must be at most 4096, and the
// blocks must end exactly where the bytes end (one frame, nothing after it). Only then is the
// frame handed to zstd (WASM build of the reference C library, @bokuweb/zstd-wasm).

import zstd from '@bokuweb/zstd-wasm';
import { base64urlnopad } from '@scure/base';
import { malformed, unsupported } from '../errors.mjs';
import { utf8, utf8Length, bytesEqual } from '../bytes.mjs';
import { parseStrict } from '../json.mjs';
import { readClaim, MAX_CLAIM_BYTES } from '../claim.mjs';

export const PREFIX = 'kez:z1:';
export const MAX_COMPACT_BYTES = 8192;
const ZSTD_MAGIC = 0xfd2fb528;

let ready = null;
/** Initialise the zstd WASM module (idempotent). */
export function initZstd() {
  if (!ready) ready = zstd.init();
  return ready;
}

/**
 * Strict base64url without padding (§6.2-3). Returns null on any violation.
 * @param {string} s
 */
export function base64urlDecodeStrict(s) {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return null; // no padding, no whitespace, alphabet only
  if (s.length % 4 === 1) return null;
  let bytes;
  try {
    bytes = base64urlnopad.decode(s); // also rejects non-zero unused bits
  } catch {
    return null;
  }
  // Independent check of the unused bits of the last character.
  const rem = s.length % 4;
  if (rem !== 0) {
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(s[s.length - 1]);
    const unusedBits = rem === 2 ? 4 : 2;
    if ((last & ((1 << unusedBits) - 1)) !== 0) return null;
  }
  return bytes;
}

/** @param {Uint8Array} bytes */
export function base64urlEncode(bytes) {
  return base64urlnopad.encode(bytes);
}

/**
 * @typedef {object} FrameInfo
 * @property {number} contentSize  declared Frame_Content_Size
 * @property {number} frameLength  bytes from the magic number to the end of the frame
 * @property {number} dictionaryId
 * @property {boolean} checksum
 */

/**
 * Read a zstd frame header and walk its block headers without decompressing (RFC 8878 §3.1.1).
 * Throws malformed.
 * @param {Uint8Array} b
 * @returns {FrameInfo}
 */
export function readFrame(b) {
  if (b.length < 4) throw malformed('the compact payload is too short for a zstd frame');
  const magic = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  if (magic !== ZSTD_MAGIC) {
    if ((magic & 0xfffffff0) === 0x184d2a50) throw malformed('a skippable frame holds no claim');
    throw malformed('the compact payload is not a zstd frame');
  }
  let p = 4;
  if (p >= b.length) throw malformed('truncated zstd frame header');
  const fhd = b[p++];
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd >> 5) & 1;
  const reserved = (fhd >> 3) & 1;
  const checksum = ((fhd >> 2) & 1) === 1;
  const didFlag = fhd & 3;
  if (reserved) throw malformed('zstd frame header has the reserved bit set');
  if (!singleSegment) p += 1; // Window_Descriptor
  const didSize = [0, 1, 2, 4][didFlag];
  const fcsSize = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag];
  if (p + didSize + fcsSize > b.length) throw malformed('truncated zstd frame header');
  let dictionaryId = 0;
  for (let i = didSize - 1; i >= 0; i--) dictionaryId = dictionaryId * 256 + b[p + i];
  p += didSize;
  // §6.2-4: Frame_Content_Size must be declared.
  if (fcsSize === 0) throw malformed('the zstd frame does not declare its content size');
  let size = 0n;
  for (let i = fcsSize - 1; i >= 0; i--) size = (size << 8n) | BigInt(b[p + i]);
  if (fcsSize === 2) size += 256n;
  p += fcsSize;
  // §6.2-4: a declared size above 4096 is rejected before anything is decompressed.
  if (size > BigInt(MAX_CLAIM_BYTES)) throw malformed(`the zstd frame declares ${size} bytes (more than ${MAX_CLAIM_BYTES})`);
  // Walk the blocks (§6.2-5): the frame must end exactly where the bytes end.
  for (;;) {
    if (p + 3 > b.length) throw malformed('truncated zstd block header');
    const bh = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16);
    p += 3;
    const last = bh & 1;
    const type = (bh >> 1) & 3;
    const blockSize = bh >>> 3;
    if (type === 3) throw malformed('reserved zstd block type');
    const stored = type === 1 ? 1 : blockSize; // RLE blocks store one byte
    if (p + stored > b.length) throw malformed('truncated zstd block');
    p += stored;
    if (last) break;
  }
  if (checksum) {
    if (p + 4 > b.length) throw malformed('truncated zstd content checksum');
    p += 4;
  }
  if (p !== b.length) throw malformed('bytes after the zstd frame (a second frame or trailing data)');
  return { contentSize: Number(size), frameLength: p, dictionaryId, checksum };
}

/**
 * Decode a compact text (§6.2 steps 1–7) to a claim. `text` is the compact text itself
 * (callers remove surrounding whitespace where §6.5 says so).
 * @param {string} text
 * @returns {import('../claim.mjs').Claim}
 */
export function decodeCompact(text) {
  // 1. At most 8192 bytes, checked first.
  if (utf8Length(text) > MAX_COMPACT_BYTES) throw malformed(`the compact text is longer than ${MAX_COMPACT_BYTES} bytes`);
  // 2. Version.
  if (!text.startsWith(PREFIX)) {
    if (text.startsWith('kez:')) throw unsupported('unsupported compact format version (not kez:z1:)');
    throw malformed('a compact claim starts with kez:z1:');
  }
  // 3. Strict base64url.
  const bytes = base64urlDecodeStrict(text.slice(PREFIX.length));
  if (!bytes || bytes.length === 0) throw malformed('the compact payload is not strict base64url');
  // 4–5. Frame header, declared size, exactly one frame.
  const frame = readFrame(bytes);
  if (frame.dictionaryId !== 0) throw malformed('the zstd frame needs a dictionary');
  // 6. Decompress; the output must have exactly the declared size.
  let inflated;
  if (frame.contentSize === 0) {
    inflated = new Uint8Array(0);
  } else {
    if (!ready) throw new Error('initZstd() has not been awaited');
    try {
      inflated = zstd.decompress(bytes, { defaultHeapSize: frame.contentSize });
    } catch {
      throw malformed('the zstd frame does not decompress');
    }
  }
  if (inflated.length !== frame.contentSize) throw malformed('the zstd frame inflates to another size than it declares');
  // 7. Read the inflated bytes as a claim; they must be its JCS form.
  const claim = readClaim(parseStrict(inflated));
  if (!bytesEqual(utf8(claim.jcs), inflated)) throw malformed('the inflated bytes are not the JCS form of the claim');
  return claim;
}

/**
 * Encode a claim as compact text (§6.2-8): one frame, Frame_Content_Size declared, no
 * dictionary, level 19.
 * @param {import('../claim.mjs').Claim} claim
 */
export function encodeCompact(claim) {
  if (!ready) throw new Error('initZstd() has not been awaited');
  const raw = utf8(claim.jcs);
  const frame = zstd.compress(raw, 19);
  const info = readFrame(frame); // self-check: FCS declared, one frame
  if (info.contentSize !== raw.length || info.dictionaryId !== 0) throw new Error('zstd produced an unexpected frame');
  return PREFIX + base64urlEncode(frame);
}

