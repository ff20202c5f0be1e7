// Waking a sleeping phone with Web Push (docs/protocol.md §14), the pure
// part: which kinds the phone asks for, what its notifications say at each
// privacy level, when the app must subscribe again, and which offer the
// plan and pairing screens show. Loaded only when a screen needs it (the
// first visit does not), so its strings live here rather than in i18n.js.
// wake.js does the browser's side (permission, PushManager, IndexedDB).

/** The kinds of push, in the order the switches show them (protocol §14.1). */
export const KINDS = ['pause', 'checkin', 'debrief', 'space'];

/** Every kind on: a phone that asks to be woken wants all of it until it says otherwise. */
export const DEFAULT_KINDS = Object.freeze({ pause: true, checkin: true, debrief: true, space: true });

/** Privacy levels of the notification's text; discreet is the default. */
export const LEVELS = ['discreet', 'detailed'];

const en = {
  title: 'Let Softland wake this phone for a pause',
  why: 'A locked phone runs nothing, so a pause could wait until it is unlocked. With this on, Softland knocks with a notification. The knock carries no names and nothing you tapped; this phone alone decides what the notification says.',
  turnOn: 'Turn on',
  notNow: 'Not now',
  turningOn: 'Asking this phone…',
  onShort: 'On: this phone will be woken for a pause. Choose what wakes it and what the notification says in Plan.',
  onTitle: 'Waking this phone',
  kindsLegend: 'Wake this phone when',
  kind_pause: '{name} pauses',
  kind_checkin: '{name} starts a check-in',
  kind_debrief: 'both debriefs open',
  kind_space: '{name} sends a note about space',
  levelLegend: 'What the notification says',
  level_discreet: 'Discreet: “{text}”',
  level_detailed: 'Detailed: “{text}”',
  levelNote: 'A lock screen can be read by anyone nearby. Discreet says nothing about you two.',
  turnOff: 'Stop waking this phone',
  saved: 'Saved on this phone.',
  offline: 'Not connected right now: this will be sent when the phone is back online.',
  failed: 'This phone could not be set up for notifications. Try again later.',
  unavailable: 'This browser’s notification service is not one this Softland server sends to, so it cannot wake this phone.',
  denied: 'Notifications are blocked for Softland on this phone, so it cannot be woken. To allow them, open this site’s settings in your browser (or, for the installed app, the app’s settings on your phone), set Notifications to Allow, then come back here.',
  deniedIOS: 'Notifications are blocked for Softland on this phone, so it cannot be woken. To allow them: Settings → Notifications → Softland → Allow Notifications, then come back here.',
  installTitle: 'Let Softland wake this iPhone for a pause',
  installWhy: 'On iPhone and iPad only an app on the Home Screen can be woken (iOS 16.4 or later), and the added app starts empty, so Softland moves there:',
  install1: 'In Safari, tap Share (the square with an arrow), then “Add to Home Screen”.',
  install2: 'Here, tap “Move Softland to another device” (below) and copy the link.',
  install3: 'Open Softland from the Home Screen, tap “I have a link”, paste it, and turn waking on there.',
  installNote: 'Safari and the Home Screen app keep separate storage: the move carries your seat over, and this tab then signs out.',
  discreet: 'Softland — open when you can',
  text_pause: '{name} paused',
  text_checkin: '{name} started a check-in',
  text_debrief: 'Both debriefs are open',
  text_space: 'A note from {name} about space',
};

