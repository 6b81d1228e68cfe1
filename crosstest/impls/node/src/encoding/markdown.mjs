// SPEC §6.3: claims in Markdown fenced code blocks whose info string's first word is `kez`.
// Parsing is plain CommonMark (markdown-it's "commonmark" preset, no extensions).

import MarkdownIt from 'markdown-it';
import { trimWs } from '../bytes.mjs';

const md = new MarkdownIt('commonmark');

/**
 * @typedef {{line: number, content: string}} ClaimBlock
 */

/**
 * The claim blocks of a Markdown document (§6.3-1, §6.3-2): fenced code blocks (at any container
 * depth) whose info string, after backslash-escape and entity processing, has `kez` as its first
 * whitespace-separated word. `line` is the 1-based line of the opening fence; `content` is the
 * block's text with container prefixes removed, trimmed of surrounding whitespace (§6.3-3).
 * @param {string} text
 * @returns {ClaimBlock[]}
 */
export function claimBlocks(text) {
  const out = [];
  for (const token of md.parse(text, {})) {
    if (token.type !== 'fence') continue;
    const info = md.utils.unescapeAll(token.info);
    const firstWord = info.split(/\p{White_Space}+/u).filter((w) => w !== '')[0];
    if (firstWord !== 'kez') continue;
    out.push({ line: token.map[0] + 1, content: trimWs(token.content) });
  }
  return out;
}

/**
 * The Markdown encoding of a claim (§6.3-5).
 * @param {import('../claim.mjs').Claim} claim
 */
export function encodeMarkdown(claim) {
  return '```kez\n' + claim.jcs + '\n```\n';
}
