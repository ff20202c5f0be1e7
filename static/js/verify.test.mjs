// Tests for verify.js: the web app makes the same verification words and
// re-pair links as the Go client, from the shared known answers in
// client/keys/testdata/verify.json.
// Run with: node --test static/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';

import { b64u } from './crypto.js';
import { joinOf } from './lifecycle.js';
import { WORDS, parseReplaceFragment, replaceLink, verifyWords } from './verify.js';

const url = new URL('../../client/keys/testdata/verify.json', import.meta.url);
const v = existsSync(url) ? JSON.parse(readFileSync(url, 'utf8')) : null;
const skip = v ? false : 'client/keys/testdata/verify.json is missing';

test('the word list is the Go client’s', { skip }, () => {
  assert.deepEqual([...WORDS], v.words);
  assert.equal(new Set(WORDS).size, 256);
});

test('verification words match the known answers', { skip }, async () => {
  for (const c of v.cases) {
    assert.deepEqual(await verifyWords(c.secret, c.room, c.code, c.nonce), c.verify);
  }
  assert.notDeepEqual(v.cases[1].verify, v.cases[2].verify, 'another nonce, other words');
});

test('a re-pair link round-trips, as the Go client writes it', { skip }, () => {
  const l = v.link;
  assert.equal(replaceLink(l.origin, l.room, l.code, l.secret), l.link);
  const r = parseReplaceFragment(l.link);
  assert.ok(r);
  assert.equal(r.room, l.room);
  assert.equal(r.code, l.code);
  assert.equal(b64u(r.secret), l.secret);
  assert.deepEqual(joinOf(l.link), { room: l.room, secret: l.secret, replace: l.code });
  for (const bad of [l.link.replace('#r=', '#m='), l.link.replace('#r=', '#'), `${l.link}.x`, l.link.slice(0, -2)]) {
    assert.equal(parseReplaceFragment(bad), null, bad);
  }
});
