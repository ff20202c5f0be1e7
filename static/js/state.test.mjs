// Tests for state.js: snapshots, every event kind, and the offset checks.
// Run with: node --test static/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { emptyState, fromSnapshot, applyEvent, openDebriefs, order } from './state.js';

const R = '0a9b8c7d-6e5f-4a3b-9c2d-1e0f2a3b4c5d';

test('a snapshot replaces the state', () => {
  const st = fromSnapshot({
    paired: true,
    presence: ['online', 'reconnecting'],
    paused: [false, true],
    round: { round: R, by: 2, closesAt: 9, submitted: [true, false], reveal: 'AAAA', rev: 1 },
    settings: { seat: 1, blob: 'b' },
    announce: [null, { seat: 2, blob: 'a' }],
    debriefs: [{ round: R, until: 99, submitted: [false, false] }],
  });
  assert.equal(st.paired, true);
  assert.deepEqual(st.paused, [false, true]);
  assert.deepEqual(st.round, { round: R, by: 2, closesAt: 9, submitted: [true, false], reveal: 'AAAA', rev: 1 });
  assert.deepEqual(st.debriefs, [{ round: R, until: 99, submitted: [false, false], released: null }]);
  assert.deepEqual(fromSnapshot({ debriefs: [], announce: [null, null] }).round, null);
});

test('events change the state and leave the old one alone', () => {
  let st = emptyState();
  const steps = [
    { kind: 'paired', seat: 2 },
    { kind: 'round.opened', seat: 1, round: R, closesAt: 5, until: 50 },
    { kind: 'round.submitted', seat: 2, round: R },
    { kind: 'round.revealed', round: R, reveal: 'ab', rev: 1 },
    { kind: 'paused', seat: 2 },
    { kind: 'announced', seat: 1, blob: 'x' },
    { kind: 'settings', seat: 2, blob: 's' },
    { kind: 'debrief.submitted', seat: 1, round: R },
  ];
  const before = structuredClone(st);
  const first = applyEvent(st, steps[0]);
  assert.deepEqual(st, before, 'applyEvent does not change its input');
  for (const e of steps) st = applyEvent(st, e);
  assert.equal(st.paired, true);
  assert.deepEqual(st.presence, ['away', 'online']);
  assert.deepEqual(st.round.submitted, [false, true]);
  assert.equal(st.round.reveal, 'ab');
  assert.deepEqual(st.paused, [false, true]);
  assert.deepEqual(st.announce[0], { seat: 1, blob: 'x' });
  assert.deepEqual(st.settings, { seat: 2, blob: 's' });
  assert.deepEqual(st.debriefs[0].submitted, [true, false]);
  assert.equal(first.paired, true);

  st = applyEvent(st, { kind: 'round.revealed', round: R, rev: 2 }); // nothing matched: no reveal field
  assert.equal(st.round.reveal, '');
  st = applyEvent(st, { kind: 'unpaused', seat: 2 });
  st = applyEvent(st, { kind: 'presence', seat: 2, presence: 'away' });
  st = applyEvent(st, { kind: 'round.closed', round: R, reason: 'closed', seat: 1, until: 60 });
  st = applyEvent(st, { kind: 'debrief.released', round: R, blobs: ['d1', 'd2'] });
  assert.equal(st.round, null);
  assert.deepEqual(st.paused, [false, false]);
  assert.equal(st.presence[1], 'away');
  assert.deepEqual(st.debriefs[0], { round: R, until: 60, submitted: [true, true], released: ['d1', 'd2'] });
  assert.deepEqual(openDebriefs(st, 59).length, 1);
  assert.deepEqual(openDebriefs(st, 60).length, 0);
  assert.equal(applyEvent(st, { kind: 'erased', seat: 1 }).erased, true);
  assert.deepEqual(applyEvent(st, { kind: 'something.new' }), st, 'unknown kinds change nothing');
});

