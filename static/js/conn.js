// One phone's WebSocket to the server: authenticate (create, join or resume),
// apply the room's events exactly once and in offset order, answer requests,
// notice dead sockets, and come back after sleep, a network change or a
// server restart — resuming from the last event applied, so nothing is lost.
//
// Events, welcomes and request answers are handled one at a time through one
// queue, so an ack (which the server sends only after the request's own
// events) resolves only after those events were applied by the app.

import { order } from './state.js';
import { Heartbeat } from './heartbeat.js';
import { CLOSE, PING_EVERY, PING_TIMEOUT, WAKE_TIMEOUT, RETRYABLE, RequestError, backoff, VERSION } from './wire.js';

export { CLOSE, PING_EVERY, PING_TIMEOUT, WAKE_TIMEOUT, RequestError, backoff };

export class Conn {
  /**
   * @param {object} o
   * @param {string} o.url the /ws URL
   * @param {() => object} o.hello the create, join or resume message (without v and id)
   * @param {{epoch: string, offset: number}} [o.cursor] the last event already applied
   * @param {(w: object) => Promise|void} o.onWelcome
   * @param {(ev: object) => Promise|void} o.onEvent
   * @param {(w: object) => Promise|void} [o.onReady] after a welcome and its replayed events
   * @param {(status: string) => void} [o.onStatus] "connecting", "open", "offline", "stopped"
   * @param {(why: string, code?: string) => void} [o.onFatal] "erased", "replaced", "moved", "outdated" (the server speaks another protocol version), or "auth" with the error code
   * @param {(err: RequestError) => void} [o.onError] an error frame that answers no request
   * @param {typeof WebSocket} [o.WebSocket] for tests
   * @param {{setTimeout: Function, clearTimeout: Function}} [o.timers] for tests
   * @param {() => number} [o.random] for tests
   */
  constructor(o) {
    this.o = o;
    this.WS = o.WebSocket || globalThis.WebSocket;
    this.timers = o.timers || globalThis;
    this.random = o.random || Math.random;
    this.cursor = { epoch: '', offset: 0, ...(o.cursor || {}) };
    this.ws = null;
    this.status = 'stopped';
    this.authed = false;
    this.stopped = true;
    this.attempt = 0;
    this.seq = 0;
    this.pending = new Map();
    this.helloID = '';
    this.authError = '';
    this.queue = Promise.resolve();
    this.retryTimer = null;
    this.beat = new Heartbeat(this);
  }

  /** Connects and keeps connecting until stop() or a fatal close. */
  start() {
    this.stopped = false;
    this.attempt = 0;
    this.connect();
  }

  /** Closes for good. With bye, the partner sees "away" rather than "reconnecting". */
  stop(bye = false) {
    this.stopped = true;
    this.clearTimers();
    const ws = this.ws;
    if (ws && bye && this.authed) {
      try {
        ws.send(JSON.stringify({ v: VERSION, type: 'bye', id: this.nextID() }));
      } catch {
        // The socket is going anyway.
      }
    }
    this.drop(CLOSE.NORMAL);
    this.setStatus('stopped');
  }

  /**
   * The phone woke up, came back online or was shown again: check an open
   * socket at once, or reconnect now instead of waiting out the backoff.
   */
  wake() {
    if (this.stopped) return;
    if (this.ws && this.authed) {
      this.beat.ping(WAKE_TIMEOUT);
    } else if (!this.ws) {
      this.attempt = 0;
      this.connect();
    }
  }

