// Pairing: the creator's QR code and link, the partner joining, and the two
// names (kept only on this phone) once paired.

import { t } from '../i18n.js';
import { startCreate } from '../lifecycle.js';
import { $, setText, setShown } from '../view.js';
import * as vm from '../vm.js';

export const needsRoom = true;

let qrFor = '';

export function mount(app) {
  $('copy').addEventListener('click', () => copyLink(app));
  $('share').addEventListener('click', () => {
    navigator.share({ title: t('appName'), text: t('shareText'), url: app.session.room.link }).catch(() => {});
  });
  $('pair-cancel').addEventListener('click', () => cancelLink(app));
  $('pair-restart').addEventListener('click', () => {
    app.session.stop();
    app.intents.wipe(['lang', 'plan']);
    app.session.reset();
    startCreate(app);
  });
  $('names').addEventListener('input', () => {
    app.intents.savePlan({ me: $('name-me').value, partner: $('name-partner').value });
  });
  $('names').addEventListener('submit', (e) => {
    e.preventDefault();
    const s = app.session;
    if (!s.st.paired) return;
    s.room.onboarded = true;
    app.intents.setRoom(s.room);
    app.build();
    app.go('checkin', true);
  });
}

export function build(app) {
  const p = app.intents.plan();
  fill('name-me', p.me || '');
  fill('name-partner', p.partner || '');
}

/** What homeScreenHint needs to know of this browser. */
function env() {
  const standalone = navigator.standalone === true || (typeof matchMedia === 'function' && matchMedia('(display-mode: standalone)').matches);
  return { ua: navigator.userAgent, platform: navigator.platform, touchPoints: navigator.maxTouchPoints, standalone };
}

/** Fills an input unless the person is typing in it. */
export function fill(id, v) {
  const e = $(id);
  if (document.activeElement !== e && e.value !== v) e.value = v;
}

export function forget() {
  qrFor = '';
  $('qr').replaceChildren();
  for (const id of ['name-me', 'name-partner']) $(id).value = '';
}

export async function render(app, ctx) {
  const v = vm.pair(ctx);
  setText($('pair-title'), v.title);
  setShown($('pair-invite'), v.invite);
  setShown($('pair-restart'), v.restart);
  const status = $('pair-status');
  status.dataset.state = v.state;
  setText(status, v.text);
  setShown($('names'), v.names);
  setShown($('pair-continue'), v.canContinue);
  setShown($('pair-home'), v.canContinue && vm.homeScreenHint(env()));
  wakeCard(app, 'push-pair', 'pair', v.names);
  if (!v.invite) return;
  $('pair-link').value = v.link;
  setText($('pair-expiry'), v.expiry);
  setShown($('share'), typeof navigator.share === 'function');
  if (qrFor !== v.link) {
    qrFor = v.link;
    try {
      const { drawQR } = await import('../qr.js');
      drawQR($('qr'), v.link);
    } catch {
      qrFor = ''; // offline before the code was ever loaded: the link still works
    }
  }
}

/** Revokes the unused pairing link (invite.cancel): whoever opens it is told so. */
async function cancelLink(app) {
  const s = app.session;
  try {
    await s.request({ type: 'invite.cancel' });
  } catch {
    return; // offline, or the partner joined at that moment: nothing changes
  }
  s.room.inviteRevoked = true;
  app.intents.setRoom(s.room);
  app.render();
}

/**
 * The offer to wake this phone with Web Push (wake.js, loaded only here and
 * on the plan, and only when the server sends push), in box id.
 */
export function wakeCard(app, id, where, show = true) {
  const box = $(id);
  if (!show || !app.session.push) return setShown(box, false);
  import('../wake.js').then((m) => m.card(app, box, where)).catch(() => setShown(box, false));
}

async function copyLink(app) {
  const link = app.session.room && app.session.room.link;
  if (!link) return;
  try {
    await navigator.clipboard.writeText(link);
  } catch {
    $('pair-link').select();
    document.execCommand('copy');
  }
  setText($('copy'), t('copied'));
  setTimeout(() => setText($('copy'), t('copy')), 2000);
}
