// The app's shell: one object that holds the session, the intents, the
// courier and what only the screen needs (which screen, which debrief, the
// dock), builds the view model's input from them, and redraws. Screens
// (screens/*.js) register here; each owns its part of the page.
//
// State flows one way: an event from the server or something the person
// does changes the session or the intents, then render() redraws from them.

import { Courier } from './courier.js';
import { getLang } from './i18n.js';
import { Session } from './session.js';
import { showScreen } from './view.js';

export class App {
  /**
   * @param {import('./intents.js').Intents} intents
   * @param {object} screens name → screen module ({mount, render, build?})
   * @param {object} always modules drawn on every render (bar, pause)
   */
  constructor(intents, screens, always) {
    this.intents = intents;
    this.screens = screens;
    this.always = always;
    this.catalog = null;
    this.session = new Session({
      intents,
      catalog: null,
      url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
      origin: location.origin,
    });
    this.courier = new Courier(this.session, intents, () => this.render());
    this.ui = { screen: 'loading', debriefRound: '', dockOpen: true, notice: '' };
  }

  setCatalog(c) {
    this.catalog = c;
    this.session.catalog = c;
  }

  /** Everything the view model reads, as of now. */
  snapshot() {
    const s = this.session;
    const i = this.intents;
    return {
      room: s.room,
      seat: s.seat,
      other: s.other,
      st: s.st,
      conn: { status: s.conn ? s.conn.status : s.status, everOpen: s.everOpen, online: navigator.onLine !== false },
      taps: i.taps(),
      sent: i.sent(),
      wantsPause: i.wantsPause(),
      space: i.space(),
      spaceSeen: i.spaceSeen(),
      plan: i.plan(),
      shared: i.shared(),
      drafts: i.drafts(),
      history: i.history(),
      opened: s.opened,
      catalog: this.catalog,
      lang: getLang(),
      now: Date.now(),
      ui: { ...this.ui, sharedQueued: this.courier.sharedQueued },
    };
  }

  /** Moves to screen (focus to its heading when asked) and redraws. */
  go(screen, focus = false) {
    const prev = this.screens[this.ui.screen];
    if (prev && prev.leave && this.ui.screen !== screen) prev.leave(this);
    this.ui.screen = screen;
    const mod = this.screens[screen];
    if (mod && mod.enter) mod.enter(this);
    showScreen(screen, focus);
    this.render();
  }

  render() {
    const ctx = this.snapshot();
    for (const m of this.always) m.render(this, ctx);
    const mod = this.screens[this.ui.screen];
    if (mod && mod.render && (this.session.room || !mod.needsRoom)) mod.render(this, ctx);
  }

  /** Rebuilds what depends on the catalog and the language. */
  build() {
    if (!this.catalog) return;
    for (const m of Object.values(this.screens)) if (m.build) m.build(this);
  }
}
