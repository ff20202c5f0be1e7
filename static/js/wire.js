// The protocol's fixed numbers as the web app's connection uses them: close
// codes, ping timing, which errors a later attempt may not get, and the
// reconnect backoff. Kept apart from conn.js so the connection reads as
// behaviour only.

/**
 * The protocol version every frame carries (protocol.Version). A server
 * that speaks another one answers unsupported_version: this app is out of
 * date, and only loading the new app shell helps (lifecycle.outdated).
 */
export const VERSION = 2;

/** Close codes beyond RFC 6455's (server/protocol). */
export const CLOSE = {
  NORMAL: 1000,
  RESTART: 1012,
  ERASED: 4000,
  REPLACED: 4001,
  AUTH_FAILED: 4002,
  AUTH_TIMEOUT: 4008,
  MOVED: 4009,
};

/**
 * How often an open socket is checked, and how long a pong may take. The
 * server shows a seat unreachable after 25 s without a message (protocol
 * §8): every 10 s, one lost ping does not make the phone look gone.
 */
export const PING_EVERY = 10000;
export const PING_TIMEOUT = 8000;
/** A quicker check when the phone wakes up or comes back online. */
export const WAKE_TIMEOUT = 4000;

/** Error codes that a later attempt may not get. */
export const RETRYABLE = new Set(['unavailable', 'rate_limited', 'internal']);

/** A refusal from the server (code is a protocol error code), or "offline". */
export class RequestError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

/**
 * Reconnect delay after n failed attempts: exponential from 0.5 s up to 30 s,
 * with jitter so two phones and many rooms do not come back in lockstep.
 */
export function backoff(n, random = Math.random) {
  const base = Math.min(30000, 500 * 2 ** Math.min(n, 10));
  return Math.round(base * (0.5 + random() / 2));
}
