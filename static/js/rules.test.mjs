// Tests for rules.js: every shared vector, plus render and a few properties
// of the shipped catalog. Run with: node --test static/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { accept, acceptRanked, concreteIds, render, FALLBACK_RANK } from './rules.js';

const catalog = JSON.parse(readFileSync(new URL('../catalog.json', import.meta.url), 'utf8'));
const vectorFile = JSON.parse(readFileSync(new URL('../rules-vectors.json', import.meta.url), 'utf8'));

const tagsOf = (id) => catalog.suggestions.find((s) => s.id === id.split('@')[0]).tags;
const needsIn = (group) => catalog.needs.filter((n) => n.group === group).map((n) => n.id);

test('vector file is well formed', () => {
  assert.equal(vectorFile.version, 1);
  assert.ok(vectorFile.vectors.length >= 25, `only ${vectorFile.vectors.length} vectors`);
  const names = new Set(vectorFile.vectors.map((v) => v.name));
  assert.equal(names.size, vectorFile.vectors.length, 'vector names must be unique');
  const ids = new Set(concreteIds(catalog));
  for (const v of vectorFile.vectors) {
    assert.ok(v.error === true || Array.isArray(v.want), `${v.name}: neither want nor error`);
    for (const id of v.want || []) assert.ok(ids.has(id), `${v.name}: unknown id ${id}`);
  }
});

for (const v of vectorFile.vectors) {
  test(`vector: ${v.name}`, () => {
    const run = () => accept(catalog, v.seat, v.needs, { never: v.never, welcome: v.welcome });
    if (v.error) {
      assert.throws(run);
    } else {
      assert.deepEqual(run(), v.want);
    }
  });
}

test('concreteIds: roles twice, unique, at most 64', () => {
  const ids = concreteIds(catalog);
  assert.ok(ids.length <= 64, `${ids.length} concrete ids`);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual(ids.slice(0, 2), ['hold@1', 'hold@2']);
  const roles = catalog.suggestions.filter((s) => s.roles).length;
  assert.equal(ids.length, catalog.suggestions.length + roles);
});

test('render fills names by seat', () => {
  const names = { seat1: 'Alex', seat2: 'Sam' };
  assert.equal(render(catalog, 'hold@1', 'en', names), 'Alex holds Sam');
  assert.equal(render(catalog, 'hold@2', 'en', names), 'Sam holds Alex');
  assert.equal(render(catalog, 'hold@2', 'es', names), 'Sam abraza a Alex');
});

test('render falls back to the base language, then English', () => {
  const names = { seat1: 'Alex', seat2: 'Sam' };
  assert.equal(render(catalog, 'hold@1', 'es-MX', names), 'Alex abraza a Sam');
  assert.equal(render(catalog, 'hold@1', 'fr', names), 'Alex holds Sam');
  assert.equal(render(catalog, 'water', 'de', names), 'A glass of water');
  assert.equal(render(catalog, 'water', 'es', names), 'Un vaso de agua');
});

test('render names the space-needer as the giver of a bridge', () => {
  const names = { seat1: 'Alex', seat2: 'Sam' };
  assert.equal(render(catalog, 'bridge-apart-20@1', 'en', names), 'Alex takes 20 quiet minutes alone while Sam rests, then you check in');
  assert.equal(render(catalog, 'bridge-apart-20@2', 'es', names), 'Sam se toma 20 minutos de calma a solas mientras Alex descansa, y después se reencuentran');
});

test('render does not re-read names and rejects bad ids', () => {
  const names = { seat1: '{receiver}', seat2: 'Sam' };
  assert.equal(render(catalog, 'hold@1', 'en', names), '{receiver} holds Sam');
  for (const bad of ['nope', 'hold', 'hold@3', 'water@1', 'hold@1@2', '']) {
    assert.equal(render(catalog, bad, 'en', names), '', bad);
  }
});

test('every concrete id renders in every locale', () => {
  for (const id of concreteIds(catalog)) {
    for (const lang of catalog.locales) {
      const text = render(catalog, id, lang, { seat1: 'Alex', seat2: 'Sam' });
      assert.ok(text && !text.includes('{'), `${id} ${lang}: ${text}`);
    }
  }
});

