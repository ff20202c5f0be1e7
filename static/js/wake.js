// Waking a sleeping phone, the browser's side (docs/webapp.md, "Waking a
// sleeping phone"): the opt-in card on the pairing and plan screens, the
// permission (asked only from a tap), the PushManager subscription sent with
// push.subscribe, the refresh after every welcome, and what the service
// worker reads from IndexedDB to word a notification. Loaded with import()
// by the screens that show the card and after a welcome of a phone that
// opted in, so a first visit never downloads it. The decisions are in
// push.js (pure, node-tested).

import { b64u, unb64u } from './crypto.js';
import { getLang } from './i18n.js';
import { KINDS, DEFAULT_KINDS, decide, iosNeedsHomeScreen, isIOS, kindsOf, levelOf, notifyRecord, offer, pt } from './push.js';
import { el, setShown, setText } from './view.js';
import { names } from './vm.js';

// IndexedDB, shared with sw.js: database "softland", store "kv", keys
// "notify" (notifyRecord) and "resubscribe" (set by pushsubscriptionchange).
const DB = 'softland';

function db() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore('kv');
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function kv(mode, fn) {
  const d = await db();
  try {
    return await new Promise((resolve, reject) => {
      const tx = d.transaction('kv', mode);
      const req = fn(tx.objectStore('kv'));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    d.close(); // never hold the database open: the worker opens it on each push
  }
}

const idbGet = (k) => kv('readonly', (s) => s.get(k)).catch(() => undefined);
const idbPut = (k, v) => kv('readwrite', (s) => s.put(v, k)).catch(() => undefined);
const idbClear = () => kv('readwrite', (s) => s.clear()).catch(() => undefined);

/** Whether this browser can be woken by Web Push at all. */
function supported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

const device = () => ({ ua: navigator.userAgent, platform: navigator.platform, maxTouchPoints: navigator.maxTouchPoints });

function ios() {
  return iosNeedsHomeScreen({ ...device(), standalone: navigator.standalone, displayStandalone: window.matchMedia('(display-mode: standalone)').matches });
}

const permission = () => ('Notification' in window ? Notification.permission : 'default');

/** The browser's subscription as push.decide wants it, and the subscription itself. */
async function current() {
  // ready never settles when the worker could not be registered (a private
  // window, storage refused): fail rather than leave the card busy for good.
  const reg = await Promise.race([navigator.serviceWorker.ready, new Promise((_, no) => setTimeout(() => no(new Error('no service worker')), 10000))]);
  const sub = await reg.pushManager.getSubscription();
  if (!sub) return { reg, sub: null, info: null };
  const k = sub.options && sub.options.applicationServerKey;
  return { reg, sub, info: { endpoint: sub.endpoint, key: k ? b64u(new Uint8Array(k)) : '' } };
}

let status = ''; // a push string key said under the card, until the next change
let busy = false;

/** The notification's wording, kept where the service worker can read it. */
async function writeRecord(app) {
  const pref = app.intents.push();
  if (!pref || !pref.on) return idbClear();
  const ctx = app.snapshot();
  return idbPut('notify', notifyRecord(pref.level, getLang(), names(ctx).partner));
}

async function send(app, sub, pref) {
  const j = sub.toJSON();
  await app.session.request({ type: 'push.subscribe', endpoint: j.endpoint, keys: { p256dh: j.keys.p256dh, auth: j.keys.auth }, kinds: kindsOf(pref.kinds) });
  app.intents.setPush({ ...app.intents.push(), endpoint: j.endpoint, key: app.session.push.key });
  // The welcome said what the server held; now it holds this.
  app.session.push = { ...app.session.push, kinds: kindsOf(pref.kinds) };
}

/** Makes the state match the choice (push.decide); throws what the server or browser said. */
async function settle(app) {
  const server = app.session.push;
  const pref = app.intents.push();
  const { reg, sub, info } = await current();
  const resub = Boolean(await idbGet('resubscribe'));
  switch (decide({ server, pref, permission: permission(), sub: info, resub })) {
    case 'unsubscribe':
      await app.session.request({ type: 'push.unsubscribe' });
      app.session.push = { key: server.key };
      return;
    case 'subscribe': {
      if (sub) await sub.unsubscribe().catch(() => {});
      const fresh = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: unb64u(server.key) });
      await send(app, fresh, pref);
      await idbPut('resubscribe', false);
      return;
    }
    case 'send':
      await send(app, sub, pref);
  }
}

function failed(app, e) {
  const code = e && e.code;
  if (code === 'push_disabled') app.session.push = null;
  status = code === 'offline' ? 'offline' : code === 'push_endpoint' ? 'unavailable' : 'failed';
}

/**
 * After every welcome of a phone that chose waking: subscribe again if the
 * subscription changed, was dropped by the server or the browser, or the
 * server's key changed; refresh the wording for the worker.
 */
export async function refresh(app) {
  if (!supported() || busy) return;
  busy = true;
  try {
    await settle(app);
    await writeRecord(app);
    if (status === 'offline') status = '';
  } catch (e) {
    failed(app, e);
  } finally {
    busy = false;
  }
  app.render();
}

/** Forgets waking on this phone (erase, or a room that is gone): the browser's subscription and the worker's record. */
export async function forget() {
  status = '';
  if (supported()) {
    try {
      const { sub } = await current();
      if (sub) await sub.unsubscribe();
    } catch {
      // Nothing to forget, or the browser refused: the server forgot it with the room.
    }
  }
  await idbClear();
}

