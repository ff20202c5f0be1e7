// The verification words after a lost phone was replaced (protocol §3.7):
// shown on both phones, on every screen, until the person confirms that
// the words match the partner's phone.

import { t } from '../i18n.js';
import { $, setText, setShown } from '../view.js';
import * as vm from '../vm.js';

export function mount(app) {
  $('verify-ok').addEventListener('click', () => {
    app.session.verified();
    app.render();
  });
}

export function render(app, ctx) {
  const r = app.session.room;
  const words = r && r.device && Array.isArray(r.verify) ? r.verify : null;
  setShown($('verify-card'), Boolean(words));
  if (!words) return;
  const name = vm.names(ctx).partner;
  setText($('verify-how'), t(r.verifyNew ? 'verifyHowNew' : 'verifyHowOld', { name }));
  setText($('verify-words'), words.join(' '));
}
