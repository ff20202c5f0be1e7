// A phone's life with a room: the link read from the fragment, create, join,
// resume, and the ends — erased, replaced by another tab, refused, gone —
// each with a kind note (the notice screen).

import * as C from './crypto.js';
import { keep } from './persist.js';
import { parseReplaceFragment } from './verify.js';

/**
 * Reads the link's fragment, keeps it on this phone and drops it from the
 * address bar and the session history at once, so it can never reach a
 * server, a referrer, a bookmark or a screenshot of the URL.
 * @returns {null | {bad: true} | {room: string, secret: Uint8Array}}
 */
export function takeFragment(intents) {
  if (!location.hash) return null;
  const join = joinOf(location.hash);
  window.history.replaceState(null, '', location.pathname + location.search);
  if (!join) return { bad: true };
  intents.setJoin(join);
  return join;
}

/**
 * What a pairing link, a move link or a re-pair link (or its fragment) asks
 * of this phone: {room, secret} to join, with move (the move code) to take
 * a seat moved from another device, or with replace (the re-pair code) to
 * take back a lost phone's seat under the new secret; null when it is none.
 */
export function joinOf(s) {
  const r = parseReplaceFragment(s);
  if (r) return { room: r.room, secret: C.b64u(r.secret), replace: r.code };
  const m = C.parseMoveFragment(s);
  if (m) return { room: m.room, secret: C.b64u(m.secret), move: m.code };
  const l = C.parseFragment(s);
  return l ? { room: l.room, secret: C.b64u(l.secret) } : null;
}

/** Decides where a phone with the catalog loaded starts. */
export async function start(app, incoming) {
  const i = app.intents;
  const room = i.room();
  const join = i.join();
  if (incoming && incoming.bad) {
    notice(app, 'badlink');
  } else if (join && room && room.device && room.room !== join.room) {
    notice(app, 'switch');
  } else if (join && room && room.room === join.room && room.device) {
    i.setJoin(null);
    await enterRoom(app, room);
  } else if (join) {
    await startJoin(app, join);
  } else if (room) {
    await enterRoom(app, room);
  } else {
    const n = i.notice();
    if (n) notice(app, n.kind);
    else app.go('welcome');
  }
}

export async function startCreate(app) {
  app.intents.setNotice(null);
  const room = { secret: C.b64u(C.newSecret()), seat: 1, mode: 'create' };
  app.intents.setRoom(room);
  await enterRoom(app, room);
}

export async function startJoin(app, join) {
  app.intents.setNotice(null);
  // The nonce lets this phone repeat its join (or move) if the welcome is
  // lost on the way (protocol: join, move); it is kept with the room until
  // the welcome comes.
  const room = join.replace
    ? { room: join.room, secret: join.secret, mode: 'replace', code: join.replace, nonce: C.nonce() }
    : join.move
      ? { room: join.room, secret: join.secret, mode: 'move', code: join.move, nonce: C.nonce() }
      : { room: join.room, secret: join.secret, seat: 2, mode: 'join', nonce: C.nonce() };
  app.intents.setRoom(room);
  await enterRoom(app, room);
}

export async function enterRoom(app, room) {
  await app.session.enter(room);
  app.build();
  app.go(room.device && app.session.st.paired && room.onboarded ? 'checkin' : 'pair');
  app.session.connect();
  // The pairing lives in this browser's storage: ask to keep it (persist.js).
  keep();
}

/** Forgets the room on this phone: everything but the language. */
export function wipe(app, kind) {
  forgetPush(app);
  app.session.stop();
  app.courier.cancel();
  app.intents.wipe(['lang']);
  app.intents.setNotice(kind);
  app.session.reset();
  app.ui.debriefRound = '';
  for (const m of Object.values(app.screens)) if (m.forget) m.forget(app);
  notice(app, kind);
}

