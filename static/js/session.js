// The session: this phone's seat in its room, as one object. It owns the
// connection (conn.js), the room mirror (state.js) and the cursor (the last
// event applied), saves them together after every event, opens what is
// sealed (the shared settings, announcements, released debriefs) and maps a
// reveal's tokens back to suggestions. It decides nothing about screens:
// listeners get every change and the screens redraw from the session.
//
// Emitted, in order, to each listener(change):
//   {type: 'welcome', welcome}  authenticated; a snapshot, if any, is applied
//   {type: 'event', ev, prev}   one event applied (prev is the mirror before)
//   {type: 'ready'}             a welcome and its replayed events are applied
//   {type: 'status'}            the connection's status changed
//   {type: 'fatal', why, code}  erased, replaced, or authentication failed

import { Conn } from './conn.js';
import * as C from './crypto.js';
import { receiptDue } from './outbox.js';
import { concreteIds } from './rules.js';
import { emptyState, fromSnapshot, applyEvent } from './state.js';
import { verifyWords } from './verify.js';

/** Events that change what is sealed or revealed, so blobs are opened again. */
const REOPEN = new Set(['announced', 'settings', 'debrief.released', 'round.revealed', 'round.opened', 'round.closed', 'replaced']);

export class Session {
  /**
   * @param {object} o
   * @param {import('./intents.js').Intents} o.intents
   * @param {object} o.catalog
   * @param {string} o.url the /ws URL
   * @param {string} o.origin for the pairing link
   */
  constructor(o) {
    this.intents = o.intents;
    this.catalog = o.catalog;
    this.url = o.url;
    this.origin = o.origin;
    this.listeners = [];
    this.reset();
  }

  /** Forgets the room (the connection must already be stopped). */
  reset() {
    this.room = null;
    this.keys = null;
    this.st = emptyState();
    this.cursor = { epoch: '', offset: 0 };
    this.conn = null;
    this.status = 'stopped';
    this.everOpen = false;
    this.blobs = new Map(); // context|blob → opened JSON, or null when it cannot be opened
    this.tokenMaps = new Map(); // round → Map(token → concrete id)
    this.opened = { shared: null, announce: [null, null], released: {}, reveal: [] };
    this.receipt = { acked: 0, inFlight: false };
    this.resealWanted = false; // the shared settings are owed under a new key
    this.resealFrom = null; // what they were, opened with the old key
    this.push = null; // the welcome's push ({key, kinds?}): null when the server sends none
  }

  on(fn) {
    this.listeners.push(fn);
  }

  emit(change) {
    for (const fn of this.listeners) fn(change);
  }

  get seat() {
    return this.room ? this.room.seat : 1;
  }
  get other() {
    return 3 - this.seat;
  }
  get isOpen() {
    return Boolean(this.conn && this.conn.status === 'open');
  }
  /** Whether this phone holds a seat (it has a device token). */
  get inRoom() {
    return Boolean(this.room && this.room.device);
  }

  /** Takes up room (from intents): keys, the saved mirror, what it opens. */
  async enter(room) {
    this.room = room;
    this.keys = await C.deriveKeys(C.unb64u(room.secret));
    const sync = room.device ? this.intents.sync() : null;
    if (sync && sync.state) {
      this.st = sync.state;
      this.cursor = { epoch: sync.epoch, offset: sync.offset };
    } else {
      this.st = emptyState();
      this.cursor = { epoch: '', offset: 0 };
    }
    await this.refresh();
  }

  connect() {
    if (this.conn) this.conn.stop();
    this.conn = new Conn({
      url: this.url,
      cursor: this.cursor,
      hello: (cursor) => this.hello(cursor),
      onWelcome: (w) => this.welcome(w),
      onEvent: (ev) => this.event(ev),
      onReady: () => {
        // A receipt that failed on the old socket goes now; one still in
        // flight (sent while the replay was applied) finishes first.
        this.confirm();
        this.reseal();
        this.emit({ type: 'ready' });
      },
      onStatus: (s) => {
        this.status = s;
        if (s === 'open') this.everOpen = true;
        this.emit({ type: 'status' });
      },
      onFatal: (why, code) => this.emit({ type: 'fatal', why, code }),
      onError: () => {},
    });
    this.conn.start();
  }

