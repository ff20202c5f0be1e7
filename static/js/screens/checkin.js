// Check-in: the needs, one tap each; the dock with what suits both (and a
// space countdown), which folds to one line while tapping and opens on
// demand; the lead hint, a private reminder behind a tap, the debrief card.

import { $, el, setText, setShown, announce, buzz } from '../view.js';
import { getLang, t } from '../i18n.js';
import * as vm from '../vm.js';

export const needsRoom = true;
const MINUTE = 60000;

let ticker = 0;
let shownReveal = '';

export function mount(app) {
  // Keep the end of the screen clear of the dock, whatever its height.
  if ('ResizeObserver' in window) {
    new ResizeObserver(() => {
      const h = $('dock').offsetHeight;
      $('screen-checkin').style.paddingBottom = `${h + 24}px`;
      document.documentElement.style.setProperty('--dock', app.ui.screen === 'checkin' ? `${h}px` : '0px');
    }).observe($('dock'));
  }
  $('needs').addEventListener('click', (e) => {
    const b = e.target.closest('[data-need]');
    if (b) tapNeed(app, b.dataset.need);
  });
  $('clear-taps').addEventListener('click', () => clearTaps(app));
  $('close-round').addEventListener('click', () => closeRound(app));
  $('to-debrief').addEventListener('click', () => app.go('debrief', true));
  $('space-checkin').addEventListener('click', () => checkInAfterSpace(app));
  $('dock-toggle').addEventListener('click', () => {
    app.ui.dockOpen = !app.ui.dockOpen;
    app.render();
  });
  $('reminder-toggle').addEventListener('click', () => {
    const open = $('reminder-toggle').getAttribute('aria-expanded') !== 'true';
    $('reminder-toggle').setAttribute('aria-expanded', String(open));
    setShown($('offlimits-hint'), open);
  });
}

export function enter(app) {
  document.documentElement.style.setProperty('--dock', `${$('dock').offsetHeight}px`);
  // The private reminder folds away whenever the screen is left.
  $('reminder-toggle').setAttribute('aria-expanded', 'false');
  setShown($('offlimits-hint'), false);
}

export function leave() {
  document.documentElement.style.setProperty('--dock', '0px');
}

export function build(app) {
  const c = app.catalog;
  const local = (labels) => labels[getLang()] || labels.en || '';
  $('needs').replaceChildren(
    ...c.groups.map((g) =>
      el(
        'section',
        { class: `need-group g-${g.id}`, 'aria-labelledby': `g-${g.id}` },
        el('h2', { id: `g-${g.id}` }, local(g.label)),
        el('div', { class: 'need-list' }, ...c.needs.filter((x) => x.group === g.id).map((n) => el('button', { type: 'button', class: 'need', 'data-need': n.id, 'aria-pressed': 'false' }, local(n.label)))),
      ),
    ),
  );
  shownReveal = '';
}

export function forget() {
  shownReveal = '';
}

export function render(app, ctx) {
  const v = vm.checkin(ctx);
  for (const b of document.querySelectorAll('#needs [data-need]')) b.setAttribute('aria-pressed', String(v.pressed.has(b.dataset.need)));
  const joined = v.list.join('\n');
  if (joined !== shownReveal) {
    $('sugg-list').replaceChildren(...v.list.map((s) => el('li', {}, s)));
    if (v.list.length) announce(t('revealLive', { list: v.list.map((s, i) => `${i + 1}. ${s}`).join(', ') }));
    shownReveal = joined;
  }
  const together = $('together');
  together.dataset.state = v.state;
  together.dataset.synced = String(v.synced); // whether the server has this phone's latest taps (tests wait for it)
  together.dataset.stale = String(v.stale);
  setShown($('sugg-list'), v.list.length > 0);
  setText($('sugg-note'), v.note);
  setShown($('sugg-note'), Boolean(v.note));
  setText($('sugg-stale'), v.staleNote);
  setShown($('sugg-stale'), v.stale);
  // The dock: one line while tapping, everything on demand.
  $('dock').dataset.open = String(v.dockOpen);
  $('dock-toggle').setAttribute('aria-expanded', String(v.dockOpen));
  setText($('dock-summary'), v.dockOpen ? t('dockHide') : v.stale ? v.staleNote : v.summary);
  setShown($('dock-body'), v.dockOpen);

  setShown($('close-round'), v.canClose);
  setShown($('clear-taps'), v.canClear);
  setShown($('limit-note'), v.limit);
  setText($('lead-hint'), v.lead);
  setShown($('reminder-row'), Boolean(v.reminder));
  setText($('offlimits-hint'), v.reminder);
  setShown($('debrief-card'), Boolean(v.card));
  if (v.card) setText($('debrief-card-text'), v.card.text);

  const sp = v.space;
  setShown($('space-banner'), Boolean(sp.text));
  setText($('space-text'), sp.text);
  setText($('space-clock'), sp.clock);
  setShown($('space-clock'), Boolean(sp.clock));
  setShown($('space-checkin'), sp.offer);
  $('space-banner').dataset.state = sp.state;
  tick(app, sp.state === 'counting');
}

/** A one-second redraw only while a countdown is on screen. */
function tick(app, counting) {
  if (counting && !ticker) {
    ticker = setInterval(() => {
      if (app.ui.screen === 'checkin') app.render();
      else tick(app, false);
    }, 1000);
  } else if (!counting && ticker) {
    clearInterval(ticker);
    ticker = 0;
  }
}

function tapNeed(app, id) {
  buzz(12);
  const need = app.catalog.needs.find((n) => n.id === id);
  if (!need) return;
  const i = app.intents;
  const taps = i.taps();
  const selected = !taps.needs.includes(id);
  taps.needs = selected ? [...taps.needs, id] : taps.needs.filter((x) => x !== id);
  if (!taps.round && app.session.st.round) taps.round = app.session.st.round.round;
  taps.at = Date.now();
  i.setTaps(taps);
  if (need.minutes) {
    const sp = i.space();
    if (selected) startSpace(app, need.minutes);
    else if (sp && sp.minutes === need.minutes && sp.until > Date.now()) startSpace(app, 0);
  }
  i.setSpaceSeen(Date.now());
  app.ui.dockOpen = false;
  app.render();
  app.courier.scheduleSubmit();
}

/** Starts (or, with 0 minutes, ends early) this phone's space, and tells the partner, sealed. */
function startSpace(app, minutes) {
  const sp = { minutes, until: Date.now() + minutes * MINUTE, sent: false };
  app.intents.setSpace(sp);
  app.courier.sendSpace(sp);
}

function clearTaps(app) {
  const i = app.intents;
  const sp = i.space();
  if (sp && sp.minutes > 0 && sp.until > Date.now()) startSpace(app, 0);
  i.setTaps({ ...i.taps(), needs: [] });
  app.render();
  app.courier.scheduleSubmit(0);
}

async function checkInAfterSpace(app) {
  const i = app.intents;
  const spaceNeeds = new Set(app.catalog.needs.filter((n) => n.minutes).map((n) => n.id));
  const taps = i.taps();
  i.setTaps({ ...taps, needs: taps.needs.filter((x) => !spaceNeeds.has(x)) });
  i.setSpaceSeen(Date.now());
  if (!app.session.st.round && app.session.isOpen) await app.courier.send({ type: 'round.open' });
  app.courier.scheduleSubmit(0);
  app.render();
  const first = document.querySelector('#needs [data-need]');
  if (first) first.focus();
}

async function closeRound(app) {
  const r = app.session.st.round;
  if (r) await app.courier.send({ type: 'round.close', round: r.round }); // offline or already closed: the button stays
}
