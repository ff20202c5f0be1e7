// The view model: what each screen shows, as plain data, from the room
// mirror, this phone's intents, the opened blobs, the language and the time.
// Pure (no DOM, no storage, no clock of its own), so what the app says is
// tested in node (vm.test.mjs); the screens (screens/*.js) only put it on
// the page. Every string comes from i18n.js.
//
// ctx is built by shell.js's App.snapshot():
//   {room, seat, other, st, conn: {status, everOpen, online}, taps, sent,
//    wantsPause, space, spaceSeen, plan, shared, drafts, history, opened,
//    catalog, lang, now, ui: {screen, debriefRound, dockOpen, sharedQueued}}

import * as H from './history.js';
import { t } from './i18n.js';
import { atLimit, tapsKey, planLists } from './outbox.js';
import { render as renderSuggestion } from './rules.js';
import { spaceBanner } from './space.js';
import { openDebriefs, reached } from './state.js';
import { clock, deadline } from './when.js';

export const NAV_SCREENS = ['checkin', 'debrief', 'history', 'plan', 'erase'];

/** The two names, from this phone's plan (or "Partner A/B"), by role and by seat. */
export function names(ctx) {
  const p = ctx.plan || {};
  const seat = ctx.seat;
  const tr = (k) => t(k, {}, ctx.lang);
  const mine = (p.me || '').trim() || tr(seat === 1 ? 'nameA' : 'nameB');
  const theirs = (p.partner || '').trim() || tr(seat === 1 ? 'nameB' : 'nameA');
  return { me: mine, partner: theirs, seat1: seat === 1 ? mine : theirs, seat2: seat === 1 ? theirs : mine };
}

/** The couple's pause word, or "Pause". */
export function pauseWord(ctx) {
  const s = ctx.opened.shared;
  const w = s && typeof s.pauseWord === 'string' ? s.pauseWord.trim() : '';
  return w || t('pauseDefault', {}, ctx.lang);
}

const inRoom = (ctx) => Boolean(ctx.room && ctx.room.device);

/** How long the bar says the partner moved to a new device. */
export const MOVED_NOTE_MS = 5 * 60 * 1000;

/** The status bar, the pause button and the navigation. */
export function bar(ctx) {
  const L = ctx.lang;
  const shown = inRoom(ctx) && ctx.ui.screen !== 'notice';
  const nav = shown && ctx.st.paired && Boolean(ctx.room.onboarded) && NAV_SCREENS.includes(ctx.ui.screen);
  let state;
  if (ctx.conn.status !== 'open') {
    // Offline once an attempt failed or the browser says so; an offline
    // reload is offline, not "connecting".
    state = ctx.conn.status === 'offline' || ctx.conn.everOpen || !ctx.conn.online ? 'offline' : 'connecting';
  } else if (!ctx.st.paired) {
    state = 'waiting';
  } else {
    // Online only while the server hears from the partner's phone; a
    // frozen, locked, dropped or departed phone is not reachable, whatever
    // the reason (protocol §8).
    state = ctx.st.presence[ctx.other - 1] === 'online' ? 'online' : 'unreachable';
  }
  const key = { offline: 'stOffline', connecting: 'stConnecting', waiting: 'stWaiting', online: 'stOnline', unreachable: 'stUnreachable' }[state];
  const word = pauseWord(ctx);
  // Just after the partner moved to another device, the bar says so.
  const movedAt = ctx.st.moved ? ctx.st.moved[ctx.other - 1] : 0;
  const moved = (state === 'online' || state === 'unreachable') && movedAt > 0 && ctx.now - movedAt < MOVED_NOTE_MS;
  return {
    shown,
    nav,
    state,
    text: t(moved ? 'partnerMoved' : key, { name: names(ctx).partner }, L),
    pauseShown: ctx.st.paired,
    word,
    pauseLabel: t('pauseButtonLabel', { word }, L),
  };
}

/**
 * How far something this phone sent has got: 'sending' until the server
 * logged it, 'waiting' until the partner's phone confirmed it has it
 * (protocol §5.15), then 'delivered'. Never more than the receipts say.
 */
export function deliveryOf(ctx, logged, offset) {
  if (!logged) return 'sending';
  return reached(ctx.st, ctx.other, offset) ? 'delivered' : 'waiting';
}

