// Checking a credential set: an operator JWT, account JWTs and user .creds files, for what
// nats-server refuses and what it accepts without a word (docs/NATS.md "Checking" and its
// table of finding codes; nats-io/jwt DidSign and UserScope, nats-server
// validateTrustedOperators and isRevoked). Every input counts as given in full: a user whose
// account is missing is `chain.account_unknown`.
//
// Not checked here (kez-verify does): unknown members (`jwt.unknown_field`,
// `perm.unknown_field`), stores, key files and configs.

import { NatsError } from './errors.mjs';
import { decode, checkClaims, verifiesWith, jti, ISSUER_ROLES, SUBJECT_ROLE } from './jwt.mjs';
import { decodePublic, isKey } from './nkey.mjs';
import { parse as parseCreds } from './creds.mjs';

/** Severity of each code reported here (docs/NATS.md). */
export const SEVERITY = {
  'jwt.malformed': 'error',
  'jwt.header_noncanonical': 'warning',
  'jwt.v1': 'warning',
  'jwt.type_missing': 'error',
  'jwt.type_other': 'info',
  'jwt.version_unsupported': 'error',
  'jwt.claims_invalid': 'error',
  'jwt.signature_invalid': 'error',
  'jwt.issuer_invalid': 'error',
  'jwt.subject_invalid': 'error',
  'jwt.jti_mismatch': 'warning',
  'jwt.expired': 'error',
  'jwt.not_yet_valid': 'error',
  'perm.allow_all': 'warning',
  'chain.operator_not_self_signed': 'error',
  'chain.signing_key_invalid': 'error',
  'chain.account_self_signed': 'error',
  'chain.account_untrusted': 'error',
  'chain.strict_signing_key': 'error',
  'chain.scope_kind_unknown': 'error',
  'chain.account_unknown': 'error',
  'chain.user_untrusted': 'error',
  'chain.issuer_account_missing': 'error',
  'chain.scoped_user_has_permissions': 'error',
  'chain.bearer_disallowed': 'error',
  'chain.user_revoked': 'error',
  'chain.system_account_missing': 'warning',
  'chain.incomplete': 'info',
  'creds.malformed': 'error',
  'creds.layout': 'warning',
  'creds.seed_mismatch': 'error',
  'creds.not_user': 'error',
  'config.operator_missing': 'error',
  'config.preload_mismatch': 'error',
};

const permissionEmpty = (p) => !p || ((p.allow ?? []).length === 0 && (p.deny ?? []).length === 0);
const restrictsNothing = (perms) => permissionEmpty(perms?.pub) && permissionEmpty(perms?.sub);

/** Whether a user's own permissions and limits are all unset (a scoped user must have none). */
function noPermissionsOrLimits(nats) {
  const keys = ['resp', 'src', 'times', 'times_location', 'subs', 'data', 'payload', 'bearer_token', 'allowed_connection_types'];
  const empty = (v) => v === undefined || v === null || v === '' || v === 0 || v === false || (Array.isArray(v) && v.length === 0);
  return restrictsNothing(nats) && keys.every((k) => empty(nats[k]));
}

/**
 * Checks the set as of `at` (Unix seconds).
 * @returns {{code: string, severity: string, message: string}[]}
 */
