// SPEC §7: sigchains — link members (§7.1), operations and authority (§7.2), JSONL (§7.3),
// state (§7.4), verification (§7.5) and forks (§7.6).
//
// Chain failures are KezErrors whose kind is one of the chain reason kinds of docs/ADAPTER.md:
//   "malformed"     — §7.1, §7.3, sequence, prev, time, init placement (§7.2-1), key use
//                     (§7.2-5, §7.2-6);
//   "bad_signature" — a signature that does not verify, or a signer without authority (§7.2-3);
//   "fork"          — §7.6, with detail {seq, first, second}.
// (The split follows the exit codes of §8.6-3.)

import { KezError, malformed, UsageError } from './errors.mjs';
import { toText, utf8, utf8Length, toHex } from './bytes.mjs';
import { parseStrict, isObject, jcs } from './json.mjs';
import { checkCanonicalIdentity } from './identity.mjs';
import { parseKeyText, parseSigText, verifyObjectBytes, signObjectBytes } from './keys.mjs';
import { digest, DIGEST_RE, checkTime, KEZ_VERSION, MAX_STRING_BYTES } from './claim.mjs';

export const MAX_LINK_BYTES = 8192;
export const MAX_LINE_BYTES = 8193; // LF included
export const OPS = Object.freeze(['init', 'add', 'revoke', 'rotate', 'add_device', 'revoke_device']);

const LINK_MEMBERS = new Set(['kez', 'type', 'seq', 'prev', 'signer', 'op', 'body', 'created_at', 'sig', 'countersig']);
const BODY_MEMBERS = {
  init: { required: [], optional: [] },
  add: { required: ['claim', 'subject'], optional: [] },
  revoke: { required: [], optional: ['claim', 'subject'] },
  rotate: { required: ['new_key'], optional: [] },
  add_device: { required: ['device'], optional: ['name'] },
  revoke_device: { required: ['device'], optional: [] },
};

const badSignature = (message) => new KezError('bad_signature', message);

/**
 * @typedef {{seq: number, createdAt: number}} LinkRef
 * @typedef {object} Link
 * @property {string} line        the JCS form (the JSONL line without LF)
 * @property {string} hash        §7.1-3
 * @property {number} seq
 * @property {string | null} prev
 * @property {import('./keys.mjs').PublicKey} signer
 * @property {string} op
 * @property {any} body
 * @property {number} createdAt
 * @property {Uint8Array} sig
 * @property {Uint8Array | null} countersig
 * @property {Uint8Array} signedBytes
 * @property {import('./keys.mjs').PublicKey} [newKey]
 * @property {import('./keys.mjs').PublicKey} [device]
 * @property {string} [claimId]
 * @property {string} [subject]
 */

/** @param {any} v @param {string} where */
function checkShortString(v, where) {
  if (typeof v !== 'string') throw malformed(`${where} must be a string`);
  if (utf8Length(v) > MAX_STRING_BYTES) throw malformed(`${where} is longer than ${MAX_STRING_BYTES} bytes`);
  return v;
}

/**
 * Validate a parsed value as a link (§7.1, §7.2-2, §7.2-4 presence rule).
 * @param {any} value
 * @returns {Link}
 */
