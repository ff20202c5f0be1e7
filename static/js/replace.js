// Replacing the partner's lost phone (protocol §3.7, §5.22–5.24), from the
// plan screen: this phone mints a new room secret and asks the server for
// a one-time re-pair code for the partner's seat, then shows the re-pair
// link as a QR code and for copying. When the partner's new phone takes the
// seat, the session moves to the new secret, re-seals the shared settings
// and shows the verification words (screens/verify.js). Loaded only when
// asked for, like move.js.

import * as C from './crypto.js';
import { getLang, t } from './i18n.js';
import { replaceLink } from './verify.js';
import { $, setText } from './view.js';
import * as vm from './vm.js';
import { deadline } from './when.js';

let bound = false;

/**
 * Asks for a re-pair link for the partner's lost phone (protocol §3.7): a
 * new secret, kept in the room record as pending until the replaced event
 * (the session then moves to it), and a one-time code from the server.
 * Returns {link, expiresAt}.
 */
async function createReplace(s) {
  const secret = C.b64u(C.newSecret());
  const keys = await C.deriveKeys(C.unb64u(secret));
  const r = s.room;
  r.pending = { secret, code: '', keyHash: keys.joinKeyHash };
  s.intents.setRoom(r); // before asking: the new secret must survive a reload
  const ack = await s.request({ type: 'replace.create', joinKeyHash: keys.joinKeyHash });
  r.pending.code = ack.replace;
  s.intents.setRoom(r);
  return { link: replaceLink(s.origin, r.room, ack.replace, secret), expiresAt: ack.expiresAt };
}

/** Revokes this seat's pending re-pair link and forgets its secret. */
async function cancelReplace(s) {
  await s.request({ type: 'replace.cancel' });
  delete s.room.pending;
  s.intents.setRoom(s.room);
}

/** Asks for a re-pair link and shows it, replacing any earlier one. */
export async function show(app) {
  bind(app);
  const s = app.session;
  setText($('replace-error'), '');
  if (!s.isOpen) {
    setText($('replace-error'), t('moveOffline'));
    return;
  }
  let r;
  try {
    r = await createReplace(s);
  } catch {
    setText($('replace-error'), t('moveFailed'));
    return;
  }
  setText($('replace-how'), t('replaceHow', { name: vm.names(app.snapshot()).partner }));
  $('replace-link').value = r.link;
  setText($('replace-expiry'), t('replaceExpires', { time: deadline(r.expiresAt, Date.now(), getLang()) }));
  $('replace-box').hidden = false;
  $('replace-open').setAttribute('aria-expanded', 'true');
  try {
    const { drawQR } = await import('./qr.js');
    drawQR($('replace-qr'), r.link);
  } catch {
    $('replace-qr').replaceChildren(); // the link can still be copied
  }
}

/** Revokes the shown link and hides it. */
async function cancel(app) {
  hide();
  try {
    await cancelReplace(app.session);
  } catch {
    setText($('replace-error'), t('moveFailed'));
  }
}

/** Hides the link (after it was used, or when the screen is left). */
export function hide() {
  $('replace-box').hidden = true;
  $('replace-open').setAttribute('aria-expanded', 'false');
  $('replace-link').value = '';
  $('replace-qr').replaceChildren();
}

function bind(app) {
  if (bound) return;
  bound = true;
  $('replace-cancel').addEventListener('click', () => cancel(app));
  $('replace-copy').addEventListener('click', async () => {
    const link = $('replace-link').value;
    if (!link) return;
    try {
      await navigator.clipboard.writeText(link);
    } catch {
      $('replace-link').select();
      document.execCommand('copy');
    }
    setText($('replace-copy'), t('copied'));
    setTimeout(() => setText($('replace-copy'), t('copy')), 2000);
  });
}
