// Welcome: create a room, or paste a link; the language switch.

import { t } from '../i18n.js';
import { joinOf, startCreate, startJoin } from '../lifecycle.js';
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
    // A pairing link, or a move link copied from this person's other device.
    const join = joinOf($('link-input').value);
    if (!join) {
      setText($('link-error'), t('linkInvalid'));
      return;
    }
    setText($('link-error'), '');
    $('link-input').value = '';
    app.intents.setJoin(join);
    await startJoin(app, join);
  });
}