export function readLink(value) {
  if (!isObject(value)) throw malformed('a link must be a JSON object');
  for (const k of Object.keys(value)) {
    if (!LINK_MEMBERS.has(k)) throw malformed(`unknown link member ${JSON.stringify(k)}`);
  }
  for (const k of LINK_MEMBERS) {
    if (k !== 'countersig' && !Object.hasOwn(value, k)) throw malformed(`the link has no ${k} member`);
  }
  if (checkShortString(value.kez, 'kez') !== KEZ_VERSION) throw malformed(`link version ${JSON.stringify(value.kez)} is not "0.2"`);
  if (checkShortString(value.type, 'type') !== 'link') throw malformed('type must be "link"');
  const seq = checkTime(value.seq, 'seq');
  let prev = null;
  if (seq === 0) {
    if (value.prev !== null) throw malformed('prev must be null at seq 0');
  } else {
    prev = checkShortString(value.prev, 'prev');
    if (!DIGEST_RE.test(prev)) throw malformed('prev must be a sha256: digest');
  }
  const signer = parseKeyText(checkShortString(value.signer, 'signer'));
  const op = checkShortString(value.op, 'op');
  if (!OPS.includes(op)) throw malformed(`unknown op ${JSON.stringify(op)}`);
  const createdAt = checkTime(value.created_at, 'created_at');
  const sig = parseSigText(checkShortString(value.sig, 'sig'));
  let countersig = null;
  if (op === 'rotate') {
    if (!Object.hasOwn(value, 'countersig')) throw malformed('a rotate link must carry countersig');
    countersig = parseSigText(checkShortString(value.countersig, 'countersig'));
  } else if (Object.hasOwn(value, 'countersig')) {
    throw malformed(`a ${op} link must not carry countersig`);
  }
  // body (§7.2-2)
  const body = value.body;
  if (!isObject(body)) throw malformed('body must be an object');
  const shape = BODY_MEMBERS[op];
  for (const k of Object.keys(body)) {
    if (!shape.required.includes(k) && !shape.optional.includes(k)) throw malformed(`unexpected body member ${JSON.stringify(k)} for ${op}`);
  }
  for (const k of shape.required) if (!Object.hasOwn(body, k)) throw malformed(`body of ${op} has no ${k}`);
  /** @type {Link} */
  const link = { seq, prev, signer, op, body, createdAt, sig, countersig, line: '', hash: '', signedBytes: new Uint8Array() };
  switch (op) {
    case 'add':
      link.claimId = checkDigest(body.claim);
      link.subject = checkCanonicalIdentity(checkShortString(body.subject, 'body.subject'));
      break;
    case 'revoke': {
      const hasClaim = Object.hasOwn(body, 'claim');
      const hasSubject = Object.hasOwn(body, 'subject');
      if (hasClaim === hasSubject) throw malformed('revoke needs exactly one of claim and subject');
      if (hasClaim) link.claimId = checkDigest(body.claim);
      else link.subject = checkCanonicalIdentity(checkShortString(body.subject, 'body.subject'));
      break;
    }
    case 'rotate':
      link.newKey = parseKeyText(checkShortString(body.new_key, 'body.new_key'));
      break;
    case 'add_device':
      link.device = parseKeyText(checkShortString(body.device, 'body.device'));
      if (Object.hasOwn(body, 'name')) {
        const n = utf8Length(checkShortString(body.name, 'body.name'));
        if (n < 1 || n > 64) throw malformed('body.name must be 1 to 64 bytes');
      }
      break;
    case 'revoke_device':
      link.device = parseKeyText(checkShortString(body.device, 'body.device'));
      break;
    default:
      break;
  }
  const text = jcs(value);
  if (utf8Length(text) > MAX_LINK_BYTES) throw malformed(`the link's JCS form is longer than ${MAX_LINK_BYTES} bytes`);
  link.line = text;
  link.hash = digest(utf8(text));
  const unsigned = Object.create(null);
  for (const k of Object.keys(value)) if (k !== 'sig' && k !== 'countersig') unsigned[k] = value[k];
  link.signedBytes = utf8(jcs(unsigned));
  return link;
}

function checkDigest(v) {
  const s = checkShortString(v, 'body.claim');
  if (!DIGEST_RE.test(s)) throw malformed('body.claim must be a sha256: digest');
  return s;
}

/**
 * Parse one JSONL line (without its LF): §7.3-5, §2.1, §7.1, §7.3-2.
 * @param {string} line
 * @param {number} lineNo
 */
export function parseLinkLine(line, lineNo) {
  try {
    if (utf8Length(line) + 1 > MAX_LINE_BYTES) throw malformed(`longer than ${MAX_LINE_BYTES} bytes`);
    const value = parseStrict(line);
    const link = readLink(value);
    if (link.line !== line) throw malformed('the line is not the JCS form of its link');
    return link;
  } catch (e) {
    if (e instanceof KezError) throw new KezError(e.kind, `line ${lineNo}: ${e.message}`, e.detail);
    throw e;
  }
}

