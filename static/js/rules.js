// Softland rules interpreter for the web app.
//
// Each phone turns its partner's taps into the ranked list of suggestions it
// can accept, locally, so only HMAC tokens of suggestion ids ever leave the
// phone. The Go client (client/rules) implements the same specification, and
// both must pass static/rules-vectors.json so two phones always agree.
//
// Concrete ids: a suggestion with roles ("{giver} holds {receiver}") exists
// once per giving seat, "hold@1" (seat 1 gives) and "hold@2" (seat 2 gives);
// any other suggestion's concrete id is its own id.
//
// No dependencies; plain modern JavaScript for browsers and node.

/**
 * Ranks at or above this mark an accepted suggestion as a fallback, not a
 * wish. Bridges are roles suggestions whose giver is the partner who needs
 * space: a space need accepts its own bridge as giver at rank 0, a closeness
 * need accepts every bridge only as receiver at 9 (8 after a welcome boost),
 * so a clash with space meets on a bridge the space-needer gives, and two
 * closeness phones never share a bridge at all.
 */
export const FALLBACK_RANK = 8;

/**
 * Every concrete id in catalog order; roles suggestions as @1 then @2.
 * @param {object} catalog parsed catalog.json
 * @returns {string[]}
 */
export function concreteIds(catalog) {
  const out = [];
  for (const s of catalog.suggestions) {
    if (s.roles) {
      out.push(`${s.id}@1`, `${s.id}@2`);
    } else {
      out.push(s.id);
    }
  }
  return out;
}

/**
 * Ordered concrete ids this seat can accept for these needs and plan.
 * Throws on a seat other than 1 or 2, an unknown need or an unknown plan id.
 * @param {object} catalog parsed catalog.json
 * @param {number} seat 1 or 2
 * @param {string[]} needs tapped need ids; repeats count once
 * @param {{never?: string[], welcome?: string[]}} [plan]
 * @returns {string[]}
 */
export function accept(catalog, seat, needs, plan) {
  return acceptRanked(catalog, seat, needs, plan).map((c) => c.id);
}

/**
 * Like accept, but each entry is {id, rank, hits}, for combining the ranks
 * of both phones.
 * @returns {{id: string, rank: number, hits: number}[]}
 */
export function acceptRanked(catalog, seat, needs, plan) {
  if (seat !== 1 && seat !== 2) {
    throw new Error(`rules: seat must be 1 or 2, got ${seat}`);
  }
  const other = seat === 1 ? 2 : 1;

  // Catalog position of each suggestion: the final tie-break.
  const position = new Map();
  catalog.suggestions.forEach((s, i) => position.set(s.id, i));

  const planIds = (list, what) => {
    const set = new Set();
    for (const id of list || []) {
      if (!position.has(id)) {
        throw new Error(`rules: unknown suggestion ${JSON.stringify(id)} in plan ${what}`);
      }
      set.add(id);
    }
    return set;
  };
  const never = planIds(plan && plan.never, 'never');
  const welcome = planIds(plan && plan.welcome, 'welcome');

  const ruleFor = new Map();
  for (const r of catalog.rules) ruleFor.set(r.need, r);

  // Variants a rule entry produces for one suggestion: [suggestion, "@n" or ""].
  // A role, on a suggestion or a tag entry, keeps one direction of a roles
  // suggestion; a suggestion without roles is kept as it is.
  const variants = (s, role) => {
    if (!s.roles) return [[s, '']];
    if (role === 'give') return [[s, `@${seat}`]];
    if (role === 'receive') return [[s, `@${other}`]];
    return [[s, '@1'], [s, '@2']];
  };
  const entryTargets = (entry) => {
    const role = entry.role;
    if (!(role === undefined || role === null || role === '' || role === 'give' || role === 'receive')) {
      throw new Error(`rules: unknown role ${JSON.stringify(role)}`);
    }
    if (entry.tag !== undefined && entry.tag !== '') {
      const out = [];
      for (const s of catalog.suggestions) {
        if ((s.tags || []).includes(entry.tag)) out.push(...variants(s, role));
      }
      return out;
    }
    const i = position.get(entry.suggestion);
    if (i === undefined) {
      throw new Error(`rules: rule references unknown suggestion ${JSON.stringify(entry.suggestion)}`);
    }
    return variants(catalog.suggestions[i], role);
  };

  /** @type {Map<string, {id: string, s: object, order: number, rank: number, needs: Set<string>}>} */
  const found = new Map();
  const removeTags = new Set();
  for (const need of new Set(needs || [])) {
    const rule = ruleFor.get(need);
    if (!rule) throw new Error(`rules: unknown need ${JSON.stringify(need)}`);
    for (const entry of rule.accept || []) {
      for (const [s, suffix] of entryTargets(entry)) {
        const id = s.id + suffix;
        let c = found.get(id);
        if (!c) {
          c = {
            id,
            s,
            order: position.get(s.id) * 2 + (suffix === '@2' ? 1 : 0),
            rank: entry.rank,
            needs: new Set(),
          };
          found.set(id, c);
        }
        if (entry.rank < c.rank) c.rank = entry.rank;
        c.needs.add(need);
      }
    }
    for (const t of rule.removeTags || []) removeTags.add(t);
  }

  const kept = [];
  for (const c of found.values()) {
    if (never.has(c.s.id)) continue;
    if ((c.s.tags || []).some((t) => removeTags.has(t))) continue;
    const rank = welcome.has(c.s.id) ? Math.max(0, c.rank - 1) : c.rank;
    kept.push({ id: c.id, rank, hits: c.needs.size, order: c.order });
  }
  kept.sort((a, b) => a.rank - b.rank || b.hits - a.hits || a.order - b.order);
  return kept.map(({ id, rank, hits }) => ({ id, rank, hits }));
}

/**
 * Text of a concrete suggestion with names filled in. For "hold@2" seat 2's
 * name is the giver. An unknown lang falls back to its base language
 * ("es-MX" to "es"), then to "en". Returns "" for an unknown id.
 * @param {object} catalog
 * @param {string} id concrete id
 * @param {string} lang
 * @param {{seat1: string, seat2: string}} names
 * @returns {string}
 */
export function render(catalog, id, lang, names) {
  const at = id.indexOf('@');
  const base = at < 0 ? id : id.slice(0, at);
  const seatPart = at < 0 ? null : id.slice(at + 1);
  const s = catalog.suggestions.find((x) => x.id === base);
  if (!s || Boolean(s.roles) !== (seatPart !== null)) return '';

  const text = pickText(s.text, lang);
  if (!s.roles) return text;
  const seat1 = (names && names.seat1) || '';
  const seat2 = (names && names.seat2) || '';
  let giver;
  let receiver;
  if (seatPart === '1') {
    giver = seat1;
    receiver = seat2;
  } else if (seatPart === '2') {
    giver = seat2;
    receiver = seat1;
  } else {
    return '';
  }
  // One pass, so a name that itself contains "{receiver}" stays as typed.
  return text.replace(/\{(giver|receiver)\}/g, (_, which) => (which === 'giver' ? giver : receiver));
}

function pickText(text, lang) {
  if (typeof lang !== 'string') lang = '';
  const has = (k) => Object.prototype.hasOwnProperty.call(text, k);
  if (has(lang)) return text[lang];
  const dash = lang.indexOf('-');
  if (dash > 0 && has(lang.slice(0, dash))) return text[lang.slice(0, dash)];
  return text.en || '';
}
