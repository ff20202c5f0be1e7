// A kind note with one or two ways on: erased, refused, gone, offline,
// replaced by another tab, or a second room's link.

import { t } from '../i18n.js';
import { noticePrimary, noticeSecondary } from '../lifecycle.js';
import { $, setText, setShown } from '../view.js';

export const NOTICES = {
  erased: { primary: 'startAgain' },
  full: { primary: 'startAgain' },
  expired: { primary: 'startAgain' },
  gone: { primary: 'startAgain' },
  badlink: { primary: 'startAgain' },
  offline: { primary: 'tryAgain' },
  outdated: { primary: 'tryAgain' },
  replaced: { primary: 'useHere' },
  moved: { primary: 'startAgain' },
  moveused: { primary: 'startAgain' },
  moveexpired: { primary: 'startAgain' },
  lost: { primary: 'startAgain' },
  replaceused: { primary: 'startAgain' },
  replaceexpired: { primary: 'startAgain' },
  revoked: { primary: 'startAgain' },
  switch: { primary: 'switchRoom', secondary: 'keepRoom' },
};

export function mount(app) {
  $('notice-primary').addEventListener('click', () => noticePrimary(app));
  $('notice-secondary').addEventListener('click', () => noticeSecondary(app));
}

export function render(app) {
  const kind = app.ui.notice;
  const n = NOTICES[kind] || NOTICES.gone;
  setText($('notice-title'), t(`notice_${kind}_title`));
  setText($('notice-body'), t(`notice_${kind}_body`));
  setText($('notice-primary'), t(n.primary));
  setShown($('notice-secondary'), Boolean(n.secondary));
  if (n.secondary) setText($('notice-secondary'), t(n.secondary));
  $('screen-notice').dataset.kind = kind;
}
