// A rejection of NATS input: `reason` is a reason code of docs/ADAPTER.md "NATS operations"
// (an `nkey.*` code, or a docs/NATS.md finding code such as `jwt.malformed`).

export class NatsError extends Error {
  /** @param {string} reason @param {string} message */
  constructor(reason, message) {
    super(message);
    this.name = 'NatsError';
    this.reason = reason;
  }
}
