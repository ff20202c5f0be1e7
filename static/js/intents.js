// What this phone means to do and remembers, typed, over store.js: the room
// and this seat, the mirror and its position, this round's taps and what the
// server acknowledged of them, the round's decoys, the wish to be paused,
// this phone's space, the private plan, the shared settings as typed, debrief
// drafts and the history. Every write goes straight to localStorage
// (synchronously), so nothing is lost to a reload, a crash or a flat battery.
//
// Only this module names store keys; the rest of the app calls its methods.
// The keys are listed in store.js and docs/webapp.md.

import { Store, upsertHistory } from './store.js';

const NO_TAPS = Object.freeze({ round: null, needs: [] });

export class Intents {
  /** @param {Store} [store] */
  constructor(store = new Store()) {
    this.s = store;
  }

  /** {room, secret, seat, device, link, inviteUntil, onboarded, mode, nonce, moveMade} or null (moveMade: this phone made a move link and has not cancelled it). */
  room() {
    return this.s.get('room');
  }
  setRoom(r) {
    this.s.set('room', r);
  }

  /** A link opened but not joined yet: {room, secret} or null. */
  join() {
    return this.s.get('join');
  }
  setJoin(j) {
    this.s.set('join', j);
  }

  /** The saved mirror and its position: {epoch, offset, state} or null. */
  sync() {
    return this.s.get('sync');
  }
  setSync(cursor, state) {
    this.s.set('sync', { epoch: cursor.epoch, offset: cursor.offset, state });
  }

  /** This phone's taps: {round, needs, at}; round is null until one opens. */
  taps() {
    const v = this.s.get('taps', NO_TAPS);
    return { round: v.round ?? null, needs: Array.isArray(v.needs) ? v.needs : [], at: v.at || 0 };
  }
  setTaps(taps) {
    this.s.set('taps', taps);
  }

  /** What the server acknowledged of this round's taps: {round, key, count, limit} or null. */
  sent() {
    return this.s.get('sent');
  }
  setSent(v) {
    this.s.set('sent', v);
  }

  /** The round's decoys: {round, pool} or null. */
  decoys() {
    return this.s.get('decoys');
  }
  setDecoys(v) {
    this.s.set('decoys', v);
  }

  /** Whether this seat wants to be paused; null when this phone never said. */
  wantsPause() {
    const p = this.s.get('pause');
    return p ? Boolean(p.want) : null;
  }
  setPause(want) {
    this.s.set('pause', { want: Boolean(want) });
  }

  /** This phone's own space: {minutes, until, sent} or null. */
  space() {
    return this.s.get('space');
  }
  setSpace(v) {
    this.s.set('space', v);
  }
  /** When this phone last tapped a need or took up the end-of-space offer. */
  spaceSeen() {
    return this.s.get('spaceSeen', 0);
  }
  setSpaceSeen(ms) {
    this.s.set('spaceSeen', ms);
  }

  /** The private plan: {me, partner, welcome, never, offLimits, at}. */
  plan() {
    return this.s.get('plan', {}) || {};
  }
  /** Merges change into the plan and marks it saved at now. */
  savePlan(change, now = Date.now()) {
    const p = { ...this.plan(), ...change, at: now };
    this.s.set('plan', p);
    return p;
  }

  /** The shared settings as typed: {pauseWord, signals, dirty} or null. */
  shared() {
    return this.s.get('shared');
  }
  setShared(v) {
    this.s.set('shared', v);
  }

  /** Debrief drafts by round: {[round]: {helped, next, changed, queued, sent}}. */
  drafts() {
    return this.s.get('drafts', {}) || {};
  }
  draft(round) {
    return this.drafts()[round] || null;
  }
  setDraft(round, d) {
    const all = this.drafts();
    all[round] = d;
    this.s.set('drafts', all);
  }

  /** Past rounds, newest first (store.upsertHistory). */
  history() {
    return this.s.get('history', []) || [];
  }
  remember(round, fn) {
    this.s.set('history', upsertHistory(this.history(), round, fn));
  }

  /** Waking this phone (wake.js): {on, kinds, level, endpoint, key, dismissed} or null. */
  push() {
    return this.s.get('push');
  }
  setPush(v) {
    this.s.set('push', v);
  }

  lang() {
    return this.s.get('lang');
  }
  setLang(l) {
    this.s.set('lang', l);
  }

  /** One note to show after a wipe: {kind} or null. */
  notice() {
    return this.s.get('notice');
  }
  setNotice(kind) {
    this.s.set('notice', kind ? { kind } : null);
  }

  /** Forgets the round's taps, acknowledgement and decoys (the round ended). */
  endRound() {
    this.setTaps({ round: null, needs: [] });
    this.setSent(null);
    this.setDecoys(null);
  }

  /** Forgets everything but keep (for example the language). */
  wipe(keep = []) {
    this.s.wipe(keep);
  }

  /** Keys kept now, for tests. */
  keys() {
    return this.s.keys();
  }
}
