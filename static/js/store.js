// Everything the app keeps on this phone, in localStorage under "softland.*".
// Writes are synchronous, so a tap or a typed letter is saved before anything
// else can happen (a reload, a crash, the battery). Nothing here is sent
// anywhere; what the partner must read goes through the sealed relay.
//
// Keys:
//   room     {room, secret, seat, device, link, inviteUntil}   the room and this seat (secret = base64url)
//   join     {room, secret}                      a link opened but not yet joined
//   sync     {epoch, offset, state}              the room mirror (state.js) and the last event applied
//   taps     {round, needs, at}                  this phone's taps, round null until one opens
//   sent     {round, key}                        the taps the server acknowledged last
//   decoys   {round, pool}                       the round's decoys (crypto.decoyPool)
//   pause    {want}                              whether this seat wants to be paused (survives a drop)
//   plan     {me, partner, welcome, never, offLimits, at}      private; never leaves the phone
//   shared   {pauseWord, signals, dirty}          draft of the couple's shared settings
//   drafts   {[round]: {helped, next, sent}}     debrief answers being written
//   history  [{round, at, by, suggestions, closedAt, pauses, debrief}]
//   space    {until, minutes}                    this phone's own space countdown
//   push     {on, kinds, level, endpoint, key, dismissed}   waking this phone (wake.js)
//   lang     "en" | "es"
//   notice   {kind}                              one message to show after a wipe (survives it)

const PREFIX = 'softland.';

/** A Storage-like object in memory, for when localStorage is unavailable. */
export class MemoryStorage {
  constructor() {
    this.m = new Map();
  }
  get length() {
    return this.m.size;
  }
  key(i) {
    return [...this.m.keys()][i] ?? null;
  }
  getItem(k) {
    return this.m.has(k) ? this.m.get(k) : null;
  }
  setItem(k, v) {
    this.m.set(k, String(v));
  }
  removeItem(k) {
    this.m.delete(k);
  }
  clear() {
    this.m.clear();
  }
}

function defaultStorage() {
  try {
    const s = globalThis.localStorage;
    s.setItem(`${PREFIX}probe`, '1');
    s.removeItem(`${PREFIX}probe`);
    return s;
  } catch {
    return new MemoryStorage();
  }
}

export class Store {
  /** @param {Storage} [storage] localStorage by default */
  constructor(storage = defaultStorage()) {
    this.s = storage;
  }

  /** The value under key, or fallback when there is none or it is unreadable. */
  get(key, fallback = null) {
    try {
      const v = this.s.getItem(PREFIX + key);
      return v === null ? fallback : JSON.parse(v);
    } catch {
      return fallback;
    }
  }

  /** Saves value under key; null or undefined removes it. Returns false if the write failed. */
  set(key, value) {
    try {
      if (value === null || value === undefined) this.s.removeItem(PREFIX + key);
      else this.s.setItem(PREFIX + key, JSON.stringify(value));
      return true;
    } catch {
      return false;
    }
  }

  /** Changes the value under key with fn and saves it. */
  update(key, fallback, fn) {
    const v = fn(this.get(key, fallback));
    this.set(key, v);
    return v;
  }

  /**
   * Removes everything Softland keeps on this phone except keep (for
   * example the language), for "Erase us".
   */
  wipe(keep = []) {
    const doomed = [];
    for (let i = 0; i < this.s.length; i++) {
      const k = this.s.key(i);
      if (k && k.startsWith(PREFIX) && !keep.includes(k.slice(PREFIX.length))) doomed.push(k);
    }
    for (const k of doomed) this.s.removeItem(k);
  }

  /** Keys currently kept (without the prefix), for tests and the docs. */
  keys() {
    const out = [];
    for (let i = 0; i < this.s.length; i++) {
      const k = this.s.key(i);
      if (k && k.startsWith(PREFIX)) out.push(k.slice(PREFIX.length));
    }
    return out.sort();
  }
}

/** How many history entries are kept. */
export const MAX_HISTORY = 200;

/**
 * Finds or adds the history entry of round and changes it with fn. History
 * is newest first and bounded.
 * @param {object[]} history
 */
export function upsertHistory(history, round, fn) {
  const list = [...(history || [])];
  let i = list.findIndex((h) => h.round === round);
  if (i < 0) {
    list.unshift({ round, at: 0, by: 0, suggestions: [], closedAt: 0, pauses: 0, debrief: null });
    i = 0;
  }
  list[i] = fn({ ...list[i] });
  list.sort((a, b) => b.at - a.at);
  return list.slice(0, MAX_HISTORY);
}
