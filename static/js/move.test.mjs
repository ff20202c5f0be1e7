// Tests for the move link (protocol §3.2): the web app reads and writes the
// same links as the Go client (client/keys/movelink.go), a move link is
// never taken for a pairing link, and the partner's bar says a move happened.
// Run with: node --test static/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { b64u, parseFragment, parseMoveFragment } from './crypto.js';
import { joinOf } from './lifecycle.js';
import { moveLink } from './move.js';
import { applyEvent, emptyState } from './state.js';
import * as vm from './vm.js';

const ROOM = '6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b';
const CODE = 'KGVsWDk_DDedcK7RqqhTTN8ULeZdCKBkvPDrFakd1w0';
const SECRET = 'enpR_hQkpd0asPFD7dtM_fA9pleGJmkJuLO_RiFJOA4';

test('a move link round-trips, as the Go client writes it', () => {
  const link = moveLink('https://softland.example', ROOM, CODE, SECRET);
  assert.equal(link, `https://softland.example/#m=${ROOM}.${CODE}.${SECRET}`);
  for (const s of [link, `  ${link}\n`, `#m=${ROOM}.${CODE}.${SECRET}`, `m=${ROOM}.${CODE}.${SECRET}`]) {
    const m = parseMoveFragment(s);
    assert.ok(m, s);
    assert.equal(m.room, ROOM);
    assert.equal(m.code, CODE);
    assert.equal(b64u(m.secret), SECRET);
  }
  assert.equal(parseFragment(link), null, 'a pairing-link reader refuses a move link');
  assert.deepEqual(joinOf(link), { room: ROOM, secret: SECRET, move: CODE });
  assert.deepEqual(joinOf(`https://softland.example/#${ROOM}.${SECRET}`), { room: ROOM, secret: SECRET });
});

test('a damaged move link is refused', () => {
  for (const s of [
    `#${ROOM}.${CODE}.${SECRET}`,
    `#m=${ROOM}.${SECRET}`,
    `#m=${ROOM}.${CODE}.${SECRET}.${SECRET}`,
    `#m=${ROOM.toUpperCase()}.${CODE}.${SECRET}`,
    `#m=${ROOM}.abc.${SECRET}`,
    `#m=${ROOM}.${CODE.slice(0, 42)}B.${SECRET}`,
    `#m=${ROOM}.${CODE}.${SECRET.slice(0, 40)}`,
    '',
    null,
  ]) {
    assert.equal(parseMoveFragment(s), null, String(s));
  }
  assert.equal(joinOf('#m=nothing'), null);
});

test("the partner's bar says a move happened, for a while", () => {
  const at = Date.UTC(2026, 2, 14, 23, 0);
  const st = applyEvent({ ...emptyState(), paired: true, presence: ['online', 'online'] }, { kind: 'moved', seat: 2, epoch: 'e', offset: 5, at });
  const ctx = (now) => ({
    room: { room: ROOM, seat: 1, device: 'd', onboarded: true },
    seat: 1,
    other: 2,
    st,
    conn: { status: 'open', everOpen: true, online: true },
    opened: { shared: null },
    plan: { me: 'Alex', partner: 'Sam' },
    lang: 'en',
    now,
    ui: { screen: 'checkin' },
  });
  assert.equal(vm.bar(ctx(at + 1000)).text, 'Sam moved to a new device');
  assert.notEqual(vm.bar(ctx(at + vm.MOVED_NOTE_MS)).text, 'Sam moved to a new device');
  // A move of this phone's own seat says nothing about the partner.
  const own = applyEvent(emptyState(), { kind: 'moved', seat: 1, epoch: 'e', offset: 1, at });
  assert.deepEqual(own.moved, [at, 0]);
});

test('a cancelled pairing link says so and offers a fresh one', () => {
  const ctx = (room) => ({ room: { room: ROOM, seat: 1, device: 'd', inviteUntil: Date.UTC(2026, 2, 15), ...room }, st: emptyState(), lang: 'en', now: Date.UTC(2026, 2, 14) });
  const open = vm.pair(ctx({}));
  assert.equal(open.state, 'waiting');
  assert.ok(open.invite && !open.restart);
  const cancelled = vm.pair(ctx({ inviteRevoked: true }));
  assert.equal(cancelled.state, 'revoked');
  assert.ok(!cancelled.invite && cancelled.restart);
  assert.match(cancelled.text, /cancelled/);
});

test('iPhone and iPad in the browser get the Home Screen hint; installed apps and others do not', () => {
  const iphone = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
  assert.equal(vm.homeScreenHint({ ua: iphone, platform: 'iPhone', touchPoints: 5, standalone: false }), true);
  assert.equal(vm.homeScreenHint({ ua: iphone, platform: 'iPhone', touchPoints: 5, standalone: true }), false);
  // iPadOS asks for the desktop site: a Mac that can be touched.
  assert.equal(vm.homeScreenHint({ ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)', platform: 'MacIntel', touchPoints: 5, standalone: false }), true);
  assert.equal(vm.homeScreenHint({ ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)', platform: 'MacIntel', touchPoints: 0, standalone: false }), false);
  assert.equal(vm.homeScreenHint({ ua: 'Mozilla/5.0 (Linux; Android 14; Pixel 8)', platform: 'Linux armv8l', touchPoints: 5, standalone: false }), false);
});
