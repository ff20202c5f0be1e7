// Keeping the pairing safe on this phone: the room secret and device token
// live in the browser's storage, which a browser may clear under storage
// pressure unless the site's storage is persistent. Ask for that where the
// browser offers it (navigator.storage.persist), and say plainly on the
// plan screen when storage is not persistent.

import { t } from './i18n.js';
import { $, setText, setShown } from './view.js';

let asked = null;

/**
 * Asks once for persistent storage and shows the warning when it is not
 * granted. Resolves to true (persistent), false (not), or null (the
 * browser has no such thing to ask for: nothing is shown).
 */
export function keep() {
  if (!asked) asked = ask().then(show);
  return asked;
}

async function ask() {
  const s = globalThis.navigator && navigator.storage;
  if (!s || typeof s.persist !== 'function') return null;
  try {
    if (typeof s.persisted === 'function' && (await s.persisted())) return true;
    return Boolean(await s.persist());
  } catch {
    return null;
  }
}

function show(persistent) {
  const w = $('persist-warning');
  if (w) {
    setText(w, t('persistWarning'));
    setShown(w, persistent === false);
  }
  return persistent;
}
