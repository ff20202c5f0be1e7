// Softland's web app: the screens and what they do.
//
// One phone, one seat in one room. The app keeps everything it needs on the
// phone (store.js), talks to the server through one WebSocket (conn.js),
// turns taps into tokens and opens sealed notes with WebCrypto (crypto.js),
// and applies the catalog's rules locally (rules.js). The server only ever
// sees tokens, sealed blobs and the pause signal.
//
// State flows one way: an event from the server or a tap changes the stored
// state, then render() redraws what is on screen from it.

import { Conn } from './conn.js';
import * as C from './crypto.js';
import * as H from './history.js';
import { t, setLang, getLang, detectLang } from './i18n.js';
import { accept, concreteIds, render as renderSuggestion } from './rules.js';
import { spaceBanner } from './space.js';
import { emptyState, fromSnapshot, applyEvent, openDebriefs } from './state.js';
import { Store, upsertHistory } from './store.js';
import { $, el, setText, setShown, applyStrings, fillLangSelect, showScreen, announce, buzz, clock, timeOfDay, dateTime } from './view.js';

const store = new Store();

// The link's fragment holds the room secret. Read it, keep it on this phone,
// and drop it from the address bar and the session history at once, so it
// can never reach a server, a referrer, a bookmark or a screenshot of the URL.
const incoming = takeFragment();

function takeFragment() {
  if (!location.hash) return null;
  const link = C.parseFragment(location.hash);
  window.history.replaceState(null, '', location.pathname + location.search);
  if (!link) return { bad: true };
  store.set('join', { room: link.room, secret: C.b64u(link.secret) });
  return link;
}

const SUBMIT_DELAY = 350; // ms: taps in quick succession become one submission
const MINUTE = 60000;

const app = {
  catalog: null,
  room: null, // store "room"
  keys: null,
  st: emptyState(),
  cursor: { epoch: '', offset: 0 },
  conn: null,
  connStatus: 'stopped',
  everOpen: false,
  screen: 'loading',
  opened: new Map(), // context|blob → opened JSON (null when it cannot be opened)
  shared: null, // the couple's opened settings
  announce: [null, null], // opened latest announcement per seat
  released: {}, // round → [seat 1's answer, seat 2's answer]
  tokenMaps: new Map(), // round → Map(token → concrete id)
  reveal: [], // the open round's mutual suggestions, best first
  shownReveal: '',
  submitTimer: 0,
  submitting: false,
  resubmit: false,
  debriefRound: '',
  debriefShown: '',
  qrFor: '',
  ticker: 0,
  limitHit: '',
};

// ---- small accessors --------------------------------------------------------

const me = () => (app.room ? app.room.seat : 1);
const other = () => 3 - me();
const local = (labels) => labels[getLang()] || labels.en || '';
const plan = () => store.get('plan', {}) || {};
const tapsNow = () => store.get('taps', { round: null, needs: [] });
const isOpen = () => app.conn && app.conn.status === 'open';

function names() {
  const p = plan();
  const seat = me();
  const mine = (p.me || '').trim() || t(seat === 1 ? 'nameA' : 'nameB');
  const theirs = (p.partner || '').trim() || t(seat === 1 ? 'nameB' : 'nameA');
  return { me: mine, partner: theirs, seat1: seat === 1 ? mine : theirs, seat2: seat === 1 ? theirs : mine };
}

function pauseWord() {
  const w = app.shared && typeof app.shared.pauseWord === 'string' ? app.shared.pauseWord.trim() : '';
  return w || t('pauseDefault');
}

function request(msg) {
  if (!app.conn) return Promise.reject(new Error('offline'));
  return app.conn.request(msg);
}

// ---- boot ---------------------------------------------------------------------

async function boot() {
  setLang(store.get('lang') || detectLang(navigator.languages || [navigator.language]));
  applyStrings();
  fillLangSelect($('lang-welcome'));
  fillLangSelect($('lang-plan'));
  wire();
  registerWorker();
  try {
    app.catalog = await (await fetch('/catalog.json')).json();
  } catch {
    app.catalog = null;
  }
  if (!app.catalog) {
    notice('offline');
    return;
  }
  buildNeeds();
  buildPlanItems();

  const room = store.get('room');
  const join = store.get('join');
  if (incoming && incoming.bad) {
    notice('badlink');
  } else if (join && room && room.device && room.room !== join.room) {
    notice('switch');
  } else if (join && room && room.room === join.room && room.device) {
    store.set('join', null);
    await enterRoom(room);
  } else if (join) {
    await startJoin(join);
  } else if (room) {
    await enterRoom(room);
  } else {
    const n = store.get('notice');
    if (n) notice(n.kind);
    else go('welcome');
  }
}

function registerWorker() {
  if (!('serviceWorker' in navigator)) return;
  const reg = () => navigator.serviceWorker.register('/sw.js').catch(() => {});
  if (document.readyState === 'complete') reg();
  else window.addEventListener('load', reg, { once: true });
}

// ---- entering a room ------------------------------------------------------------

async function startCreate() {
  store.set('notice', null);
  const room = { secret: C.b64u(C.newSecret()), seat: 1, mode: 'create' };
  store.set('room', room);
  await enterRoom(room);
}

async function startJoin(join) {
  store.set('notice', null);
  // The nonce lets this phone repeat its join if the welcome is lost on the
  // way (protocol: join); it is kept with the room until the welcome comes.
  const room = { room: join.room, secret: join.secret, seat: 2, mode: 'join', nonce: C.decoy() };
  store.set('room', room);
  await enterRoom(room);
}

async function enterRoom(room) {
  app.room = room;
  app.keys = await C.deriveKeys(C.unb64u(room.secret));
  const sync = room.device ? store.get('sync') : null;
  if (sync && sync.state) {
    app.st = sync.state;
    app.cursor = { epoch: sync.epoch, offset: sync.offset };
  } else {
    app.st = emptyState();
    app.cursor = { epoch: '', offset: 0 };
  }
  await refreshOpened();
  buildPlanItems();
  fillPlanForms();
  go(room.device && app.st.paired && room.onboarded ? 'checkin' : 'pair');
  connect();
}