/** The browser's push subscription and the notification's wording (IndexedDB) go with the room. */
function forgetPush(app) {
  if (app.intents.push()) import('./wake.js').then((m) => m.forget()).catch(() => {});
}

/** The connection ended for good. */
export function fatal(app, why, code) {
  if (why === 'erased') return wipe(app, 'erased');
  if (why === 'outdated') return outdated(app);
  if (why === 'replaced') return notice(app, 'replaced');
  // This seat lives on another device now: moved there, or given to a new
  // phone by the partner (this phone was reported lost).
  if (why === 'moved') return wipe(app, app.session.st.replacedSeat === app.session.seat ? 'lost' : 'moved');
  // Authentication failed: the error frame before the close said why.
  const joining = !app.session.inRoom;
  // device_revoked on resume: the seat went to another device while this
  // one was away. Only a move this phone started (it made a move link) or a
  // replacement the partner made can do that.
  const revoked = app.session.room && app.session.room.moveMade ? 'moved' : 'lost';
  const kind =
    { room_full: 'full', invite_expired: 'expired', not_found: 'gone', device_revoked: revoked, invite_revoked: 'revoked', move_invalid: 'moveused', move_expired: 'moveexpired', replace_invalid: 'replaceused', replace_expired: 'replaceexpired' }[code] ||
    (joining ? 'badlink' : 'gone');
  if (joining) {
    app.intents.setRoom(null);
    app.intents.setJoin(null);
    app.session.reset();
    notice(app, kind);
  } else {
    wipe(app, kind); // the room is gone (erased while this phone was away, or expired)
  }
}

/** sessionStorage key: when this tab last reloaded for a protocol version. */
const OUTDATED_KEY = 'softland-outdated-at';

/**
 * The server speaks another protocol version than this app: the app shell
 * is from before a release (a tab left open, a copy from the service
 * worker's cache while offline). Loading the page again gets the new shell
 * (sw.js answers from the network first), after asking the service worker
 * to update itself too. The room, the secret and the taps stay in storage;
 * nothing is wiped. At most once a minute: if the new page is refused as
 * well (the server is older than the app, in the middle of a release), it
 * shows the "outdated" notice, whose button reloads, rather than reloading
 * in a loop.
 */
export function outdated(app, now = Date.now()) {
  let last = 0;
  try {
    last = Number(sessionStorage.getItem(OUTDATED_KEY)) || 0;
  } catch {
    // Unreadable: setItem fails below too, and the notice shows.
  }
  if (now - last < 60000) return notice(app, 'outdated');
  try {
    sessionStorage.setItem(OUTDATED_KEY, String(now));
  } catch {
    return notice(app, 'outdated'); // cannot remember the reload: do not risk a loop
  }
  const sw = 'serviceWorker' in navigator ? navigator.serviceWorker.getRegistration() : Promise.resolve(null);
  sw.then((r) => r && r.update())
    .catch(() => {})
    .finally(() => location.reload());
}

export function notice(app, kind) {
  app.ui.notice = kind;
  app.go('notice', true);
}

/** The notice's main button. */
export async function noticePrimary(app) {
  const i = app.intents;
  switch (app.ui.notice) {
    case 'replaced':
      app.go(app.session.st.paired && app.session.room.onboarded ? 'checkin' : 'pair', true);
      app.session.connect();
      return;
    case 'offline':
    case 'outdated':
      location.reload();
      return;
    case 'switch': {
      const join = i.join();
      forgetPush(app);
      app.session.stop();
      i.wipe(['lang', 'join']);
      app.session.reset();
      if (join) await startJoin(app, join);
      else app.go('welcome', true);
      return;
    }
  }
  i.setNotice(null);
  const room = i.room();
  if (room && room.device) await enterRoom(app, room);
  else app.go('welcome', true);
}

export async function noticeSecondary(app) {
  if (app.ui.notice === 'switch') {
    app.intents.setJoin(null);
    await enterRoom(app, app.intents.room());
  }
}
