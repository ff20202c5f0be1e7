// Tests for conn.js with a fake WebSocket and a fake clock: authentication,
// exactly-once ordered events, acks after their events, dead-socket
// detection, reconnection with backoff, and every close code.
// Run with: node --test static/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Conn, CLOSE, PING_EVERY, PING_TIMEOUT, backoff } from './conn.js';

class FakeWS {
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.closedWith = null;
    FakeWS.all.push(this);
  }
  send(s) {
    this.sent.push(JSON.parse(s));
  }
  close(code) {
    this.closedWith = code ?? 1005;
  }
  // What the server does:
  open() {
    this.onopen?.();
  }
  recv(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  end(code) {
    this.onclose?.({ code });
  }
  last() {
    return this.sent[this.sent.length - 1];
  }
}
FakeWS.all = [];

class FakeClock {
  constructor() {
    this.now = 0;
    this.seq = 0;
    this.timers = [];
  }
  setTimeout(fn, ms) {
    this.seq += 1;
    this.timers.push({ id: this.seq, at: this.now + ms, fn });
    return this.seq;
  }
  clearTimeout(id) {
    this.timers = this.timers.filter((t) => t.id !== id);
  }
  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.now = due.at;
      due.fn();
    }
    this.now = end;
  }
  /** The delay of the only pending timer, or -1. */
  next() {
    return this.timers.length ? Math.min(...this.timers.map((t) => t.at)) - this.now : -1;
  }
}

const flush = () => new Promise((r) => setImmediate(r));

const ev = (offset, kind = 'presence', extra = {}) => ({ v: 2, type: 'event', epoch: 'e1', offset, kind, at: 1, ...extra });

function setup(opts = {}) {
  FakeWS.all = [];
  const clock = new FakeClock();
  const log = [];
  const conn = new Conn({
    url: 'ws://test/ws',
    cursor: opts.cursor,
    hello: (cursor) => ({ type: 'resume', room: 'r', device: 'd', epoch: cursor.epoch, offset: cursor.offset }),
    onWelcome: (w) => log.push(['welcome', w.offset]),
    onEvent: (e) => log.push(['event', e.offset]),
    onReady: () => log.push(['ready']),
    onStatus: (s) => log.push(['status', s]),
    onFatal: (why, code) => log.push(['fatal', why, code]),
    WebSocket: FakeWS,
    timers: clock,
    random: () => 0.5,
  });
  conn.start();
  return { conn, clock, log, ws: () => FakeWS.all[FakeWS.all.length - 1] };
}

/** Opens the socket and answers the hello with a welcome. */
function admit(ws, welcome = {}) {
  ws.open();
  const hello = ws.last();
  ws.recv({ v: 2, type: 'welcome', id: hello.id, room: 'r', seat: 1, epoch: 'e1', offset: 0, ...welcome });
  return hello;
}

test('resume carries the cursor; a snapshot welcome sets it', async () => {
  const { conn, log, ws } = setup({ cursor: { epoch: 'e1', offset: 7 } });
  const hello = admit(ws(), { offset: 9, snapshot: { paired: true } });
  assert.deepEqual({ type: hello.type, epoch: hello.epoch, offset: hello.offset, v: hello.v }, { type: 'resume', epoch: 'e1', offset: 7, v: 2 });
  await flush();
  assert.deepEqual(conn.cursor, { epoch: 'e1', offset: 9 });
  assert.equal(conn.status, 'open');
  assert.deepEqual(
    log.filter((l) => l[0] !== 'status'),
    [['welcome', 9], ['ready']],
  );
});

test('a replay is applied in order, then live events continue', async () => {
  const { conn, log, ws } = setup({ cursor: { epoch: 'e1', offset: 3 } });
  admit(ws(), { offset: 5, replay: [ev(4), ev(5)] });
  ws().recv(ev(6));
  await flush();
  assert.deepEqual(
    log.filter((l) => l[0] !== 'status'),
    [['welcome', 5], ['event', 4], ['event', 5], ['ready'], ['event', 6]],
  );
  assert.equal(conn.cursor.offset, 6);
});

