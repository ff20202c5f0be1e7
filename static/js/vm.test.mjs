// Tests for vm.js: what each screen says, from plain data — above all that
// nothing claims more than the server and the partner's receipts say. Run
// with: node --test static/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { applyEvent, emptyState, fromSnapshot } from './state.js';
import * as vm from './vm.js';
import * as vd from './vmdebrief.js';

const catalog = JSON.parse(readFileSync(new URL('../catalog.json', import.meta.url), 'utf8'));
const R = '0a9b8c7d-6e5f-4a3b-9c2d-1e0f2a3b4c5d';
const NOW = new Date(2026, 2, 14, 23, 21).getTime();
const MONTH = 30 * 24 * 3600000;

/** A ctx as shell.js builds it: seat 1 (Alex), paired and online with Sam. */
function ctx(o = {}) {
  const st = { ...emptyState(), paired: true, presence: ['online', 'online'], ...(o.st || {}) };
  return {
    room: { room: R, seat: 1, device: 'd', onboarded: true },
    seat: 1,
    other: 2,
    st,
    conn: { status: 'open', everOpen: true, online: true, ...(o.conn || {}) },
    taps: { round: null, needs: [] },
    sent: null,
    wantsPause: null,
    space: null,
    spaceSeen: 0,
    plan: { me: 'Alex', partner: 'Sam' },
    shared: null,
    drafts: {},
    history: [],
    opened: { shared: null, announce: [null, null], released: {}, reveal: [] },
    catalog,
    lang: 'en',
    now: NOW,
    ui: { screen: 'checkin', debriefRound: '', dockOpen: false, sharedQueued: false },
    ...o.rest,
  };
}

const ev = (offset, e) => ({ epoch: 'e', offset, ...e });

test('the pause: sending, then not yet on the partner phone, then delivered only after its receipt', () => {
  let c = ctx({ rest: { wantsPause: true } });
  let v = vm.pause(c);
  assert.equal(v.shown, true);
  assert.equal(v.delivery, 'sending');
  assert.equal(v.deliveryText, 'Sending…');

  let st = applyEvent(c.st, ev(7, { kind: 'paused', seat: 1 }));
  v = vm.pause({ ...c, st });
  assert.equal(v.delivery, 'waiting');
  assert.equal(v.deliveryText, 'Sam’s phone hasn’t received it yet — it may be asleep or offline.');
  // A receipt for something older, or this phone's own receipt, is not enough.
  st = applyEvent(st, ev(8, { kind: 'delivered', seat: 2, seen: 6 }));
  st = applyEvent(st, ev(9, { kind: 'delivered', seat: 1, seen: 8 }));
  assert.equal(vm.pause({ ...c, st }).delivery, 'waiting');
  st = applyEvent(st, ev(10, { kind: 'delivered', seat: 2, seen: 7 }));
  v = vm.pause({ ...c, st });
  assert.equal(v.delivery, 'delivered');
  assert.equal(v.deliveryText, 'Sam’s phone has it.');
  // The partner's own view of it says nothing about delivery.
  assert.equal(vm.pause({ ...c, seat: 2, other: 1, wantsPause: null, st }).delivery, '');
});

test('after a snapshot, a pause counts as delivered only when the partner confirmed up to the welcome', () => {
  const snap = { paired: true, presence: ['online', 'online'], paused: [true, false], announce: [null, null], debriefs: [], seen: [20, 19] };
  assert.equal(vm.pause(ctx({ st: fromSnapshot(snap, 20), rest: { wantsPause: true } })).delivery, 'waiting');
  assert.equal(vm.pause(ctx({ st: fromSnapshot({ ...snap, seen: [20, 20] }, 20), rest: { wantsPause: true } })).delivery, 'delivered');
});

test('presence is online only while the partner phone is online', () => {
  assert.equal(vm.bar(ctx()).state, 'online');
  assert.equal(vm.bar(ctx()).text, 'Paired and online');
  for (const p of ['unreachable', 'reconnecting', 'away']) {
    const v = vm.bar(ctx({ st: { presence: ['online', p] } }));
    assert.equal(v.state, 'unreachable', p);
    assert.equal(v.text, 'Sam’s phone is not reachable right now');
  }
});

test('an offline reload says offline, not connecting; a first connection says connecting', () => {
  assert.equal(vm.bar(ctx({ conn: { status: 'connecting', everOpen: false, online: false } })).state, 'offline');
  assert.equal(vm.bar(ctx({ conn: { status: 'connecting', everOpen: false, online: true } })).state, 'connecting');
  assert.equal(vm.bar(ctx({ conn: { status: 'connecting', everOpen: true, online: true } })).state, 'offline');
});

