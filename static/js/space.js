// What the space banner says: a countdown while either partner has asked
// for space, then, once the time is up, an offer to check in. Pure, so it is
// tested in node (space.test.mjs).

/** How long after it ends a space still offers a check-in. */
export const OFFER_FOR = 2 * 60 * 60 * 1000;

/**
 * @param {{minutes: number, until: number} | null} mine this phone's latest space
 * @param {{kind: string, minutes: number, until: number} | null} theirs the partner's latest opened announcement
 * @param {number} seen when this phone last tapped a need or took up the offer (Unix ms)
 * @param {number} now Unix ms
 * @returns {{kind: '' | 'partner' | 'mine' | 'partnerDone' | 'mineDone', minutes?: number, until?: number}}
 *   "partner" and "mine" count down to until; the "Done" kinds offer a check-in.
 */
export function spaceBanner(mine, theirs, seen, now) {
  const partner = theirs && theirs.kind === 'space' && theirs.minutes > 0 ? theirs : null;
  const own = mine && mine.minutes > 0 ? mine : null;
  if (partner && partner.until > now) return { kind: 'partner', minutes: partner.minutes, until: partner.until };
  if (own && own.until > now) return { kind: 'mine', minutes: own.minutes, until: own.until };
  const offer = (s) => s && s.until > seen && s.until > now - OFFER_FOR;
  if (offer(partner)) return { kind: 'partnerDone' };
  if (offer(own)) return { kind: 'mineDone' };
  return { kind: '' };
}
