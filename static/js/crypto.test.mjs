// Tests for crypto.js against the Go client's known answers
// (client/keys/testdata/vectors.json), so the web app and the Go client derive,
// tokenise and seal byte for byte alike. Run with: node --test static/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';

import {
  b64u,
  unb64u,
  deriveRaw,
  deriveKeys,
  token,
  tokenMap,
  encodeTokens,
  decodeTokens,
  seal,
  open,
  submission,
  decoyPool,
  makeLink,
  parseFragment,
  TOKEN_SET_SIZE,
  TOKEN_BYTES,
} from './crypto.js';

const vectorsURL = new URL('../../client/keys/testdata/vectors.json', import.meta.url);
const haveVectors = existsSync(vectorsURL);
const v = haveVectors ? JSON.parse(readFileSync(vectorsURL, 'utf8')) : null;
const skip = haveVectors ? false : 'client/keys/testdata/vectors.json is missing';

test('known answers: HKDF keys, join key and its hash', { skip }, async () => {
  const secret = unb64u(v.secret);
  const raw = await deriveRaw(secret);
  assert.equal(b64u(raw.join), v.keys.join);
  assert.equal(b64u(raw.match), v.keys.match);
  assert.equal(b64u(raw.seal), v.keys.seal);
  const keys = await deriveKeys(secret);
  assert.equal(keys.joinKey, v.joinKey);
  assert.equal(keys.joinKeyHash, v.joinKeyHash);
});

test('known answers: tokens', { skip }, async () => {
  const keys = await deriveKeys(unb64u(v.secret));
  for (const tv of v.tokens) {
    assert.equal(await token(keys, tv.round, tv.id), tv.token, `${tv.round}/${tv.id}`);
    assert.deepEqual(unb64u(tv.token), unb64u(tv.hmac).subarray(0, TOKEN_BYTES), 'a token is the HMAC cut to 16 bytes');
  }
});

test('known answers: a submission in wire form', { skip }, async () => {
  const keys = await deriveKeys(unb64u(v.secret));
  const s = v.submission;
  const real = await Promise.all(s.ids.map((id) => token(keys, s.round, id)));
  assert.equal(encodeTokens([...real, ...s.decoys]), s.tokens);
  assert.deepEqual(decodeTokens(s.tokens), [...real, ...s.decoys]);
  // submission() puts the real tokens first, in order, and the pool's decoys after them.
  const mine = decodeTokens(await submission(keys, s.round, s.ids, s.decoys));
  assert.deepEqual(mine.slice(0, s.ids.length), real);
  assert.deepEqual(new Set(mine.slice(s.ids.length)), new Set(s.decoys));
});

test('token lists: whole 16-byte tokens in strict base64url only', () => {
  assert.deepEqual(decodeTokens(''), []);
  const t = b64u(new Uint8Array(16).fill(7));
  assert.equal(encodeTokens([t, t]).length, 43);
  assert.deepEqual(decodeTokens(encodeTokens([t, t])), [t, t]);
  for (const bad of ['AA', b64u(new Uint8Array(17)), encodeTokens([t]) + '=', '+' + encodeTokens([t]).slice(1)]) {
    assert.throws(() => decodeTokens(bad), bad);
  }
  assert.throws(() => encodeTokens([b64u(new Uint8Array(32))]));
});

test('known answers: sealed blobs seal and open', { skip }, async () => {
  const keys = await deriveKeys(unb64u(v.secret));
  for (const sv of v.seals) {
    assert.equal(await seal(keys, sv.room, sv.context, sv.plaintext, unb64u(sv.nonce)), sv.blob, sv.context);
    assert.equal(await open(keys, sv.room, sv.context, sv.blob), sv.plaintext, sv.context);
  }
});

test('known answers: the link', { skip }, () => {
  const secret = unb64u(v.secret);
  assert.equal(makeLink(v.link.origin, v.link.room, secret), v.link.link);
  const p = parseFragment(v.link.link);
  assert.equal(p.room, v.link.room);
  assert.deepEqual(p.secret, secret);
  assert.deepEqual(parseFragment(new URL(v.link.link).hash), p);
});

