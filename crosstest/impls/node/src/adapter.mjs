#!/usr/bin/env node
// The crosstest adapter (docs/ADAPTER.md, protocol 1): JSON lines on stdin, one response line
// per request on stdout, strictly in order. Nothing but responses is written to stdout; logs go
// to stderr. Run from the repository root: node crosstest/impls/node/src/adapter.mjs

import { createInterface } from 'node:readline';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { KezError, UsageError } from './errors.mjs';
import { toHex } from './bytes.mjs';
import { canonicalizeText, fromPlain } from './json.mjs';
import { normalizeIdentity } from './identity.mjs';
import { ALGS, signRaw, verifyRaw, secretKey } from './keys.mjs';
import { signClaim } from './claim.mjs';
import { ENCODINGS, initEncodings, decodeClaims, encodeClaim } from './encoding/index.mjs';
import { verifyChain, verifyCopies, compareChains, exportChain, signLink } from './sigchain.mjs';
import { evaluateClaim, undecodableVerdict } from './verdict.mjs';
import { NATS_OPS, NatsUnsupported } from './nats/ops.mjs';

export const NAME = 'node';
export const VERSION = '0.1.0';
export const PROTOCOL = 1;
export const SPEC_VERSION = '0.2';

export class UnsupportedError extends Error {}

// ------------------------------------------------------------------ argument helpers

function arg(args, name, type, optional = false) {
  const v = args[name];
  if (v === undefined || (optional && v === null)) {
    if (optional) return undefined;
    throw new UsageError(`missing argument ${name}`);
  }
  if (type === 'int') {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new UsageError(`${name} must be an integer`);
    return v;
  }
  if (type === 'array') {
    if (!Array.isArray(v)) throw new UsageError(`${name} must be an array`);
    return v;
  }
  if (type === 'object') {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${name} must be an object`);
    return v;
  }
  if (typeof v !== type) throw new UsageError(`${name} must be a ${type}`);
  return v;
}

function hexArg(args, name, optional = false) {
  const v = arg(args, name, 'string', optional);
  if (v === undefined) return undefined;
  if (v.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(v)) throw new UsageError(`${name} must be hex`);
  return Uint8Array.from(v.match(/../g) ?? [], (h) => parseInt(h, 16));
}

function algArg(args, name = 'alg') {
  const alg = arg(args, name, 'string');
  if (!ALGS.includes(alg)) throw new UnsupportedError(`unsupported algorithm ${JSON.stringify(alg)}`);
  return alg;
}

function secretKeyArg(v, name) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${name} must be a secret key object`);
  const alg = algArg(v);
  const secret = hexArg(v, 'secret');
  return secretKey(alg, secret);
}

function rejected(e) {
  return { status: 'rejected', reason: e.kind, message: e.message };
}

/** Run fn; turn a KezError into a rejection result. */
function orRejected(fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof KezError) return rejected(e);
    throw e;
  }
}

function firstClaim(text) {
  const entries = decodeClaims(text);
  return entries.find((e) => e.claim) ?? entries[0];
}

// ------------------------------------------------------------------ operations

