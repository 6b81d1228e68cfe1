// .creds files (docs/NATS.md ".creds files"; nats-io/jwt v2 creds_utils.go FormatUserConfig,
// ParseDecoratedJWT, ParseDecoratedNKey): written exactly as FormatUserConfig, read as
// tolerantly as the Go parsers (any marker between runs of 3+ dashes, CRLF, no banner).

import { NatsError } from './errors.mjs';
import { decodeSeed } from './nkey.mjs';
import { decode } from './jwt.mjs';

/** The text FormatUserConfig writes for a user JWT and its seed. */
export function layout(jwt, seed) {
  return [
    '-----BEGIN NATS USER JWT-----',
    jwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    'NKEYs are sensitive and should be treated as secrets.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    seed,
    '------END USER NKEY SEED------',
    '',
    '*************************************************************',
    '',
  ].join('\n');
}

/** FormatUserConfig: the JWT must be a user JWT and the seed a user seed. */
export function format(jwt, seed) {
  let decoded;
  try {
    decoded = decodeSeed(seed);
  } catch (e) {
    throw new NatsError('creds.malformed', `the seed: ${e.message}`);
  }
  if (decoded.role !== 'user') throw new NatsError('creds.malformed', `expected a user seed, found a seed of role ${decoded.role}`);
  if (decode(jwt).type !== 'user') throw new NatsError('creds.not_user', 'the JWT is not a user JWT');
  return layout(jwt, seed);
}

const isMarker = (l) => l.length >= 6 && l.startsWith('---') && l.endsWith('---');
const isContent = (l) => /^[A-Za-z0-9_\-.=]+$/.test(l);

/** The decorated blocks (marker, content, marker) of `text`, in order. */
export function blocks(text) {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const out = [];
  for (let i = 0; i + 2 < lines.length; ) {
    if (isMarker(lines[i].trimStart()) && isContent(lines[i + 1]) && isMarker(lines[i + 2])) {
      out.push(lines[i + 1]);
      i += 3;
    } else i += 1;
  }
  return out;
}

/** Parses a .creds file; `canonical` says whether it is byte-identical to FormatUserConfig's. */
export function parse(text) {
  const found = blocks(text);
  if (found.length === 0) throw new NatsError('creds.malformed', 'no JWT block');
  const jwt = found[0];
  const seedText =
    found[1] ??
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.startsWith('SU') || l.startsWith('SA') || l.startsWith('SO'));
  if (seedText === undefined) throw new NatsError('creds.malformed', 'no nkey seed found');
  let seed;
  try {
    seed = decodeSeed(seedText);
  } catch (e) {
    throw new NatsError('creds.malformed', `the seed is malformed: ${e.message}`);
  }
  if (seed.role !== 'user') throw new NatsError('creds.malformed', `expected a user seed, found a seed of role ${seed.role}`);
  return { jwt, seed: seedText, public: seed.public, canonical: text === layout(jwt, seedText) };
}
