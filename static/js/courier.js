// The courier carries what the outbox (outbox.js) decides is owed: it
// debounces taps into submissions, seals notices, settings and debriefs,
// sends them through the session, and records in the intents what the
// server acknowledged. Everything it fails to send stays owed in the
// intents and goes again after the next welcome (reconcile).

import { decoyPool, debriefContext } from './crypto.js';
import * as O from './outbox.js';

export class Courier {
  /**
   * @param {import('./session.js').Session} session
   * @param {import('./intents.js').Intents} intents
   * @param {() => void} changed called after anything it records
   */
  constructor(session, intents, changed) {
    this.session = session;
    this.intents = intents;
    this.changed = changed;
    this.sharedQueued = false;
    this.taps = new O.Debouncer(() => this.submitOnce());
  }

  /** Submits the taps after the debounce (or delay ms). */
  scheduleSubmit(delay = O.SUBMIT_DELAY) {
    this.taps.schedule(delay);
  }

  cancel() {
    this.taps.cancel();
  }

  /** Brings the taps in line with the mirror's open round. */
  alignTaps() {
    const taps = this.intents.taps();
    const r = this.session.st.round;
    const next = O.alignTaps(taps, r ? r.round : null);
    if (next !== taps) this.intents.setTaps(next);
  }

  /** After every welcome and its replay: re-send what the server may not have. */
  async reconcile() {
    const s = this.session;
    if (!s.isOpen) return;
    this.alignTaps();
    const list = O.owed({
      st: s.st,
      seat: s.seat,
      wantsPause: this.intents.wantsPause(),
      space: this.intents.space(),
      shared: this.intents.shared(),
      drafts: this.intents.drafts(),
    });
    for (const o of list) {
      switch (o.kind) {
        case 'pause':
          this.send({ type: 'pause' });
          break;
        case 'unpause':
          this.send({ type: 'unpause' });
          break;
        case 'space':
          this.sendSpace(this.intents.space());
          break;
        case 'settings':
          this.sendSettings();
          break;
        case 'debrief':
          this.sendDebrief(o.round);
          break;
        case 'taps':
          this.scheduleSubmit(0);
          break;
      }
    }
    this.changed();
  }

  /** Sends msg; a failure leaves it owed (the intents still say so). */
  async send(msg) {
    try {
      return await this.session.request(msg);
    } catch (e) {
      return e;
    }
  }

  async submitOnce() {
    const s = this.session;
    if (!s.isOpen) return;
    const next = O.nextSubmit({
      st: s.st,
      seat: s.seat,
      taps: this.intents.taps(),
      sent: this.intents.sent(),
      plan: this.intents.plan(),
      catalog: s.catalog,
    });
    if (!next) return;
    if (next.type === 'open') {
      // The first tap opens a round; its event brings the taps along.
      await this.send({ type: 'round.open' });
      return;
    }
    const decoys = O.decoysFor(this.intents.decoys(), next.round, decoyPool);
    this.intents.setDecoys(decoys);
    const msg = await O.submitRequest(s.keys, next.round, next.ids, decoys.pool);
    try {
      await s.request(msg);
      this.intents.setSent(O.acknowledged(this.intents.sent(), next.round, next.key));
    } catch (e) {
      if (e.code === 'limit') this.intents.setSent(O.limitReached(this.intents.sent(), next.round));
    }
    this.changed();
  }

  /** Seals and sends this phone's space (minutes 0 ends it early). */
  async sendSpace(sp) {
    if (!sp) return;
    try {
      const blob = await this.session.seal('announce', { kind: 'space', minutes: sp.minutes, until: sp.until });
      await this.session.request({ type: 'announce', blob });
      const now = this.intents.space();
      if (now && now.until === sp.until) this.intents.setSpace({ ...now, sent: true });
    } catch {
      // Sent again on reconnection.
    }
    this.changed();
  }

  async sendSettings() {
    const s = this.intents.shared();
    if (!s) return;
    try {
      const signals = String(s.signals || '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      const blob = await this.session.seal('settings', { pauseWord: (s.pauseWord || '').trim(), signals });
      await this.session.request({ type: 'settings', blob });
      const now = this.intents.shared();
      if (now && now.pauseWord === s.pauseWord && now.signals === s.signals) this.intents.setShared({ ...now, dirty: false });
      this.sharedQueued = false;
    } catch {
      this.sharedQueued = true;
    }
    this.changed();
  }

  async sendDebrief(round) {
    const d = this.intents.draft(round);
    if (!d) return;
    this.intents.setDraft(round, { ...d, queued: true });
    try {
      const blob = await this.session.seal(debriefContext(round), { helped: d.helped || '', next: d.next || '' });
      await this.session.request({ type: 'debrief', round, blob });
      const now = this.intents.draft(round);
      if (now && now.helped === d.helped && now.next === d.next) this.intents.setDraft(round, { ...now, sent: true, queued: false });
    } catch (e) {
      if (e.code === 'debrief_closed') {
        const now = this.intents.draft(round);
        if (now) this.intents.setDraft(round, { ...now, queued: false });
      }
    }
    this.changed();
  }
}