// ------------------------------------------------------------------------ state (§7.4)

export class ChainState {
  constructor() {
    /** @type {string | null} */ this.root = null;
    /** @type {string | null} */ this.primary = null;
    /** @type {Map<string, {start: LinkRef, end: LinkRef | null}>} */ this.primaryPeriods = new Map();
    /** @type {Map<string, {start: LinkRef, end: LinkRef | null}>} */ this.devicePeriods = new Map();
    /** @type {Set<string>} */ this.activeDevices = new Set();
    /** @type {Set<string>} */ this.seen = new Set();
    /** @type {Map<string, {subject: string, link: LinkRef, revoked: {by: string, seq: number, at: number} | null}>} */
    this.bound = new Map();
    /** @type {Map<string, LinkRef>} */ this.pending = new Map();
    this.empty = true;
  }

  clone() {
    const c = new ChainState();
    c.root = this.root;
    c.primary = this.primary;
    for (const [k, v] of this.primaryPeriods) c.primaryPeriods.set(k, { start: v.start, end: v.end });
    for (const [k, v] of this.devicePeriods) c.devicePeriods.set(k, { start: v.start, end: v.end });
    c.activeDevices = new Set(this.activeDevices);
    c.seen = new Set(this.seen);
    for (const [k, v] of this.bound) c.bound.set(k, { subject: v.subject, link: v.link, revoked: v.revoked });
    c.pending = new Map(this.pending);
    c.empty = this.empty;
    return c;
  }

  /** The part of the state that §7.2 checks read. */
  authority() {
    return { primary: this.primary, activeDevices: new Set(this.activeDevices), seen: new Set(this.seen) };
  }

  /** Apply a verified link (§7.4). @param {Link} link */
  apply(link) {
    const ref = { seq: link.seq, createdAt: link.createdAt };
    const signer = link.signer.text;
    this.empty = false;
    switch (link.op) {
      case 'init':
        this.root = signer;
        this.primary = signer;
        this.primaryPeriods.set(signer, { start: ref, end: null });
        this.seen.add(signer);
        break;
      case 'add': {
        const id = link.claimId;
        if (!this.bound.has(id)) {
          const pending = this.pending.get(id);
          this.bound.set(id, {
            subject: link.subject,
            link: ref,
            revoked: pending ? { by: 'claim', seq: pending.seq, at: pending.createdAt } : null,
          });
          this.pending.delete(id);
        }
        break;
      }
      case 'revoke':
        if (link.claimId !== undefined) {
          const b = this.bound.get(link.claimId);
          if (b) {
            if (!b.revoked) b.revoked = { by: 'claim', seq: ref.seq, at: ref.createdAt };
          } else if (!this.pending.has(link.claimId)) {
            this.pending.set(link.claimId, ref);
          }
        } else {
          for (const b of this.bound.values()) {
            if (b.subject === link.subject && !b.revoked) b.revoked = { by: 'subject', seq: ref.seq, at: ref.createdAt };
          }
        }
        break;
      case 'rotate': {
        const nk = link.newKey.text;
        this.primaryPeriods.get(this.primary).end = ref;
        this.primaryPeriods.set(nk, { start: ref, end: null });
        this.primary = nk;
        this.seen.add(nk);
        break;
      }
      case 'add_device': {
        const d = link.device.text;
        this.devicePeriods.set(d, { start: ref, end: null });
        this.activeDevices.add(d);
        this.seen.add(d);
        break;
      }
      case 'revoke_device': {
        const d = link.device.text;
        this.devicePeriods.get(d).end = ref;
        this.activeDevices.delete(d);
        break;
      }
      default:
        throw new Error(`unknown op ${link.op}`);
    }
  }
}

/**
 * §7.2-1, §7.2-3, §7.2-5, §7.2-6 against the authority part of the state before the link.
 * @param {Link} link
 * @param {{primary: string | null, activeDevices: Set<string>, seen: Set<string>}} auth
 */