const OPS = {
  hello() {
    return { name: NAME, version: VERSION, protocol: PROTOCOL, spec: SPEC_VERSION, ops: Object.keys(OPS) };
  },

  canonicalize(args) {
    const json = arg(args, 'json', 'string');
    return orRejected(() => ({ status: 'ok', canonical: canonicalizeText(json) }));
  },

  sign_raw(args) {
    const alg = algArg(args);
    const secret = hexArg(args, 'secret');
    const msg = hexArg(args, 'msg');
    const aux = alg === 'bip340' ? hexArg(args, 'aux', true) : undefined;
    return { sig: toHex(signRaw(alg, secret, msg, aux)) };
  },

  verify_raw(args) {
    const alg = algArg(args);
    const pub = hexArg(args, 'public');
    const msg = hexArg(args, 'msg');
    const sig = hexArg(args, 'sig');
    if (pub.length !== 32 || sig.length !== 64) return { valid: false };
    return { valid: verifyRaw(alg, pub, msg, sig) };
  },

  claim_sign(args) {
    const key = secretKeyArg(args.key, 'key');
    const subject = arg(args, 'subject', 'string');
    const createdAt = arg(args, 'created_at', 'int');
    const expiresAt = arg(args, 'expires_at', 'int', true);
    const nonce = arg(args, 'nonce', 'string', true);
    const chain = arg(args, 'chain', 'string', true);
    const extra = arg(args, 'extra', 'object', true);
    const aux = key.alg === 'bip340' ? hexArg(args, 'aux', true) : undefined;
    const claim = signClaim(key, {
      subject,
      createdAt,
      expiresAt,
      nonce,
      chain,
      extra: extra === undefined ? undefined : fromPlain(extra),
      aux,
    });
    return { claim: claim.jcs };
  },

  encode(args) {
    const text = arg(args, 'text', 'string');
    const to = arg(args, 'to', 'string');
    if (!ENCODINGS.includes(to)) throw new UnsupportedError(`unsupported encoding ${JSON.stringify(to)}`);
    const entry = firstClaim(text);
    if (!entry.claim) return rejected(entry.error);
    return { status: 'ok', text: encodeClaim(entry.claim, to) };
  },

  decode(args) {
    const text = arg(args, 'text', 'string');
    const encoding = arg(args, 'encoding', 'string', true);
    if (encoding !== undefined && !ENCODINGS.includes(encoding)) {
      throw new UnsupportedError(`unsupported encoding ${JSON.stringify(encoding)}`);
    }
    const claims = decodeClaims(text, encoding).map((e) =>
      e.claim
        ? { line: e.line, status: 'ok', jcs: e.claim.jcs }
        : { line: e.line, status: 'rejected', reason: e.error.kind, message: e.error.message },
    );
    return { claims };
  },

  claim_verify(args) {
    const text = arg(args, 'text', 'string');
    const at = arg(args, 'at', 'int');
    const subjectInput = arg(args, 'subject', 'string', true);
    const chains = arg(args, 'chains', 'array', true) ?? [];
    for (const c of chains) if (typeof c !== 'string') throw new UsageError('chains must be strings');
    let subject = null;
    if (subjectInput !== undefined) {
      try {
        subject = normalizeIdentity(subjectInput);
      } catch (e) {
        throw new UsageError(`subject: ${e.message}`);
      }
    }
    let chain = null;
    if (chains.length > 0) {
      try {
        chain = { kind: 'verified', chain: chains.length === 1 ? verifyChain(chains[0], at) : verifyCopies(chains, at) };
      } catch (e) {
        if (!(e instanceof KezError)) throw e;
        chain = { kind: 'failed', error: e };
      }
    }
    const results = decodeClaims(text).map((e) => {
      const v = e.claim ? evaluateClaim(e.claim, { at, subject, chain }) : undecodableVerdict(e.error);
      return { line: e.line, outcome: v.outcome, reason: v.reason };
    });
    return { results };
  },

  chain_build(args) {
    const specs = arg(args, 'links', 'array');
    const lines = [];
    let prev = null;
    specs.forEach((spec, seq) => {
      if (spec === null || typeof spec !== 'object') throw new UsageError(`links[${seq}] must be an object`);
      const op = arg(spec, 'op', 'string');
      const signer = secretKeyArg(spec.signer, `links[${seq}].signer`);
      const createdAt = arg(spec, 'created_at', 'int');
      const aux = signer.alg === 'bip340' ? hexArg(spec, 'aux', true) : undefined;
      const body = {};
      let newKey;
      let counterAux;
      switch (op) {
        case 'init':
          break;
        case 'add': {
          const entry = firstClaim(arg(spec, 'claim', 'string'));
          if (!entry.claim) throw new UsageError(`links[${seq}].claim does not decode: ${entry.error.message}`);
          body.claim = entry.claim.id;
          body.subject = entry.claim.subject;
          break;
        }
        case 'revoke': {
          const claimText = arg(spec, 'claim', 'string', true);
          const subject = arg(spec, 'subject', 'string', true);
          if ((claimText === undefined) === (subject === undefined)) throw new UsageError('revoke needs exactly one of claim and subject');
          if (claimText !== undefined) {
            const entry = firstClaim(claimText);
            if (!entry.claim) throw new UsageError(`links[${seq}].claim does not decode: ${entry.error.message}`);
            body.claim = entry.claim.id;
          } else {
            try {
              body.subject = normalizeIdentity(subject);
            } catch (e) {
              throw new UsageError(`links[${seq}].subject: ${e.message}`);
            }
          }
          break;
        }
        case 'rotate':
          newKey = secretKeyArg(spec.new_key, `links[${seq}].new_key`);
          body.new_key = newKey.pub.text;
          counterAux = newKey.alg === 'bip340' ? hexArg(spec, 'counter_aux', true) : undefined;
          break;
        case 'add_device': {
          body.device = arg(spec, 'device', 'string');
          const name = arg(spec, 'name', 'string', true);
          if (name !== undefined) body.name = name;
          break;
        }
        case 'revoke_device':
          body.device = arg(spec, 'device', 'string');
          break;
        default:
          throw new UnsupportedError(`unsupported link op ${JSON.stringify(op)}`);
      }
      const link = signLink({ seq, prev, signer, op, body, createdAt, aux, newKey, counterAux });
      lines.push(link.line + '\n');
      prev = link.hash;
    });
    return { jsonl: lines.join('') };
  },

  chain_verify(args) {
    const jsonl = arg(args, 'jsonl', 'string');
    const at = arg(args, 'at', 'int', true);
    return orRejected(() => {
      const v = verifyChain(jsonl, at);
      return { status: 'ok', length: v.length, head: v.head, root: v.state.root, primary: v.state.primary };
    });
  },

  chain_compare(args) {
    const copies = arg(args, 'copies', 'array');
    if (copies.length !== 2 || !copies.every((c) => typeof c === 'string')) throw new UsageError('copies must be two strings');
    return orRejected(() => ({ status: 'ok', relation: compareChains(copies[0], copies[1]).relation }));
  },

  chain_export(args) {
    const jsonl = arg(args, 'jsonl', 'string');
    const at = arg(args, 'at', 'int', true);
    return orRejected(() => ({ status: 'ok', jsonl: exportChain(jsonl, at) }));
  },

  ...NATS_OPS,

  shutdown() {
    return {};
  },
};

