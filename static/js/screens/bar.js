// The status bar (presence, the pause button) and the navigation: shown on
// every screen of a phone in a room.

import { $, setText, setShown } from '../view.js';
import * as vm from '../vm.js';
import { pauseNow } from './pause.js';

export function mount(app) {
  $('pause-btn').addEventListener('click', () => pauseNow(app));
  for (const b of document.querySelectorAll('#nav [data-screen]')) {
    b.addEventListener('click', () => {
      if (b.dataset.screen === 'debrief') app.ui.debriefRound = '';
      app.go(b.dataset.screen, true);
    });
  }
}

export function render(app, ctx) {
  const v = vm.bar(ctx);
  setShown($('bar'), v.shown);
  setShown($('nav'), v.nav);
  document.body.classList.toggle('with-nav', v.nav);
  if (!v.shown) return;
  $('bar').dataset.state = v.state;
  setText($('status-text'), v.text);
  setShown($('pause-btn'), v.pauseShown);
  setText($('pause-word'), v.word);
  $('pause-btn').setAttribute('aria-label', v.pauseLabel);
}
