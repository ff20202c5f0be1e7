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
    round: null, // {round, by, closesAt, submitted: [bool, bool], reveal: [token], rev}
    settings: null, // {seat, blob}
    announce: [null, null], // latest sealed announcement per seat: {seat, blob}
    debriefs: [], // [{round, until, submitted: [bool, bool], released: [blob, blob] | null}]
    erased: false,
  };
}

/** The mirror as of a welcome's snapshot (protocol.Snapshot). */
export function fromSnapshot(s) {
  const st = emptyState();
  st.paired = Boolean(s.paired);
  st.presence = [...(s.presence || st.presence)];
  st.paused = [...(s.paused || st.paused)];
  if (s.round) {
    st.round = {
      round: s.round.round,
      by: s.round.by,
      closesAt: s.round.closesAt,
      submitted: [...s.round.submitted],
      reveal: [...(s.round.reveal || [])],
      rev: s.round.rev || 0,
    };
  }
  st.settings = s.settings || null;
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
  const st = structuredClone(prev);
  const i = ev.seat - 1;
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
      st.round = { round: ev.round, by: ev.seat, closesAt: ev.closesAt, submitted: [false, false], reveal: [], rev: 0 };
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
        st.round.reveal = [...(ev.reveal || [])];
        st.round.rev = ev.rev;
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
      break;
    case 'unpaused':
      st.paused[i] = false;
      break;
    case 'announced':
      st.announce[i] = { seat: ev.seat, blob: ev.blob };
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
