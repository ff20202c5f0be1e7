// The outbox: what this phone owes the server, decided from the room mirror
// (state.js) and this phone's intents (intents.js). Pure functions, so every
// rule the threat model relies on is tested in node (outbox.test.mjs):
//
//   - taps leave the phone only as a submission of exactly 64 HMAC tokens
//     (crypto.submission): nothing a person tapped, and nothing unmatched,
//     is ever sent in clear;
//   - a round's decoys are drawn once and kept with the intents, so every
//     submission of the round — after a reload or a resume too — reuses
//     them, and comparing two submissions shows only what changed;
//   - a change is submitted only when it differs from what the server
//     acknowledged, and never beyond the server's per-round limit;
//   - after every welcome the phone re-sends what the server may not have,
//     pause first.
//
// The impure half (timers, sealing, requests) is courier.js.

import { submission } from './crypto.js';
import { accept } from './rules.js';

/** Taps in quick succession become one submission after this long (ms). */
export const SUBMIT_DELAY = 350;
/** Submissions per seat per round the server accepts (protocol §2.4). */
export const MAX_SUBMITS = 20;

/** The identity of an answer: sorted needs and plan lists. */
export function tapsKey(needs, lists) {
  return JSON.stringify([[...needs].sort(), [...(lists.welcome || [])].sort(), [...(lists.never || [])].sort()]);
}

/** The plan's lists, without ids this catalog no longer has. */
export function planLists(catalog, plan) {
  const known = new Set(catalog.suggestions.map((s) => s.id));
  return { welcome: (plan.welcome || []).filter((id) => known.has(id)), never: (plan.never || []).filter((id) => known.has(id)) };
}

/**
 * The taps brought in line with the mirror's open round: taps made before a
 * round opened join it; taps of another round are dropped; taps of a round
 * that ended while the phone was away are forgotten. Returns taps itself
 * when nothing changes.
 */
export function alignTaps(taps, round) {
  if (round) {
    if (!taps.round) return { ...taps, round };
    if (taps.round !== round) return { round, needs: [], at: taps.at || 0 };
    return taps;
  }
  return taps.round ? { round: null, needs: [], at: taps.at || 0 } : taps;
}

/**
 * The next thing to do about the taps, or null when the server already has
 * them: {type: 'open'} to open a round (the first tap does), or
 * {type: 'submit', round, ids, key} with the ranked concrete suggestion ids.
 * @param {object} o
 * @param {object} o.st the room mirror
 * @param {number} o.seat
 * @param {{round: string|null, needs: string[]}} o.taps
 * @param {{round: string, key: string, count?: number, limit?: boolean}|null} o.sent
 * @param {object} o.plan the private plan
 * @param {object} o.catalog
 */
export function nextSubmit({ st, seat, taps, sent, plan, catalog }) {
  if (!st.paired) return null;
  const r = st.round;
  if (!r) return taps.needs.length ? { type: 'open' } : null;
  if (taps.round !== r.round) return null;
  const lists = planLists(catalog, plan);
  const key = tapsKey(taps.needs, lists);
  const before = sent && sent.round === r.round ? sent : null;
  if (before && before.key === key) return null;
  // Nothing was ever sent this round and there is nothing to say.
  if (!taps.needs.length && !before) return null;
  if (before && (before.limit || (before.count || 0) >= MAX_SUBMITS)) return null;
  const known = new Set(catalog.needs.map((n) => n.id));
  const ids = accept(catalog, seat, taps.needs.filter((id) => known.has(id)), lists);
  return { type: 'submit', round: r.round, ids, key };
}

/** What to remember after the server acknowledged a submission of key. */
export function acknowledged(sent, round, key) {
  const count = sent && sent.round === round ? (sent.count || 0) + 1 : 1;
  return { round, key, count };
}

/** What to remember after the server answered `limit`: no more submissions this round. */
export function limitReached(sent, round) {
  return { ...(sent && sent.round === round ? sent : { round, key: '', count: MAX_SUBMITS }), limit: true };
}

/** Whether this round's submissions are used up. */
export function atLimit(sent, round) {
  return Boolean(sent && sent.round === round && (sent.limit || (sent.count || 0) >= MAX_SUBMITS));
}

/**
 * The round's decoys: the stored ones when they belong to round, else a new
 * pool from fresh() — which the caller must store before submitting. A pool
 * of 32-byte decoys (protocol v1, stored before an update) is not reused.
 */
export function decoysFor(stored, round, fresh) {
  if (stored && stored.round === round && Array.isArray(stored.pool) && stored.pool.every((d) => typeof d === 'string' && d.length === 22)) return stored;
  return { round, pool: fresh() };
}

/** The round.submit request: exactly 64 tokens, nothing in clear. */
export async function submitRequest(keys, round, ids, pool) {
  return { type: 'round.submit', round, tokens: await submission(keys, round, ids, pool) };
}

/**
 * What to re-send after a welcome, in order: the pause state first, then an
 * unsent space notice, unsent shared settings, queued debriefs, and the taps.
 * @returns {Array<{kind: 'pause'|'unpause'|'space'|'settings'|'debrief'|'taps', round?: string}>}
 */
export function owed({ st, seat, wantsPause, space, shared, drafts }) {
  const out = [];
  const paused = st.paused[seat - 1];
  if (wantsPause === true && !paused) out.push({ kind: 'pause' });
  else if (wantsPause === false && paused) out.push({ kind: 'unpause' });
  if (space && !space.sent) out.push({ kind: 'space' });
  if (shared && shared.dirty) out.push({ kind: 'settings' });
  for (const [round, d] of Object.entries(drafts || {})) {
    if (d && d.queued && st.debriefs.some((x) => x.round === round && !x.released)) out.push({ kind: 'debrief', round });
  }
  out.push({ kind: 'taps' });
  return out;
}

/**
 * The receipt this phone owes (protocol §5.15): the offset to confirm with
 * seen, or 0 for none. One is owed when the mirror holds an event worth this
 * seat's receipt beyond what the server confirmed (its delivered event or
 * snapshot) or acknowledged; never while one is in flight (receipts are
 * coalesced: the next goes when the answer is back).
 * @param {object} o
 * @param {object} o.st the room mirror
 * @param {number} o.seat
 * @param {number} o.offset the offset this phone has applied
 * @param {number} o.acked the highest offset the server acknowledged a seen for
 * @param {boolean} o.inFlight
 */
export function receiptDue({ st, seat, offset, acked, inFlight }) {
  if (inFlight || !st.worthy) return 0;
  const confirmed = Math.max(st.seen[seat - 1], acked);
  return st.worthy[seat - 1] > confirmed && offset > confirmed ? offset : 0;
}

/**
 * Runs task after a quiet delay, one run at a time: a call while a run is
 * under way runs it once more afterwards. Timers are injected for tests.
 */
export class Debouncer {
  constructor(task, timers = globalThis) {
    this.task = task;
    this.timers = timers;
    this.timer = null;
    this.running = false;
    this.again = false;
  }

  schedule(delay = SUBMIT_DELAY) {
    this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => this.run(), delay);
  }

  cancel() {
    this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.again = false;
  }

  async run() {
    this.timer = null;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      await this.task();
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.schedule(0);
      }
    }
  }
}
