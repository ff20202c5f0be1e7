// Moving this seat to another device (protocol §5.19–5.21): the server gives
// a one-time move code, and this phone shows the move link — the code and
// the room secret in the fragment — as a QR code and for copying (into the
// installed app on the same phone, say). Whoever opens it takes the seat, and
// this phone is signed out (close 4009). The link is kept only on the page,
// never stored. Loaded only when asked for, so the first load stays small.

import { b64u, unb64u } from './crypto.js';
import { getLang, t } from './i18n.js';
import { $, setText } from './view.js';
import { deadline } from './when.js';

/** The move link: <origin>/#m=<room>.<code>.<base64url(secret)> (protocol §3.2). */
export function moveLink(origin, room, code, secret) {
  return `${origin}/#m=${room}.${code}.${b64u(unb64u(secret))}`;
}

let bound = false;

/** Asks for a move code and shows its link, replacing any earlier one. */
export async function show(app) {
  bind(app);
  const s = app.session;
  setText($('move-error'), '');
  if (!s.isOpen) {
    setText($('move-error'), t('moveOffline'));
    return;
  }
  let ack;
  try {
    ack = await s.request({ type: 'move.create' });
  } catch {
    setText($('move-error'), t('moveFailed'));
    return;
  }
  // Remembered so that, if this phone later hears device_revoked on resume,
  // it can tell a move it started from a replacement its partner made.
  s.room.moveMade = true;
  app.intents.setRoom(s.room);
  const link = moveLink(s.origin, s.room.room, ack.move, s.room.secret);
  $('move-link').value = link;
  setText($('move-expiry'), t('moveExpires', { time: deadline(ack.expiresAt, Date.now(), getLang()) }));
  $('move-box').hidden = false;
  $('move-open').setAttribute('aria-expanded', 'true');
  try {
    const { drawQR } = await import('./qr.js');
    drawQR($('move-qr'), link);
  } catch {
    $('move-qr').replaceChildren(); // the link can still be copied
  }
}

/** Revokes the shown link and hides it. */
async function cancel(app) {
  hide();
  try {
    await app.session.request({ type: 'move.cancel' });
    app.session.room.moveMade = false;
    app.intents.setRoom(app.session.room);
  } catch {
    setText($('move-error'), t('moveFailed'));
  }
}

function hide() {
  $('move-box').hidden = true;
  $('move-open').setAttribute('aria-expanded', 'false');
  $('move-link').value = '';
  $('move-qr').replaceChildren();
}

function bind(app) {
  if (bound) return;
  bound = true;
  $('move-cancel').addEventListener('click', () => cancel(app));
  $('move-copy').addEventListener('click', async () => {
    const link = $('move-link').value;
    if (!link) return;
    try {
      await navigator.clipboard.writeText(link);
    } catch {
      $('move-link').select();
      document.execCommand('copy');
    }
    setText($('move-copy'), t('copied'));
    setTimeout(() => setText($('move-copy'), t('copy')), 2000);
  });
}