function connect() {
  if (app.conn) app.conn.stop();
  app.conn = new Conn({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
    cursor: app.cursor,
    hello,
    onWelcome,
    onEvent,
    onReady,
    onStatus: (s) => {
      app.connStatus = s;
      if (s === 'open') app.everOpen = true;
      render();
    },
    onFatal,
    onError: () => {},
  });
  app.conn.start();
}

function hello(cursor) {
  const r = app.room;
  if (r.device) return { type: 'resume', room: r.room, device: r.device, epoch: cursor.epoch, offset: cursor.offset };
  if (r.mode === 'join') {
    if (!r.nonce) { r.nonce = C.decoy(); store.set('room', r); } // a room saved before nonces existed
    return { type: 'join', room: r.room, joinKey: app.keys.joinKey, nonce: r.nonce };
  }
  return { type: 'create', joinKeyHash: app.keys.joinKeyHash };
}

async function onWelcome(w) {
  const r = app.room;
  if (!r.device) {
    r.room = w.room;
    r.seat = w.seat;
    r.device = w.device;
    if (w.seat === 1) r.link = C.makeLink(location.origin, w.room, C.unb64u(r.secret));
    delete r.mode;
    delete r.nonce;
    store.set('join', null);
    buildPlanItems();
  }
  r.inviteUntil = w.inviteExpiresAt || 0;
  store.set('room', r);
  if (w.snapshot) {
    app.st = fromSnapshot(w.snapshot);
    app.cursor = { epoch: w.epoch, offset: w.offset };
    saveSync();
    if (store.get('pause') === null) store.set('pause', { want: app.st.paused[me() - 1] });
    await refreshOpened();
    rememberSnapshot();
  }
  render();
}

/** After a welcome and the events it replayed: send whatever is still owed. */
async function onReady() {
  render();
  await reconcile();
}

function saveSync() {
  store.set('sync', { epoch: app.cursor.epoch, offset: app.cursor.offset, state: app.st });
}

/** Keeps history in step with a snapshot: the open round and released debriefs. */
function rememberSnapshot() {
  let list = store.get('history', []);
  const r = app.st.round;
  if (r) {
    list = upsertHistory(list, r.round, (h) => ({ ...h, at: h.at || Date.now(), by: r.by, suggestions: [...app.reveal] }));
  }
  for (const [round, answers] of Object.entries(app.released)) {
    if (answers[0] && answers[1]) {
      list = upsertHistory(list, round, (h) => ({ ...h, at: h.at || Date.now(), debrief: answers }));
    }
  }
  store.set('history', list);
}

async function onEvent(ev) {
  const prev = app.st;
  app.st = applyEvent(prev, ev);
  app.cursor = { epoch: ev.epoch, offset: ev.offset };
  saveSync();
  const n = names();
  const fromPartner = ev.seat === other();
  switch (ev.kind) {
    case 'paired':
      buzz(40);
      announce(t('pairedNow', { name: n.partner }));
      break;
    case 'round.opened': {
      remember(ev.round, (h) => ({ ...h, at: ev.at, by: ev.seat }));
      const taps = tapsNow();
      if (!taps.round) store.set('taps', { ...taps, round: ev.round });
      else if (taps.round !== ev.round) store.set('taps', { round: ev.round, needs: [] });
      if (fromPartner) {
        buzz(20);
        announce(t('partnerOpened', { name: n.partner }));
      }
      scheduleSubmit(0);
      break;
    }
    case 'round.revealed':
      await mapReveal();
      // A reveal replayed after its round closed comes without tokens (the
      // server deletes them with the round): history keeps what it saw live.
      if (app.reveal.length) {
        remember(ev.round, (h) => ({ ...h, suggestions: [...app.reveal] }));
        buzz(15);
      }
      break;
    case 'round.closed':
      remember(ev.round, (h) => ({ ...h, closedAt: ev.at }));
      store.set('taps', { round: null, needs: [] });
      store.set('sent', null);
      store.set('decoys', null);
      app.reveal = [];
      app.limitHit = '';
      if (ev.seat === me()) {
        app.debriefRound = ev.round;
        go('debrief', true);
      } else {
        announce(ev.seat ? t('partnerClosed', { name: n.partner }) : t('roundExpired'));
      }
      break;
    case 'paused':
      if (app.st.round) remember(app.st.round.round, (h) => ({ ...h, pauses: (h.pauses || 0) + 1 }));
      if (fromPartner) {
        buzz([300, 120, 300, 120, 300]);
        announce(t('partnerPausedLive', { name: n.partner, word: pauseWord() }), true);
      }
      break;
    case 'unpaused':
      if (fromPartner) announce(t('pauseLiftedBy', { name: n.partner }), true);
      break;
    case 'announced':
      await refreshOpened();
      if (fromPartner) {
        const a = app.announce[other() - 1];
        if (a && a.minutes > 0 && a.until > Date.now()) {
          buzz(30);
          announce(t('spacePartner', { name: n.partner, minutes: a.minutes }));
        }
      }
      break;
    case 'settings':
      await refreshOpened();
      fillPlanForms();
      break;
    case 'debrief.released':
      await refreshOpened();
      if (app.released[ev.round]) remember(ev.round, (h) => ({ ...h, debrief: app.released[ev.round] }));
      buzz(20);
      announce(t('releasedNow'));
      break;
    case 'erased':
      wipe('erased');
      return;
  }
  render();
}

function remember(round, fn) {
  store.set('history', upsertHistory(store.get('history', []), round, fn));
}

function onFatal(why, code) {
  switch (why) {
    case 'erased':
      wipe('erased');
      return;
    case 'replaced':
      notice('replaced');
      return;
  }
  // Authentication failed: the error frame before the close said why.
  const joining = !app.room || !app.room.device;
  const kind = { room_full: 'full', invite_expired: 'expired', not_found: 'gone' }[code] || (joining ? 'badlink' : 'gone');
  if (joining) {
    store.set('room', null);
    store.set('join', null);
    app.room = null;
    notice(kind);
  } else {
    // The room is gone (erased while this phone was away, or expired).
    wipe(kind);
  }
}

