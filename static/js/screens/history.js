// Looking back: small successes, who led last (so the lead rotates), and
// each round with what was suggested, pauses and both debriefs. Kept only on
// this phone.

import { t } from '../i18n.js';
import { $, el, setText, setShown } from '../view.js';
import * as vd from '../vmdebrief.js';

export const needsRoom = true;

export function mount(app) {
  $('revisit-btn').addEventListener('click', () => app.go('plan', true));
}

export function render(app, ctx) {
  const v = vd.history(ctx);
  setShown($('celebrate'), v.wins.length > 0);
  $('celebrate-list').replaceChildren(...v.wins.map((w) => el('li', {}, w)));
  setShown($('revisit'), v.due);
  setText($('history-lead'), v.lead);
  setShown($('history-empty'), v.rounds.length === 0);
  $('history-list').replaceChildren(
    ...v.rounds.map((h) => {
      const parts = [el('h2', {}, h.when), el('p', { class: 'small muted' }, h.by)];
      parts.push(h.suggestions.length ? el('ol', { class: 'sugg small-sugg' }, ...h.suggestions.map((s) => el('li', {}, s))) : el('p', { class: 'muted' }, t('historyNoMutual')));
      if (h.paused) parts.push(el('p', { class: 'small muted' }, t('historyPaused')));
      for (const a of h.debrief) parts.push(el('p', { class: 'small' }, el('strong', {}, `${a.who}: `), `${a.helped} · ${t('nextTimeShort')} ${a.next}`));
      return el('li', { class: 'card' }, ...parts);
    }),
  );
}
