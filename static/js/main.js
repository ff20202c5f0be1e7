// Softland's web app starts here: it reads the link, loads the catalog,
// mounts the screens and wires the session to them. What each part does is
// in its own module: session.js (the connection and the room mirror),
// intents.js (what the phone keeps), outbox.js and courier.js (what is owed
// to the server), vm.js (what each screen shows) and screens/*.js.

import { setLang, getLang, detectLang } from './i18n.js';
import { Intents } from './intents.js';
import { takeFragment, start, notice } from './lifecycle.js';
import { listen } from './react.js';
import { App } from './shell.js';
import { $, applyStrings, fillLangSelect } from './view.js';
import * as bar from './screens/bar.js';
import * as checkin from './screens/checkin.js';
import * as debrief from './screens/debrief.js';
import * as erase from './screens/erase.js';
import * as history from './screens/history.js';
import * as insecure from './screens/insecure.js';
import * as noticeScreen from './screens/notice.js';
import * as pair from './screens/pair.js';
import * as pause from './screens/pause.js';
import * as plan from './screens/plan.js';
import * as verify from './screens/verify.js';
import * as welcome from './screens/welcome.js';

const intents = new Intents();
const incoming = takeFragment(intents); // first thing: the secret leaves the address bar
const screens = { welcome, pair, checkin, plan, debrief, history, erase, notice: noticeScreen };
const app = new App(intents, screens, [bar, pause, verify]);

function strings() {
  applyStrings();
  fillLangSelect($('lang-welcome'));
  fillLangSelect($('lang-plan'));
}

function changeLang(l) {
  setLang(l);
  intents.setLang(getLang());
  strings();
  if (app.catalog) app.build();
  app.render();
}

async function boot() {
  setLang(intents.lang() || detectLang(navigator.languages || [navigator.language]));
  strings();
  if (!insecure.secure()) return insecure.show();
  for (const m of [...Object.values(screens), bar, pause, verify]) if (m.mount) m.mount(app);
  for (const id of ['lang-welcome', 'lang-plan']) $(id).addEventListener('change', (e) => changeLang(e.target.value));
  listen(app);
  wake();
  registerWorker();
  let catalog = null;
  try {
    catalog = await (await fetch('/catalog.json')).json();
  } catch {
    catalog = null;
  }
  if (!catalog) return notice(app, 'offline');
  app.setCatalog(catalog);
  app.build();
  await start(app, incoming);
}

/** Come back at once when the phone wakes, is shown again or finds a network; say bye when leaving. */
function wake() {
  const s = app.session;
  document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && s.wake());
  window.addEventListener('online', () => s.wake());
  window.addEventListener('offline', () => app.render());
  window.addEventListener('pageshow', (e) => (e.persisted && s.conn ? s.conn.start() : s.wake()));
  // Leaving on purpose: the partner sees "away", not "reconnecting".
  window.addEventListener('pagehide', () => s.conn && s.conn.stop(true));
  // A tapped notification (sw.js) focuses this page: resume at once.
  if ('serviceWorker' in navigator) navigator.serviceWorker.addEventListener('message', (e) => e.data && e.data.type === 'wake' && s.wake());
}

function registerWorker() {
  if (!('serviceWorker' in navigator)) return;
  const reg = () => navigator.serviceWorker.register('/sw.js').catch(() => {});
  if (document.readyState === 'complete') reg();
  else window.addEventListener('load', reg, { once: true });
}

boot();
