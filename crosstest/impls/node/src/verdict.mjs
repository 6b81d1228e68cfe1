// SPEC §8: the verification outcome of one claim as of T — conditions collected in the order of
// §8.3-1, the most severe reported (§8.3-2), the first invalid reason (§8.3-3).

import { KezError } from './errors.mjs';
import { claimSignatureValid } from './claim.mjs';

export const SKEW = 300;
const SEVERITY = { invalid: 5, fork: 4, revoked: 3, expired: 2, unreachable: 1, valid: 0 };

/**
 * Chain evidence for a claim:
 *   null                                  — no chain checked;
 *   {kind: 'unreachable', source, detail} — the chain could not be fetched;
 *   {kind: 'failed', error: KezError}     — verification failed (fork or otherwise);
 *   {kind: 'verified', chain}             — verified; chain.state is the state as of T.
 * @typedef {null | {kind: 'unreachable', source: string, detail: string}
 *   | {kind: 'failed', error: KezError}
 *   | {kind: 'verified', chain: import('./sigchain.mjs').VerifiedChain}} ChainEvidence
 */

/**
 * Evaluate a decoded claim (§8.3).
 * @param {import('./claim.mjs').Claim} claim
 * @param {{at: number, subject?: string | null, chain?: ChainEvidence}} opts
 */
export function evaluateClaim(claim, { at, subject = null, chain = null }) {
  const conditions = [];
  const invalid = (reason, detail) => conditions.push({ outcome: 'invalid', reason, detail });
  // 1. signature
  if (!claimSignatureValid(claim)) invalid('bad_signature', `sig does not verify under ${claim.key.text}`);
  // 2. expected subject
  if (subject !== null && subject !== claim.subject) invalid('wrong_subject', `the claim is for ${claim.subject}, not ${subject}`);
  // 3. from the future
  if (claim.createdAt > at + SKEW) invalid('not_yet_valid', `created_at ${claim.createdAt} is after T + ${SKEW}`);
  // 4. chain evidence
  if (chain && chain.kind === 'unreachable') {
    conditions.push({ outcome: 'unreachable', source: chain.source, detail: chain.detail });
  } else if (chain && chain.kind === 'failed') {
    const e = chain.error;
    if (e.kind === 'fork') conditions.push({ outcome: 'fork', ...e.detail });
    else invalid('bad_chain', `the sigchain failed verification: ${e.message}`);
  } else if (chain && chain.kind === 'verified') {
    const state = chain.chain.state;
    const key = claim.key.text;
    const period = state.primaryPeriods.get(key);
    if (!period) {
      // 4.1
      if (state.devicePeriods.has(key)) invalid('device_key', `${key} is a device key of the chain`);
      else invalid('unknown_key', `${key} is not a key of the chain as of T`);
    } else {
      // 4.2
      if (claim.createdAt + SKEW < period.start.createdAt) {
        invalid('key_not_yet_valid', `the claim was created before its key became primary at seq ${period.start.seq}`);
      }
      // 4.3
      if (period.end) {
        if (claim.createdAt > period.end.createdAt) invalid('key_retired', `the claim was created after its key was rotated away at seq ${period.end.seq}`);
        else conditions.push({ outcome: 'revoked', by: 'rotated', seq: period.end.seq, at: period.end.createdAt });
      }
      // 4.4
      const binding = state.bound.get(claim.id);
      if (!binding) {
        invalid('not_bound', `no add link binds ${claim.id}`);
      } else {
        if (binding.subject !== claim.subject) invalid('wrong_subject', `the add link binds the claim to ${binding.subject}`);
        if (binding.revoked) conditions.push({ outcome: 'revoked', ...binding.revoked });
      }
    }
  }
  // 5. expiry
  if (claim.expiresAt !== null && claim.expiresAt <= at) conditions.push({ outcome: 'expired', expires_at: claim.expiresAt });
  // §8.3-2, §8.3-3; stable sort keeps collection order within a severity.
  const ordered = conditions
    .map((c, i) => ({ c, i }))
    .sort((x, y) => SEVERITY[y.c.outcome] - SEVERITY[x.c.outcome] || x.i - y.i)
    .map((x) => x.c);
  const top = ordered[0];
  return {
    outcome: top ? top.outcome : 'valid',
    reason: top && top.outcome === 'invalid' ? top.reason : null,
    conditions: ordered,
  };
}

/**
 * The verdict for an input that did not decode (§8.5-4).
 * @param {KezError} error
 */
export function undecodableVerdict(error) {
  const reason = error.kind === 'unsupported' ? 'unsupported' : 'malformed';
  return { outcome: 'invalid', reason, conditions: [{ outcome: 'invalid', reason, detail: error.message }] };
}

export { KezError };