/** Forgets the room on this phone: everything but the language. */
function wipe(kind) {
  if (app.conn) {
    const c = app.conn;
    app.conn = null;
    c.stop();
  }
  clearTimeout(app.submitTimer);
  store.wipe(['lang']);
  store.set('notice', { kind });
  Object.assign(app, {
    room: null,
    keys: null,
    st: emptyState(),
    cursor: { epoch: '', offset: 0 },
    connStatus: 'stopped',
    everOpen: false,
    opened: new Map(),
    shared: null,
    announce: [null, null],
    released: {},
    tokenMaps: new Map(),
    reveal: [],
    shownReveal: '',
    debriefRound: '',
    debriefShown: '',
    qrFor: '',
    limitHit: '',
  });
  for (const id of ['debrief-helped', 'debrief-next', 'plan-me', 'plan-partner', 'plan-offlimits', 'plan-pauseword', 'plan-signals', 'name-me', 'name-partner']) {
    $(id).value = '';
  }
  $('qr').replaceChildren();
  notice(kind);
}

// ---- opening sealed things --------------------------------------------------------

async function openBlob(context, blob) {
  const key = `${context}|${blob}`;
  if (app.opened.has(key)) return app.opened.get(key);
  let v = null;
  try {
    v = await C.openJSON(app.keys, app.room.room, context, blob);
  } catch {
    v = null; // damaged or from another room: shown as nothing
  }
  app.opened.set(key, v);
  return v;
}

async function refreshOpened() {
  const st = app.st;
  if (!app.keys || !app.room || !app.room.room) return;
  app.shared = st.settings ? await openBlob('settings', st.settings.blob) : null;
  for (const i of [0, 1]) {
    app.announce[i] = st.announce[i] ? await openBlob('announce', st.announce[i].blob) : null;
  }
  const released = {};
  for (const d of st.debriefs) {
    if (d.released) {
      const ctx = C.debriefContext(d.round);
      released[d.round] = [await openBlob(ctx, d.released[0]), await openBlob(ctx, d.released[1])];
    }
  }
  app.released = released;
  await mapReveal();
}

async function mapReveal() {
  const r = app.st.round;
  if (!r || !app.keys) {
    app.reveal = [];
    return;
  }
  let m = app.tokenMaps.get(r.round);
  if (!m) {
    m = await C.tokenMap(app.keys, r.round, concreteIds(app.catalog));
    app.tokenMaps.clear();
    app.tokenMaps.set(r.round, m);
  }
  app.reveal = r.reveal.map((tok) => m.get(tok)).filter(Boolean);
}

// ---- sending what is owed -------------------------------------------------------------

/** After every (re)connection: re-send what the server may not have. Pause first. */
async function reconcile() {
  if (!isOpen()) return;
  const seat = me();
  const want = store.get('pause', { want: false }).want;
  if (want && !app.st.paused[seat - 1]) sendPause();
  else if (!want && app.st.paused[seat - 1]) sendUnpause();
  const sp = store.get('space');
  if (sp && !sp.sent) sendSpace(sp);
  const shared = store.get('shared');
  if (shared && shared.dirty) sendSettings();
  const drafts = store.get('drafts', {});
  for (const [round, d] of Object.entries(drafts)) {
    if (d.queued && app.st.debriefs.some((x) => x.round === round && !x.released)) sendDebrief(round);
  }
  const taps = tapsNow();
  const r = app.st.round;
  if (r) {
    if (taps.round && taps.round !== r.round) store.set('taps', { round: r.round, needs: [] });
    else if (!taps.round) store.set('taps', { ...taps, round: r.round });
    scheduleSubmit(0);
  } else if (taps.round) {
    // The round ended while this phone was away.
    store.set('taps', { round: null, needs: [] });
  } else if (taps.needs.length) {
    scheduleSubmit(0);
  }
  render();
}

function scheduleSubmit(delay = SUBMIT_DELAY) {
  clearTimeout(app.submitTimer);
  app.submitTimer = setTimeout(flushSubmit, delay);
}

function tapsKey(taps, p) {
  return JSON.stringify([[...taps.needs].sort(), [...(p.welcome || [])].sort(), [...(p.never || [])].sort()]);
}

/** The plan's lists, without ids this catalog no longer has. */
function planLists() {
  const p = plan();
  const known = new Set(app.catalog.suggestions.map((s) => s.id));
  return { welcome: (p.welcome || []).filter((id) => known.has(id)), never: (p.never || []).filter((id) => known.has(id)) };
}

async function flushSubmit() {
  if (app.submitting) {
    app.resubmit = true;
    return;
  }
  app.submitting = true;
  try {
    await submitOnce();
  } finally {
    app.submitting = false;
    if (app.resubmit) {
      app.resubmit = false;
      scheduleSubmit(0);
    }
  }
}

async function submitOnce() {
  if (!isOpen() || !app.st.paired) return;
  const taps = tapsNow();
  const r = app.st.round;
  if (!r) {
    // The first tap opens a round; its event brings the taps along.
    if (taps.needs.length) await request({ type: 'round.open' }).catch(() => {});
    return;
  }
  if (taps.round !== r.round) return;
  const lists = planLists();
  const key = tapsKey(taps, lists);
  const sent = store.get('sent');
  if (sent && sent.round === r.round && sent.key === key) return;
  if (!taps.needs.length && !(sent && sent.round === r.round)) return;
  const known = new Set(app.catalog.needs.map((n) => n.id));
  const ids = accept(app.catalog, me(), taps.needs.filter((id) => known.has(id)), lists);
  let decoys = store.get('decoys');
  if (!decoys || decoys.round !== r.round) {
    decoys = { round: r.round, pool: C.decoyPool() };
    store.set('decoys', decoys);
  }
  const tokens = await C.submission(app.keys, r.round, ids, decoys.pool);
  try {
    await request({ type: 'round.submit', round: r.round, tokens });
    store.set('sent', { round: r.round, key });
  } catch (e) {
    if (e.code === 'limit') app.limitHit = r.round;
  }
  render();
}

async function sendPause() {
  try {
    await request({ type: 'pause' });
  } catch {
    // Sent again on reconnection (reconcile).
  }
}

async function sendUnpause() {
  try {
    await request({ type: 'unpause' });
  } catch {
    // Sent again on reconnection, or there was no pause to lift.
  }
}