  /** Stops the connection; with bye the partner sees "away". */
  stop(bye = false) {
    const c = this.conn;
    this.conn = null;
    if (c) c.stop(bye);
  }

  wake() {
    if (this.conn) this.conn.wake();
  }

  request(msg) {
    if (!this.conn) return Promise.reject(Object.assign(new Error('offline'), { code: 'offline' }));
    return this.conn.request(msg);
  }

  hello(cursor) {
    const r = this.room;
    if (r.device) return { type: 'resume', room: r.room, device: r.device, epoch: cursor.epoch, offset: cursor.offset };
    if (r.mode === 'move') return { type: 'move', room: r.room, code: r.code, nonce: r.nonce };
    if (r.mode === 'replace') return { type: 'replace', room: r.room, code: r.code, joinKey: this.keys.joinKey, nonce: r.nonce };
    if (r.mode === 'join') {
      if (!r.nonce) {
        r.nonce = C.nonce(); // a room saved before nonces existed
        this.intents.setRoom(r);
      }
      return { type: 'join', room: r.room, joinKey: this.keys.joinKey, nonce: r.nonce };
    }
    return { type: 'create', joinKeyHash: this.keys.joinKeyHash };
  }

  async welcome(w) {
    const r = this.room;
    if (!r.device && r.mode === 'replace') {
      // This is the lost phone's replacement: show the words to compare
      // with the partner's phone until they are confirmed (protocol §3.7).
      r.verify = await verifyWords(r.secret, w.room, r.code, r.nonce);
      r.verifyNew = true;
    }
    if ((w.keyEpoch || 0) > (r.keyEpoch || 0) && r.pending) {
      // The partner's seat was replaced while this phone was away longer
      // than the log reaches: the new secret can only be the pending one.
      await this.rekey(r.pending.secret);
      this.resealWanted = true;
    }
    r.keyEpoch = w.keyEpoch || 0;
    if (!r.device) {
      r.room = w.room;
      r.seat = w.seat;
      r.device = w.device;
      if (w.seat === 1) r.link = C.makeLink(this.origin, w.room, C.unb64u(r.secret));
      delete r.mode;
      delete r.nonce;
      delete r.code;
      this.intents.setJoin(null);
    }
    r.inviteUntil = w.inviteExpiresAt || 0;
    this.push = w.push || null;
    this.intents.setRoom(r);
    if (w.snapshot) {
      this.st = fromSnapshot(w.snapshot, w.offset);
      this.cursor = { epoch: w.epoch, offset: w.offset };
      this.intents.setSync(this.cursor, this.st);
      await this.refresh();
    }
    this.emit({ type: 'welcome', welcome: w });
  }

  async event(ev) {
    const prev = this.st;
    const r = this.room;
    if (ev.kind === 'replaced' && ev.seat !== this.seat && r.pending && r.pending.keyHash === ev.keyHash) {
      // The partner's new phone took the seat with this phone's re-pair
      // link: move to the new secret, work out the words, and re-seal the
      // shared settings (the server dropped them) once this is applied.
      const p = r.pending;
      this.resealWanted = true;
      this.resealFrom = this.opened.shared;
      await this.rekey(p.secret);
      r.keyEpoch = ev.keyEpoch;
      r.verify = await verifyWords(p.secret, r.room, p.code, ev.nonce);
      r.verifyNew = false;
      this.intents.setRoom(r);
    }
    this.st = applyEvent(prev, ev);
    this.cursor = { epoch: ev.epoch, offset: ev.offset };
    this.intents.setSync(this.cursor, this.st);
    if (REOPEN.has(ev.kind)) await this.refresh();
    this.emit({ type: 'event', ev, prev });
    this.confirm();
    this.reseal();
  }

