// Tests for when.js: deadlines say the day and the distance, so "2:21 AM"
// read at 8 AM is not mistaken for the past. Run with: node --test static/js/
// (in the runtime's time zone; the cases are built from local dates).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { clock, dayAndTime, deadline, fromNow, timeOfDay } from './when.js';

const at = (y, mo, d, h, mi) => new Date(y, mo - 1, d, h, mi).getTime();
const HOUR = 3600000;

test('a deadline after midnight says tomorrow and how long is left', () => {
  const now = at(2026, 3, 14, 23, 21);
  const until = at(2026, 3, 15, 2, 21);
  assert.equal(dayAndTime(until, now, 'en'), `tomorrow at ${timeOfDay(until, 'en')}`);
  assert.equal(fromNow(until, now, 'en'), 'in 3 hours');
  assert.equal(deadline(until, now, 'en'), `tomorrow at ${timeOfDay(until, 'en')} (in 3 hours)`);
  assert.match(timeOfDay(until, 'en'), /^2:21\sAM$/);
});

test('later today says today; further off names the day', () => {
  const now = at(2026, 3, 14, 8, 0);
  assert.ok(dayAndTime(at(2026, 3, 14, 20, 0), now, 'en').startsWith('today at '));
  const far = dayAndTime(at(2026, 3, 17, 20, 0), now, 'en');
  assert.ok(!/today|tomorrow/.test(far) && far.includes('Tue'), far);
});

test('distances round sensibly and never say "ago" for a deadline just passed', () => {
  const now = at(2026, 3, 14, 8, 0);
  assert.equal(fromNow(now + 45 * 60000, now, 'en'), 'in 45 minutes');
  assert.equal(fromNow(now + 20 * 1000, now, 'en'), 'in 1 minute');
  assert.equal(fromNow(now - 5000, now, 'en'), 'in 1 minute');
  assert.equal(fromNow(now + 30 * HOUR, now, 'en'), 'in 30 hours');
  assert.equal(fromNow(now + 3 * 24 * HOUR, now, 'en'), 'in 3 days');
});

test('Spanish says the day in Spanish', () => {
  const now = at(2026, 3, 14, 23, 21);
  const d = deadline(at(2026, 3, 15, 2, 21), now, 'es');
  assert.ok(d.startsWith('mañana a las '), d);
  assert.ok(d.endsWith('(dentro de 3 horas)'), d);
});

test('the countdown clock', () => {
  assert.equal(clock(0), '00:00');
  assert.equal(clock(-5), '00:00');
  assert.equal(clock(61001), '01:02');
  assert.equal(clock(20 * 60000), '20:00');
});
