// Tests for outbox.js: every rule the threat model relies on about what a
// phone sends — decoys reused across reloads and resumes, nothing unmatched
// ever in clear, the per-round limit respected, what goes again after a
// welcome. Run with: node --test static/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import * as C from './crypto.js';
import { Intents } from './intents.js';
import * as O from './outbox.js';
import { emptyState } from './state.js';
import { Store, MemoryStorage } from './store.js';

const catalog = JSON.parse(readFileSync(new URL('../catalog.json', import.meta.url), 'utf8'));
const R1 = '0a9b8c7d-6e5f-4a3b-9c2d-1e0f2a3b4c5d';
const R2 = '1b9b8c7d-6e5f-4a3b-9c2d-1e0f2a3b4c5d';

const paired = (round) => ({ ...emptyState(), paired: true, round: round ? { round, by: 1, closesAt: 0, submitted: [false, false], reveal: [], rev: 0 } : null });
const keys = await C.deriveKeys(new Uint8Array(32).fill(7));

test('the first tap of an evening opens a round; nothing is sent before pairing', () => {
  const taps = { round: null, needs: ['water'] };
  assert.equal(O.nextSubmit({ st: emptyState(), seat: 1, taps, sent: null, plan: {}, catalog }), null);
  assert.deepEqual(O.nextSubmit({ st: paired(null), seat: 1, taps, sent: null, plan: {}, catalog }), { type: 'open' });
  assert.equal(O.nextSubmit({ st: paired(null), seat: 1, taps: { round: null, needs: [] }, sent: null, plan: {}, catalog }), null);
});

test('taps join the open round; taps of another round are dropped', () => {
  const before = { round: null, needs: ['water'], at: 3 };
  assert.deepEqual(O.alignTaps(before, R1), { round: R1, needs: ['water'], at: 3 });
  assert.deepEqual(O.alignTaps({ round: R2, needs: ['water'], at: 3 }, R1), { round: R1, needs: [], at: 3 });
  assert.deepEqual(O.alignTaps({ round: R1, needs: ['water'], at: 3 }, null), { round: null, needs: [], at: 3 });
  const same = { round: R1, needs: ['water'] };
  assert.equal(O.alignTaps(same, R1), same);
});

test('a change is submitted once: what the server acknowledged is not sent again', () => {
  const st = paired(R1);
  const taps = { round: R1, needs: ['water', 'be-held'] };
  const next = O.nextSubmit({ st, seat: 1, taps, sent: null, plan: {}, catalog });
  assert.equal(next.type, 'submit');
  assert.ok(next.ids.includes('water'), next.ids.join());
  const sent = O.acknowledged(null, R1, next.key);
  assert.equal(O.nextSubmit({ st, seat: 1, taps, sent, plan: {}, catalog }), null);
  // The same taps in another order are the same answer.
  assert.equal(O.nextSubmit({ st, seat: 1, taps: { round: R1, needs: ['be-held', 'water'] }, sent, plan: {}, catalog }), null);
  // A plan change is a change.
  assert.equal(O.nextSubmit({ st, seat: 1, taps, sent, plan: { never: ['water'] }, catalog }).type, 'submit');
  // Clearing every tap after a submission is sent (an empty answer)…
  const cleared = O.nextSubmit({ st, seat: 1, taps: { round: R1, needs: [] }, sent, plan: {}, catalog });
  assert.deepEqual(cleared.ids, []);
  // …but nothing is sent for a round this phone never answered.
  assert.equal(O.nextSubmit({ st, seat: 1, taps: { round: R1, needs: [] }, sent: null, plan: {}, catalog }), null);
});

