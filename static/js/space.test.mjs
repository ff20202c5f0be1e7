// Tests for space.js. Run with: node --test static/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { spaceBanner, OFFER_FOR } from './space.js';

const MIN = 60000;

test('a countdown while space lasts, the partner’s first', () => {
  const now = 1000 * MIN;
  const theirs = { kind: 'space', minutes: 20, until: now + 5 * MIN };
  const mine = { minutes: 10, until: now + 8 * MIN };
  assert.deepEqual(spaceBanner(mine, theirs, 0, now), { kind: 'partner', minutes: 20, until: now + 5 * MIN });
  assert.deepEqual(spaceBanner(mine, null, 0, now), { kind: 'mine', minutes: 10, until: now + 8 * MIN });
});

test('a check-in is offered when the time is up, until it is taken up', () => {
  const now = 1000 * MIN;
  const theirs = { kind: 'space', minutes: 20, until: now - MIN };
  assert.equal(spaceBanner(null, theirs, now - 30 * MIN, now).kind, 'partnerDone');
  assert.equal(spaceBanner(null, theirs, now, now).kind, '', 'a tap after the end takes up the offer');
  assert.equal(spaceBanner({ minutes: 10, until: now - MIN }, null, 0, now).kind, 'mineDone');
  assert.equal(spaceBanner(null, { ...theirs, until: now - OFFER_FOR - 1 }, 0, now).kind, '', 'an old space offers nothing');
});

test('a space ended early (0 minutes) or another kind of announcement shows nothing', () => {
  const now = 1000 * MIN;
  assert.equal(spaceBanner({ minutes: 0, until: now }, { kind: 'space', minutes: 0, until: now }, 0, now).kind, '');
  assert.equal(spaceBanner(null, { kind: 'other', until: now + MIN }, 0, now).kind, '');
  assert.equal(spaceBanner(null, null, 0, now).kind, '');
});