test('events are applied exactly once, in order; a gap resumes from the last applied', async () => {
  const { conn, clock, log, ws } = setup();
  admit(ws(), { offset: 2, snapshot: {} });
  const first = ws();
  first.recv(ev(3));
  first.recv(ev(3)); // a duplicate
  first.recv(ev(2)); // an old one
  first.recv(ev(5)); // a gap: 4 is missing
  first.recv(ev(6));
  await flush();
  assert.deepEqual(
    log.filter((l) => l[0] === 'event'),
    [['event', 3]],
  );
  assert.notEqual(first.closedWith, null, 'the broken stream is closed');
  clock.advance(1000);
  const second = ws();
  assert.notEqual(second, first);
  second.open();
  assert.equal(second.last().offset, 3, 'resume from the last event applied');
  assert.equal(conn.cursor.offset, 3);
});

test('another epoch is a gap', async () => {
  const { log, ws } = setup();
  admit(ws(), { offset: 2, snapshot: {} });
  ws().recv({ ...ev(3), epoch: 'e2' });
  await flush();
  assert.equal(log.filter((l) => l[0] === 'event').length, 0);
  assert.notEqual(ws().closedWith, null);
});

test('an ack resolves only after the events before it were applied', async () => {
  const order = [];
  FakeWS.all = [];
  const clock = new FakeClock();
  const conn = new Conn({
    url: 'ws://test/ws',
    hello: () => ({ type: 'create', joinKeyHash: 'x' }),
    onWelcome: () => {},
    onEvent: async (e) => {
      await flush();
      order.push(`event ${e.offset}`);
    },
    WebSocket: FakeWS,
    timers: clock,
  });
  conn.start();
  const ws = FakeWS.all[0];
  admit(ws, { snapshot: {} });
  const done = conn.request({ type: 'round.open' }).then((a) => order.push(`ack ${a.round}`));
  const req = ws.last();
  assert.equal(req.type, 'round.open');
  assert.match(req.id, /^r\d+$/);
  ws.recv(ev(1, 'round.opened'));
  ws.recv({ v: 2, type: 'ack', id: req.id, offset: 1, round: 'R' });
  await done;
  assert.deepEqual(order, ['event 1', 'ack R']);
});

test('an error answers its request with the code', async () => {
  const { conn, ws } = setup();
  admit(ws(), { snapshot: {} });
  const p = conn.request({ type: 'unpause' });
  ws().recv({ v: 2, type: 'error', id: ws().last().id, code: 'not_paused', message: 'no' });
  await assert.rejects(p, (e) => e.code === 'not_paused');
});

test('requests without a socket fail at once as offline, and pending ones fail on a drop', async () => {
  const { conn, ws } = setup();
  await assert.rejects(conn.request({ type: 'pause' }), (e) => e.code === 'offline');
  admit(ws(), { snapshot: {} });
  const p = conn.request({ type: 'pause' });
  ws().end(1006);
  await assert.rejects(p, (e) => e.code === 'offline');
});

test('a missing pong counts as a dead socket', async () => {
  const { conn, clock, ws } = setup();
  admit(ws(), { snapshot: {} });
  const first = ws();
  clock.advance(PING_EVERY);
  const ping = first.last();
  assert.equal(ping.type, 'ping');
  first.recv({ v: 2, type: 'pong', id: ping.id });
  clock.advance(PING_EVERY - 1);
  assert.equal(first.closedWith, null, 'a pong keeps the socket');
  clock.advance(1);
  assert.notEqual(first.last().id, ping.id, 'the next ping');
  clock.advance(PING_TIMEOUT);
  assert.notEqual(first.closedWith, null, 'no pong: dropped');
  assert.equal(conn.status, 'offline');
  clock.advance(1000);
  assert.notEqual(ws(), first, 'and reconnected');
});

test('wake checks an open socket and skips the backoff of a closed one', async () => {
  const { conn, clock, ws } = setup();
  admit(ws(), { snapshot: {} });
  conn.wake();
  assert.equal(ws().last().type, 'ping');
  ws().end(1006);
  ws().end(1006);
  const count = FakeWS.all.length;
  conn.wake();
  assert.equal(FakeWS.all.length, count + 1, 'woken: connects at once');
  assert.equal(clock.next(), -1, 'no retry timer left');
});