async function sendSpace(sp) {
  try {
    const blob = await C.sealJSON(app.keys, app.room.room, 'announce', { kind: 'space', minutes: sp.minutes, until: sp.until });
    await request({ type: 'announce', blob });
    const now = store.get('space');
    if (now && now.until === sp.until) store.set('space', { ...now, sent: true });
  } catch {
    // Sent again on reconnection.
  }
}

async function sendSettings() {
  const s = store.get('shared');
  if (!s) return;
  try {
    const signals = String(s.signals || '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    const blob = await C.sealJSON(app.keys, app.room.room, 'settings', { pauseWord: (s.pauseWord || '').trim(), signals });
    await request({ type: 'settings', blob });
    const now = store.get('shared');
    if (now && now.pauseWord === s.pauseWord && now.signals === s.signals) store.set('shared', { ...now, dirty: false });
    setText($('shared-status'), t('sharedDone', { name: names().partner }));
  } catch {
    setText($('shared-status'), t('sharedQueued'));
  }
  render();
}

async function sendDebrief(round) {
  const drafts = store.get('drafts', {});
  const d = drafts[round];
  if (!d) return;
  drafts[round] = { ...d, queued: true };
  store.set('drafts', drafts);
  try {
    const blob = await C.sealJSON(app.keys, app.room.room, C.debriefContext(round), { helped: d.helped || '', next: d.next || '' });
    await request({ type: 'debrief', round, blob });
    const now = store.get('drafts', {});
    if (now[round] && now[round].helped === d.helped && now[round].next === d.next) {
      now[round] = { ...now[round], sent: true, queued: false };
      store.set('drafts', now);
    }
  } catch (e) {
    if (e.code === 'debrief_closed') {
      const now = store.get('drafts', {});
      if (now[round]) now[round].queued = false;
      store.set('drafts', now);
    }
  }
  render();
}

// ---- what the person does -----------------------------------------------------------

function tapNeed(id) {
  buzz(12);
  const need = app.catalog.needs.find((n) => n.id === id);
  if (!need) return;
  const taps = tapsNow();
  const selected = !taps.needs.includes(id);
  taps.needs = selected ? [...taps.needs, id] : taps.needs.filter((x) => x !== id);
  if (!taps.round && app.st.round) taps.round = app.st.round.round;
  taps.at = Date.now();
  store.set('taps', taps);
  if (need.minutes) {
    const sp = store.get('space');
    if (selected) startSpace(need.minutes);
    else if (sp && sp.minutes === need.minutes && sp.until > Date.now()) startSpace(0);
  }
  store.set('spaceSeen', Date.now());
  render();
  scheduleSubmit();
}

/** Starts (or, with 0 minutes, ends early) this phone's space, and tells the partner, sealed. */
function startSpace(minutes) {
  const sp = { minutes, until: Date.now() + minutes * MINUTE, sent: false };
  store.set('space', sp);
  sendSpace(sp);
}

function clearTaps() {
  const taps = tapsNow();
  const sp = store.get('space');
  if (sp && sp.minutes > 0 && sp.until > Date.now()) startSpace(0);
  store.set('taps', { ...taps, needs: [] });
  render();
  scheduleSubmit(0);
}

function pauseNow() {
  store.set('pause', { want: true });
  buzz(60);
  render();
  announce(t('youPausedLive'), true);
  sendPause();
}

function liftPause() {
  store.set('pause', { want: false });
  render();
  announce(t('pauseLifted'), true);
  sendUnpause();
}

async function checkInAfterSpace() {
  const taps = tapsNow();
  const spaceNeeds = new Set(app.catalog.needs.filter((n) => n.minutes).map((n) => n.id));
  store.set('taps', { ...taps, needs: taps.needs.filter((x) => !spaceNeeds.has(x)) });
  store.set('spaceSeen', Date.now());
  if (!app.st.round && isOpen()) await request({ type: 'round.open' }).catch(() => {});
  scheduleSubmit(0);
  render();
  const first = document.querySelector('#needs [data-need]');
  if (first) first.focus();
}

async function closeRound() {
  const r = app.st.round;
  if (!r) return;
  try {
    await request({ type: 'round.close', round: r.round });
  } catch {
    // Nothing to close any more, or offline: the button stays.
  }
}

async function eraseUs() {
  setText($('erase-error'), '');
  if (!isOpen()) {
    setText($('erase-error'), t('eraseOffline'));
    return;
  }
  try {
    await request({ type: 'erase' });
  } catch (e) {
    // The answer to erase is the erased event and close 4000, so the
    // request usually ends as "offline"; anything else is shown.
    if (e.code && e.code !== 'offline') setText($('erase-error'), t('eraseFailed'));
  }
}

// ---- screens ------------------------------------------------------------------------------

function go(screen, focus = false) {
  app.screen = screen;
  document.documentElement.style.setProperty('--dock', screen === 'checkin' ? `${$('dock').offsetHeight}px` : '0px');
  if (screen === 'debrief') app.debriefShown = '';
  showScreen(screen, focus);
  render();
}

const NOTICES = {
  erased: { primary: 'startAgain' },
  full: { primary: 'startAgain' },
  expired: { primary: 'startAgain' },
  gone: { primary: 'startAgain' },
  badlink: { primary: 'startAgain' },
  offline: { primary: 'tryAgain' },
  replaced: { primary: 'useHere' },
  switch: { primary: 'switchRoom', secondary: 'keepRoom' },
};

function notice(kind) {
  const n = NOTICES[kind] || NOTICES.gone;
  app.notice = kind;
  setText($('notice-title'), t(`notice_${kind}_title`));
  setText($('notice-body'), t(`notice_${kind}_body`));
  setText($('notice-primary'), t(n.primary));
  setShown($('notice-secondary'), Boolean(n.secondary));
  if (n.secondary) setText($('notice-secondary'), t(n.secondary));
  $('screen-notice').dataset.kind = kind;
  go('notice', true);
}

async function noticePrimary() {
  switch (app.notice) {
    case 'replaced':
      go(app.st.paired && app.room.onboarded ? 'checkin' : 'pair', true);
      connect();
      return;
    case 'offline':
      location.reload();
      return;
    case 'switch': {
      const join = store.get('join');
      const room = app.room;
      if (room && app.conn) app.conn.stop();
      store.wipe(['lang', 'join']);
      app.room = null;
      if (join) await startJoin(join);
      else go('welcome', true);
      return;
    }
  }
  store.set('notice', null);
  const room = store.get('room');
  if (room && room.device) await enterRoom(room);
  else go('welcome', true);
}

async function noticeSecondary() {
  if (app.notice === 'switch') {
    store.set('join', null);
    await enterRoom(store.get('room'));
  }
}

// ---- building lists from the catalog -------------------------------------------------

function buildNeeds() {
  const box = $('needs');
  box.replaceChildren();
  for (const g of app.catalog.groups) {
    const list = el('div', { class: 'need-list' });
    for (const n of app.catalog.needs.filter((x) => x.group === g.id)) {
      list.append(el('button', { type: 'button', class: 'need', 'data-need': n.id, 'aria-pressed': 'false' }, local(n.label)));
    }
    box.append(el('section', { class: `need-group g-${g.id}`, 'aria-labelledby': `g-${g.id}` }, el('h2', { id: `g-${g.id}` }, local(g.label)), list));
  }
}

function buildPlanItems() {
  const ul = $('plan-items');
  ul.replaceChildren();
  const n = names();
  for (const s of app.catalog.suggestions) {
    const textID = `pi-${s.id}`;
    const text = renderSuggestion(app.catalog, s.roles ? `${s.id}@${me()}` : s.id, getLang(), n);
    const button = (kind) =>
      el('button', { type: 'button', class: `chip ${kind}`, 'data-plan': s.id, 'data-kind': kind, 'aria-pressed': 'false', 'aria-describedby': textID }, t(kind === 'welcome' ? 'planWelcome' : 'planNever'));
    ul.append(
      el(
        'li',
        { class: 'plan-item' },
        el('span', { id: textID, class: 'plan-text' }, text, s.roles ? el('span', { class: 'small muted' }, ` · ${t('eitherWay')}`) : null),
        el('span', { class: 'chips' }, button('welcome'), button('never')),
      ),
    );
  }
}

function fillPlanForms() {
  const p = plan();
  const fill = (id, v) => {
    const e = $(id);
    if (document.activeElement !== e && e.value !== v) e.value = v;
  };
  fill('plan-me', p.me || '');
  fill('plan-partner', p.partner || '');
  fill('name-me', p.me || '');
  fill('name-partner', p.partner || '');
  fill('plan-offlimits', p.offLimits || '');
  let shared = store.get('shared');
  if ((!shared || !shared.dirty) && app.shared) {
    shared = { pauseWord: app.shared.pauseWord || '', signals: (app.shared.signals || []).join(', '), dirty: false };
    store.set('shared', shared);
  }
  fill('plan-pauseword', (shared && shared.pauseWord) || '');
  fill('plan-signals', (shared && shared.signals) || '');
}

function savePlan(change) {
  const p = { ...plan(), ...change, at: Date.now() };
  store.set('plan', p);
  return p;
}

// ---- render ---------------------------------------------------------------------------------

function render() {
  const inRoom = Boolean(app.room && app.room.device) && app.screen !== 'notice';
  setShown($('bar'), inRoom);
  const withNav = inRoom && app.st.paired && app.room.onboarded && ['checkin', 'debrief', 'history', 'plan', 'erase'].includes(app.screen);
  setShown($('nav'), withNav);
  document.body.classList.toggle('with-nav', withNav);
  if (inRoom) renderBar();
  renderPause();
  switch (app.screen) {
    case 'pair':
      renderPair();
      break;
    case 'checkin':
      renderCheckin();
      break;
    case 'plan':
      renderPlan();
      break;
    case 'debrief':
      renderDebrief();
      break;
    case 'history':
      renderHistory();
      break;
  }
  tick();
}

function renderBar() {
  const n = names();
  let state;
  let text;
  if (app.connStatus !== 'open') {
    state = app.everOpen ? 'offline' : 'connecting';
    text = t(app.everOpen ? 'stOffline' : 'stConnecting');
  } else if (!app.st.paired) {
    state = 'waiting';
    text = t('stWaiting');
  } else {
    const p = app.st.presence[other() - 1];
    state = p === 'online' ? 'online' : p === 'reconnecting' ? 'reconnecting' : 'away';
    text = t({ online: 'stOnline', reconnecting: 'stReconnecting', away: 'stAway' }[state], { name: n.partner });
  }
  $('bar').dataset.state = state;
  setText($('status-text'), text);
  setShown($('pause-btn'), app.st.paired);
  const word = pauseWord();
  setText($('pause-word'), word);
  $('pause-btn').setAttribute('aria-label', t('pauseButtonLabel', { word }));
}

function renderPause() {
  const mine = Boolean(app.room && app.room.device && store.get('pause', { want: false }).want);
  const theirs = Boolean(app.room && app.room.device && app.st.paused[other() - 1]);
  const shown = mine || theirs;
  const box = $('pause');
  const was = !box.hidden;
  setShown(box, shown);
  box.dataset.who = mine ? 'me' : 'partner';
  for (const id of ['bar', 'main', 'nav']) $(id).inert = shown;
  if (!shown) {
    if (was) document.body.classList.remove('paused');
    return;
  }
  document.body.classList.add('paused');
  const n = names();
  const word = pauseWord();
  setText($('pause-word-big'), word);
  setText($('pause-title'), mine ? t('youPaused') : t('partnerPaused', { name: n.partner }));
  setText($('pause-body'), mine ? t('youPausedBody') : t('partnerPausedBody', { name: n.partner }));
  setShown($('pause-also'), mine && theirs);
  setText($('pause-also'), t('partnerPausedToo', { name: n.partner }));
  setShown($('unpause-btn'), mine);
  const signals = app.shared && Array.isArray(app.shared.signals) ? app.shared.signals.filter(Boolean) : [];
  setShown($('pause-signals'), signals.length > 0);
  setText($('pause-signals'), t('signalsReminder', { words: signals.join(', ') }));
  if (!was) {
    $('pause-title').focus({ preventScroll: true });
    breathe();
  }
}

let breathTimer = 0;
function breathe() {
  clearTimeout(breathTimer);
  let inhale = true;
  const step = () => {
    if ($('pause').hidden) return;
    setText($('breath-text'), t(inhale ? 'breatheIn' : 'breatheOut'));
    $('pause').dataset.breath = inhale ? 'in' : 'out';
    breathTimer = setTimeout(step, inhale ? 4000 : 6000);
    inhale = !inhale;
  };
  step();
}

async function renderPair() {
  const r = app.room;
  if (!r) return;
  const paired = app.st.paired;
  const inviting = r.seat === 1 && r.device && !paired;
  const expired = inviting && r.inviteUntil && r.inviteUntil < Date.now();
  setText($('pair-title'), paired ? t('pairedTitle') : r.seat === 1 ? t('inviteTitle') : t('joiningTitle'));
  setShown($('pair-invite'), Boolean(inviting && !expired));
  setShown($('pair-restart'), Boolean(expired));
  let state = 'joining';
  let text = t('joining');
  if (paired) {
    state = 'paired';
    text = t('pairedStatus');
  } else if (expired) {
    state = 'expired';
    text = t('linkExpired');
  } else if (r.seat === 1) {
    state = r.device ? 'waiting' : 'creating';
    text = t(r.device ? 'waitingPartner' : 'creating');
  }
  const status = $('pair-status');
  status.dataset.state = state;
  setText(status, text);
  setShown($('names'), Boolean(r.device));
  setShown($('pair-continue'), paired);
  if (inviting && !expired) {
    $('pair-link').value = r.link;
    setText($('pair-expiry'), r.inviteUntil ? t('linkExpires', { time: timeOfDay(r.inviteUntil) }) : '');
    setShown($('share'), typeof navigator.share === 'function');
    if (app.qrFor !== r.link) {
      app.qrFor = r.link;
      try {
        const { drawQR } = await import('./qr.js');
        drawQR($('qr'), r.link);
      } catch {
        app.qrFor = ''; // offline before the code was ever loaded: the link still works
      }
    }
  }
}

function renderCheckin() {
  const seat = me();
  const n = names();
  const taps = tapsNow();
  const r = app.st.round;
  for (const b of document.querySelectorAll('#needs [data-need]')) {
    b.setAttribute('aria-pressed', String(taps.needs.includes(b.dataset.need)));
  }
  // The mutual suggestions: the same ordered list on both phones.
  const list = $('sugg-list');
  let note = '';
  let state = 'idle';
  if (!r) {
    note = taps.needs.length ? t('suggOpening') : t('suggIdle');
  } else if (r.rev > 0 && app.reveal.length) {
    state = 'revealed';
  } else if (r.submitted[0] && r.submitted[1]) {
    state = 'none';
    note = t('suggNone');
  } else if (r.submitted[other() - 1]) {
    state = 'partner';
    note = taps.needs.length ? t('suggSending') : t('suggPartnerIn', { name: n.partner });
  } else {
    state = 'waiting';
    note = taps.needs.length || r.submitted[seat - 1] ? t('suggWaiting', { name: n.partner }) : t('suggOpen', { name: r.by === seat ? n.me : n.partner });
  }
  const texts = state === 'revealed' ? app.reveal.map((id) => renderSuggestion(app.catalog, id, getLang(), n)) : [];
  const joined = texts.join('\n');
  if (joined !== app.shownReveal) {
    list.replaceChildren(...texts.map((s) => el('li', {}, s)));
    if (texts.length) announce(t('revealLive', { list: texts.map((s, i) => `${i + 1}. ${s}`).join(', ') }));
    app.shownReveal = joined;
  }
  $('together').dataset.state = state;
  // Whether the server has this phone's latest taps (tests wait for it).
  const sent = store.get('sent');
  $('together').dataset.synced = String(Boolean(r && sent && sent.round === r.round && sent.key === tapsKey(taps, planLists())));
  setShown(list, texts.length > 0);
  setText($('sugg-note'), note);

  setShown($('close-round'), Boolean(r));
  setShown($('clear-taps'), taps.needs.length > 0);
  setShown($('limit-note'), Boolean(r && app.limitHit === r.round));

  // Who led last, so the lead rotates.
  const lead = H.lastLead(store.get('history', []));
  setText($('lead-hint'), !r && lead ? t('leadHint', { name: lead === seat ? n.me : n.partner, other: lead === seat ? n.partner : n.me }) : '');
  const off = (plan().offLimits || '').trim();
  setShown($('offlimits-hint'), Boolean(off));
  setText($('offlimits-hint'), t('offLimitsReminder', { topics: off }));

  // A debrief waiting for an answer, or released and worth reading.
  const now = Date.now();
  const open = openDebriefs(app.st, now).filter((d) => !r || d.round !== r.round);
  const d = open[0];
  setShown($('debrief-card'), Boolean(d));
  if (d) {
    const drafts = store.get('drafts', {});
    const key = d.released ? 'debriefCardReleased' : drafts[d.round] && drafts[d.round].sent ? 'debriefCardSent' : 'debriefCardOpen';
    setText($('debrief-card-text'), t(key, { time: timeOfDay(d.until), name: n.partner }));
  }
  renderSpace();
}

/** The space banner: a countdown while someone has space, then a check-in offer. */
function renderSpace() {
  const now = Date.now();
  const n = names();
  const b = spaceBanner(store.get('space'), app.announce[other() - 1], store.get('spaceSeen', 0), now);
  const text = {
    partner: () => t('spacePartner', { name: n.partner, minutes: b.minutes }),
    mine: () => t('spaceMine', { minutes: b.minutes }),
    partnerDone: () => t('spacePartnerDone', { name: n.partner }),
    mineDone: () => t('spaceMineDone'),
  }[b.kind];
  const offer = b.kind.endsWith('Done');
  setShown($('space-banner'), Boolean(text));
  setText($('space-text'), text ? text() : '');
  setText($('space-clock'), b.until ? clock(b.until - now) : '');
  setShown($('space-clock'), Boolean(b.until));
  setShown($('space-checkin'), offer);
  $('space-banner').dataset.state = offer ? 'done' : b.until ? 'counting' : '';
}

/** A one-second ticker only while a countdown is on screen. */
function tick() {
  const counting = app.screen === 'checkin' && $('space-banner').dataset.state === 'counting';
  if (counting && !app.ticker) {
    app.ticker = setInterval(() => {
      if (app.screen === 'checkin') renderCheckin();
      else tick();
    }, 1000);
  } else if (!counting && app.ticker) {
    clearInterval(app.ticker);
    app.ticker = 0;
  }
}

function renderPlan() {
  const p = plan();
  const welcome = new Set(p.welcome || []);
  const never = new Set(p.never || []);
  for (const b of document.querySelectorAll('#plan-items [data-plan]')) {
    const on = (b.dataset.kind === 'welcome' ? welcome : never).has(b.dataset.plan);
    b.setAttribute('aria-pressed', String(on));
  }
  setShown($('plan-prompt'), H.planDue(p, Date.now()));
  const shared = store.get('shared');
  if (shared && shared.dirty) setText($('shared-status'), t('sharedDraft'));
  else if (app.shared) setText($('shared-status'), t('sharedDone', { name: names().partner }));
}

function debriefTarget() {
  const all = app.st.debriefs;
  const now = Date.now();
  const chosen = all.find((d) => d.round === app.debriefRound && d.until > now);
  if (chosen) return chosen;
  const open = openDebriefs(app.st, now);
  const r = app.st.round;
  return open.find((d) => !d.released && (!r || d.round !== r.round)) || open.find((d) => !d.released) || open[0] || null;
}

function renderDebrief() {
  const d = debriefTarget();
  const n = names();
  const form = $('debrief-form');
  if (!d) {
    setText($('debrief-intro'), t('debriefNone'));
    setShown(form, false);
    setShown($('debrief-released'), false);
    setText($('debrief-status'), '');
    $('debrief-status').dataset.state = 'none';
    return;
  }
  app.debriefRound = d.round;
  const drafts = store.get('drafts', {});
  const dr = drafts[d.round] || { helped: '', next: '' };
  if (app.debriefShown !== d.round) {
    $('debrief-helped').value = dr.helped || '';
    $('debrief-next').value = dr.next || '';
    app.debriefShown = d.round;
  }
  const answers = app.released[d.round];
  const released = Boolean(d.released && answers);
  setText($('debrief-intro'), released ? t('debriefReleasedIntro') : t('debriefIntro', { time: timeOfDay(d.until) }));
  setShown(form, !released);
  setText($('debrief-send'), dr.sent ? t('updateDebrief') : t('sendDebrief'));
  $('debrief-send').classList.toggle('primary', !dr.sent || Boolean(dr.changed));
  let state = 'open';
  let text = '';
  if (released) {
    state = 'released';
  } else if (dr.sent && !dr.changed) {
    state = 'sent';
    text = t('debriefWaiting', { name: n.partner });
  } else if (dr.queued && !isOpen()) {
    state = 'queued';
    text = t('debriefQueued');
  } else if (d.submitted[other() - 1]) {
    state = 'partner';
    text = t('debriefPartnerIn', { name: n.partner });
  }
  $('debrief-status').dataset.state = state;
  setText($('debrief-status'), text);
  setShown($('debrief-released'), released);
  if (released) {
    const box = $('released-list');
    const key = JSON.stringify([d.round, answers, n.me, n.partner, getLang()]);
    if (box.dataset.key !== key) {
      box.dataset.key = key;
      const seat = me();
      const order = [
        [n.me, answers[seat - 1]],
        [n.partner, answers[other() - 1]],
      ];
      box.replaceChildren(
        ...order.map(([who, a]) =>
          el(
            'article',
            { class: 'card answer' },
            el('h3', {}, who),
            el('p', { class: 'q' }, t('qHelped')),
            el('p', { class: 'a' }, (a && a.helped) || '—'),
            el('p', { class: 'q' }, t('qNext')),
            el('p', { class: 'a' }, (a && a.next) || '—'),
          ),
        ),
      );
    }
  }
}

function renderHistory() {
  const list = store.get('history', []);
  const now = Date.now();
  const n = names();
  const seat = me();
  const wins = H.celebrations(list, now);
  setShown($('celebrate'), wins.length > 0);
  $('celebrate-list').replaceChildren(...wins.map(([k, v]) => el('li', {}, t(k, v))));
  setShown($('revisit'), H.planDue(plan(), now));
  const lead = H.lastLead(list);
  setText($('history-lead'), lead ? t('leadHint', { name: lead === seat ? n.me : n.partner, other: lead === seat ? n.partner : n.me }) : '');
  setShown($('history-empty'), list.length === 0);
  const nameOf = (s) => (s === seat ? n.me : n.partner);
  $('history-list').replaceChildren(
    ...list.map((h) => {
      const items = (h.suggestions || []).map((id) => el('li', {}, renderSuggestion(app.catalog, id, getLang(), n)));
      const parts = [el('h2', {}, dateTime(h.at || now)), el('p', { class: 'small muted' }, h.by ? t('ledBy', { name: nameOf(h.by) }) : '')];
      parts.push(items.length ? el('ol', { class: 'sugg small-sugg' }, ...items) : el('p', { class: 'muted' }, t('historyNoMutual')));
      if (h.pauses) parts.push(el('p', { class: 'small muted' }, t('historyPaused')));
      if (h.debrief) {
        for (const [i, a] of h.debrief.entries()) {
          if (!a) continue;
          parts.push(el('p', { class: 'small' }, el('strong', {}, `${nameOf(i + 1)}: `), `${a.helped || '—'} · ${t('nextTimeShort')} ${a.next || '—'}`));
        }
      }
      return el('li', { class: 'card' }, ...parts);
    }),
  );
}

// ---- wiring -------------------------------------------------------------------------------

function wire() {
  // Keep the end of the check-in screen clear of the dock, whatever its height.
  if ('ResizeObserver' in window) {
    new ResizeObserver(() => {
      const h = $('dock').offsetHeight;
      $('screen-checkin').style.paddingBottom = `${h + 24}px`;
      document.documentElement.style.setProperty('--dock', app.screen === 'checkin' ? `${h}px` : '0px');
    }).observe($('dock'));
  }
  $('create').addEventListener('click', () => startCreate());
  $('have-link').addEventListener('click', () => {
    const form = $('link-form');
    form.hidden = !form.hidden;
    $('have-link').setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) $('link-input').focus();
  });
  $('link-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const link = C.parseFragment($('link-input').value);
    if (!link) {
      setText($('link-error'), t('linkInvalid'));
      return;
    }
    setText($('link-error'), '');
    $('link-input').value = '';
    const join = { room: link.room, secret: C.b64u(link.secret) };
    store.set('join', join);
    await startJoin(join);
  });
  for (const id of ['lang-welcome', 'lang-plan']) {
    $(id).addEventListener('change', (e) => changeLang(e.target.value));
  }

  $('pause-btn').addEventListener('click', pauseNow);
  $('unpause-btn').addEventListener('click', liftPause);

  $('copy').addEventListener('click', copyLink);
  $('share').addEventListener('click', () => {
    navigator.share({ title: t('appName'), text: t('shareText'), url: app.room.link }).catch(() => {});
  });
  $('pair-restart').addEventListener('click', () => {
    if (app.conn) app.conn.stop();
    store.wipe(['lang', 'plan']);
    app.room = null;
    startCreate();
  });
  $('names').addEventListener('input', () => {
    savePlan({ me: $('name-me').value, partner: $('name-partner').value });
    fillPlanForms();
  });
  $('names').addEventListener('submit', (e) => {
    e.preventDefault();
    if (!app.st.paired) return;
    app.room.onboarded = true;
    store.set('room', app.room);
    buildPlanItems();
    go('checkin', true);
  });

  $('needs').addEventListener('click', (e) => {
    const b = e.target.closest('[data-need]');
    if (b) tapNeed(b.dataset.need);
  });
  $('clear-taps').addEventListener('click', clearTaps);
  $('close-round').addEventListener('click', closeRound);
  $('to-debrief').addEventListener('click', () => go('debrief', true));
  $('space-checkin').addEventListener('click', checkInAfterSpace);

  for (const b of document.querySelectorAll('#nav [data-screen]')) {
    b.addEventListener('click', () => {
      if (b.dataset.screen === 'debrief') app.debriefRound = '';
      go(b.dataset.screen, true);
    });
  }

  $('plan-private').addEventListener('input', () => {
    savePlan({ me: $('plan-me').value, partner: $('plan-partner').value, offLimits: $('plan-offlimits').value });
    setText($('plan-saved'), t('planSaved'));
    fillPlanForms();
  });
  $('plan-private').addEventListener('submit', (e) => e.preventDefault());
  $('plan-private').addEventListener('change', (e) => {
    if (e.target.id === 'plan-me' || e.target.id === 'plan-partner') buildPlanItems();
    render();
  });
  $('plan-items').addEventListener('click', (e) => {
    const b = e.target.closest('[data-plan]');
    if (!b) return;
    const id = b.dataset.plan;
    const kind = b.dataset.kind;
    const p = plan();
    const sets = { welcome: new Set(p.welcome || []), never: new Set(p.never || []) };
    const on = !sets[kind].has(id);
    sets.welcome.delete(id);
    sets.never.delete(id);
    if (on) sets[kind].add(id);
    savePlan({ welcome: [...sets.welcome], never: [...sets.never] });
    setText($('plan-saved'), t('planSaved'));
    render();
    scheduleSubmit();
  });
  $('plan-reviewed').addEventListener('click', () => {
    savePlan({});
    render();
  });
  $('revisit-btn').addEventListener('click', () => go('plan', true));
  $('plan-shared').addEventListener('input', () => {
    store.set('shared', { pauseWord: $('plan-pauseword').value, signals: $('plan-signals').value, dirty: true });
    setText($('shared-status'), t('sharedDraft'));
  });
  $('plan-shared').addEventListener('submit', (e) => {
    e.preventDefault();
    store.set('shared', { pauseWord: $('plan-pauseword').value, signals: $('plan-signals').value, dirty: true });
    sendSettings();
  });
  $('erase-open').addEventListener('click', () => go('erase', true));
  $('erase-cancel').addEventListener('click', () => go('plan', true));
  $('erase-confirm').addEventListener('click', eraseUs);

  $('debrief-form').addEventListener('input', () => {
    const round = app.debriefRound;
    if (!round) return;
    const drafts = store.get('drafts', {});
    const prev = drafts[round] || {};
    drafts[round] = { ...prev, helped: $('debrief-helped').value, next: $('debrief-next').value, changed: true };
    store.set('drafts', drafts);
    render();
  });
  $('debrief-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const round = app.debriefRound;
    if (!round) return;
    // A sealed blob holds at most about 6 KB of text.
    if (new TextEncoder().encode($('debrief-helped').value + $('debrief-next').value).length > 5800) {
      setText($('debrief-status'), t('debriefTooLong'));
      return;
    }
    const drafts = store.get('drafts', {});
    drafts[round] = { ...(drafts[round] || {}), helped: $('debrief-helped').value, next: $('debrief-next').value, changed: false };
    store.set('drafts', drafts);
    sendDebrief(round);
  });

  $('notice-primary').addEventListener('click', noticePrimary);
  $('notice-secondary').addEventListener('click', noticeSecondary);

  // Come back at once when the phone wakes, is shown again or finds a network.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && app.conn) app.conn.wake();
  });
  window.addEventListener('online', () => app.conn && app.conn.wake());
  window.addEventListener('pageshow', (e) => {
    if (!app.conn) return;
    if (e.persisted) app.conn.start();
    else app.conn.wake();
  });
  // Leaving on purpose: the partner sees "away", not "reconnecting".
  window.addEventListener('pagehide', () => app.conn && app.conn.stop(true));
}

async function copyLink() {
  const link = app.room && app.room.link;
  if (!link) return;
  try {
    await navigator.clipboard.writeText(link);
  } catch {
    const input = $('pair-link');
    input.select();
    document.execCommand('copy');
  }
  setText($('copy'), t('copied'));
  setTimeout(() => setText($('copy'), t('copy')), 2000);
}

function changeLang(l) {
  setLang(l);
  store.set('lang', getLang());
  applyStrings();
  fillLangSelect($('lang-welcome'));
  fillLangSelect($('lang-plan'));
  if (app.catalog) {
    buildNeeds();
    buildPlanItems();
  }
  app.shownReveal = '';
  if (app.screen === 'notice') notice(app.notice);
  else render();
}

boot();