const es = {
  title: 'Deja que Softland despierte este teléfono para una pausa',
  why: 'Un teléfono bloqueado no ejecuta nada, así que una pausa podría esperar hasta que se desbloquee. Con esto activado, Softland llama con una notificación. La llamada no lleva nombres ni nada de lo que tocaste; solo este teléfono decide qué dice la notificación.',
  turnOn: 'Activar',
  notNow: 'Ahora no',
  turningOn: 'Preguntando a este teléfono…',
  onShort: 'Activado: este teléfono se despertará para una pausa. Elige qué lo despierta y qué dice la notificación en Plan.',
  onTitle: 'Despertar este teléfono',
  kindsLegend: 'Despertar este teléfono cuando',
  kind_pause: '{name} pausa',
  kind_checkin: '{name} empieza un momento de conexión',
  kind_debrief: 'se abren los dos repasos',
  kind_space: '{name} envía un aviso sobre su espacio',
  levelLegend: 'Qué dice la notificación',
  level_discreet: 'Discreta: «{text}»',
  level_detailed: 'Detallada: «{text}»',
  levelNote: 'Cualquiera cerca puede leer una pantalla bloqueada. La discreta no dice nada de ustedes.',
  turnOff: 'Dejar de despertar este teléfono',
  saved: 'Guardado en este teléfono.',
  offline: 'Sin conexión ahora: se enviará cuando el teléfono vuelva a estar en línea.',
  failed: 'No se pudo preparar este teléfono para notificaciones. Inténtalo más tarde.',
  unavailable: 'El servicio de notificaciones de este navegador no es uno al que envíe este servidor de Softland, así que no puede despertar este teléfono.',
  denied: 'Las notificaciones de Softland están bloqueadas en este teléfono, así que no se puede despertar. Para permitirlas, abre los ajustes de este sitio en el navegador (o, para la app instalada, los ajustes de la app en el teléfono), pon Notificaciones en Permitir y vuelve aquí.',
  deniedIOS: 'Las notificaciones de Softland están bloqueadas en este teléfono, así que no se puede despertar. Para permitirlas: Ajustes → Notificaciones → Softland → Permitir notificaciones, y vuelve aquí.',
  installTitle: 'Deja que Softland despierte este iPhone para una pausa',
  installWhy: 'En iPhone y iPad solo se puede despertar una app de la pantalla de inicio (iOS 16.4 o posterior), y la app añadida empieza vacía, así que Softland se muda allí:',
  install1: 'En Safari, toca Compartir (el cuadrado con una flecha) y luego «Añadir a pantalla de inicio».',
  install2: 'Aquí, toca «Mover Softland a otro dispositivo» (abajo) y copia el enlace.',
  install3: 'Abre Softland desde la pantalla de inicio, toca «Tengo un enlace», pégalo y activa ahí el despertar.',
  installNote: 'Safari y la app de la pantalla de inicio guardan sus datos por separado: mover lleva tu puesto hasta allí, y aquí se cierra la sesión.',
  discreet: 'Softland — ábrela cuando puedas',
  text_pause: '{name} ha pausado',
  text_checkin: '{name} empezó un momento de conexión',
  text_debrief: 'Los dos repasos están abiertos',
  text_space: 'Un aviso de {name} sobre su espacio',
};

export const PUSH_STRINGS = { en, es };

