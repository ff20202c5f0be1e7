// Deadlines and clocks in words, in the app's language, with Intl: "tomorrow
// at 2:21 AM", "in 3 hours". A bare clock time read the next morning looks
// past; a day and a distance do not. Pure (the time zone is the runtime's),
// tested in node.

import { t } from './i18n.js';

const MINUTE = 60000;
const HOUR = 60 * MINUTE;

/** Local time of day. */
export function timeOfDay(ms, lang) {
  return new Date(ms).toLocaleTimeString(lang, { hour: 'numeric', minute: '2-digit' });
}

/** Local date and time, for history. */
export function dateTime(ms, lang) {
  return new Date(ms).toLocaleString(lang, { weekday: 'short', day: 'numeric', month: 'short', hour: 'numeric', minute: '2-digit' });
}

/** Whole calendar days from now's local day to ms's local day. */
function dayDiff(ms, now) {
  const a = new Date(now);
  const b = new Date(ms);
  const da = Date.UTC(a.getFullYear(), a.getMonth(), a.getDate());
  const db = Date.UTC(b.getFullYear(), b.getMonth(), b.getDate());
  return Math.round((db - da) / (24 * HOUR));
}

/** "today at 11:30 PM", "tomorrow at 2:21 AM", or a weekday and date further off. */
export function dayAndTime(ms, now, lang) {
  const d = dayDiff(ms, now);
  const time = timeOfDay(ms, lang);
  if (Math.abs(d) <= 1) {
    const day = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' }).format(d, 'day');
    return t('dayAtTime', { day, time }, lang);
  }
  return dateTime(ms, lang);
}

/** "in 3 hours", "in 45 minutes", "in 2 days" (rounded; never "ago" for a future ms). */
export function fromNow(ms, now, lang) {
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: 'always' });
  const diff = Math.max(0, ms - now);
  if (diff < HOUR) return rtf.format(Math.max(1, Math.round(diff / MINUTE)), 'minute');
  if (diff < 36 * HOUR) return rtf.format(Math.round(diff / HOUR), 'hour');
  return rtf.format(Math.round(diff / (24 * HOUR)), 'day');
}

/** A deadline as the app says it: "tomorrow at 2:21 AM (in 3 hours)". */
export function deadline(ms, now, lang) {
  return t('deadline', { when: dayAndTime(ms, now, lang), left: fromNow(ms, now, lang) }, lang);
}

/** "mm:ss" of a duration in milliseconds (never negative). */
export function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}