/** What a delivery state says, naming the partner ('' for none). */
function deliveryText(ctx, delivery) {
  const key = { sending: 'pauseSending', delivered: 'pauseDelivered', waiting: 'pauseNotYet' }[delivery];
  return key ? t(key, { name: names(ctx).partner }, ctx.lang) : '';
}

/** The full-screen pause: whose it is and what it says. */
export function pause(ctx) {
  const L = ctx.lang;
  const mine = inRoom(ctx) && ctx.wantsPause === true;
  const theirs = inRoom(ctx) && Boolean(ctx.st.paused[ctx.other - 1]);
  const n = names(ctx);
  const s = ctx.opened.shared;
  const signals = s && Array.isArray(s.signals) ? s.signals.filter(Boolean) : [];
  const delivery = mine ? deliveryOf(ctx, ctx.st.paused[ctx.seat - 1], ctx.st.at.paused[ctx.seat - 1]) : '';
  return {
    shown: mine || theirs,
    who: mine ? 'me' : 'partner',
    delivery,
    deliveryText: deliveryText(ctx, delivery),
    word: pauseWord(ctx),
    title: mine ? t('youPaused', {}, L) : t('partnerPaused', { name: n.partner }, L),
    body: mine ? t('youPausedBody', {}, L) : t('partnerPausedBody', { name: n.partner }, L),
    also: mine && theirs ? t('partnerPausedToo', { name: n.partner }, L) : '',
    canLift: mine,
    signals: signals.length ? t('signalsReminder', { words: signals.join(', ') }, L) : '',
  };
}

/** The pairing screen. */
export function pair(ctx) {
  const L = ctx.lang;
  const r = ctx.room;
  const paired = ctx.st.paired;
  const inviting = r.seat === 1 && Boolean(r.device) && !paired;
  const expired = inviting && Boolean(r.inviteUntil) && r.inviteUntil < ctx.now;
  // Cancelled by this phone (invite.cancel): like expired, with its own words.
  const revoked = inviting && Boolean(r.inviteRevoked);
  let state = 'joining';
  if (paired) state = 'paired';
  else if (revoked) state = 'revoked';
  else if (expired) state = 'expired';
  else if (r.seat === 1) state = r.device ? 'waiting' : 'creating';
  const text = { joining: 'joining', paired: 'pairedStatus', revoked: 'linkCancelled', expired: 'linkExpired', waiting: 'waitingPartner', creating: 'creating' }[state];
  return {
    title: t(paired ? 'pairedTitle' : r.seat === 1 ? 'inviteTitle' : 'joiningTitle', {}, L),
    invite: inviting && !expired && !revoked,
    restart: expired || revoked,
    state,
    text: t(text, {}, L),
    names: Boolean(r.device),
    canContinue: paired,
    link: r.link || '',
    expiry: r.inviteUntil ? t('linkExpires', { time: deadline(r.inviteUntil, ctx.now, L) }, L) : '',
  };
}

/**
 * Whether to suggest, once paired, adding Softland to the Home Screen and
 * moving it there: on iPhone and iPad an app added to the Home Screen does
 * not share the browser tab's storage, so it starts unpaired until the seat
 * is moved to it. env: {ua, platform, touchPoints, standalone}.
 */
export function homeScreenHint(env) {
  const ios = /iPhone|iPad|iPod/.test(env.ua || '') || (env.platform === 'MacIntel' && env.touchPoints > 1);
  return ios && !env.standalone;
}

/** The mutual suggestions, as sentences, best first. */
export function suggestions(ctx, ids) {
  const n = names(ctx);
  return ids.map((id) => renderSuggestion(ctx.catalog, id, ctx.lang, n));
}

