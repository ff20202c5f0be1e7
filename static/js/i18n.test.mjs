// Tests for i18n.js: both languages say everything, with the same
// placeholders, and every string the page and the app ask for exists.
// Run with: node --test static/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';

import { STRINGS, LANGS, t, detectLang, setLang, getLang } from './i18n.js';

const read = (p) => readFileSync(new URL(p, import.meta.url), 'utf8');
const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('every language has every key, with the same placeholders', () => {
  const keys = Object.keys(STRINGS.en).sort();
  for (const lang of LANGS) {
    assert.deepEqual(Object.keys(STRINGS[lang]).sort(), keys, lang);
    for (const k of keys) {
      assert.ok(STRINGS[lang][k].trim(), `${lang}.${k} is empty`);
      assert.deepEqual(placeholders(STRINGS[lang][k]), placeholders(STRINGS.en[k]), `${lang}.${k}`);
    }
  }
});

test('every key the page and the code use exists', () => {
  const used = new Set(['langName']);
  for (const m of read('../index.html').matchAll(/data-i18n(?:-aria)?="([^"]+)"/g)) used.add(m[1]);
  const files = ['vm.js', 'react.js', 'when.js', ...readdirSync(new URL('./screens/', import.meta.url)).map((f) => `screens/${f}`)];
  const code = files.map((f) => read(`./${f}`)).join('\n');
  // t('key' …) and t(cond ? 'a' : 'b' …): every literal in the first argument.
  for (const m of code.matchAll(/\bt\(([^,)]*(?:\([^)]*\))?[^,)]*)/g)) {
    for (const lit of m[1].replace(/[!=]== '\w+'/g, '').matchAll(/'([A-Za-z_]+)'/g)) used.add(lit[1]);
  }
  // Keys chosen from a table: { state: 'key', … }[state].
  for (const m of code.matchAll(/\{ ((?:\w+: '\w+', )*\w+: '\w+') \}\[/g)) {
    for (const kv of m[1].matchAll(/: '(\w+)'/g)) used.add(kv[1]);
  }
  const screen = read('./screens/notice.js');
  const notices = screen.slice(screen.indexOf('NOTICES = {'), screen.indexOf('};', screen.indexOf('NOTICES = {')));
  for (const m of notices.matchAll(/^\s+(\w+): \{ primary: '(\w+)'(?:, secondary: '(\w+)')? \}/gm)) {
    used.add(`notice_${m[1]}_title`).add(`notice_${m[1]}_body`).add(m[2]);
    if (m[3]) used.add(m[3]);
  }
  for (const m of read('./history.js').matchAll(/'(celebrate\w+)'/g)) used.add(m[1]);
  assert.ok(used.size > 100, `found only ${used.size} keys: the scan is broken`);
  for (const k of used) assert.ok(k in STRINGS.en, `missing string ${k}`);
});

test('t fills placeholders and picks the singular', () => {
  assert.equal(t('stUnreachable', { name: 'Sam' }, 'en'), 'Sam’s phone is not reachable right now');
  assert.equal(t('celebrateMatched', { count: 1 }, 'es'), STRINGS.es.celebrateMatched_one);
  assert.equal(t('celebrateMatched', { count: 3 }, 'en'), 'You found something you both wanted 3 times this month.');
  assert.equal(t('no such key'), 'no such key');
});

test('the language follows the browser, by base language', () => {
  assert.equal(detectLang(['es-MX', 'en']), 'es');
  assert.equal(detectLang(['fr-FR', 'en-GB']), 'en');
  assert.equal(detectLang(['de']), 'en');
  assert.equal(detectLang(undefined), 'en');
  setLang('es');
  assert.equal(getLang(), 'es');
  setLang('xx');
  assert.equal(getLang(), 'en');
});