/** Turns waking on, from a tap: the permission prompt must come from the person's gesture. */
async function turnOn(app) {
  const result = await Notification.requestPermission();
  const pref = { kinds: { ...DEFAULT_KINDS }, level: 'discreet', ...app.intents.push(), on: result === 'granted', dismissed: false };
  app.intents.setPush(pref);
  if (result !== 'granted') return app.render();
  status = 'turningOn';
  app.render();
  await change(app);
}

async function turnOff(app) {
  app.intents.setPush({ ...app.intents.push(), on: false, endpoint: '' });
  status = '';
  app.render();
  try {
    if (app.session.push && app.session.push.kinds) await app.session.request({ type: 'push.unsubscribe' });
    if (app.session.push) app.session.push = { key: app.session.push.key };
    const { sub } = await current();
    if (sub) await sub.unsubscribe();
  } catch (e) {
    failed(app, e); // sent again after the next welcome (decide: 'unsubscribe')
  }
  await idbClear();
  app.render();
}

/** After the person changed something: settle and say so. */
async function change(app) {
  busy = true;
  try {
    await settle(app);
    await writeRecord(app);
    status = 'saved';
  } catch (e) {
    failed(app, e);
  } finally {
    busy = false;
  }
  app.render();
}

const built = new WeakMap(); // box → the state and language it was built for

function build(app, box, state, where, lang) {
  const s = (key, vars) => pt(key, vars, lang);
  const partner = names(app.snapshot()).partner;
  const button = (action, text, cls = 'btn') => el('button', { type: 'button', class: cls, 'data-push': action }, text);
  let title = s('title');
  let kids = [];
  if (state === 'install') {
    title = s('installTitle');
    kids = [
      el('p', { class: 'small muted' }, s('installWhy')),
      el('ol', { class: 'steps' }, el('li', {}, s('install1')), el('li', {}, s('install2')), el('li', {}, s('install3'))),
      el('p', { class: 'small' }, s('installNote')),
    ];
  } else if (state === 'offer') {
    kids = [el('p', { class: 'small muted' }, s('why')), button('on', s('turnOn'), 'btn primary')];
    if (where === 'pair') kids.push(button('dismiss', s('notNow'), 'btn quiet'));
  } else if (state === 'denied') {
    kids = [el('p', { class: 'small' }, s(isIOS(device()) ? 'deniedIOS' : 'denied'))];
  } else if (where === 'pair') {
    kids = [el('p', { class: 'small' }, s('onShort'))];
  } else {
    title = s('onTitle');
    const rec = notifyRecord('detailed', lang, partner);
    const check = (k) => el('label', { class: 'check' }, el('input', { type: 'checkbox', 'data-kind': k }), ' ', s(`kind_${k}`, { name: partner }));
    const radio = (l) =>
      el('label', { class: 'check' }, el('input', { type: 'radio', name: 'push-level', value: l }), ' ', s(`level_${l}`, { text: l === 'detailed' ? rec.texts.pause : rec.discreet }));
    kids = [
      el('fieldset', { class: 'stack' }, el('legend', {}, s('kindsLegend')), ...KINDS.map(check)),
      el('fieldset', { class: 'stack' }, el('legend', {}, s('levelLegend')), ...['discreet', 'detailed'].map(radio), el('p', { class: 'small muted' }, s('levelNote'))),
      button('off', s('turnOff')),
    ];
  }
  // On the plan the card is a fold like the others; at pairing it stands open.
  kids.unshift(where === 'plan' ? el('summary', {}, el('span', {}, title)) : el('h2', {}, title));
  kids.push(el('p', { class: 'small muted', role: 'status', 'aria-live': 'polite', 'data-push': 'status' }));
  box.replaceChildren(...kids);
  if (!box.dataset.wired) {
    box.dataset.wired = '1';
    box.addEventListener('click', (e) => onClick(app, e));
    box.addEventListener('change', (e) => onChange(app, e));
  }
}

function onClick(app, e) {
  const b = e.target.closest('button[data-push]');
  if (!b || busy) return;
  if (b.dataset.push === 'on') {
    turnOn(app).catch((err) => {
      failed(app, err);
      app.render();
    });
  }
  else if (b.dataset.push === 'off') turnOff(app);
  else if (b.dataset.push === 'dismiss') {
    app.intents.setPush({ ...app.intents.push(), on: false, dismissed: true });
    app.render();
  }
}

function onChange(app, e) {
  const i = e.target;
  const pref = app.intents.push() || {};
  if (i.dataset.kind) {
    app.intents.setPush({ ...pref, kinds: { ...kindsOf(pref.kinds), [i.dataset.kind]: i.checked } });
    change(app);
  } else if (i.name === 'push-level') {
    app.intents.setPush({ ...pref, level: levelOf(i.value) });
    writeRecord(app).then(() => {
      status = 'saved';
      app.render();
    });
  }
}

/** Draws the card into box on screen where ("pair" or "plan"). */
export function card(app, box, where) {
  const pref = app.intents.push();
  const state = offer({ server: app.session.push, supported: supported(), ios: ios(), pref, permission: permission(), where });
  box.dataset.state = state;
  setShown(box, state !== 'hidden');
  if (state === 'hidden') return;
  const lang = getLang();
  const key = `${state}|${lang}|${names(app.snapshot()).partner}`;
  if (built.get(box) !== key) {
    built.set(box, key);
    build(app, box, state, where, lang);
    if (state === 'on') writeRecord(app); // the names or the language changed: reword for the worker
  }
  if (state === 'on' && where === 'plan') {
    const kinds = kindsOf(pref.kinds);
    for (const c of box.querySelectorAll('input[data-kind]')) c.checked = kinds[c.dataset.kind];
    for (const r of box.querySelectorAll('input[name="push-level"]')) r.checked = r.value === levelOf(pref.level);
  }
  setText(box.querySelector('[data-push="status"]'), status ? pt(status, {}, lang) : '');
}