/** The check-in screen: taps, the dock (suggestions and space), hints and the debrief card. */
export function checkin(ctx) {
  const L = ctx.lang;
  const { seat, other, st, taps } = ctx;
  const n = names(ctx);
  const r = st.round;
  let state = 'idle';
  let note = '';
  if (!r) {
    note = t(taps.needs.length ? 'suggOpening' : 'suggIdle', {}, L);
  } else if (r.rev > 0 && ctx.opened.reveal.length) {
    state = 'revealed';
    if (!reached(st, other, st.at.reveal)) note = t('revealNotYet', { name: n.partner }, L);
  } else if (r.submitted[0] && r.submitted[1]) {
    state = 'none';
    note = t('suggNone', {}, L);
  } else if (r.submitted[other - 1]) {
    state = 'partner';
    note = taps.needs.length ? t('suggSending', {}, L) : t('suggPartnerIn', { name: n.partner }, L);
  } else {
    state = 'waiting';
    note = taps.needs.length || r.submitted[seat - 1] ? t('suggWaiting', { name: n.partner }, L) : t('suggOpen', { name: r.by === seat ? n.me : n.partner }, L);
  }
  const list = state === 'revealed' ? suggestions(ctx, ctx.opened.reveal) : [];
  // What is on screen while offline may have changed on the server.
  const stale = ctx.conn.status !== 'open' && Boolean(r);
  const sent = ctx.sent;
  const synced = Boolean(r && sent && sent.round === r.round && sent.key === tapsKey(taps.needs, planLists(ctx.catalog, ctx.plan)));
  const lead = H.lastLead(ctx.history);
  const off = (ctx.plan.offLimits || '').trim();
  const card = debriefCard(ctx, n);
  const space = spaceView(ctx, n);
  const summary = list.length ? t(list.length > 1 ? 'dockSummaryMore' : 'dockSummary', { first: list[0], count: list.length - 1 }, L) : note;
  return {
    pressed: new Set(taps.needs),
    state,
    list,
    note,
    stale,
    staleNote: stale ? t('suggStale', {}, L) : '',
    synced,
    dockOpen: ctx.ui.dockOpen,
    summary: space.kind && !ctx.ui.dockOpen ? `${space.clock ? `${space.clock} · ` : ''}${summary}` : summary,
    canClose: Boolean(r),
    canClear: taps.needs.length > 0,
    limit: Boolean(r && atLimit(sent, r.round)),
    lead: !r && lead ? t('leadHint', { name: lead === seat ? n.me : n.partner, other: lead === seat ? n.partner : n.me }, L) : '',
    reminder: off ? t('offLimitsReminder', { topics: off }, L) : '',
    card,
    space,
  };
}

function debriefCard(ctx, n) {
  const r = ctx.st.round;
  const d = openDebriefs(ctx.st, ctx.now).filter((x) => !r || x.round !== r.round)[0];
  if (!d) return null;
  const dr = ctx.drafts[d.round];
  const key = d.released ? 'debriefCardReleased' : dr && dr.sent ? 'debriefCardSent' : 'debriefCardOpen';
  return { text: t(key, { time: deadline(d.until, ctx.now, ctx.lang), name: n.partner }, ctx.lang) };
}

/** The space banner: a countdown while someone has space, then a check-in offer. */
function spaceView(ctx, n) {
  const L = ctx.lang;
  const b = spaceBanner(ctx.space, ctx.opened.announce[ctx.other - 1], ctx.spaceSeen, ctx.now);
  const key = { partner: 'spacePartner', mine: 'spaceMine', partnerDone: 'spacePartnerDone', mineDone: 'spaceMineDone' }[b.kind];
  const offer = b.kind.endsWith('Done');
  // Whether the partner's phone has this phone's notice, as the receipts say.
  const delivery = b.kind === 'mine' ? deliveryOf(ctx, Boolean(ctx.space && ctx.space.sent), ctx.st.at.announce[ctx.seat - 1]) : '';
  const text = key ? t(key, { name: n.partner, minutes: b.minutes }, L) : '';
  return {
    kind: b.kind,
    delivery,
    text: delivery ? `${text} ${deliveryText(ctx, delivery)}` : text,
    clock: b.until ? clock(b.until - ctx.now) : '',
    offer,
    state: offer ? 'done' : b.until ? 'counting' : '',
  };
}

/** The plan screen: the Welcome/Never choices, the revisit prompt, the sharing status. */
export function plan(ctx) {
  const L = ctx.lang;
  const p = ctx.plan;
  const shared = ctx.shared;
  let status = '';
  if (shared && shared.dirty) status = t(ctx.ui.sharedQueued ? 'sharedQueued' : 'sharedDraft', {}, L);
  else if (ctx.opened.shared) status = t('sharedDone', { name: names(ctx).partner }, L);
  return { welcome: new Set(p.welcome || []), never: new Set(p.never || []), due: H.planDue(p, ctx.now), status };
}