test('open refuses another room, context, or a changed blob', { skip }, async () => {
  const keys = await deriveKeys(unb64u(v.secret));
  const sv = v.seals[0];
  await assert.rejects(open(keys, sv.room.replace('6f', '7f'), sv.context, sv.blob));
  await assert.rejects(open(keys, sv.room, 'settings', sv.blob));
  const bytes = unb64u(sv.blob);
  bytes[bytes.length - 1] ^= 1;
  await assert.rejects(open(keys, sv.room, sv.context, b64u(bytes)));
  await assert.rejects(open(keys, sv.room, sv.context, 'short'));
  await assert.rejects(open(keys, sv.room, sv.context, sv.blob + '='));
});

test('seal with a fresh nonce round-trips UTF-8', async () => {
  const keys = await deriveKeys(new Uint8Array(32).fill(7));
  const room = '6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b';
  const a = await seal(keys, room, 'settings', '{"pauseWord":"mandarina 🍊"}');
  const b = await seal(keys, room, 'settings', '{"pauseWord":"mandarina 🍊"}');
  assert.notEqual(a, b, 'two seals must use two nonces');
  assert.equal(await open(keys, room, 'settings', a), '{"pauseWord":"mandarina 🍊"}');
});

test('base64url is unpadded and strict', () => {
  assert.equal(b64u(new Uint8Array([251, 255])), '-_8');
  assert.deepEqual(unb64u('-_8'), new Uint8Array([251, 255]));
  for (const bad of ['-_8=', '+/8', 'a', '-_9', 'ab cd']) {
    assert.throws(() => unb64u(bad), bad);
  }
});

test('parseFragment accepts only room.secret', () => {
  const room = '6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b';
  const secret = b64u(new Uint8Array(32).fill(1));
  assert.ok(parseFragment(`#${room}.${secret}`));
  assert.ok(parseFragment(`  https://x.example/#${room}.${secret}\n`));
  for (const bad of ['', '#', `#${room}`, `#${room.toUpperCase()}.${secret}`, `#${room}.${secret}AA`, `#${room}.${secret}=`]) {
    assert.equal(parseFragment(bad), null, bad);
  }
});

test('a submission is 64 distinct tokens, each at the position of its rank', async () => {
  const keys = await deriveKeys(new Uint8Array(32).fill(3));
  const round = '0a9b8c7d-6e5f-4a3b-9c2d-1e0f2a3b4c5d';
  const ids = ['water', 'hold@2', 'cuddle'];
  const pool = decoyPool();
  const wire = await submission(keys, round, ids, pool);
  assert.equal(wire.length, 1366);
  const set = decodeTokens(wire);
  assert.equal(set.length, TOKEN_SET_SIZE);
  assert.equal(new Set(set).size, TOKEN_SET_SIZE);
  for (const [i, id] of ids.entries()) assert.equal(set[i], await token(keys, round, id), id);
  for (const t of pool) assert.equal(unb64u(t).length, TOKEN_BYTES);
  // Decoys come from the round's pool, in order: the first 61 of it here,
  // at the other positions.
  assert.deepEqual(new Set(set.slice(3)), new Set(pool.slice(0, 61)));
  // Resubmitting reuses the round's decoys: only real tokens change.
  const again = decodeTokens(await submission(keys, round, ['water'], pool));
  assert.deepEqual(new Set(again.slice(1)), new Set(pool.slice(0, 63)));
  // The decoys take their positions in a fresh order each time.
  const orders = new Set();
  for (let i = 0; i < 5; i++) orders.add(await submission(keys, round, ['water'], pool));
  assert.ok(orders.size > 1, 'decoys always in the same positions');
  // No wish at all is 64 decoys.
  const none = decodeTokens(await submission(keys, round, [], pool));
  assert.deepEqual(new Set(none), new Set(pool));
});

test('tokenMap reads a reveal back', async () => {
  const keys = await deriveKeys(new Uint8Array(32).fill(5));
  const round = 'f0e1d2c3-b4a5-4968-8776-655443322110';
  const m = await tokenMap(keys, round, ['water', 'hold@1', 'hold@2']);
  assert.equal(m.get(await token(keys, round, 'hold@2')), 'hold@2');
  assert.equal(m.size, 3);
});