test('close codes: lost connections back off and come back', async () => {
  const { clock, ws } = setup();
  admit(ws(), { snapshot: {} });
  const delays = [];
  for (let i = 0; i < 4; i++) {
    ws().end(1006);
    delays.push(clock.next());
    clock.advance(clock.next());
  }
  assert.deepEqual(delays, [backoff(0, () => 0.5), backoff(1, () => 0.5), backoff(2, () => 0.5), backoff(3, () => 0.5)]);
  assert.ok(delays[3] > delays[0]);
  // A welcome resets the backoff.
  admit(ws(), { snapshot: {} });
  ws().end(1008);
  assert.equal(clock.next(), backoff(0, () => 0.5));
  for (const code of [1013, 4008, 1011, 1009]) {
    clock.advance(clock.next());
    const before = FakeWS.all.length;
    ws().end(code);
    clock.advance(clock.next());
    assert.equal(FakeWS.all.length, before + 1, `reconnects after ${code}`);
  }
});

test('close 1012 (server restart) comes back quickly', async () => {
  const { clock, ws } = setup();
  admit(ws(), { snapshot: {} });
  ws().end(1006);
  clock.advance(clock.next());
  ws().end(1006);
  clock.advance(clock.next());
  ws().end(CLOSE.RESTART);
  assert.ok(clock.next() <= 1000, `waits ${clock.next()} ms`);
});

for (const [code, why] of [
  [CLOSE.ERASED, 'erased'],
  [CLOSE.REPLACED, 'replaced'],
]) {
  test(`close ${code} is final: ${why}`, async () => {
    const { conn, clock, log, ws } = setup();
    admit(ws(), { snapshot: {} });
    ws().end(code);
    await flush();
    assert.deepEqual(log[log.length - 1], ['fatal', why, undefined]);
    assert.equal(conn.status, 'stopped');
    const count = FakeWS.all.length;
    clock.advance(60000);
    conn.wake();
    assert.equal(FakeWS.all.length, count, 'never reconnects by itself');
  });
}

test('close 4002 reports the error code that came before it', async () => {
  const { log, ws } = setup();
  ws().open();
  ws().recv({ v: 2, type: 'error', id: ws().last().id, code: 'room_full', message: 'full' });
  ws().end(CLOSE.AUTH_FAILED);
  await flush();
  assert.deepEqual(log[log.length - 1], ['fatal', 'auth', 'room_full']);
});

for (const [name, authed] of [['a hello', false], ['a request', true]]) {
  test(`${name} refused for its protocol version stops for good: the app is outdated`, async () => {
    const { conn, clock, log, ws } = setup();
    const first = ws();
    if (authed) admit(first, { snapshot: {} });
    else first.open();
    if (authed) conn.request({ type: 'pause' }).catch(() => {});
    first.recv({ v: 2, type: 'error', id: first.last().id, code: 'unsupported_version', message: 'this server speaks protocol version 3' });
    await flush();
    assert.deepEqual(log[log.length - 1], ['fatal', 'outdated', 'unsupported_version']);
    assert.equal(conn.status, 'stopped');
    assert.notEqual(first.closedWith, null, 'the socket is closed');
    const count = FakeWS.all.length;
    clock.advance(60000);
    conn.wake();
    assert.equal(FakeWS.all.length, count, 'never reconnects by itself');
  });
}

test('a hello refused as unavailable or rate limited is retried', async () => {
  const { clock, ws } = setup();
  for (const code of ['unavailable', 'rate_limited', 'internal']) {
    const first = ws();
    first.open();
    first.recv({ v: 2, type: 'error', id: first.last().id, code, message: '' });
    assert.notEqual(first.closedWith, null, code);
    clock.advance(clock.next());
    assert.notEqual(ws(), first, `retried after ${code}`);
  }
});

test('stop with bye says goodbye and closes normally', async () => {
  const { conn, ws } = setup();
  admit(ws(), { snapshot: {} });
  conn.stop(true);
  assert.equal(ws().last().type, 'bye');
  assert.equal(ws().closedWith, 1000);
  assert.equal(conn.status, 'stopped');
});

test('backoff doubles up to 30 s, with jitter', () => {
  assert.equal(backoff(0, () => 1), 500);
  assert.equal(backoff(1, () => 1), 1000);
  assert.equal(backoff(20, () => 1), 30000);
  assert.equal(backoff(20, () => 0), 15000);
});
