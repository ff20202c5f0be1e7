// "This page needs HTTPS": WebCrypto (the sealing) and the service worker
// exist only in a secure context, so on a plain-http:// address other than
// localhost nothing of Softland can work. Instead of failing, say why, and
// link to the server's setup page (/setup: home mode's plain-HTTP page that helps a
// phone trust the server's own certificate authority) when it offers one.

import { $, setShown, showScreen } from '../view.js';

/** Whether this page can run Softland at all. */
export function secure() {
  return Boolean(globalThis.isSecureContext && globalThis.crypto && globalThis.crypto.subtle);
}

/** Shows the screen; the setup link only once the server answers for it. */
export async function show() {
  showScreen('insecure', true);
  try {
    const res = await fetch('/setup', { method: 'HEAD', redirect: 'follow', cache: 'no-store' });
    const offers = res.ok;
    setShown($('insecure-setup'), offers);
    setShown($('insecure-ask'), !offers);
  } catch {
    // No answer: the address is all the person can try.
  }
}
