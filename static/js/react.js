// What the app does when the session changes: keep history and taps in step
// with the room, tell the person (vibration, live regions), move to the
// debrief when this phone closed a round, send what is owed after a welcome.

import { t } from './i18n.js';
import { fatal, wipe } from './lifecycle.js';
import { names, pauseWord } from './vm.js';
import { announce, buzz } from './view.js';

export function listen(app) {
  app.session.on(async (c) => {
    switch (c.type) {
      case 'welcome':
        if (c.welcome.snapshot) onSnapshot(app);
        app.render();
        return;
      case 'ready':
        app.render();
        await app.courier.reconcile();
        // A phone that chose waking subscribes again if anything changed (wake.js).
        if (app.intents.push()) import('./wake.js').then((m) => m.refresh(app)).catch(() => {});
        return;
      case 'status':
        app.render();
        return;
      case 'fatal':
        fatal(app, c.why, c.code);
        return;
      case 'event':
        onEvent(app, c.ev);
        return;
    }
  });
}

/** After a snapshot: the pause wish, the open round and released debriefs in history. */
function onSnapshot(app) {
  const s = app.session;
  const i = app.intents;
  if (i.wantsPause() === null) i.setPause(s.st.paused[s.seat - 1]);
  const r = s.st.round;
  if (r) i.remember(r.round, (h) => ({ ...h, at: h.at || Date.now(), by: r.by, suggestions: [...s.opened.reveal] }));
  for (const [round, answers] of Object.entries(s.opened.released)) {
    if (answers[0] && answers[1]) i.remember(round, (h) => ({ ...h, at: h.at || Date.now(), debrief: answers }));
  }
}

function onEvent(app, ev) {
  const s = app.session;
  const i = app.intents;
  const ctx = app.snapshot();
  const n = names(ctx);
  const fromPartner = ev.seat === s.other;
  switch (ev.kind) {
    case 'paired':
      buzz(40);
      announce(t('pairedNow', { name: n.partner }));
      break;
    case 'round.opened':
      i.remember(ev.round, (h) => ({ ...h, at: ev.at, by: ev.seat }));
      app.courier.alignTaps();
      if (fromPartner) {
        buzz(20);
        announce(t('partnerOpened', { name: n.partner }));
      }
      app.courier.scheduleSubmit(0);
      break;
    case 'round.revealed':
      // A reveal replayed after its round closed comes without tokens (the
      // server deletes them with the round): history keeps what it saw live.
      if (s.opened.reveal.length) {
        i.remember(ev.round, (h) => ({ ...h, suggestions: [...s.opened.reveal] }));
        buzz(15);
      }
      break;
    case 'round.closed':
      i.remember(ev.round, (h) => ({ ...h, closedAt: ev.at }));
      i.endRound();
      if (ev.seat === s.seat) {
        app.ui.debriefRound = ev.round;
        app.go('debrief', true);
      } else {
        announce(ev.seat ? t('partnerClosed', { name: n.partner }) : t('roundExpired'));
      }
      break;
    case 'paused':
      if (s.st.round) i.remember(s.st.round.round, (h) => ({ ...h, pauses: (h.pauses || 0) + 1 }));
      if (fromPartner) {
        buzz([300, 120, 300, 120, 300]);
        announce(t('partnerPausedLive', { name: n.partner, word: pauseWord(ctx) }), true);
      }
      break;
    case 'unpaused':
      if (fromPartner) announce(t('pauseLiftedBy', { name: n.partner }), true);
      break;
    case 'announced':
      if (fromPartner) {
        const a = s.opened.announce[s.other - 1];
        if (a && a.minutes > 0 && a.until > Date.now()) {
          buzz(30);
          app.ui.dockOpen = true; // the partner's space matters more than the taps
          announce(t('spacePartner', { name: n.partner, minutes: a.minutes }));
        }
      }
      break;
    case 'settings':
      app.screens.plan.fillForms(app);
      break;
    case 'debrief.released':
      if (s.opened.released[ev.round]) i.remember(ev.round, (h) => ({ ...h, debrief: s.opened.released[ev.round] }));
      buzz(20);
      announce(t('releasedNow'));
      break;
    case 'moved':
      if (fromPartner) announce(t('partnerMoved', { name: n.partner }));
      break;
    case 'erased':
      wipe(app, 'erased');
      return;
  }
  app.render();
}
