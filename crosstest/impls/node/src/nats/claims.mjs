// The claims of NATS v2 JWTs and Go's `json.Marshal` of them (docs/NATS.md "JWTs"; nats-io/jwt
// v2 claims.go, operator_claims.go, account_claims.go, user_claims.go, types.go,
// signingkeys.go). A schema is the list of a Go struct's JSON members in declaration order
// (embedded structs spelled out in place), each with its type and whether it is `omitempty`.
// Go's omitempty omits false, 0, "" and empty slices and maps, never structs; pointers when nil.

import { NatsError } from './errors.mjs';

const str = (name, omit = true) => ({ name, type: 'str', omit });
const int = (name, omit = true) => ({ name, type: 'int', omit });
const bool = (name) => ({ name, type: 'bool', omit: true });
const strs = (name) => ({ name, type: 'strs', omit: true });
const struct = (name, fields) => ({ name, type: 'struct', fields, omit: false });

const PERMISSION = [strs('allow'), strs('deny')];
const RESPONSE = [int('max', false), int('ttl', false)];
const PERMISSIONS = [
  struct('pub', PERMISSION),
  struct('sub', PERMISSION),
  { name: 'resp', type: 'ptr', fields: RESPONSE, omit: true },
];
const TIME_RANGE = [str('start'), str('end')];
const NATS_LIMITS = [int('subs'), int('data'), int('payload')];
const USER_PERMISSION_LIMITS = [
  ...PERMISSIONS,
  { name: 'src', type: 'cidrs', omit: true },
  { name: 'times', type: 'list', fields: TIME_RANGE, omit: true },
  str('times_location'),
  ...NATS_LIMITS,
  bool('bearer_token'),
  strs('allowed_connection_types'),
];
const GENERIC = [strs('tags'), str('type'), int('version')];
const JETSTREAM_LIMITS = [
  int('mem_storage'),
  int('disk_storage'),
  int('streams'),
  int('consumer'),
  int('max_ack_pending'),
  int('mem_max_stream_bytes'),
  int('disk_max_stream_bytes'),
  bool('max_bytes_required'),
];
const OPERATOR_LIMITS = [
  ...NATS_LIMITS,
  int('imports'),
  int('exports'),
  bool('wildcards'),
  bool('disallow_bearer'),
  int('conn'),
  int('leaf'),
  ...JETSTREAM_LIMITS,
  { name: 'tiered_limits', type: 'map', fields: JETSTREAM_LIMITS, omit: true },
];
const USER_SCOPE = [str('kind', false), str('key', false), str('role', false), struct('template', USER_PERMISSION_LIMITS), str('description')];
const EXTERNAL_AUTHORIZATION = [strs('auth_users'), strs('allowed_accounts'), str('xkey')];
const UNSUPPORTED = (name) => ({ name, type: 'unsupported', omit: true });

/** The `nats` object of each claim type. */
export const NATS_SCHEMA = {
  operator: [
    strs('signing_keys'),
    str('account_server_url'),
    strs('operator_service_urls'),
    str('system_account'),
    str('assert_server_version'),
    bool('strict_signing_key_usage'),
    ...GENERIC,
  ],
  account: [
    UNSUPPORTED('imports'),
    UNSUPPORTED('exports'),
    struct('limits', OPERATOR_LIMITS),
    { name: 'signing_keys', type: 'signing_keys', fields: USER_SCOPE, omit: true },
    { name: 'revocations', type: 'intmap', omit: true },
    struct('default_permissions', PERMISSIONS),
    UNSUPPORTED('mappings'),
    struct('authorization', EXTERNAL_AUTHORIZATION),
    UNSUPPORTED('trace'),
    str('cluster_traffic'),
    str('description'),
    str('info_url'),
    ...GENERIC,
  ],
  user: [...USER_PERMISSION_LIMITS, str('issuer_account'), ...GENERIC],
};

/** The registered claims (`jwt.ClaimsData`). */
export const CLAIMS_DATA = [str('aud'), int('exp'), str('jti'), int('iat'), str('iss'), str('name'), int('nbf'), str('sub')];

