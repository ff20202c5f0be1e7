// The debrief: two questions, drafts kept on the phone through reloads,
// sealed when sent; both answers open together once both are in.

import { t } from '../i18n.js';
import { $, el, setText, setShown } from '../view.js';
import * as vd from '../vmdebrief.js';

export const needsRoom = true;

/** A sealed blob holds about 6 KB of text. */
const MAX_TEXT_BYTES = 5800;

let shownRound = '';

export function mount(app) {
  const i = app.intents;
  $('debrief-form').addEventListener('input', () => {
    const round = app.ui.debriefRound;
    if (!round) return;
    i.setDraft(round, { ...(i.draft(round) || {}), helped: $('debrief-helped').value, next: $('debrief-next').value, changed: true });
    app.render();
  });
  $('debrief-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const round = app.ui.debriefRound;
    if (!round) return;
    if (new TextEncoder().encode($('debrief-helped').value + $('debrief-next').value).length > MAX_TEXT_BYTES) {
      setText($('debrief-status'), t('debriefTooLong'));
      return;
    }
    i.setDraft(round, { ...(i.draft(round) || {}), helped: $('debrief-helped').value, next: $('debrief-next').value, changed: false });
    app.courier.sendDebrief(round);
  });
}

export function enter() {
  shownRound = '';
}

export function forget() {
  shownRound = '';
  for (const id of ['debrief-helped', 'debrief-next']) $(id).value = '';
}

export function render(app, ctx) {
  const v = vd.debrief(ctx);
  app.ui.debriefRound = v.round;
  setText($('debrief-intro'), v.intro);
  setShown($('debrief-form'), v.form);
  $('debrief-status').dataset.state = v.state;
  setText($('debrief-status'), v.status);
  setShown($('debrief-released'), Boolean(v.released));
  if (!v.round) return;
  if (shownRound !== v.round) {
    $('debrief-helped').value = v.draft.helped;
    $('debrief-next').value = v.draft.next;
    shownRound = v.round;
  }
  setText($('debrief-send'), v.send);
  $('debrief-send').classList.toggle('primary', v.sendPrimary);
  if (!v.released) return;
  const box = $('released-list');
  const key = JSON.stringify([v.round, v.released]);
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.replaceChildren(
    ...v.released.map((a) =>
      el('article', { class: 'card answer' }, el('h3', {}, a.who), el('p', { class: 'q' }, t('qHelped')), el('p', { class: 'a' }, a.helped), el('p', { class: 'q' }, t('qNext')), el('p', { class: 'a' }, a.next)),
    ),
  );
}