test('at most four debrief windows are kept, as on the server', () => {
  let st = emptyState();
  for (let i = 0; i < 6; i++) st = applyEvent(st, { kind: 'round.opened', seat: 1, round: `r${i}`, until: i });
  assert.deepEqual(
    st.debriefs.map((d) => d.round),
    ['r2', 'r3', 'r4', 'r5'],
  );
});

test('order: apply the next, skip the old, stop at a gap or another epoch', () => {
  const c = { epoch: 'e', offset: 4 };
  assert.equal(order(c, { epoch: 'e', offset: 5 }), 'apply');
  assert.equal(order(c, { epoch: 'e', offset: 4 }), 'skip');
  assert.equal(order(c, { epoch: 'e', offset: 1 }), 'skip');
  assert.equal(order(c, { epoch: 'e', offset: 6 }), 'gap');
  assert.equal(order(c, { epoch: 'f', offset: 5 }), 'gap');
});

test('receipts: seen only grows, and where pauses, notices and the reveal sit is kept', async () => {
  const { reached } = await import('./state.js');
  let st = emptyState();
  st = applyEvent(st, { kind: 'paused', seat: 1, offset: 4 });
  st = applyEvent(st, { kind: 'announced', seat: 2, blob: 'x', offset: 5 });
  assert.deepEqual(st.at.paused, [4, 0]);
  assert.deepEqual(st.at.announce, [0, 5]);
  assert.deepEqual(st.worthy, [5, 4]);
  assert.equal(reached(st, 2, 4), false);
  st = applyEvent(st, { kind: 'delivered', seat: 2, seen: 4, offset: 6 });
  assert.equal(reached(st, 2, 4), true);
  assert.equal(reached(st, 2, 5), false);
  st = applyEvent(st, { kind: 'delivered', seat: 2, seen: 3, offset: 7 });
  assert.deepEqual(st.seen, [0, 4]);
  assert.deepEqual(st.worthy, [5, 4], 'a receipt is worth no receipt');
  // A mirror saved before receipts existed gains them.
  const old = { ...emptyState() };
  delete old.seen;
  delete old.at;
  delete old.worthy;
  assert.deepEqual(applyEvent(old, { kind: 'paused', seat: 2, offset: 9 }).at.paused, [0, 9]);
  // A snapshot: its seen, and what it holds placed at its offset.
  const s = fromSnapshot({ paired: true, paused: [true, false], announce: [null, { seat: 2, blob: 'a' }], debriefs: [], seen: [3, 8] }, 9);
  assert.deepEqual(s.seen, [3, 8]);
  assert.deepEqual(s.at.paused, [9, 0]);
  assert.equal(reached(s, 2, s.at.paused[0]), false);
});

test('replaced: the key epoch moves on, what was sealed under the old secret is gone', () => {
  let st = fromSnapshot({
    paired: true,
    presence: ['online', 'online'],
    paused: [false, false],
    round: { round: R, by: 1, closesAt: 9, submitted: [true, false], reveal: [], rev: 0 },
    settings: { seat: 1, blob: 'old' },
    announce: [{ seat: 1, blob: 'old' }, null],
    debriefs: [{ round: R, until: 99, submitted: [true, false] }],
    seen: [0, 0],
  }, 5);
  assert.equal(st.keyEpoch, 0);
  st = applyEvent(st, { epoch: 'e', offset: 6, kind: 'replaced', seat: 2, keyEpoch: 1, at: 7 });
  assert.equal(st.keyEpoch, 1);
  assert.equal(st.settings, null);
  assert.deepEqual(st.announce, [null, null]);
  assert.deepEqual(st.debriefs, []);
  assert.equal(st.round, null);
  assert.equal(st.replacedSeat, 2, 'the replaced seat, so its old phone knows it was replaced');
  assert.equal(st.moved[1], 7);
  st = applyEvent(st, { epoch: 'e', offset: 7, kind: 'moved', seat: 2, at: 8 });
  assert.equal(st.replacedSeat, 0, 'a later move is a move');
  assert.equal(fromSnapshot({ keyEpoch: 3 }).keyEpoch, 3);
});
