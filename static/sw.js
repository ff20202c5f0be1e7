// Softland's service worker: the app shell works offline, a release
// reaches phones on their next load, and a Web Push wakes a sleeping phone
// with a notification (at the end of this file).
//
// Network first for the shell: every request goes to the server (which
// answers "no-cache" with content-hash ETags, so an unchanged file costs a
// 304), and the cache answers only when the network cannot. Nothing else is
// touched: not /ws (the room), not /healthz or /readyz, not other origins,
// not anything but GET. The cache holds only the public app files, never a
// room, a key or a tap; those live in localStorage. Bump VERSION when the list
// of shell files changes; old caches are deleted on activation.

const VERSION = 'softland-shell-v7';
const SHELL = [
  '/',
  '/app.css',
  '/catalog.json',
  '/manifest.webmanifest',
  '/icons/icon.svg',
  '/js/conn.js',
  '/js/courier.js',
  '/js/crypto.js',
  '/js/heartbeat.js',
  '/js/history.js',
  '/js/i18n.js',
  '/js/intents.js',
  '/js/lifecycle.js',
  '/js/main.js',
  '/js/outbox.js',
  '/js/react.js',
  '/js/rules.js',
  '/js/session.js',
  '/js/shell.js',
  '/js/space.js',
  '/js/state.js',
  '/js/store.js',
  '/js/view.js',
  '/js/vm.js',
  '/js/vmdebrief.js',
  '/js/when.js',
  '/js/wire.js',
  '/js/screens/bar.js',
  '/js/screens/checkin.js',
  '/js/screens/debrief.js',
  '/js/screens/erase.js',
  '/js/screens/history.js',
  '/js/screens/insecure.js',
  '/js/screens/notice.js',
  '/js/screens/pair.js',
  '/js/screens/pause.js',
  '/js/screens/plan.js',
  '/js/screens/welcome.js',
  '/js/persist.js',
  '/js/verify.js',
  '/js/screens/verify.js',
];
// Fetched when first used and kept for offline use after that: the icons,
// the QR code (drawn only on the pairing screen, which needs the server
// anyway), the move and re-pair links, and waking the phone (push.js, wake.js: only for a
// server that sends push, and only once paired), so a first visit does not
// download them.
const LATER = ['/js/qr.js', '/js/move.js', '/js/replace.js', '/js/push.js', '/js/wake.js', '/vendor/uqr/uqr.mjs', '/icons/icon-180.png', '/icons/icon-192.png', '/icons/icon-512.png', '/icons/icon-maskable-512.png'];
const NEVER = ['/ws', '/healthz', '/readyz', '/metrics'];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(VERSION)
      // The page registers this worker after it loaded (and so revalidated)
      // every shell file: take them from the HTTP cache rather than asking
      // the server again, which would cost a 304 per module on the first
      // visit. Network first (below) refreshes the cache on every later load.
      .then((cache) => cache.addAll(SHELL.map((u) => new Request(u, { cache: 'force-cache' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('softland-') && k !== VERSION).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || NEVER.some((p) => url.pathname === p || url.pathname.startsWith(`${p}/`))) return;
  // Every navigation is the one page; the room lives in the #fragment and
  // localStorage, never in the URL the server or this cache sees.
  const key = req.mode === 'navigate' ? '/' : url.pathname;
  if (!SHELL.includes(key) && !LATER.includes(key)) return;
  event.respondWith(networkFirst(req, key));
});

async function networkFirst(req, key) {
  const cache = await caches.open(VERSION);
  try {
    const res = await fetch(req.mode === 'navigate' ? new Request('/', { cache: 'no-cache' }) : req);
    if (res.ok) await cache.put(key, res.clone());
    return res;
  } catch (err) {
    const hit = await cache.match(key);
    if (hit) return hit;
    throw err;
  }
}

// Web Push (docs/protocol.md §14). A push is only a knock: its decrypted
// data is {"v", "kind", "offset"}, never a name, a need or a word. A
// notification is shown for every push, because browsers (iOS above all)
// revoke a subscription whose pushes show nothing. Its text is the phone's,
// never the server's; the default is discreet, so a locked screen says
// nothing about the couple. Tapping it opens the app, which resumes from
// its own stored offset and shows what happened.
//
// The wording is the page's (wake.js, push.notifyRecord), kept in IndexedDB
// because a worker cannot read localStorage: database "softland", store
// "kv", key "notify" = {level, discreet, texts?}; texts (one sentence per
// kind, with the partner's name) exist only at the detailed level.
const DISCREET = 'Softland — open when you can';
const KINDS = ['pause', 'checkin', 'debrief', 'space'];

/** Runs fn on the "kv" store; resolves to its request's result, or undefined on any failure. */
function kv(mode, fn) {
  return new Promise((resolve) => {
    const open = indexedDB.open('softland', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('kv');
    open.onerror = () => resolve(undefined);
    open.onsuccess = () => {
      const db = open.result;
      try {
        const tx = db.transaction('kv', mode);
        const req = fn(tx.objectStore('kv'));
        tx.oncomplete = () => (db.close(), resolve(req.result));
        tx.onerror = tx.onabort = () => (db.close(), resolve(undefined));
      } catch {
        db.close();
        resolve(undefined);
      }
    };
  });
}

/** The title for msg: discreet unless the phone chose detailed (the same as push.notificationTitle). */
function title(rec, msg) {
  const discreet = (rec && typeof rec.discreet === 'string' && rec.discreet) || DISCREET;
  if (!rec || rec.level !== 'detailed' || !rec.texts || !msg) return discreet;
  return rec.texts[msg.kind] || discreet;
}

function readPush(data) {
  try {
    const m = data ? data.json() : null;
    if (m && m.v === 1 && KINDS.includes(m.kind) && Number.isSafeInteger(m.offset)) return { kind: m.kind, offset: m.offset };
  } catch {
    // Not JSON: still a knock.
  }
  return null;
}

self.addEventListener('push', (event) => {
  const msg = readPush(event.data);
  event.waitUntil(
    kv('readonly', (s) => s.get('notify')).then((rec) =>
      self.registration.showNotification(title(rec, msg), {
        // One notification at a time: a new knock replaces the last.
        tag: 'softland',
        renotify: true,
        icon: '/icons/icon-192.png',
        data: msg,
      }),
    ),
  );
});

// The browser renewed or dropped the subscription. The server must hear of
// it from the page (the worker has no seat to speak for), so the next app
// open subscribes again (wake.js; push.decide's resub).
self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil(kv('readwrite', (s) => s.put(true, 'resubscribe')));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(
    (async () => {
      const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = wins.find((c) => new URL(c.url).origin === self.location.origin);
      if (open) {
        await open.focus();
        // A page that was asleep checks its socket and resumes now, not at its next ping.
        open.postMessage({ type: 'wake' });
        return;
      }
      await self.clients.openWindow('/');
    })(),
  );
});