export function checkSet({ operator, accounts = [], creds = [], at }) {
  const findings = [];
  const push = (code, message) => findings.push({ code, severity: SEVERITY[code], message });
  const seen = new Set();
  const nodes = { operator: [], account: [], user: [] };

  /** One JWT on its own; returns its node when its type is known and its claims decode. */
  const examine = (text) => {
    text = text.trim();
    if (seen.has(text)) return { duplicate: true };
    seen.add(text);
    let jwt;
    try {
      jwt = decode(text);
    } catch (e) {
      push('jwt.malformed', e.message);
      return undefined;
    }
    if (jwt.v1) push('jwt.v1', 'legacy v1 JWT');
    else if (!jwt.headerCanonical) push('jwt.header_noncanonical', 'header is not canonical');
    if (jwt.type === undefined) return void push('jwt.type_missing', 'no nats.type');
    if (!ISSUER_ROLES[jwt.type]) return void push('jwt.type_other', `claim type ${jwt.type} is not checked`);
    if (!jwt.v1 && jwt.version !== 2) return void push('jwt.version_unsupported', `nats.version is ${jwt.version}`);
    try {
      checkClaims(jwt);
    } catch (e) {
      if (!(e instanceof NatsError)) throw e;
      return void push('jwt.claims_invalid', e.message);
    }
    const p = jwt.payload;
    const node = { type: jwt.type, subject: p.sub ?? '', issuer: p.iss ?? '', payload: p, nats: jwt.nats ?? {}, signatureOk: false };
    let issuerRole;
    try {
      issuerRole = decodePublic(node.issuer).role;
    } catch (e) {
      push('jwt.issuer_invalid', `iss: ${e.message}`);
    }
    if (issuerRole !== undefined && !ISSUER_ROLES[jwt.type].includes(issuerRole)) {
      push('jwt.issuer_invalid', `${jwt.type} issued by a ${issuerRole} key`);
    } else if (issuerRole !== undefined) {
      node.signatureOk = verifiesWith(jwt, node.issuer);
      if (!node.signatureOk) push('jwt.signature_invalid', 'the signature does not verify with iss');
    }
    if (!isKey(node.subject, SUBJECT_ROLE[jwt.type])) push('jwt.subject_invalid', `sub is not a ${SUBJECT_ROLE[jwt.type]} public key`);
    if (!jwt.v1 && jti(p) !== (p.jti ?? '')) push('jwt.jti_mismatch', 'jti is not the hash nats-io/jwt computes');
    if ((p.exp ?? 0) > 0 && at > p.exp) push('jwt.expired', `expired at ${p.exp}`);
    if ((p.nbf ?? 0) > 0 && p.nbf > at) push('jwt.not_yet_valid', `not valid before ${p.nbf}`);
    nodes[jwt.type].push(node);
    return node;
  };

  const op = examine(operator);
  if (op && !op.duplicate && op.type !== 'operator') push('config.operator_missing', 'not an operator JWT');
  for (const account of accounts) {
    const node = examine(account);
    if (node && !node.duplicate && node.type !== 'account') push('config.preload_mismatch', 'not an account JWT');
  }
  for (const text of creds) {
    let parsed;
    try {
      parsed = parseCreds(text);
    } catch (e) {
      push('creds.malformed', e.message);
      continue;
    }
    if (!parsed.canonical) push('creds.layout', 'departs from the FormatUserConfig layout');
    let user;
    if (seen.has(parsed.jwt.trim())) {
      try {
        const jwt = decode(parsed.jwt.trim());
        user = { type: jwt.type, subject: jwt.payload.sub ?? '' };
      } catch {
        user = undefined;
      }
    } else {
      const node = examine(parsed.jwt);
      user = node && { type: node.type, subject: node.subject };
    }
    if (user && user.type !== 'user') push('creds.not_user', 'the JWT is not a user JWT');
    else if (user && user.subject !== parsed.public) push('creds.seed_mismatch', 'the seed is not the key of the JWT sub');
  }

  // operator → account → user
  for (const o of nodes.operator) {
    if (o.issuer !== o.subject) push('chain.operator_not_self_signed', 'the operator JWT is not signed by its own key');
    for (const key of o.nats.signing_keys ?? []) {
      if (!isKey(key, 'operator')) push('chain.signing_key_invalid', 'an operator signing key is not an operator public key');
    }
    const system = o.nats.system_account ?? '';
    if (system !== '' && !isKey(system, 'account')) push('chain.signing_key_invalid', 'system_account is not an account public key');
  }
  const trustedOperators = nodes.operator.filter((o) => o.signatureOk);
  const signingKey = (account, key) =>
    (account.nats.signing_keys ?? []).find((k) => (typeof k === 'string' ? k : k?.key) === key);
  for (const a of nodes.account) {
    if (a.issuer === a.subject) push('chain.account_self_signed', 'the account is signed by its own key');
    else if (nodes.operator.length === 0) push('chain.incomplete', 'no operator JWT');
    else {
      const signer = trustedOperators.find((o) => o.subject === a.issuer || (o.nats.signing_keys ?? []).includes(a.issuer));
      if (!signer) push('chain.account_untrusted', 'the account is signed by a key no operator lists');
      else if (signer.nats.strict_signing_key_usage && signer.subject === a.issuer) {
        push('chain.strict_signing_key', 'signed by the operator identity key under strict_signing_key_usage');
      }
    }
    for (const k of a.nats.signing_keys ?? []) {
      const key = typeof k === 'string' ? k : k?.key;
      if (!isKey(key, 'account')) push('chain.signing_key_invalid', 'an account signing key is not an account public key');
      if (typeof k !== 'string' && k?.kind !== 'user_scope') push('chain.scope_kind_unknown', 'a scope kind is not user_scope');
    }
  }
  const trustedAccounts = nodes.account.filter((a) => a.signatureOk);
  for (const u of nodes.user) {
    const issuerAccount = u.nats.issuer_account ?? '';
    const accountKey = issuerAccount === '' ? u.issuer : issuerAccount;
    const account = trustedAccounts.find((a) => a.subject === accountKey);
    if (!account) {
      const owner = trustedAccounts.find((a) => signingKey(a, u.issuer) !== undefined);
      if (issuerAccount === '' && owner) push('chain.issuer_account_missing', 'signed by an account signing key without issuer_account');
      else if (trustedAccounts.length > 0) push('chain.account_unknown', 'the user account is not among the inputs');
      else push('chain.incomplete', 'the user account JWT is not among the inputs');
      continue;
    }
    let effective = u.nats;
    if (u.issuer !== account.subject) {
      const key = signingKey(account, u.issuer);
      if (key === undefined) {
        push('chain.user_untrusted', 'signed by a key that is neither the account nor its signing key');
        continue;
      }
      if (typeof key !== 'string') {
        if (!noPermissionsOrLimits(u.nats)) push('chain.scoped_user_has_permissions', 'a scoped user sets its own permissions');
        effective = key.template ?? {};
      }
    }
    const revocations = account.nats.revocations ?? {};
    const iat = u.payload.iat ?? 0;
    if ([u.subject, '*'].some((k) => Number.isInteger(revocations[k]) && revocations[k] >= iat)) {
      push('chain.user_revoked', 'the account revokes the user');
    }
    if (effective.bearer_token && account.nats.limits?.disallow_bearer) push('chain.bearer_disallowed', 'a bearer token where the account disallows them');
    let perms = effective;
    if (restrictsNothing(perms)) perms = account.nats.default_permissions ?? {};
    if (restrictsNothing(perms)) push('perm.allow_all', 'the user may publish and subscribe to every subject');
  }
  if (nodes.account.length > 0) {
    for (const o of nodes.operator) {
      const system = o.nats.system_account ?? '';
      if (system !== '' && !nodes.account.some((a) => a.subject === system)) {
        push('chain.system_account_missing', 'the system account is not among the accounts given');
      }
    }
  }
  return findings;
}