test('never beyond the per-round limit, counted or answered by the server', () => {
  const st = paired(R1);
  let sent = null;
  for (let i = 0; i < O.MAX_SUBMITS; i++) {
    const taps = { round: R1, needs: i % 2 ? ['water'] : ['be-held'] };
    const next = O.nextSubmit({ st, seat: 1, taps, sent, plan: {}, catalog });
    assert.ok(next, `submission ${i + 1} refused`);
    sent = O.acknowledged(sent, R1, next.key);
  }
  assert.equal(sent.count, O.MAX_SUBMITS);
  assert.equal(O.atLimit(sent, R1), true);
  assert.equal(O.nextSubmit({ st, seat: 1, taps: { round: R1, needs: ['blanket'] }, sent, plan: {}, catalog }), null);
  // The server's word counts too, even when this phone lost count (a reload mid-send).
  const told = O.limitReached({ round: R1, key: 'k', count: 3 }, R1);
  assert.equal(O.atLimit(told, R1), true);
  assert.equal(O.nextSubmit({ st, seat: 1, taps: { round: R1, needs: ['blanket'] }, sent: told, plan: {}, catalog }), null);
  // A new round starts afresh.
  assert.equal(O.atLimit(told, R2), false);
  assert.equal(O.nextSubmit({ st: paired(R2), seat: 1, taps: { round: R2, needs: ['blanket'] }, sent: told, plan: {}, catalog }).type, 'submit');
});

test('unknown needs and plan ids never reach a submission', () => {
  const next = O.nextSubmit({ st: paired(R1), seat: 1, taps: { round: R1, needs: ['water', 'no-such-need'] }, sent: null, plan: { welcome: ['gone-id'] }, catalog });
  assert.equal(next.type, 'submit');
  const known = new Set(catalog.suggestions.map((s) => s.id));
  for (const id of next.ids) assert.ok(known.has(id.split('@')[0]), id);
});

test('a submission is exactly 64 tokens, nothing in clear', async () => {
  const ids = ['water', 'blanket'];
  const msg = await O.submitRequest(keys, R1, ids, C.decoyPool());
  assert.deepEqual(Object.keys(msg).sort(), ['round', 'tokens', 'type']);
  assert.equal(msg.type, 'round.submit');
  assert.match(msg.tokens, /^[A-Za-z0-9_-]{1366}$/);
  assert.equal(C.decodeTokens(msg.tokens).length, C.TOKEN_SET_SIZE);
  const text = JSON.stringify(msg);
  for (const s of catalog.suggestions) assert.ok(!text.includes(`"${s.id}`), `${s.id} in clear`);
  for (const n of catalog.needs) assert.ok(!text.includes(`"${n.id}`), `${n.id} in clear`);
});

test('decoys are drawn once per round and reused across reloads and resumes', async () => {
  const mem = new MemoryStorage();
  let draws = 0;
  const fresh = () => {
    draws++;
    return C.decoyPool();
  };
  // First submission: a pool is drawn and stored before anything is sent.
  let intents = new Intents(new Store(mem));
  const d1 = O.decoysFor(intents.decoys(), R1, fresh);
  intents.setDecoys(d1);
  const a = await O.submitRequest(keys, R1, ['water'], d1.pool);
  // A reload (a new Intents over the same storage), then a resume: the same pool.
  intents = new Intents(new Store(mem));
  const d2 = O.decoysFor(intents.decoys(), R1, fresh);
  assert.equal(draws, 1);
  assert.deepEqual(d2.pool, d1.pool);
  const b = await O.submitRequest(keys, R1, ['water', 'blanket'], d2.pool);
  // The two submissions differ only where a real token and a decoy traded
  // places: one token in, one decoy out.
  const ta = new Set(C.decodeTokens(a.tokens));
  const tb = new Set(C.decodeTokens(b.tokens));
  assert.equal([...tb].filter((t) => !ta.has(t)).length, 1);
  assert.equal([...ta].filter((t) => !tb.has(t)).length, 1);
  // A new round draws a new pool; the round's end forgets the old one.
  assert.notDeepEqual(O.decoysFor(intents.decoys(), R2, fresh).pool, d1.pool);
  assert.equal(draws, 2);
  // A pool of 32-byte decoys stored before protocol v2 is replaced.
  const v1 = { round: R1, pool: Array.from({ length: 64 }, () => C.nonce()) };
  assert.notEqual(O.decoysFor(v1, R1, fresh), v1);
  intents.endRound();
  assert.equal(intents.decoys(), null);
});

