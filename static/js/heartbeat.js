// The connection's heartbeat: browsers cannot send WebSocket pings, so an
// open socket is checked with the protocol's ping every PING_EVERY; a pong
// missing after the timeout means the socket is dead (a network gone without
// a close), and the connection reconnects. The pings also keep this phone
// "online" for its partner: the server shows a seat unreachable after 25 s
// without a message (protocol §8).

import { PING_EVERY, PING_TIMEOUT, VERSION } from './wire.js';

export class Heartbeat {
  /** @param {import('./conn.js').Conn} conn */
  constructor(conn) {
    this.conn = conn;
    this.pingTimer = null;
    this.pongTimer = null;
  }

  /** The next check, PING_EVERY from now. */
  schedule() {
    const t = this.conn.timers;
    t.clearTimeout(this.pingTimer);
    this.pingTimer = t.setTimeout(() => this.ping(PING_TIMEOUT), PING_EVERY);
  }

  /** Sends a ping now; a socket with no pong within timeout is dead. */
  ping(timeout) {
    const c = this.conn;
    if (!c.ws || !c.authed || this.pongTimer) return;
    const id = c.nextID();
    const ws = c.ws;
    c.pending.set(id, {
      resolve: () => {
        c.timers.clearTimeout(this.pongTimer);
        this.pongTimer = null;
        if (c.ws === ws) this.schedule();
      },
      reject: () => {},
    });
    this.pongTimer = c.timers.setTimeout(() => {
      this.pongTimer = null;
      c.pending.delete(id);
      if (c.ws === ws) c.reconnectNow();
    }, timeout);
    try {
      ws.send(JSON.stringify({ v: VERSION, type: 'ping', id }));
    } catch {
      c.reconnectNow();
    }
  }

  /** Forgets a pong being waited for (its socket is gone). */
  forgetPong() {
    this.conn.timers.clearTimeout(this.pongTimer);
    this.pongTimer = null;
  }

  stop() {
    this.conn.timers.clearTimeout(this.pingTimer);
    this.forgetPong();
    this.pingTimer = null;
  }
}
