#!/usr/bin/env node
// A misbehaving adapter for the runner's own tests (crosstest/runner/tests/adapter_pool.rs).
// Speaks docs/ADAPTER.md well enough to start, then does what --mode says:
//   ok                 answer every known op plausibly
//   hang-on=OP         never answer OP (keep reading)
//   crash-on=OP        exit 3 on OP, after a line on stderr
//   garbage-on=OP      answer OP with a line that is not JSON
//   unsupported-on=OP  answer OP with error kind "unsupported"
//   bad-unknown        answer unknown ops with error kind "usage" (wrong)
//   protocol=N         say protocol N in hello
//   drop-op=OP         leave OP out of hello's ops
import { createInterface } from 'node:readline';

const opts = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? true];
  }),
);
const OPS = ['hello', 'claim_verify', 'decode', 'chain_verify', 'shutdown'];
const send = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const rl = createInterface({ input: process.stdin, terminal: false });
rl.on('line', (line) => {
  const req = JSON.parse(line);
  const { id, op } = req;
  if (opts['hang-on'] === op) return;
  if (opts['crash-on'] === op) {
    process.stderr.write(`fake adapter: crashing on ${op} as asked\n`);
    process.exit(3);
  }
  if (opts['garbage-on'] === op) {
    process.stdout.write('this is not json\n');
    return;
  }
  if (opts['unsupported-on'] === op) {
    send({ id, ok: false, error: { kind: 'unsupported', message: `${op}: not here` } });
    return;
  }
  switch (op) {
    case 'hello':
      send({ id, ok: true, result: { name: 'fake', version: '0', protocol: Number(opts.protocol ?? 1), spec: '0.2', ops: OPS.filter((o) => o !== opts['drop-op']) } });
      return;
    case 'claim_verify':
      send({ id, ok: true, result: { results: [{ line: 1, outcome: 'valid', reason: null }] } });
      return;
    case 'decode':
      send({ id, ok: true, result: { claims: [{ line: 1, status: 'rejected', reason: 'malformed', message: 'fake' }] } });
      return;
    case 'chain_verify':
      send({ id, ok: true, result: { status: 'ok', length: 1, head: 'sha256:00', root: 'ed25519:00', primary: 'ed25519:00' } });
      return;
    case 'shutdown':
      send({ id, ok: true, result: {} });
      process.exit(0);
      return;
    default:
      send({ id, ok: false, error: { kind: opts['bad-unknown'] ? 'usage' : 'unsupported', message: `unknown op ${op}` } });
  }
});
rl.on('close', () => process.exit(0));
