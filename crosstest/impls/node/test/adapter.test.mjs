// docs/ADAPTER.md: spawn the adapter as the harness does (from the repository root) and run a
// session over stdin/stdout, including an unknown op.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendixA, REPO_ROOT } from '../support/helpers.mjs';

const A = appendixA();
const ADAPTER = 'crosstest/impls/node/src/adapter.mjs';

/** Send requests (all at once, to check ordering) and collect responses, stdout, exit code. */
function session(requests, { closeStdin = true } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ADAPTER], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = out.split('\n');
      assert.equal(lines.pop(), '', 'stdout ends with LF');
      resolve({ responses: lines.map((l) => JSON.parse(l)), code, stderr: err });
    });
    child.stdin.write(requests.map((r) => JSON.stringify(r) + '\n').join(''));
    if (closeStdin) child.stdin.end();
  });
}

const secret = (name) => ({ alg: A.keys[name].alg, secret: A.keys[name].secret });

test('adapter session: every op, in order, then shutdown', async () => {
  const a7 = A.a7.jsonl.split('\n').slice(0, -1).map((l) => JSON.parse(l));
  const requests = [
    { id: 1, op: 'hello', args: {} },
    { id: 2, op: 'canonicalize', args: { json: '{"b": 1, "a": 2.0}' } },
    { id: 3, op: 'canonicalize', args: { json: '{"a":1,"a":2}' } },
    { id: 4, op: 'frobnicate', args: {} },
    { id: 5, op: 'sign_raw', args: { alg: 'ed25519', secret: A.keys.K1.secret, msg: Buffer.from(A.a2.signedBytes).toString('hex') } },
    { id: 6, op: 'sign_raw', args: { alg: 'bip340', secret: A.keys.K2.secret, msg: A.a3.message, aux: A.a3.aux } },
    { id: 7, op: 'verify_raw', args: { alg: 'bip340', public: A.keys.K2.public.slice(7), msg: A.a3.message, sig: A.a3.signature } },
    { id: 8, op: 'verify_raw', args: { alg: 'ed25519', public: '00'.repeat(32), msg: '', sig: '00'.repeat(64) } },
    {
      id: 9,
      op: 'claim_sign',
      args: { key: secret('K1'), subject: 'github:jason', created_at: 1767225600, expires_at: 1798761600, nonce: 'S0VaLXNwZWMtdmVjdG9yLTE' },
    },
    { id: 10, op: 'encode', args: { text: A.a4.compact, to: 'json' } },
    { id: 11, op: 'encode', args: { text: A.a2.claim, to: 'markdown' } },
    { id: 12, op: 'encode', args: { text: A.a6.line, to: 'json' } },
    { id: 13, op: 'decode', args: { text: '```kez\n{}\n```\n\n```kez\n' + A.a2.claim + '\n```\n' } },
    { id: 14, op: 'decode', args: { text: A.a2.claim, encoding: 'yaml' } },
    ...A.a8.map((row, i) => ({ id: 15 + i, op: 'claim_verify', args: { text: A.a2.claim, at: row.at, chains: [A.a7.jsonl] } })),
    { id: 30, op: 'claim_verify', args: { text: A.a2.claim, at: 1767225690, subject: 'github:other', chains: [A.a7.jsonl] } },
    { id: 31, op: 'claim_verify', args: { text: 'nonsense', at: 1767225690 } },
    {
      id: 32,
      op: 'chain_build',
      args: {
        links: [
          { op: 'init', signer: secret('K1'), created_at: a7[0].created_at },
          { op: 'add', claim: A.a4.compact, signer: secret('K1'), created_at: a7[1].created_at },
          { op: 'rotate', new_key: secret('K3'), signer: secret('K1'), created_at: a7[2].created_at },
          { op: 'revoke', claim: A.a2.claim, signer: secret('K3'), created_at: a7[3].created_at },
        ],
      },
    },
    { id: 33, op: 'chain_verify', args: { jsonl: A.a7.jsonl, at: 1767225690 } },
    { id: 34, op: 'chain_verify', args: { jsonl: A.a7.jsonl.replace('\n', '\r\n') } },
    { id: 35, op: 'chain_compare', args: { copies: [A.a7.jsonl.split('\n').slice(0, 2).join('\n') + '\n', A.a7.jsonl] } },
    { id: 36, op: 'chain_export', args: { jsonl: A.a7.jsonl, at: 1767225600 } },
    { id: 37, op: 'sign_raw', args: { alg: 'rsa', secret: '00', msg: '' } },
    { id: 38, op: 'sign_raw', args: { alg: 'ed25519' } },
    { id: 39, op: 'shutdown', args: {} },
    { id: 40, op: 'hello', args: {} }, // never answered
  ];
  const { responses, code, stderr } = await session(requests, { closeStdin: false });
  assert.equal(code, 0, stderr);
  const byId = Object.fromEntries(responses.map((r) => [r.id, r]));
  assert.deepEqual(responses.map((r) => r.id), requests.slice(0, -1).map((r) => r.id), 'in order, one each');
  const ok = (id) => {
    assert.equal(byId[id].ok, true, JSON.stringify(byId[id]));
    return byId[id].result;
  };
  assert.deepEqual(ok(1), {
    name: 'node',
    version: '0.1.0',
    protocol: 1,
    spec: '0.2',
    ops: ['hello', 'canonicalize', 'sign_raw', 'verify_raw', 'claim_sign', 'encode', 'decode', 'claim_verify', 'chain_build', 'chain_verify', 'chain_compare', 'chain_export', 'nats_nkey_create', 'nats_nkey_decode', 'nats_jwt_encode', 'nats_jwt_sign_raw', 'nats_jwt_decode', 'nats_creds_format', 'nats_creds_parse', 'nats_check', 'shutdown'],
  });
  assert.deepEqual(ok(2), { status: 'ok', canonical: '{"a":2,"b":1}' });
  assert.equal(ok(3).status, 'rejected');
  assert.equal(ok(3).reason, 'malformed');
  assert.deepEqual(byId[4], { id: 4, ok: false, error: { kind: 'unsupported', message: 'unknown op "frobnicate"' } });
  assert.deepEqual(ok(5), { sig: A.a2.signature });
  assert.deepEqual(ok(6), { sig: A.a3.signature });
  assert.deepEqual(ok(7), { valid: true });
  assert.deepEqual(ok(8), { valid: false });
  assert.deepEqual(ok(9), { claim: A.a2.claim });
  assert.deepEqual(ok(10), { status: 'ok', text: A.a2.claim });
  assert.deepEqual(ok(11), { status: 'ok', text: '```kez\n' + A.a2.claim + '\n```\n' });
  assert.equal(ok(12).status, 'ok');
  const d = ok(13).claims;
  assert.equal(d.length, 2);
  assert.deepEqual(d[0].line, 1);
  assert.equal(d[0].status, 'rejected');
  assert.equal(d[0].reason, 'malformed');
  assert.deepEqual(d[1], { line: 5, status: 'ok', jcs: A.a2.claim });
  assert.equal(byId[14].ok, false);
  assert.equal(byId[14].error.kind, 'unsupported');
  A.a8.forEach((row, i) => {
    assert.deepEqual(ok(15 + i), { results: [{ line: 1, outcome: row.outcome, reason: null }] });
  });
  assert.deepEqual(ok(30), { results: [{ line: 1, outcome: 'invalid', reason: 'wrong_subject' }] });
  assert.deepEqual(ok(31), { results: [{ line: 1, outcome: 'invalid', reason: 'malformed' }] });
  assert.deepEqual(ok(32), { jsonl: A.a7.jsonl });
  assert.deepEqual(ok(33), { status: 'ok', length: 4, head: A.a7.links[3].hash, root: A.keys.K1.public, primary: A.keys.K1.public });
  assert.equal(ok(34).status, 'rejected');
  assert.equal(ok(34).reason, 'malformed');
  assert.deepEqual(ok(35), { status: 'ok', relation: 'first_is_prefix' });
  assert.deepEqual(ok(36), { status: 'ok', jsonl: A.a7.jsonl.split('\n')[0] + '\n' });
  assert.equal(byId[37].error.kind, 'unsupported');
  assert.equal(byId[38].error.kind, 'usage');
  assert.deepEqual(ok(39), {});
});

test('adapter: exits when stdin closes; a non-JSON line is a usage error', async () => {
  const child = spawn(process.execPath, [ADAPTER], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise((resolve) => {
    child.on('close', resolve);
    child.stdin.end('not json\n{"id":"x","op":"hello"}\n');
  });
  assert.equal(code, 0);
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.equal(lines[0].ok, false);
  assert.equal(lines[0].error.kind, 'usage');
  assert.equal(lines[1].id, 'x');
  assert.equal(lines[1].ok, true);
});