export function checkAuthority(link, auth) {
  if (link.seq === 0) {
    if (link.op !== 'init') throw malformed('the link at seq 0 must be init');
    return;
  }
  if (link.op === 'init') throw malformed('init may only appear at seq 0');
  const signer = link.signer.text;
  const isPrimary = signer === auth.primary;
  if (link.op === 'add' || link.op === 'revoke') {
    if (!isPrimary && !auth.activeDevices.has(signer)) throw badSignature(`${link.op} is signed by neither the primary key nor an active device`);
    return;
  }
  if (!isPrimary) throw badSignature(`${link.op} must be signed by the primary key`);
  if (link.op === 'rotate' && auth.seen.has(link.newKey.text)) throw malformed('rotate to a key that has appeared in the chain before');
  if (link.op === 'add_device' && auth.seen.has(link.device.text)) throw malformed('add_device of a key that has appeared in the chain before');
  if (link.op === 'revoke_device' && !auth.activeDevices.has(link.device.text)) throw malformed('revoke_device of a key that is not an active device');
}

/** §7.5-1 step 7. @param {Link} link */
export function checkSignatures(link) {
  if (!verifyObjectBytes(link.signer, link.signedBytes, link.sig)) throw badSignature('sig does not verify under signer');
  if (link.op === 'rotate' && !verifyObjectBytes(link.newKey, link.signedBytes, link.countersig)) {
    throw badSignature('countersig does not verify under body.new_key');
  }
}

/**
 * @typedef {object} VerifiedChain
 * @property {Link[]} links
 * @property {number} length
 * @property {string} head
 * @property {ChainState} state     the state as of `at` (the full state when `at` is absent)
 * @property {ChainState} full      the state after every link
 */

/**
 * Verify a JSONL chain (§7.3, §7.5, §7.6-1). Throws a chain KezError.
 * @param {string | Uint8Array} input
 * @param {number} [at] evaluation time T
 * @returns {VerifiedChain}
 */
export function verifyChain(input, at) {
  const text = toText(input);
  if (text.length === 0) throw malformed('the chain file is empty'); // §7.3-4
  const segments = text.split('\n');
  const tail = segments.pop(); // text after the last LF: must be empty (§7.3-3)
  const state = new ChainState();
  /** @type {ChainState | null} */ let asOf = null;
  /** @type {Link[]} */ const links = [];
  /** @type {Link | null} */ let head = null;
  /** @type {Link | null} */ let beforeHead = null;
  /** @type {ReturnType<ChainState['authority']> | null} */ let authBeforeHead = null;
  segments.forEach((lineText, i) => {
    const lineNo = i + 1;
    const link = parseLinkLine(lineText, lineNo); // step 1
    const ctx = (e) => {
      if (e instanceof KezError) return new KezError(e.kind, `line ${lineNo} (seq ${link.seq}): ${e.message}`, e.detail);
      return e;
    };
    // step 2: same seq as the head: fork or sequence error (§7.6-1)
    if (head && link.seq === head.seq) {
      let fork = link.hash !== head.hash && link.prev === head.prev && (!beforeHead || link.createdAt >= beforeHead.createdAt);
      if (fork) {
        try {
          checkAuthority(link, authBeforeHead);
          checkSignatures(link);
        } catch (e) {
          if (!(e instanceof KezError)) throw e;
          fork = false;
        }
      }
      if (fork) {
        throw new KezError('fork', `fork at seq ${link.seq}: ${head.hash} and ${link.hash}`, {
          seq: link.seq,
          first: head.hash,
          second: link.hash,
        });
      }
      throw malformed(`line ${lineNo}: sequence error: seq ${link.seq} repeats the previous link's seq`);
    }
    try {
      // step 3
      const expected = head ? head.seq + 1 : 0;
      if (link.seq !== expected) throw malformed(`sequence error: seq ${link.seq}, expected ${expected}`);
      // step 4
      if (head && link.prev !== head.hash) throw malformed('prev is not the hash of the previous link');
      // step 5
      if (head && link.createdAt < head.createdAt) throw malformed('created_at goes back in time');
      // step 6
      const auth = state.authority();
      checkAuthority(link, auth);
      // step 7
      checkSignatures(link);
      // as of T (§7.5-3): the state after the last link with created_at <= T
      if (at !== undefined && asOf === null && link.createdAt > at) asOf = state.clone();
      // step 8
      state.apply(link);
      beforeHead = head;
      head = link;
      authBeforeHead = auth;
      links.push(link);
    } catch (e) {
      throw ctx(e);
    }
  });
  if (tail !== '') throw malformed(`line ${segments.length + 1} does not end with LF (truncated file)`);
  return { links, length: links.length, head: head.hash, state: asOf ?? state, full: state };
}

