// The plan, in sections: the shared pause word and signal words first
// (sealed, synced to the partner), then — each behind its own disclosure —
// what stays on this phone (names, off-limits topics) and the Welcome/Never
// list; the language and Erase us last.

import { getLang, t } from '../i18n.js';
import { render as renderSuggestion } from '../rules.js';
import { $, el, setText, setShown, fillLangSelect } from '../view.js';
import * as vm from '../vm.js';
import { fill, wakeCard } from './pair.js';

export const needsRoom = true;

export function mount(app) {
  const i = app.intents;
  $('plan-private').addEventListener('input', () => {
    i.savePlan({ me: $('plan-me').value, partner: $('plan-partner').value, offLimits: $('plan-offlimits').value });
    setText($('plan-saved'), t('planSaved'));
  });
  $('plan-private').addEventListener('submit', (e) => e.preventDefault());
  $('plan-private').addEventListener('change', (e) => {
    if (e.target.id === 'plan-me' || e.target.id === 'plan-partner') app.build();
    app.render();
  });
  $('plan-items').addEventListener('click', (e) => {
    const b = e.target.closest('[data-plan]');
    if (!b) return;
    const { plan: id, kind } = b.dataset;
    const p = i.plan();
    const sets = { welcome: new Set(p.welcome || []), never: new Set(p.never || []) };
    const on = !sets[kind].has(id);
    sets.welcome.delete(id);
    sets.never.delete(id);
    if (on) sets[kind].add(id);
    i.savePlan({ welcome: [...sets.welcome], never: [...sets.never] });
    setText($('plan-saved'), t('planSaved'));
    app.render();
    app.courier.scheduleSubmit();
  });
  $('plan-reviewed').addEventListener('click', () => {
    i.savePlan({});
    app.render();
  });
  const typed = () => i.setShared({ pauseWord: $('plan-pauseword').value, signals: $('plan-signals').value, dirty: true });
  $('plan-shared').addEventListener('input', () => {
    typed();
    app.render();
  });
  $('plan-shared').addEventListener('submit', (e) => {
    e.preventDefault();
    typed();
    app.courier.sendSettings();
  });
  $('erase-open').addEventListener('click', () => app.go('erase', true));
  // Moving to another device is rare: its code loads only when asked for.
  $('move-open').addEventListener('click', () => import('../move.js').then((m) => m.show(app)).catch(() => setText($('move-error'), t('moveFailed'))));
  // So is replacing the partner's lost phone.
  $('replace-open').addEventListener('click', () => import('../replace.js').then((m) => m.show(app)).catch(() => setText($('replace-error'), t('moveFailed'))));
}

/** The Welcome/Never list, worded with this phone's names. */
export function build(app) {
  const n = vm.names(app.snapshot());
  setText($('replace-open'), t('replaceOpen', { name: n.partner }));
  const seat = app.session.seat;
  $('plan-items').replaceChildren(
    ...app.catalog.suggestions.map((s) => {
      const textID = `pi-${s.id}`;
      const text = renderSuggestion(app.catalog, s.roles ? `${s.id}@${seat}` : s.id, getLang(), n);
      const button = (kind) =>
        el('button', { type: 'button', class: `chip ${kind}`, 'data-plan': s.id, 'data-kind': kind, 'aria-pressed': 'false', 'aria-describedby': textID }, t(kind === 'welcome' ? 'planWelcome' : 'planNever'));
      return el(
        'li',
        { class: 'plan-item' },
        el('span', { id: textID, class: 'plan-text' }, text, s.roles ? el('span', { class: 'small muted' }, ` · ${t('eitherWay')}`) : null),
        el('span', { class: 'chips' }, button('welcome'), button('never')),
      );
    }),
  );
  fillForms(app);
}

/** Puts the plan and the shared settings into the forms (not over what is being typed). */
export function fillForms(app) {
  const i = app.intents;
  const p = i.plan();
  fill('plan-me', p.me || '');
  fill('plan-partner', p.partner || '');
  fill('plan-offlimits', p.offLimits || '');
  let shared = i.shared();
  const opened = app.session.opened.shared;
  if ((!shared || !shared.dirty) && opened) {
    shared = { pauseWord: opened.pauseWord || '', signals: (opened.signals || []).join(', '), dirty: false };
    i.setShared(shared);
  }
  fill('plan-pauseword', (shared && shared.pauseWord) || '');
  fill('plan-signals', (shared && shared.signals) || '');
}


export function enter(app) {
  fillForms(app);
  setText($('plan-saved'), '');
}

export function forget() {
  for (const id of ['plan-me', 'plan-partner', 'plan-offlimits', 'plan-pauseword', 'plan-signals', 'move-link']) $(id).value = '';
  $('move-qr').replaceChildren();
  $('move-box').hidden = true;
  $('replace-link').value = '';
  $('replace-qr').replaceChildren();
  $('replace-box').hidden = true;
}

export function render(app, ctx) {
  const v = vm.plan(ctx);
  for (const b of document.querySelectorAll('#plan-items [data-plan]')) {
    b.setAttribute('aria-pressed', String((b.dataset.kind === 'welcome' ? v.welcome : v.never).has(b.dataset.plan)));
  }
  const count = v.welcome.size + v.never.size;
  setText($('plan-list-count'), count ? t('planListCount', { count }) : '');
  setShown($('plan-prompt'), v.due);
  setText($('shared-status'), v.status);
  setShown($('replace-open'), Boolean(ctx.st.paired));
  const r = app.session.room;
  if (r && !r.pending && !$('replace-box').hidden) {
    // The partner's new phone used the link (or it was cancelled).
    $('replace-box').hidden = true;
    $('replace-open').setAttribute('aria-expanded', 'false');
    $('replace-link').value = '';
    $('replace-qr').replaceChildren();
  }
  wakeCard(app, 'push-plan', 'plan');
}

