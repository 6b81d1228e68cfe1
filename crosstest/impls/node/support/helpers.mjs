// Shared test helpers: where SPEC.md and the upstream vectors are, and a parser for the
// generated part of SPEC.md Appendix A (between the BEGIN/END GENERATED VECTORS markers).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const SPEC_PATH = process.env.KEZ_SPEC ?? join(REPO_ROOT, 'SPEC.md');
export const VECTORS = process.env.KEZ_VECTORS ?? join(REPO_ROOT, '..', 'shared', 'vectors');

export const readVector = (rel) => readFileSync(join(VECTORS, rel));
export const readVectorText = (rel) => readFileSync(join(VECTORS, rel), 'utf8');
export const readVectorJson = (rel) => JSON.parse(readVectorText(rel));

export const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));

export function specText() {
  return readFileSync(SPEC_PATH, 'utf8');
}

/** The text between the generated-vector markers of Appendix A. */
export function generatedVectors() {
  const spec = specText();
  const begin = spec.indexOf('<!-- BEGIN GENERATED VECTORS -->');
  const end = spec.indexOf('<!-- END GENERATED VECTORS -->');
  if (begin < 0 || end < begin) throw new Error('SPEC.md has no generated vectors');
  return spec.slice(begin, end);
}

/** Split the generated text into sections keyed "A.1" … "A.8". */
export function vectorSections() {
  const text = generatedVectors();
  const out = {};
  const re = /^### (A\.\d+)\b.*$/gm;
  const heads = [...text.matchAll(re)];
  heads.forEach((m, i) => {
    const start = m.index + m[0].length;
    const stop = i + 1 < heads.length ? heads[i + 1].index : text.length;
    out[m[1]] = text.slice(start, stop);
  });
  return out;
}

/** Fenced blocks of a section: [{lang, body}] (body without the final LF). */
export function fences(section) {
  const out = [];
  const re = /^```(\w*)\n([\s\S]*?)\n```$/gm;
  for (const m of section.matchAll(re)) out.push({ lang: m[1], body: m[2] });
  return out;
}

/** The backticked value after a label such as "Signature:". */
export function labelled(section, label) {
  const i = section.indexOf(label);
  if (i < 0) throw new Error(`no ${label}`);
  const m = /`([^`]+)`/.exec(section.slice(i + label.length));
  return m[1];
}

/** Rows of the first Markdown table of a section, as arrays of cell texts. */
export function tableRows(section) {
  const rows = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('|')) continue;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.every((c) => /^-+$/.test(c))) continue;
    rows.push(cells);
  }
  return rows.slice(1); // drop the header row
}

export const unbacktick = (s) => s.replace(/^`|`$/g, '');

/** Parse all of Appendix A into plain values. */
export function appendixA() {
  const s = vectorSections();
  const keys = {};
  for (const [name, alg, secret, pub] of tableRows(s['A.1'])) {
    keys[name] = { alg, secret: unbacktick(secret), public: unbacktick(pub) };
  }
  keys.K2.npub = labelled(s['A.1'], 'npub:');
  const a2f = fences(s['A.2']);
  const a3f = fences(s['A.3']);
  const a7rows = tableRows(s['A.7']).map(([seq, op, hash]) => ({ seq: Number(seq), op, hash: unbacktick(hash) }));
  const a8rows = tableRows(s['A.8']).map(([when, outcome, why]) => ({
    at: Number(/\((\d+)\)/.exec(when)[1]),
    outcome,
    why,
  }));
  const a6 = s['A.6'];
  return {
    keys,
    a2: {
      signedBytes: a2f[0].body,
      signature: labelled(s['A.2'], 'Signature:'),
      claim: a2f[1].body,
      id: labelled(s['A.2'], 'Claim id (§5.5):'),
    },
    a3: {
      signedBytes: a3f[0].body,
      message: labelled(s['A.3'], 'SHA-256 of the signed bytes:'),
      aux: labelled(s['A.3'], 'aux_rand:'),
      signature: labelled(s['A.3'], 'Signature:'),
      id: labelled(s['A.3'], 'Claim id:'),
    },
    a4: {
      compact: fences(s['A.4'])[0].body,
      declared: Number(/declares (\d+) bytes/.exec(s['A.4'])[1]),
    },
    a5: {
      // The generator shows the fence as ~~~ in place of the three backticks the encoder writes.
      shown: fences(s['A.5'])[0].body,
      usesTildes: /in place of the three backticks/.test(s['A.5']),
    },
    a6: {
      line: fences(a6)[0].body,
      lengths: /character-strings of ([\d, ]+) bytes/.exec(a6)[1].split(',').map((x) => Number(x.trim())),
      count: Number(/(\d+) character-strings/.exec(a6)[1]),
    },
    a7: {
      jsonl: fences(s['A.7'])[0].body + '\n',
      links: a7rows,
    },
    a8: a8rows,
  };
}
