// What the history screen makes of past rounds: small successes worth
// celebrating, who led last (so the lead rotates), and whether the plan is due
// for a look. Pure functions over store.js's history entries, testable in node.

const DAY = 24 * 60 * 60 * 1000;
/** The plan asks to be revisited after this long. */
export const PLAN_REVISIT_AFTER = 30 * DAY;

/**
 * Successes to celebrate, as [string key, vars] pairs for i18n, most
 * encouraging first. Only good news: nothing here counts what did not happen.
 * @param {object[]} history newest first
 * @param {number} now Unix ms
 */
export function celebrations(history, now) {
  const out = [];
  const month = history.filter((h) => h.at > now - 30 * DAY);
  const matched = month.filter((h) => (h.suggestions || []).length > 0).length;
  if (matched > 0) out.push(['celebrateMatched', { count: matched }]);
  const debriefs = history.filter((h) => h.debrief).length;
  if (debriefs > 0) out.push(['celebrateDebriefs', { count: debriefs }]);
  if (history.some((h) => h.pauses > 0)) out.push(['celebratePause', {}]);
  const streak = weeksInARow(history, now);
  if (streak >= 2) out.push(['celebrateWeeks', { count: streak }]);
  if (history.length === 1) out.push(['celebrateFirst', {}]);
  return out;
}

/** How many weeks in a row, up to this one, had a check-in. */
function weeksInARow(history, now) {
  const weeks = new Set(history.map((h) => Math.floor((now - h.at) / (7 * DAY))));
  let n = 0;
  while (weeks.has(n)) n++;
  return n;
}

/** The seat that opened the most recent round (1 or 2), or 0 when there is none. */
export function lastLead(history) {
  const h = history.find((x) => x.by === 1 || x.by === 2);
  return h ? h.by : 0;
}

/**
 * Whether the private plan is due for another look: saved once, and not
 * for a month since. A plan never saved is not "due": a couple on its first
 * day has nothing to revisit.
 */
export function planDue(plan, now) {
  return Boolean(plan && plan.at) && now - plan.at > PLAN_REVISIT_AFTER;
}
