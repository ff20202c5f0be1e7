// Small DOM helpers for the app: element lookup and creation, strings into
// the page, screen switching, announcements for screen readers, haptics.
// Text always goes in as textContent, never as HTML.

import { t, getLang, LANGS } from './i18n.js';

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/**
 * A new element with attributes (false/null/undefined are left out) and
 * children (strings become text).
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c !== null && c !== undefined && c !== false) e.append(c);
  }
  return e;
}

/** Sets an element's text only when it changed (so live regions stay quiet). */
export function setText(e, s) {
  if (e && e.textContent !== s) e.textContent = s;
}

/** Shows or hides an element with the hidden attribute. */
export function setShown(e, shown) {
  if (e && e.hidden === shown) e.hidden = !shown;
}

/** Fills every [data-i18n] element under root with its string. */
export function applyStrings(root = document) {
  document.documentElement.lang = getLang();
  for (const e of root.querySelectorAll('[data-i18n]')) setText(e, t(e.dataset.i18n));
  for (const e of root.querySelectorAll('[data-i18n-aria]')) e.setAttribute('aria-label', t(e.dataset.i18nAria));
}

/** Fills a language <select> with the languages, each in its own words. */
export function fillLangSelect(select) {
  select.replaceChildren(...LANGS.map((l) => el('option', { value: l, selected: l === getLang() }, t('langName', {}, l))));
  select.value = getLang();
}

/** Shows one screen and hides the others; moves focus to its heading when asked. */
export function showScreen(name, focus) {
  setShown($('loading'), false);
  setShown($('main'), true);
  for (const s of document.querySelectorAll('main > .screen')) setShown(s, s.id === `screen-${name}`);
  for (const b of document.querySelectorAll('#nav [data-screen]')) {
    if (b.dataset.screen === name) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  if (focus) {
    const h = document.querySelector(`#screen-${name} h1`);
    if (h) h.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
}

const liveTimers = {};

/**
 * Says text through a live region: assertive for pause, polite (the
 * default) for reveals and releases.
 */
export function announce(text, assertive = false) {
  const live = $(assertive ? 'live' : 'live-polite');
  live.textContent = '';
  clearTimeout(liveTimers[live.id]);
  // A fresh node change after a beat, so the same sentence is read again.
  liveTimers[live.id] = setTimeout(() => {
    live.textContent = text;
  }, 60);
}

/** A short vibration where the phone supports it. */
export function buzz(pattern) {
  try {
    if (navigator.vibrate) navigator.vibrate(pattern);
  } catch {
    // Not allowed here (no user gesture yet, or a desktop browser).
  }
}