  /**
   * Sends a request and resolves with its ack, after the events it caused
   * were applied; rejects with RequestError (code "offline" when there is no
   * authenticated socket).
   */
  request(msg) {
    if (!this.ws || !this.authed) return Promise.reject(new RequestError('offline'));
    const id = this.nextID();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        this.ws.send(JSON.stringify({ v: VERSION, ...msg, id }));
      } catch {
        this.pending.delete(id);
        reject(new RequestError('offline'));
      }
    });
  }

  nextID() {
    this.seq += 1;
    return `r${this.seq}`;
  }

  setStatus(s) {
    if (this.status === s) return;
    this.status = s;
    if (this.o.onStatus) this.o.onStatus(s);
  }

  enqueue(fn) {
    this.queue = this.queue.then(fn).catch((err) => {
      if (this.o.onError) this.o.onError(err);
    });
    return this.queue;
  }

  connect() {
    this.clearTimers();
    this.drop();
    if (this.stopped) return;
    this.setStatus('connecting');
    let ws;
    try {
      ws = new this.WS(this.o.url);
    } catch {
      this.retry(0);
      return;
    }
    this.ws = ws;
    this.authed = false;
    this.authError = '';
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.helloID = this.nextID();
      ws.send(JSON.stringify({ v: VERSION, ...this.o.hello(this.cursor), id: this.helloID }));
    };
    ws.onmessage = (e) => {
      if (this.ws !== ws) return;
      let f;
      try {
        f = JSON.parse(e.data);
      } catch {
        return;
      }
      this.frame(f);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.closed(e.code);
    };
    ws.onerror = () => {}; // a close event follows
  }

  frame(f) {
    switch (f.type) {
      case 'welcome':
        this.welcome(f);
        break;
      case 'event':
        if (this.authed) this.event(f);
        break;
      case 'ack': {
        const p = this.take(f.id);
        if (p) this.enqueue(() => p.resolve(f));
        break;
      }
      case 'error': {
        const err = new RequestError(f.code, f.message);
        if (f.code === 'unsupported_version') {
          // The server speaks another protocol version: every frame of
          // this app would be refused the same way, so stop rather than
          // reconnect for ever; the app loads the new shell.
          this.stop();
          this.failPending();
          if (this.o.onFatal) this.enqueue(() => this.o.onFatal('outdated', f.code));
          break;
        }
        if (f.id && f.id === this.helloID) {
          this.authError = f.code;
          if (RETRYABLE.has(f.code)) {
            // The server could not reach its store: no close follows.
            this.drop();
            this.retry(this.attempt++);
            break;
          }
        }
        const p = this.take(f.id);
        if (p) this.enqueue(() => p.reject(err));
        else if (f.id !== this.helloID && this.o.onError) this.o.onError(err);
        break;
      }
      case 'pong': {
        const p = this.take(f.id);
        if (p) p.resolve(f);
        break;
      }
    }
  }

  take(id) {
    const p = id ? this.pending.get(id) : undefined;
    if (p) this.pending.delete(id);
    return p;
  }

  welcome(w) {
    this.authed = true;
    this.attempt = 0;
    const replay = w.replay || [];
    if (w.snapshot || w.epoch !== this.cursor.epoch) {
      this.cursor = { epoch: w.epoch, offset: w.offset };
      this.enqueue(() => this.o.onWelcome(w));
    } else {
      this.enqueue(() => this.o.onWelcome(w));
      for (const ev of replay) {
        if (!this.event(ev)) return;
      }
      if (w.offset > this.cursor.offset) this.cursor.offset = w.offset;
    }
    if (this.o.onReady) this.enqueue(() => this.o.onReady(w));
    this.setStatus('open');
    this.beat.schedule();
  }

  /** Applies ev if it is the next one; returns false when the stream broke. */
  event(ev) {
    switch (order(this.cursor, ev)) {
      case 'apply':
        this.cursor = { epoch: ev.epoch, offset: ev.offset };
        this.enqueue(() => this.o.onEvent(ev));
        return true;
      case 'skip':
        return true;
      default:
        // Events are missing: resume from what was applied. The server
        // replays exactly what is missing, or sends a snapshot.
        this.reconnectNow();
        return false;
    }
  }

  /** Drops the socket without waiting for a close handshake, and reconnects. */
  reconnectNow() {
    this.drop();
    this.failPending();
    if (!this.stopped) this.retry(0, true);
  }

  /** Forgets the current socket, closing it if it is still there. */
  drop(code) {
    const ws = this.ws;
    this.ws = null;
    this.authed = false;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      if (code) ws.close(code);
      else ws.close();
    } catch {
      // Already closed.
    }
  }

  failPending() {
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.beat.forgetPong();
    for (const p of pending) this.enqueue(() => p.reject(new RequestError('offline')));
  }

  closed(code) {
    this.ws = null;
    this.authed = false;
    this.beat.stop();
    this.failPending();
    const fatal = (why, detail) => {
      this.stopped = true;
      this.setStatus('stopped');
      if (this.o.onFatal) this.enqueue(() => this.o.onFatal(why, detail));
    };
    switch (code) {
      case CLOSE.ERASED:
        fatal('erased');
        return;
      case CLOSE.REPLACED:
        // The same seat connected from another tab or phone: do not fight it.
        fatal('replaced');
        return;
      case CLOSE.AUTH_FAILED:
        fatal('auth', this.authError || 'forbidden');
        return;
      case CLOSE.MOVED:
        // The seat moved to another device: this one is signed out.
        fatal('moved');
        return;
    }
    if (this.stopped) return;
    // 1012: the server restarts; come back quickly (maybe to another
    // instance). Everything else (1006 lost, 1008 too slow, 1011, 1013 try
    // later, 4008 auth timeout): back off.
    this.retry(code === CLOSE.RESTART ? 0 : this.attempt++, code === CLOSE.RESTART);
  }

  retry(n, soon = false) {
    this.clearTimers();
    this.setStatus('offline');
    const delay = soon ? 200 + Math.round(this.random() * 800) : backoff(n, this.random);
    this.retryTimer = this.timers.setTimeout(() => this.connect(), delay);
  }

  clearTimers() {
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.beat.stop();
  }
}
