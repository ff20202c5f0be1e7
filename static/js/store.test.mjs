// Tests for store.js and history.js. Run with: node --test static/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Store, MemoryStorage, upsertHistory, MAX_HISTORY } from './store.js';
import { celebrations, lastLead, planDue, PLAN_REVISIT_AFTER } from './history.js';

test('values round-trip as JSON under the softland. prefix', () => {
  const mem = new MemoryStorage();
  const s = new Store(mem);
  s.set('taps', { round: null, needs: ['water'] });
  assert.deepEqual(s.get('taps'), { round: null, needs: ['water'] });
  assert.equal(mem.getItem('softland.taps'), '{"round":null,"needs":["water"]}');
  assert.equal(s.get('missing', 7), 7);
  mem.setItem('softland.broken', '{');
  assert.equal(s.get('broken', 'fallback'), 'fallback');
  s.set('taps', null);
  assert.equal(mem.getItem('softland.taps'), null);
  assert.deepEqual(
    s.update('n', 1, (n) => n + 1),
    2,
  );
});

test('wipe removes everything of the app but what it keeps', () => {
  const mem = new MemoryStorage();
  mem.setItem('other.app', 'x');
  const s = new Store(mem);
  for (const k of ['room', 'sync', 'taps', 'plan', 'history', 'lang']) s.set(k, 1);
  s.wipe(['lang']);
  assert.deepEqual(s.keys(), ['lang']);
  assert.equal(mem.getItem('other.app'), 'x');
});

test('a failing storage does not throw', () => {
  const s = new Store({
    getItem() {
      throw new Error('denied');
    },
    setItem() {
      throw new Error('full');
    },
    removeItem() {},
    key() {
      return null;
    },
    length: 0,
  });
  assert.equal(s.get('x', 1), 1);
  assert.equal(s.set('x', 2), false);
});

test('history: newest first, one entry per round, bounded', () => {
  let h = [];
  h = upsertHistory(h, 'a', (e) => ({ ...e, at: 1, by: 1 }));
  h = upsertHistory(h, 'b', (e) => ({ ...e, at: 2, by: 2 }));
  h = upsertHistory(h, 'a', (e) => ({ ...e, suggestions: ['water'] }));
  assert.deepEqual(
    h.map((e) => [e.round, e.by, e.suggestions]),
    [
      ['b', 2, []],
      ['a', 1, ['water']],
    ],
  );
  for (let i = 0; i < MAX_HISTORY + 5; i++) h = upsertHistory(h, `r${i}`, (e) => ({ ...e, at: 10 + i }));
  assert.equal(h.length, MAX_HISTORY);
  assert.equal(h[0].round, `r${MAX_HISTORY + 4}`);
});

test('celebrations count only good news', () => {
  const day = 24 * 60 * 60 * 1000;
  const now = 100 * day;
  assert.deepEqual(celebrations([], now), []);
  const one = [{ round: 'a', at: now - day, by: 1, suggestions: ['water'], pauses: 0, debrief: null }];
  assert.deepEqual(
    celebrations(one, now).map((c) => c[0]),
    ['celebrateMatched', 'celebrateFirst'],
  );
  const many = [
    { round: 'c', at: now - day, by: 2, suggestions: [], pauses: 1, debrief: [{}, {}] },
    { round: 'b', at: now - 8 * day, by: 1, suggestions: ['x'], pauses: 0, debrief: [{}, {}] },
    { round: 'a', at: now - 40 * day, by: 2, suggestions: ['y'], pauses: 0, debrief: null },
  ];
  assert.deepEqual(celebrations(many, now), [
    ['celebrateMatched', { count: 1 }],
    ['celebrateDebriefs', { count: 2 }],
    ['celebratePause', {}],
    ['celebrateWeeks', { count: 2 }],
  ]);
  assert.equal(lastLead(many), 2);
  assert.equal(lastLead([]), 0);
});

test('the plan is due only when saved more than a month ago', () => {
  assert.equal(planDue(null, 5 + PLAN_REVISIT_AFTER), false);
  assert.equal(planDue({}, 5 + PLAN_REVISIT_AFTER), false);
  assert.equal(planDue({ at: 0 }, 5 + PLAN_REVISIT_AFTER), false);
  assert.equal(planDue({ at: 1000 }, 1000 + PLAN_REVISIT_AFTER), false);
  assert.equal(planDue({ at: 1000 }, 1001 + PLAN_REVISIT_AFTER), true);
});