/** The `nats` defaults of `jwt.New…Claims`. */
export function defaults(type) {
  const unlimited = { subs: -1, data: -1, payload: -1 };
  if (type === 'account') {
    return { limits: { ...unlimited, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 } };
  }
  if (type === 'user') return { ...unlimited };
  return {};
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `overlay` merged into `base` as Go's json.Unmarshal into a struct: objects member by member. */
export function merge(base, overlay) {
  const out = { ...base };
  for (const [k, v] of Object.entries(overlay)) {
    out[k] = isObject(out[k]) && isObject(v) ? merge(out[k], v) : v;
  }
  return out;
}

// ------------------------------------------------------------------ Go JSON

/** A JSON string as Go writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped. */
export function goString(s) {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function isEmpty(field, v) {
  if (v === undefined || v === null) return true;
  switch (field.type) {
    case 'str':
      return v === '';
    case 'int':
      return v === 0;
    case 'bool':
      return v === false;
    case 'struct':
      return false;
    case 'ptr':
      return false;
    case 'map':
    case 'intmap':
      return Object.keys(v).length === 0;
    default:
      return Array.isArray(v) ? v.length === 0 : false;
  }
}

function value(field, v, path) {
  const wrong = (what) => new NatsError('jwt.claims_invalid', `${path}: expected ${what}`);
  switch (field.type) {
    case 'str':
      if (typeof v !== 'string') throw wrong('a string');
      return goString(v);
    case 'int':
      if (!Number.isSafeInteger(v)) throw wrong('an integer');
      return String(v);
    case 'bool':
      if (typeof v !== 'boolean') throw wrong('a boolean');
      return String(v);
    case 'strs':
    case 'cidrs': {
      let list = v;
      if (field.type === 'cidrs' && typeof v === 'string') {
        list = [...new Set(v.toLowerCase().split(',').map((s) => s.trim()).filter((s) => s))];
      }
      if (!Array.isArray(list) || list.some((s) => typeof s !== 'string')) throw wrong('a list of strings');
      return `[${list.map(goString).join(',')}]`;
    }
    case 'struct':
    case 'ptr':
      if (!isObject(v)) throw wrong('an object');
      return marshal(field.fields, v, path);
    case 'list':
      if (!Array.isArray(v)) throw wrong('a list');
      return `[${v.map((x, i) => value({ type: 'struct', fields: field.fields }, x, `${path}[${i}]`)).join(',')}]`;
    case 'map':
    case 'intmap': {
      if (!isObject(v)) throw wrong('an object');
      const inner = field.type === 'map' ? { type: 'struct', fields: field.fields } : { type: 'int' };
      const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      return `{${keys.map((k) => `${goString(k)}:${value(inner, v[k], `${path}.${k}`)}`).join(',')}}`;
    }
    case 'signing_keys':
      if (!Array.isArray(v)) throw wrong('a list');
      return `[${v
        .map((k, i) => (typeof k === 'string' ? goString(k) : value({ type: 'struct', fields: field.fields }, k, `${path}[${i}]`)))
        .join(',')}]`;
    default:
      throw new NatsError('jwt.claims_invalid', `${path}: not supported by this implementation`);
  }
}

/**
 * Go's json.Marshal of an object under a schema. Members the schema does not know are ignored,
 * and so are members this implementation does not model (imports, exports, mappings, trace),
 * except in mode `strict` (encoding the top-level `nats` object), which refuses both.
 */
export function marshal(fields, obj, path = 'claims', mode = 'check') {
  if (mode === 'strict') {
    const known = new Set(fields.map((f) => f.name));
    const unknown = Object.keys(obj).find((k) => !known.has(k));
    if (unknown !== undefined) throw new NatsError('unknown_member', `${path}: no member ${JSON.stringify(unknown)}`);
  }
  const parts = [];
  for (const field of fields) {
    const v = obj[field.name];
    if (field.type === 'unsupported') {
      if (mode !== 'check' && v !== undefined && v !== null && !isEmpty({ type: 'list' }, v)) {
        throw new NatsError('unsupported_member', `${path}.${field.name} is not supported by this implementation`);
      }
      continue;
    }
    if (field.omit && isEmpty(field, v)) continue;
    const given = v === undefined || v === null ? emptyOf(field) : v;
    parts.push(`${goString(field.name)}:${value(field, given, `${path}.${field.name}`)}`);
  }
  return `{${parts.join(',')}}`;
}

function emptyOf(field) {
  switch (field.type) {
    case 'str':
      return '';
    case 'int':
      return 0;
    case 'bool':
      return false;
    case 'struct':
      return {};
    default:
      return [];
  }
}

/** Checks that the known members of `obj` have the types of the schema (`jwt.claims_invalid`). */
export function validate(fields, obj, path) {
  marshal(fields, obj, path);
}

/** The whole payload: registered claims, then `nats`. */
export function marshalPayload(type, data, nats) {
  const head = marshal(CLAIMS_DATA, data, 'claims');
  const body = marshal(NATS_SCHEMA[type], nats, 'nats', 'strict');
  return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"nats":${body}}`;
}
