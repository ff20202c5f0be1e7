// Erase us: confirm, then the room is wiped on the server and both phones
// (the erased event, or close 4000, does the wiping: lifecycle.wipe).

import { t } from '../i18n.js';
import { $, setText } from '../view.js';

export function mount(app) {
  $('erase-cancel').addEventListener('click', () => app.go('plan', true));
  $('erase-confirm').addEventListener('click', () => eraseUs(app));
}

export function enter() {
  setText($('erase-error'), '');
}

async function eraseUs(app) {
  setText($('erase-error'), '');
  if (!app.session.isOpen) {
    setText($('erase-error'), t('eraseOffline'));
    return;
  }
  try {
    await app.session.request({ type: 'erase' });
  } catch (e) {
    // The answer to erase is the erased event and close 4000, so the
    // request usually ends as "offline"; anything else is shown.
    if (e.code && e.code !== 'offline') setText($('erase-error'), t('eraseFailed'));
  }
}