  /** Moves to a new room secret: new keys, nothing opened with the old. */
  async rekey(secret) {
    const r = this.room;
    this.keys = await C.deriveKeys(C.unb64u(secret));
    r.secret = secret;
    delete r.pending;
    delete r.link; // the pairing link carried the old secret
    this.blobs.clear();
    this.tokenMaps.clear();
    this.intents.setRoom(r);
  }

  /** Forgets the verification words once the partners compared them. */
  verified() {
    delete this.room.verify;
    this.intents.setRoom(this.room);
  }

  /**
   * After a replacement, seals the shared settings this phone had again,
   * under the new key, so the partner's new phone can read them. Waits for
   * an open, admitted socket; tries again after the next welcome.
   */
  async reseal() {
    if (!this.resealWanted || !this.isOpen || !this.conn.authed) return;
    const shared = this.resealFrom || this.intents.shared();
    this.resealWanted = false;
    if (!shared) return;
    const v = { pauseWord: shared.pauseWord || '', signals: Array.isArray(shared.signals) ? shared.signals : String(shared.signals || '').split(',').map((x) => x.trim()).filter(Boolean) };
    try {
      await this.request({ type: 'settings', blob: await this.seal('settings', v) });
      this.resealFrom = null;
    } catch {
      this.resealWanted = true; // again after the next welcome
    }
  }

  /**
   * Sends the receipt owed, if any (outbox.receiptDue): after events are
   * applied and saved, coalesced, one in flight. One that fails goes again
   * after the next welcome.
   */
  async confirm() {
    const r = this.receipt;
    if (!this.isOpen || !this.conn.authed) return;
    const offset = receiptDue({ st: this.st, seat: this.seat, offset: this.cursor.offset, acked: r.acked, inFlight: r.inFlight });
    if (!offset) return;
    r.inFlight = true;
    try {
      await this.conn.request({ type: 'seen', offset });
      if (offset > r.acked) r.acked = offset;
    } catch {
      return; // sent again after the next welcome
    } finally {
      r.inFlight = false;
    }
    this.confirm();
  }

  async open(context, blob) {
    const key = `${context}|${blob}`;
    if (this.blobs.has(key)) return this.blobs.get(key);
    let v = null;
    try {
      v = await C.openJSON(this.keys, this.room.room, context, blob);
    } catch {
      v = null; // damaged or from another room: shown as nothing
    }
    this.blobs.set(key, v);
    return v;
  }

  /** Opens every sealed thing the mirror holds and maps the reveal. */
  async refresh() {
    const st = this.st;
    if (!this.keys || !this.room || !this.room.room) return;
    const o = { shared: null, announce: [null, null], released: {}, reveal: [] };
    o.shared = st.settings ? await this.open('settings', st.settings.blob) : null;
    for (const i of [0, 1]) o.announce[i] = st.announce[i] ? await this.open('announce', st.announce[i].blob) : null;
    for (const d of st.debriefs) {
      if (d.released) {
        const ctx = C.debriefContext(d.round);
        o.released[d.round] = [await this.open(ctx, d.released[0]), await this.open(ctx, d.released[1])];
      }
    }
    const r = st.round;
    if (r && this.catalog) {
      let m = this.tokenMaps.get(r.round);
      if (!m) {
        m = await C.tokenMap(this.keys, r.round, concreteIds(this.catalog));
        this.tokenMaps.clear();
        this.tokenMaps.set(r.round, m);
      }
      o.reveal = revealed(r.reveal).map((tok) => m.get(tok)).filter(Boolean);
    }
    this.opened = o;
  }

  /** Seals v for context in this room. */
  seal(context, v) {
    return C.sealJSON(this.keys, this.room.room, context, v);
  }
}

/**
 * The revealed tokens of a mirrored round, each as base64url of 16 bytes. A
 * mirror saved before protocol v2 holds a list of 32-byte tokens: their
 * first 16 bytes are the v2 tokens. Anything unreadable reveals nothing.
 */
function revealed(reveal) {
  try {
    if (Array.isArray(reveal)) return reveal.map((t) => C.b64u(C.unb64u(t).subarray(0, C.TOKEN_BYTES)));
    return C.decodeTokens(reveal || '');
  } catch {
    return [];
  }
}