/**
 * Compare two copies of a chain (§7.6-2).
 * @param {string} first @param {string} second
 * @returns {{relation: 'identical' | 'first_is_prefix' | 'second_is_prefix', first: VerifiedChain, second: VerifiedChain}}
 */
export function compareChains(first, second, at) {
  const a = verifyChain(first, at);
  const b = verifyChain(second, at);
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a.links[i].line !== b.links[i].line) {
      throw new KezError('fork', `the copies diverge at seq ${a.links[i].seq}`, {
        seq: a.links[i].seq,
        first: a.links[i].hash,
        second: b.links[i].hash,
      });
    }
  }
  const relation = a.length === b.length ? 'identical' : a.length < b.length ? 'first_is_prefix' : 'second_is_prefix';
  return { relation, first: a, second: b };
}

/**
 * Verify several copies of the signer's chain and return the most recent one (§7.6-2): each copy
 * is verified in full (the first failure is the result), then every pair must agree line by line.
 * @param {string[]} copies
 * @param {number} [at]
 */
export function verifyCopies(copies, at) {
  const verified = copies.map((c) => verifyChain(c, at));
  let longest = verified[0];
  for (let i = 1; i < verified.length; i++) {
    const a = longest;
    const b = verified[i];
    const n = Math.min(a.length, b.length);
    for (let j = 0; j < n; j++) {
      if (a.links[j].line !== b.links[j].line) {
        throw new KezError('fork', `the copies diverge at seq ${a.links[j].seq}`, {
          seq: a.links[j].seq,
          first: a.links[j].hash,
          second: b.links[j].hash,
        });
      }
    }
    if (b.length > a.length) longest = b;
  }
  return longest;
}

/**
 * Export a verified chain (§7.3-6), optionally only the links with created_at <= at.
 * @param {string} input @param {number} [at]
 */
export function exportChain(input, at) {
  const v = verifyChain(input, at);
  return v.links
    .filter((l) => at === undefined || l.createdAt <= at)
    .map((l) => l.line + '\n')
    .join('');
}

/**
 * Build and sign one link (no chain checks: deliberately bad chains are allowed).
 * @param {{seq: number, prev: string | null, signer: import('./keys.mjs').SecretKey, op: string,
 *          body: Record<string, any>, createdAt: number, aux?: Uint8Array,
 *          newKey?: import('./keys.mjs').SecretKey, counterAux?: Uint8Array}} spec
 * @returns {Link}
 */
export function signLink(spec) {
  const obj = Object.create(null);
  obj.kez = KEZ_VERSION;
  obj.type = 'link';
  obj.seq = spec.seq;
  obj.prev = spec.prev;
  obj.signer = spec.signer.pub.text;
  obj.op = spec.op;
  const body = Object.create(null);
  for (const k of Object.keys(spec.body)) body[k] = spec.body[k];
  obj.body = body;
  obj.created_at = spec.createdAt;
  const signedBytes = utf8(jcs(obj));
  obj.sig = toHex(signObjectBytes(spec.signer, signedBytes, spec.aux));
  if (spec.op === 'rotate') {
    if (!spec.newKey) throw new UsageError('rotate needs the new secret key');
    obj.countersig = toHex(signObjectBytes(spec.newKey, signedBytes, spec.counterAux));
  }
  try {
    return readLink(obj);
  } catch (e) {
    if (e instanceof KezError) throw new UsageError(`the link would be malformed: ${e.message}`);
    throw e;
  }
}