/**
 * Handle one request line; returns the response object and whether to exit.
 * @param {string} line
 */
export function handle(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return { response: { id: null, ok: false, error: { kind: 'usage', message: `request is not JSON: ${e.message}` } } };
  }
  const id = req && typeof req === 'object' && 'id' in req ? req.id : null;
  if (!req || typeof req !== 'object' || Array.isArray(req) || typeof req.op !== 'string') {
    return { response: { id, ok: false, error: { kind: 'usage', message: 'a request is {"id", "op", "args"}' } } };
  }
  const op = req.op;
  if (!Object.hasOwn(OPS, op)) {
    return { response: { id, ok: false, error: { kind: 'unsupported', message: `unknown op ${JSON.stringify(op)}` } } };
  }
  const args = req.args === undefined || req.args === null ? {} : req.args;
  if (typeof args !== 'object' || Array.isArray(args)) {
    return { response: { id, ok: false, error: { kind: 'usage', message: 'args must be an object' } } };
  }
  try {
    const result = OPS[op](args);
    return { response: { id, ok: true, result }, exit: op === 'shutdown' };
  } catch (e) {
    let kind = 'internal';
    if (e instanceof UsageError) kind = 'usage';
    else if (e instanceof UnsupportedError || e instanceof NatsUnsupported) kind = 'unsupported';
    if (kind === 'internal') process.stderr.write(`[node adapter] ${op}: ${e && e.stack ? e.stack : e}\n`);
    return { response: { id, ok: false, error: { kind, message: String(e && e.message ? e.message : e) } } };
  }
}

async function main() {
  // Only responses may reach stdout: send any library logging to stderr.
  for (const level of ['log', 'info', 'debug', 'warn']) console[level] = (...a) => console.error(...a);
  await initEncodings();
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  const write = (obj) =>
    new Promise((resolve, reject) => process.stdout.write(JSON.stringify(obj) + '\n', (err) => (err ? reject(err) : resolve())));
  for await (const line of rl) {
    if (line.trim() === '') continue;
    const { response, exit } = handle(line);
    await write(response);
    if (exit) {
      rl.close();
      process.exit(0);
    }
  }
  process.exit(0);
}

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url;
  } catch {
    return false;
  }
}
if (isMain()) {
  main().catch((e) => {
    process.stderr.write(`[node adapter] fatal: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  });
}