test('after a welcome: the pause first, then notices, settings, debriefs and taps', () => {
  const st = { ...paired(R1), debriefs: [{ round: R2, until: 9, submitted: [false, false], released: null }] };
  const list = O.owed({
    st,
    seat: 1,
    wantsPause: true,
    space: { minutes: 5, until: 1, sent: false },
    shared: { pauseWord: 'x', signals: '', dirty: true },
    drafts: { [R2]: { queued: true }, [R1]: { queued: true } },
  });
  assert.deepEqual(list, [{ kind: 'pause' }, { kind: 'space' }, { kind: 'settings' }, { kind: 'debrief', round: R2 }, { kind: 'taps' }]);
  // What the server already has is not owed.
  const done = O.owed({ st: { ...st, paused: [true, false] }, seat: 1, wantsPause: true, space: { sent: true }, shared: { dirty: false }, drafts: {} });
  assert.deepEqual(done, [{ kind: 'taps' }]);
  assert.deepEqual(O.owed({ st: { ...st, paused: [true, false] }, seat: 1, wantsPause: false, drafts: {} })[0], { kind: 'unpause' });
  // A phone that never said anything about pausing does not lift the partner's view of it.
  assert.deepEqual(O.owed({ st: { ...st, paused: [true, false] }, seat: 1, wantsPause: null, drafts: {} }), [{ kind: 'taps' }]);
});

test('the debouncer runs one task at a time and once more after a call during a run', async () => {
  const pending = [];
  const timers = { setTimeout: (fn) => pending.push(fn) && pending.length, clearTimeout: () => {} };
  let runs = 0;
  let release;
  const d = new O.Debouncer(async () => {
    runs++;
    await new Promise((r) => (release = r));
  }, timers);
  d.schedule();
  const first = pending.shift();
  const p = first();
  d.run(); // a call while running
  assert.equal(runs, 1);
  release();
  await p;
  assert.equal(pending.length, 1); // scheduled once more
  const again = pending.shift()();
  release();
  await again;
  assert.equal(runs, 2);
});

test('receipts: owed only for events worth one, coalesced, never for receipts or this seat alone', async () => {
  const { applyEvent } = await import('./state.js');
  const e = (offset, x) => ({ epoch: 'e', offset, ...x });
  let st = paired(null);
  // This phone's own pause is not worth its receipt; a delivered event never is.
  st = applyEvent(st, e(1, { kind: 'paused', seat: 1 }));
  st = applyEvent(st, e(2, { kind: 'delivered', seat: 2, seen: 1 }));
  assert.equal(O.receiptDue({ st, seat: 1, offset: 2, acked: 0, inFlight: false }), 0);
  // The partner's pause is: confirm up to where this phone is.
  st = applyEvent(st, e(3, { kind: 'paused', seat: 2 }));
  assert.equal(O.receiptDue({ st, seat: 1, offset: 3, acked: 0, inFlight: false }), 3);
  // One in flight: the next waits for its answer.
  assert.equal(O.receiptDue({ st, seat: 1, offset: 3, acked: 0, inFlight: true }), 0);
  // Acknowledged (or confirmed by this seat's delivered event): nothing more.
  assert.equal(O.receiptDue({ st, seat: 1, offset: 3, acked: 3, inFlight: false }), 0);
  const confirmed = applyEvent(st, e(4, { kind: 'delivered', seat: 1, seen: 3 }));
  assert.equal(O.receiptDue({ st: confirmed, seat: 1, offset: 4, acked: 0, inFlight: false }), 0);
  // An event without a seat (a reveal) is worth one.
  st = applyEvent(confirmed, e(5, { kind: 'round.revealed', round: R1, rev: 1 }));
  assert.equal(O.receiptDue({ st, seat: 1, offset: 5, acked: 3, inFlight: false }), 5);
});
