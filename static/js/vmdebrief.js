// The view models of what a round leaves behind: the debrief screen and the
// history. Pure, like vm.js, whose names and suggestions they share; tested
// in vm.test.mjs.

import * as H from './history.js';
import { t } from './i18n.js';
import { openDebriefs } from './state.js';
import { names, suggestions } from './vm.js';
import { dateTime, deadline } from './when.js';

/** The debrief this screen is about: the one asked for, else the most useful open one. */
export function debriefTarget(ctx) {
  const { st, now } = ctx;
  const chosen = st.debriefs.find((d) => d.round === ctx.ui.debriefRound && d.until > now);
  if (chosen) return chosen;
  const open = openDebriefs(st, now);
  const r = st.round;
  return open.find((d) => !d.released && (!r || d.round !== r.round)) || open.find((d) => !d.released) || open[0] || null;
}

/** The debrief screen. */
export function debrief(ctx) {
  const L = ctx.lang;
  const d = debriefTarget(ctx);
  if (!d) return { round: '', intro: t('debriefNone', {}, L), form: false, state: 'none', status: '', released: null };
  const n = names(ctx);
  const dr = ctx.drafts[d.round] || { helped: '', next: '' };
  const answers = ctx.opened.released[d.round];
  const released = Boolean(d.released && answers);
  let state = 'open';
  let status = '';
  if (released) {
    state = 'released';
  } else if (dr.sent && !dr.changed) {
    state = 'sent';
    status = t('debriefWaiting', { name: n.partner }, L);
  } else if (dr.queued && ctx.conn.status !== 'open') {
    state = 'queued';
    status = t('debriefQueued', {}, L);
  } else if (d.submitted[ctx.other - 1]) {
    state = 'partner';
    status = t('debriefPartnerIn', { name: n.partner }, L);
  }
  const mine = released ? answers[ctx.seat - 1] : null;
  const theirs = released ? answers[ctx.other - 1] : null;
  return {
    round: d.round,
    draft: { helped: dr.helped || '', next: dr.next || '' },
    intro: released ? t('debriefReleasedIntro', {}, L) : t('debriefIntro', { time: deadline(d.until, ctx.now, L) }, L),
    form: !released,
    send: t(dr.sent ? 'updateDebrief' : 'sendDebrief', {}, L),
    sendPrimary: !dr.sent || Boolean(dr.changed),
    state,
    status,
    released: released
      ? [
          { who: n.me, helped: (mine && mine.helped) || '—', next: (mine && mine.next) || '—' },
          { who: n.partner, helped: (theirs && theirs.helped) || '—', next: (theirs && theirs.next) || '—' },
        ]
      : null,
  };
}

/** The history screen: celebrations, who led last, and each round. */
export function history(ctx) {
  const L = ctx.lang;
  const n = names(ctx);
  const seat = ctx.seat;
  const nameOf = (s) => (s === seat ? n.me : n.partner);
  const lead = H.lastLead(ctx.history);
  return {
    wins: H.celebrations(ctx.history, ctx.now).map(([k, v]) => t(k, v, L)),
    due: H.planDue(ctx.plan, ctx.now),
    lead: lead ? t('leadHint', { name: nameOf(lead), other: lead === seat ? n.partner : n.me }, L) : '',
    rounds: ctx.history.map((h) => ({
      when: dateTime(h.at || ctx.now, L),
      by: h.by ? t('ledBy', { name: nameOf(h.by) }, L) : '',
      suggestions: suggestions(ctx, h.suggestions || []),
      paused: Boolean(h.pauses),
      debrief: (h.debrief || []).map((a, i) => (a ? { who: nameOf(i + 1), helped: a.helped || '—', next: a.next || '—' } : null)).filter(Boolean),
    })),
  };
}
