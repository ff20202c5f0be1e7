// The pause: full screen and modal on both phones, the rest of the page
// inert under it. Only the pauser can lift it. The pauser's phone shows it
// at once, before anything is sent; the wish is kept, so a pause made
// offline or just before a reload is sent on reconnection (outbox.owed).

import { t } from '../i18n.js';
import { $, setText, setShown, announce, buzz } from '../view.js';
import * as vm from '../vm.js';

export function pauseNow(app) {
  app.intents.setPause(true);
  buzz(60);
  app.render();
  announce(t('youPausedLive'), true);
  app.courier.send({ type: 'pause' });
}

function lift(app) {
  app.intents.setPause(false);
  app.render();
  announce(t('pauseLifted'), true);
  app.courier.send({ type: 'unpause' });
}

export function mount(app) {
  $('unpause-btn').addEventListener('click', () => lift(app));
}

export function render(app, ctx) {
  const v = vm.pause(ctx);
  const box = $('pause');
  const was = !box.hidden;
  setShown(box, v.shown);
  box.dataset.who = v.who;
  for (const id of ['bar', 'main', 'nav']) $(id).inert = v.shown;
  if (!v.shown) {
    if (was) document.body.classList.remove('paused');
    return;
  }
  document.body.classList.add('paused');
  setText($('pause-word-big'), v.word);
  setText($('pause-title'), v.title);
  setText($('pause-body'), v.body);
  // What the pauser is told about the partner's phone: only what its receipts say.
  box.dataset.delivery = v.delivery;
  setText($('pause-delivery'), v.deliveryText);
  setShown($('pause-delivery'), Boolean(v.deliveryText));
  setShown($('pause-also'), Boolean(v.also));
  setText($('pause-also'), v.also);
  setShown($('unpause-btn'), v.canLift);
  setShown($('pause-signals'), Boolean(v.signals));
  setText($('pause-signals'), v.signals);
  if (!was) {
    $('pause-title').focus({ preventScroll: true });
    breathe();
  }
}

let breathTimer = 0;
function breathe() {
  clearTimeout(breathTimer);
  let inhale = true;
  const step = () => {
    if ($('pause').hidden) return;
    setText($('breath-text'), t(inhale ? 'breatheIn' : 'breatheOut'));
    $('pause').dataset.breath = inhale ? 'in' : 'out';
    breathTimer = setTimeout(step, inhale ? 4000 : 6000);
    inhale = !inhale;
  };
  step();
}
