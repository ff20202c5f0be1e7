// Tests for push.js: the kinds sent, the notification's words by level,
// kind and language, when to subscribe again, and which offer shows.
// Run with: node --test static/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { KINDS, PUSH_STRINGS, decide, iosNeedsHomeScreen, kindsOf, notificationTitle, notifyRecord, offer, pt, sameKinds } from './push.js';

const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('both languages say everything, with the same placeholders', () => {
  const keys = Object.keys(PUSH_STRINGS.en).sort();
  assert.deepEqual(Object.keys(PUSH_STRINGS.es).sort(), keys);
  for (const k of keys) {
    assert.ok(PUSH_STRINGS.es[k].trim(), `es.${k} is empty`);
    assert.deepEqual(placeholders(PUSH_STRINGS.es[k]), placeholders(PUSH_STRINGS.en[k]), k);
  }
  for (const k of KINDS) for (const p of ['kind_', 'text_']) assert.ok(`${p}${k}` in PUSH_STRINGS.en, `${p}${k}`);
});

test('every string wake.js asks for exists', () => {
  const code = readFileSync(new URL('./wake.js', import.meta.url), 'utf8');
  const used = new Set();
  for (const m of code.matchAll(/\bs\('(\w+)'/g)) used.add(m[1]);
  for (const m of code.matchAll(/status = '(\w+)'/g)) if (m[1]) used.add(m[1]);
  for (const m of code.matchAll(/'(offline|unavailable|failed|deniedIOS|denied)'/g)) used.add(m[1]);
  assert.ok(used.size > 15, `found only ${used.size} keys: the scan is broken`);
  for (const k of used) assert.ok(k in PUSH_STRINGS.en, `missing push string ${k}`);
});

test('kinds: exactly the four booleans, all on by default', () => {
  assert.deepEqual(kindsOf(null), { pause: true, checkin: true, debrief: true, space: true });
  assert.deepEqual(kindsOf({ checkin: false, space: 0, extra: true }), { pause: true, checkin: false, debrief: true, space: false });
  assert.deepEqual(Object.keys(kindsOf({})), KINDS);
  assert.ok(sameKinds(kindsOf({ space: false }), { pause: true, checkin: true, debrief: true, space: false }));
  assert.ok(!sameKinds(kindsOf({ space: false }), kindsOf(null)));
  assert.ok(!sameKinds(undefined, kindsOf(null)));
});

test('discreet keeps no name and says only "open when you can", in the phone’s language', () => {
  for (const [lang, text] of [
    ['en', 'Softland — open when you can'],
    ['es', 'Softland — ábrela cuando puedas'],
  ]) {
    const rec = notifyRecord('discreet', lang, 'Sam');
    assert.deepEqual(rec, { level: 'discreet', discreet: text });
    for (const kind of KINDS) assert.equal(notificationTitle(rec, { kind, offset: 3 }), text);
    assert.ok(!JSON.stringify(rec).includes('Sam'));
  }
  assert.deepEqual(notifyRecord(undefined, 'en', 'Sam').level, 'discreet');
});

test('detailed names the partner, per kind and language', () => {
  const want = {
    en: { pause: 'Sam paused', checkin: 'Sam started a check-in', debrief: 'Both debriefs are open', space: 'A note from Sam about space' },
    es: { pause: 'Sam ha pausado', checkin: 'Sam empezó un momento de conexión', debrief: 'Los dos repasos están abiertos', space: 'Un aviso de Sam sobre su espacio' },
  };
  for (const lang of ['en', 'es']) {
    const rec = notifyRecord('detailed', lang, 'Sam');
    for (const kind of KINDS) assert.equal(notificationTitle(rec, { kind, offset: 9 }), want[lang][kind], `${lang} ${kind}`);
    // A knock that could not be read still shows, discreetly.
    assert.equal(notificationTitle(rec, null), pt('discreet', {}, lang));
    assert.equal(notificationTitle(rec, { kind: 'unknown', offset: 1 }), pt('discreet', {}, lang));
  }
  assert.equal(notificationTitle(null, { kind: 'pause', offset: 1 }), 'Softland — open when you can');
});

test('sw.js words a notification as notificationTitle does', async () => {
  // The worker cannot import modules everywhere, so it has its own copy of
  // the rule: run it against the same records.
  const src = readFileSync(new URL('../sw.js', import.meta.url), 'utf8');
  const fn = src.slice(src.indexOf('function title('), src.indexOf('\n}\n', src.indexOf('function title(')) + 2);
  const swTitle = new Function('DISCREET', `${fn}; return title;`)('Softland — open when you can');
  for (const level of ['discreet', 'detailed']) {
    for (const lang of ['en', 'es']) {
      const rec = notifyRecord(level, lang, 'Alex');
      for (const msg of [null, ...KINDS.map((kind) => ({ kind, offset: 1 }))]) assert.equal(swTitle(rec, msg), notificationTitle(rec, msg));
    }
  }
  assert.equal(swTitle(undefined, { kind: 'pause', offset: 1 }), 'Softland — open when you can');
});

const KEY = 'BKEY';
const on = { on: true, kinds: { pause: true, checkin: true, debrief: true, space: true }, endpoint: 'https://push.example/a', key: KEY };
const sub = { endpoint: 'https://push.example/a', key: KEY };
const all = kindsOf(null);

test('decide: nothing without a server that pushes', () => {
  assert.equal(decide({ server: null, pref: on, permission: 'granted', sub, resub: false }), 'off');
  assert.equal(decide({ server: {}, pref: on, permission: 'granted', sub, resub: false }), 'off');
});

test('decide: turned off here, still held there → unsubscribe', () => {
  assert.equal(decide({ server: { key: KEY, kinds: all }, pref: { ...on, on: false }, permission: 'granted', sub, resub: false }), 'unsubscribe');
  assert.equal(decide({ server: { key: KEY }, pref: { ...on, on: false }, permission: 'granted', sub, resub: false }), 'none');
  assert.equal(decide({ server: { key: KEY }, pref: null, permission: 'default', sub: null, resub: false }), 'none');
});

test('decide: wanted but not allowed', () => {
  assert.equal(decide({ server: { key: KEY, kinds: all }, pref: on, permission: 'denied', sub, resub: false }), 'denied');
  assert.equal(decide({ server: { key: KEY, kinds: all }, pref: on, permission: 'default', sub: null, resub: false }), 'denied');
});

test('decide: a new browser subscription when there is none, it changed, or the key did', () => {
  const server = { key: KEY, kinds: all };
  assert.equal(decide({ server, pref: on, permission: 'granted', sub: null, resub: false }), 'subscribe');
  assert.equal(decide({ server, pref: on, permission: 'granted', sub, resub: true }), 'subscribe');
  assert.equal(decide({ server: { key: 'OTHER', kinds: all }, pref: on, permission: 'granted', sub, resub: false }), 'subscribe');
  // A browser that does not say which key: the one this phone subscribed with.
  assert.equal(decide({ server: { key: 'OTHER', kinds: all }, pref: on, permission: 'granted', sub: { ...sub, key: '' }, resub: false }), 'subscribe');
  assert.equal(decide({ server, pref: on, permission: 'granted', sub: { ...sub, key: '' }, resub: false }), 'none');
});

test('decide: send again when the server lost it, the kinds or the endpoint changed', () => {
  assert.equal(decide({ server: { key: KEY }, pref: on, permission: 'granted', sub, resub: false }), 'send');
  assert.equal(decide({ server: { key: KEY, kinds: { ...all, space: false } }, pref: on, permission: 'granted', sub, resub: false }), 'send');
  assert.equal(decide({ server: { key: KEY, kinds: all }, pref: on, permission: 'granted', sub: { ...sub, endpoint: 'https://push.example/b' }, resub: false }), 'send');
  assert.equal(decide({ server: { key: KEY, kinds: all }, pref: on, permission: 'granted', sub, resub: false }), 'none');
});

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const IPAD = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15';
const ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36';

test('iOS in Safari needs the Home Screen; installed, or not iOS, does not', () => {
  assert.ok(iosNeedsHomeScreen({ ua: IPHONE, platform: 'iPhone', maxTouchPoints: 5, standalone: false }));
  assert.ok(iosNeedsHomeScreen({ ua: IPAD, platform: 'MacIntel', maxTouchPoints: 5, standalone: false }));
  assert.ok(!iosNeedsHomeScreen({ ua: IPHONE, platform: 'iPhone', maxTouchPoints: 5, standalone: true }));
  assert.ok(!iosNeedsHomeScreen({ ua: IPHONE, platform: 'iPhone', maxTouchPoints: 5, standalone: false, displayStandalone: true }));
  assert.ok(!iosNeedsHomeScreen({ ua: IPAD, platform: 'MacIntel', maxTouchPoints: 0, standalone: false })); // a Mac
  assert.ok(!iosNeedsHomeScreen({ ua: ANDROID, platform: 'Linux armv8l', maxTouchPoints: 5 }));
});

test('offer: which card each screen shows', () => {
  const server = { key: KEY };
  const base = { server, supported: true, ios: false, pref: null, permission: 'default', where: 'plan' };
  assert.equal(offer({ ...base, server: null }), 'hidden');
  assert.equal(offer({ ...base, server: null, ios: true }), 'hidden');
  assert.equal(offer(base), 'offer');
  assert.equal(offer({ ...base, supported: false }), 'hidden');
  assert.equal(offer({ ...base, ios: true, supported: false }), 'install');
  assert.equal(offer({ ...base, ios: true, supported: false, where: 'pair' }), 'hidden'); // the Home Screen hint says it there
  assert.equal(offer({ ...base, permission: 'denied' }), 'denied');
  assert.equal(offer({ ...base, pref: on, permission: 'granted' }), 'on');
  // Allowed for another reason, but this phone never said yes.
  assert.equal(offer({ ...base, permission: 'granted' }), 'offer');
  // "Not now" at pairing hides it there, not on the plan.
  const dismissed = { on: false, dismissed: true };
  assert.equal(offer({ ...base, pref: dismissed, where: 'pair' }), 'hidden');
  assert.equal(offer({ ...base, pref: dismissed, where: 'plan' }), 'offer');
});
