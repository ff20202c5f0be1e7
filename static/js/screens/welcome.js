// Welcome: create a room, or paste a link; the language switch.

import { parseFragment, b64u } from '../crypto.js';
import { t } from '../i18n.js';
import { startCreate, startJoin } from '../lifecycle.js';
import { $, setText } from '../view.js';

export function mount(app) {
  $('create').addEventListener('click', () => startCreate(app));
  $('have-link').addEventListener('click', () => {
    const form = $('link-form');
    form.hidden = !form.hidden;
    $('have-link').setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) $('link-input').focus();
  });
  $('link-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const link = parseFragment($('link-input').value);
    if (!link) {
      setText($('link-error'), t('linkInvalid'));
      return;
    }
    setText($('link-error'), '');
    $('link-input').value = '';
    const join = { room: link.room, secret: b64u(link.secret) };
    app.intents.setJoin(join);
    await startJoin(app, join);
  });
}