/** A push string in lang (English when missing), {name}-style placeholders filled. */
export function pt(key, vars = {}, lang = 'en') {
  const s = (PUSH_STRINGS[lang] || en)[key] ?? en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

/** The four kinds as protocol §5.16 wants them: every field a boolean, nothing else. */
export function kindsOf(v) {
  const k = v && typeof v === 'object' ? v : DEFAULT_KINDS;
  return Object.fromEntries(KINDS.map((kind) => [kind, kind in k ? Boolean(k[kind]) : DEFAULT_KINDS[kind]]));
}

/** Whether two kinds choices are the same. */
export function sameKinds(a, b) {
  if (!a || !b) return false;
  return KINDS.every((k) => Boolean(a[k]) === Boolean(b[k]));
}

/** The stored privacy level, discreet unless detailed was chosen. */
export function levelOf(v) {
  return v === 'detailed' ? 'detailed' : 'discreet';
}

/**
 * What the service worker needs to word a notification, kept in IndexedDB
 * (a service worker cannot read localStorage): the discreet sentence in the
 * phone's language, and — only at the detailed level — one sentence per
 * kind with the partner's name. Discreet keeps no name at all.
 */
export function notifyRecord(level, lang, partner) {
  const l = levelOf(level);
  const rec = { level: l, discreet: pt('discreet', {}, lang) };
  if (l === 'detailed') rec.texts = Object.fromEntries(KINDS.map((k) => [k, pt(`text_${k}`, { name: partner }, lang)]));
  return rec;
}

/**
 * The notification a push shows, from the record and the decrypted message
 * ({kind, offset} or null when it could not be read): the discreet sentence
 * unless the phone chose detailed and the kind is known. sw.js does the same.
 */
export function notificationTitle(rec, msg) {
  const discreet = (rec && rec.discreet) || en.discreet;
  if (!rec || rec.level !== 'detailed' || !rec.texts || !msg) return discreet;
  return rec.texts[msg.kind] || discreet;
}

/**
 * What to do about waking this phone after a welcome, or after the person
 * changed something:
 *   'off'         the server sends no push: offer nothing, do nothing
 *   'none'        all is as it should be
 *   'unsubscribe' the phone turned waking off but the server still holds a subscription
 *   'denied'      the phone wants waking but notifications are not allowed
 *   'subscribe'   make a (new) browser subscription, then send it
 *   'send'        send push.subscribe with the subscription the browser holds
 *
 * @param {object} o
 * @param {object|null} o.server the welcome's push ({key, kinds?}) or null
 * @param {object|null} o.pref this phone's choice ({on, kinds, endpoint, key})
 * @param {string} o.permission Notification.permission
 * @param {object|null} o.sub the browser's subscription: {endpoint, key} (key: the server key it was made with, '' when unknown)
 * @param {boolean} o.resub the service worker saw pushsubscriptionchange
 */
export function decide({ server, pref, permission, sub, resub }) {
  if (!server || !server.key) return 'off';
  if (!pref || !pref.on) return server.kinds ? 'unsubscribe' : 'none';
  if (permission !== 'granted') return 'denied';
  if (!sub || resub || (sub.key || pref.key) !== server.key) return 'subscribe';
  if (!server.kinds || !sameKinds(server.kinds, kindsOf(pref.kinds)) || sub.endpoint !== pref.endpoint) return 'send';
  return 'none';
}

/** Whether this is an iPhone or iPad. iPadOS says it is a Mac, but a Mac has no touch points. */
export function isIOS({ ua = '', platform = '', maxTouchPoints = 0 }) {
  return /iPhone|iPad|iPod/.test(ua) || (platform === 'MacIntel' && maxTouchPoints > 1);
}

/**
 * Whether this is Safari on an iPhone or iPad outside the Home Screen, where
 * there is no Web Push at all until the app is added (iOS 16.4+).
 */
export function iosNeedsHomeScreen(o) {
  if (!isIOS(o) || o.displayStandalone) return false;
  return o.standalone !== true;
}

/**
 * Which offer a screen shows ("plan" or "pair"):
 *   'hidden'  nothing (the server sends no push, the browser has none, or
 *             the person said "not now" at pairing)
 *   'install' on the plan, in Safari on iOS: add to the Home Screen and move there
 *   'offer'   the opt-in
 *   'denied'  how to allow notifications again
 *   'on'      waking is on (at pairing a short line; on the plan the switches)
 */
export function offer({ server, supported, ios, pref, permission, where }) {
  if (!server || !server.key) return 'hidden';
  const on = Boolean(pref && pref.on);
  if (where === 'pair' && !on && pref && pref.dismissed) return 'hidden';
  // At pairing the Home Screen hint (vm.homeScreenHint) already says how to
  // move there; the plan says it again, for waking.
  if (ios) return where === 'pair' ? 'hidden' : 'install';
  if (!supported) return 'hidden';
  if (permission === 'denied') return 'denied';
  if (on && permission === 'granted') return 'on';
  return 'offer';
}
