// Error values shared by every module. A KezError is a *rejection* of an input (SPEC §1.2
// "Reject"): its `kind` is a reason name of SPEC §8.2 (claims) or §7 / §8.6-3 (chains).

export class KezError extends Error {
  /**
   * @param {string} kind   reason kind: "malformed", "unsupported", "bad_signature", "fork", ...
   * @param {string} message one sentence naming what was wrong
   * @param {object} [detail] extra facts (for a fork: seq, first, second)
   */
  constructor(kind, message, detail) {
    super(message);
    this.name = 'KezError';
    this.kind = kind;
    if (detail) this.detail = detail;
  }
}

/** @param {string} message */
export const malformed = (message) => new KezError('malformed', message);

/** @param {string} message */
export const unsupported = (message) => new KezError('unsupported', message);

/** An error in how this library was *called* (not a rejection of an input). */
export class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}
