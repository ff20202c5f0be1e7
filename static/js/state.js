// The phone's mirror of its room, as the server describes it: built from a
// welcome's snapshot and then changed by each logged event, in offset order.
// Pure functions over plain JSON, so the mirror can be saved in one piece with
// the offset it is at, and tested in node.
//
// Sealed blobs stay sealed here; the app opens them when it shows them.

/** At most this many debrief windows are kept, as on the server. */
const MAX_DEBRIEFS = 4;

/** @returns the mirror of a room nobody has described yet. */
export function emptyState() {
  return {
    paired: false,
    presence: ['away', 'away'],
    paused: [false, false],
    round: null, // {round, by, closesAt, submitted: [bool, bool], reveal: tokens in wire form, rev}
    settings: null, // {seat, blob}
    announce: [null, null], // latest sealed announcement per seat: {seat, blob}
    debriefs: [], // [{round, until, submitted: [bool, bool], released: [blob, blob] | null}]
    erased: false,
    // Receipts (protocol §5.15): the offset each seat's phone confirmed it
    // applied, and per seat the newest offset worth its receipt (not a
    // receipt, not about that seat), as the server counts them.
    seen: [0, 0],
    worthy: [0, 0],
    // Where each seat's latest pause and announcement, and the reveal, sit
    // in the log: they reached the other phone once its seen passes them.
    at: { paused: [0, 0], announce: [0, 0], reveal: 0 },
  };
}

/** A saved mirror from before receipts, given their fields. */
function withReceipts(st) {
  const e = emptyState();
  st.seen = st.seen || e.seen;
  st.worthy = st.worthy || e.worthy;
  st.at = st.at || e.at;
  return st;
}

/**
 * The mirror as of a welcome's snapshot (protocol.Snapshot) at offset. A
 * snapshot does not say where a pause, an announcement or the reveal sits in
 * the log, so they count as at offset: reached the partner only once its
 * phone confirmed everything up to now. It is also worth a receipt from this
 * phone when it holds more than this phone confirmed.
 */
export function fromSnapshot(s, offset = 0) {
  const st = emptyState();
  st.seen = [...(s.seen || st.seen)];
  st.worthy = [offset, offset];
  st.at = { paused: (s.paused || [false, false]).map((p) => (p ? offset : 0)), announce: (s.announce || [null, null]).map((a) => (a ? offset : 0)), reveal: s.round && s.round.rev ? offset : 0 };
  st.paired = Boolean(s.paired);
  st.presence = [...(s.presence || st.presence)];
  st.paused = [...(s.paused || st.paused)];
  if (s.round) {
    st.round = {
      round: s.round.round,
      by: s.round.by,
      closesAt: s.round.closesAt,
      submitted: [...s.round.submitted],
      reveal: s.round.reveal || '',
      rev: s.round.rev || 0,
    };
  }
  st.settings = s.settings || null;
  st.keyEpoch = s.keyEpoch || 0;
  st.announce = [...(s.announce || [null, null])];
  st.debriefs = (s.debriefs || []).map((d) => ({
    round: d.round,
    until: d.until,
    submitted: [...d.submitted],
    released: d.released && d.released.length === 2 ? [...d.released] : null,
  }));
  return st;
}

/**
 * Applies one logged event (protocol.Event) and returns the new mirror. The
 * input is not changed. Unknown kinds change nothing, so an older app keeps
 * working against a newer server.
 */
export function applyEvent(prev, ev) {
  const st = withReceipts(structuredClone(prev));
  const i = ev.seat - 1;
  if (ev.kind !== 'delivered') {
    for (const s of [1, 2]) if (ev.seat !== s && ev.offset > st.worthy[s - 1]) st.worthy[s - 1] = ev.offset;
  }
  const debrief = (round) => st.debriefs.find((d) => d.round === round);
  switch (ev.kind) {
    case 'paired':
      st.paired = true;
      st.presence[1] = 'online';
      break;
    case 'presence':
      st.presence[i] = ev.presence;
      break;
    case 'round.opened':
      st.round = { round: ev.round, by: ev.seat, closesAt: ev.closesAt, submitted: [false, false], reveal: '', rev: 0 };
      if (!debrief(ev.round)) {
        st.debriefs.push({ round: ev.round, until: ev.until, submitted: [false, false], released: null });
        st.debriefs = st.debriefs.slice(-MAX_DEBRIEFS);
      }
      break;
    case 'round.submitted':
      if (st.round && st.round.round === ev.round) st.round.submitted[i] = true;
      break;
    case 'round.revealed':
      if (st.round && st.round.round === ev.round) {
        st.round.reveal = ev.reveal || '';
        st.round.rev = ev.rev;
        st.at.reveal = ev.offset || 0;
      }
      break;
    case 'round.closed': {
      if (st.round && st.round.round === ev.round) st.round = null;
      const d = debrief(ev.round);
      if (d && ev.until) d.until = ev.until;
      break;
    }
    case 'paused':
      st.paused[i] = true;
      st.at.paused[i] = ev.offset || 0;
      break;
    case 'unpaused':
      st.paused[i] = false;
      break;
    case 'announced':
      st.announce[i] = { seat: ev.seat, blob: ev.blob };
      st.at.announce[i] = ev.offset || 0;
      break;
    case 'delivered':
      if (ev.seen > st.seen[i]) st.seen[i] = ev.seen;
      break;
    case 'settings':
      st.settings = { seat: ev.seat, blob: ev.blob };
      break;
    case 'debrief.submitted': {
      const d = debrief(ev.round);
      if (d) d.submitted[i] = true;
      break;
    }
    case 'debrief.released': {
      const d = debrief(ev.round);
      if (d) {
        d.released = [...ev.blobs];
        d.submitted = [true, true];
      }
      break;
    }
    case 'moved':
      // When each seat last moved to another device (Unix ms), for a short note.
      st.moved = [...(st.moved || [0, 0])];
      st.moved[i] = ev.at || 0;
      st.replacedSeat = 0;
      break;
    case 'replaced':
      // A lost phone's seat went to a new phone under a new secret
      // (protocol §3.7): the server dropped everything sealed under the old
      // one and closed the round. On the lost phone itself this is the
      // last event (replacedSeat is its own seat).
      st.keyEpoch = ev.keyEpoch || 0;
      st.settings = null;
      st.announce = [null, null];
      st.debriefs = [];
      st.round = null;
      st.moved = [...(st.moved || [0, 0])];
      st.moved[i] = ev.at || 0;
      st.replacedSeat = ev.seat;
      break;
    case 'erased':
      st.erased = true;
      break;
  }
  return st;
}

/** Debrief windows still open at now (Unix ms), newest first. */
export function openDebriefs(st, now) {
  return st.debriefs.filter((d) => d.until > now).reverse();
}

/**
 * Checks an event against the cursor {epoch, offset} of the last event
 * applied: "apply" the next one, "skip" one already applied, or "gap" when
 * events are missing or the room's log was restarted (then the phone must
 * resume to catch up).
 */
export function order(cursor, ev) {
  if (ev.epoch !== cursor.epoch) return 'gap';
  if (ev.offset <= cursor.offset) return 'skip';
  if (ev.offset === cursor.offset + 1) return 'apply';
  return 'gap';
}

/**
 * Whether what sits at offset in the log has reached seat's phone: that
 * phone confirmed (a delivered event, or a snapshot's seen) every event up
 * to it. Until then it has reached the server only.
 */
export function reached(st, seat, offset) {
  return offset > 0 && Boolean(st.seen) && st.seen[seat - 1] >= offset;
}