test('suggestions shown while offline are marked as maybe out of date', () => {
  const round = { round: R, by: 1, closesAt: 0, submitted: [true, true], reveal: 'AAAAAAAAAAAAAAAAAAAAAA', rev: 1 };
  const opened = { shared: null, announce: [null, null], released: {}, reveal: ['water'] };
  const online = vm.checkin(ctx({ st: { round }, rest: { opened } }));
  assert.equal(online.stale, false);
  const offline = vm.checkin(ctx({ st: { round }, conn: { status: 'offline' }, rest: { opened } }));
  assert.equal(offline.stale, true);
  assert.equal(offline.staleNote, 'Offline: this may be out of date.');
});

test('a reveal the partner phone has not confirmed says so', () => {
  let st = { ...emptyState(), paired: true, presence: ['online', 'online'] };
  st = applyEvent(st, ev(3, { kind: 'round.opened', seat: 1, round: R, closesAt: 1, until: 2 }));
  st = applyEvent(st, ev(4, { kind: 'round.revealed', round: R, reveal: 'AAAAAAAAAAAAAAAAAAAAAA', rev: 1 }));
  const opened = { shared: null, announce: [null, null], released: {}, reveal: ['water'] };
  const v = vm.checkin({ ...ctx({ rest: { opened } }), st });
  assert.equal(v.state, 'revealed');
  assert.equal(v.note, 'Sam’s phone hasn’t received these yet — it may be asleep or offline.');
  st = applyEvent(st, ev(5, { kind: 'delivered', seat: 2, seen: 4 }));
  assert.equal(vm.checkin({ ...ctx({ rest: { opened } }), st }).note, '');
});

test('the off-limits reminder is behind a tap: given to the screen, never in the summary', () => {
  const v = vm.checkin(ctx({ rest: { plan: { me: 'Alex', partner: 'Sam', offLimits: 'work stress' } } }));
  assert.equal(v.reminder, 'Only you see this — not now: work stress');
  assert.ok(!v.summary.includes('work stress'));
  assert.ok(!v.note.includes('work stress'));
});

test('the folded dock sums up in one line', () => {
  const round = { round: R, by: 1, closesAt: 0, submitted: [true, true], reveal: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', rev: 1 };
  const opened = { shared: null, announce: [null, null], released: {}, reveal: ['water', 'blanket'] };
  const v = vm.checkin(ctx({ st: { round }, rest: { opened } }));
  assert.equal(v.list.length, 2);
  assert.match(v.summary, /^1\. .+ · \+1 more$/);
});

test('the revisit prompt only for a plan saved more than a month ago', () => {
  assert.equal(vm.plan(ctx()).due, false);
  assert.equal(vm.plan(ctx({ rest: { plan: { at: NOW - 2 * 24 * 3600000 } } })).due, false);
  assert.equal(vm.plan(ctx({ rest: { plan: { at: NOW - MONTH - 1 } } })).due, true);
  assert.equal(vd.history(ctx()).due, false);
});

test('the debrief deadline says the day and how long is left', () => {
  const until = new Date(2026, 2, 15, 2, 21).getTime();
  const st = { debriefs: [{ round: R, until, submitted: [false, false], released: null }] };
  const v = vd.debrief(ctx({ st }));
  assert.match(v.intro, /^Answer .*tomorrow at 2:21\sAM \(in 3 hours\)/);
});

test('my space notice is delivered only when confirmed', () => {
  let st = { ...emptyState(), paired: true, presence: ['online', 'online'] };
  st = applyEvent(st, ev(5, { kind: 'announced', seat: 1, blob: 'b' }));
  const space = { minutes: 20, until: NOW + 60000, sent: true };
  let v = vm.checkin({ ...ctx({ rest: { space, spaceSeen: NOW } }), st });
  assert.equal(v.space.kind, 'mine');
  assert.equal(v.space.delivery, 'waiting');
  assert.ok(v.space.text.includes('hasn’t received it yet'), v.space.text);
  st = applyEvent(st, ev(6, { kind: 'delivered', seat: 2, seen: 5 }));
  v = vm.checkin({ ...ctx({ rest: { space, spaceSeen: NOW } }), st });
  assert.equal(v.space.delivery, 'delivered');
  assert.equal(vm.checkin({ ...ctx({ rest: { space: { ...space, sent: false }, spaceSeen: NOW } }), st }).space.delivery, 'sending');
});