test('acceptRanked carries rank and hits', () => {
  const got = acceptRanked(catalog, 1, ['sleep', 'dim-lights'], { welcome: ['water'] });
  assert.deepEqual(got.slice(0, 4), [
    { id: 'sleep', rank: 0, hits: 2 },
    { id: 'dim-lights', rank: 0, hits: 2 },
    { id: 'silence', rank: 1, hits: 2 },
    { id: 'water', rank: 1, hits: 1 },
  ]);
  // water was welcomed (2 -> 1) and so now ties soft-music; catalog order breaks the tie.
  assert.deepEqual(got.slice(4), [
    { id: 'soft-music', rank: 1, hits: 1 },
    { id: 'blanket', rank: 2, hits: 1 },
  ]);
});

test('accept tolerates a missing plan', () => {
  assert.deepEqual(accept(catalog, 2, ['light-talk']), ['light-talk', 'gratitude']);
  assert.deepEqual(accept(catalog, 2, ['light-talk'], null), ['light-talk', 'gratitude']);
});

test('bridges appear only for space and closeness needs', () => {
  const others = [...needsIn('care'), ...needsIn('calm'), ...needsIn('words')];
  for (const seat of [1, 2]) {
    for (const need of others) {
      for (const id of accept(catalog, seat, [need], {})) {
        assert.ok(!tagsOf(id).includes('bridge'), `${need} accepts ${id}`);
      }
    }
    for (const id of accept(catalog, seat, others, {})) {
      assert.ok(!tagsOf(id).includes('bridge'), `all others accept ${id}`);
    }
  }
});

const isBridge = (id) => tagsOf(id).includes('bridge');
// Giving seat of a concrete roles id ("x@2" -> 2), or 0.
const giverSeat = (id) => ({ 1: 1, 2: 2 })[id.split('@')[1]] || 0;
const bridgeIds = catalog.suggestions.filter((s) => s.tags.includes('bridge')).map((s) => s.id);

// Every non-empty subset of ids, in a fixed order.
const subsets = (ids) => {
  const out = [];
  for (let mask = 1; mask < 1 << ids.length; mask++) out.push(ids.filter((_, i) => mask & (1 << i)));
  return out;
};
// What the blind server can reveal: the ids both lists accept.
const mutual = (a, b) => {
  const set = new Set(b);
  return a.filter((id) => set.has(id));
};

test('space against closeness meets only on bridges the space-needer gives', () => {
  for (const space of needsIn('space')) {
    for (const near of needsIn('closeness')) {
      for (const spaceSeat of [1, 2]) {
        const a = acceptRanked(catalog, spaceSeat, [space], {});
        const b = new Set(accept(catalog, 3 - spaceSeat, [near], {}));
        const both = a.filter((r) => b.has(r.id));
        assert.ok(both.length > 0, `${space} vs ${near}: nothing in common`);
        for (const r of both) {
          assert.ok(isBridge(r.id), `${space} vs ${near}: ${r.id}`);
          assert.equal(giverSeat(r.id), spaceSeat, `${space} (seat ${spaceSeat}) vs ${near}: ${r.id}`);
          assert.ok(r.rank < FALLBACK_RANK, `${space}: ${r.id} at rank ${r.rank}`);
        }
      }
    }
  }
});

test('bridges have roles', () => {
  assert.ok(bridgeIds.length >= 4, `only ${bridgeIds.length} bridges`);
  for (const s of catalog.suggestions) {
    if (s.tags.includes('bridge')) assert.ok(s.roles, `bridge ${s.id} has no roles`);
  }
});

test('closeness accepts every bridge as receiver only, at a fallback rank', () => {
  for (const near of needsIn('closeness')) {
    for (const seat of [1, 2]) {
      const bridges = acceptRanked(catalog, seat, [near], { welcome: bridgeIds }).filter((r) => isBridge(r.id));
      assert.equal(bridges.length, bridgeIds.length, `${near}: ${bridges.length} bridges`);
      for (const r of bridges) {
        assert.equal(giverSeat(r.id), 3 - seat, `${near} in seat ${seat} accepts ${r.id}`);
        assert.ok(r.rank >= FALLBACK_RANK, `${near}: ${r.id} at rank ${r.rank}`);
      }
    }
  }
});

test('two closeness phones never share a bridge, whatever they tap', () => {
  const sets = subsets(needsIn('closeness'));
  const lists1 = sets.map((set) => accept(catalog, 1, set, {}));
  const lists2 = sets.map((set) => accept(catalog, 2, set, {}));
  lists1.forEach((a, i) => {
    lists2.forEach((b, j) => {
      const shared = mutual(a, b).filter(isBridge);
      assert.deepEqual(shared, [], `seat 1 ${sets[i]} vs seat 2 ${sets[j]}`);
    });
  });
});

test('any space set against any closeness set meets only on bridges the space-needer gives', () => {
  const space = subsets(needsIn('space'));
  const near = subsets(needsIn('closeness'));
  for (const spaceSeat of [1, 2]) {
    const spaceLists = space.map((set) => accept(catalog, spaceSeat, set, {}));
    const nearLists = near.map((set) => accept(catalog, 3 - spaceSeat, set, {}));
    spaceLists.forEach((a, i) => {
      nearLists.forEach((b, j) => {
        const both = mutual(a, b);
        const what = `space ${space[i]} (seat ${spaceSeat}) vs closeness ${near[j]}`;
        assert.ok(both.length > 0, `${what}: nothing mutual`);
        for (const id of both) {
          assert.ok(isBridge(id) && giverSeat(id) === spaceSeat, `${what}: ${id}`);
        }
      });
    });
  }
});

test('two space phones still share a bridge and never closeness', () => {
  const sets = subsets(needsIn('space'));
  const lists1 = sets.map((set) => accept(catalog, 1, set, {}));
  const lists2 = sets.map((set) => accept(catalog, 2, set, {}));
  lists1.forEach((a, i) => {
    lists2.forEach((b, j) => {
      const both = mutual(a, b);
      const what = `seat 1 ${sets[i]} vs seat 2 ${sets[j]}`;
      assert.ok(both.some(isBridge), `${what}: no bridge in ${both}`);
      for (const id of both) assert.ok(!tagsOf(id).includes('closeness'), `${what}: ${id}`);
    });
  });
});

// Models the server's reveal: the K mutual suggestions with the smallest sum
// of list positions, ties broken by token, i.e. unpredictably.
const REVEAL_SIZE = 3;

test('two space phones: receiving bridges do not crowd care out of the reveal', () => {
  for (const x of needsIn('space')) {
    for (const y of needsIn('space')) {
      const a = accept(catalog, 1, [x], {});
      const b = accept(catalog, 2, [y], {});
      const score = new Map();
      a.forEach((id, i) => {
        const j = b.indexOf(id);
        if (j >= 0) score.set(id, i + j);
      });
      const care = [...score].filter(([id]) => !isBridge(id)).map(([, s]) => s);
      assert.ok(care.length > 0, `${x} vs ${y}: no care item is mutual`);
      const best = Math.min(...care);
      const ahead = [...score.values()].filter((s) => s <= best).length;
      assert.ok(ahead <= REVEAL_SIZE, `${x} vs ${y}: ${ahead} items tie with or beat care at ${best}`);
    }
  }
});

test('a role on a tag entry narrows roles suggestions only', () => {
  const small = {
    suggestions: [
      { id: 'hug', roles: true, tags: ['closeness'] },
      { id: 'sit', tags: ['closeness'] },
    ],
    rules: [{ need: 'close', accept: [{ tag: 'closeness', role: 'give', rank: 0 }] }],
  };
  assert.deepEqual(accept(small, 1, ['close']), ['hug@1', 'sit']);
  assert.deepEqual(accept(small, 2, ['close']), ['hug@2', 'sit']);
  small.rules[0].accept[0].role = 'receive';
  assert.deepEqual(accept(small, 1, ['close']), ['hug@2', 'sit']);
  small.rules[0].accept[0].role = 'take';
  assert.throws(() => accept(small, 1, ['close']), /unknown role/);
});
