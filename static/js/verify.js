// Replacing a partner's lost phone (protocol §3.7): the re-pair link and
// the verification words both phones show. The words are the Go client's
// (client/keys/replacelink.go), checked against the same known answers
// (client/keys/testdata/verify.json) by verify.test.mjs.

import { b64u, unb64u } from './crypto.js';

const ROOM_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const utf8 = new TextEncoder();

/** The fixed list of 256 verification words (keys.VerifyWordList). */
export const WORDS = Object.freeze([
  'acorn', 'album', 'amber', 'anchor', 'anvil', 'apple', 'apron', 'arrow',
  'atlas', 'badge', 'bagel', 'bamboo', 'banjo', 'barrel', 'basket', 'bay',
  'beacon', 'beetle', 'bell', 'berry', 'bison', 'blanket', 'bloom', 'boat',
  'bonnet', 'bottle', 'bramble', 'bread', 'brick', 'bridge', 'brook', 'broom',
  'bucket', 'bugle', 'butter', 'button', 'cabin', 'cactus', 'camel', 'candle',
  'canoe', 'canvas', 'canyon', 'carpet', 'carrot', 'castle', 'cedar', 'cello',
  'chalk', 'cherry', 'chess', 'cider', 'circus', 'clock', 'cloud', 'clover',
  'cobalt', 'cocoa', 'comet', 'compass', 'copper', 'coral', 'cotton', 'cradle',
  'crane', 'crayon', 'cricket', 'crown', 'cup', 'daisy', 'delta', 'desert',
  'diamond', 'dolphin', 'donkey', 'dragon', 'drum', 'dune', 'eagle', 'easel',
  'echo', 'elbow', 'ember', 'emerald', 'engine', 'falcon', 'feather', 'fern',
  'fiddle', 'fig', 'flag', 'flute', 'forest', 'fossil', 'fountain', 'fox',
  'garden', 'garlic', 'geyser', 'ginger', 'glacier', 'globe', 'goat', 'gravel',
  'guitar', 'hammer', 'harbor', 'harp', 'hazel', 'hedge', 'helmet', 'heron',
  'hill', 'honey', 'horizon', 'igloo', 'iris', 'island', 'ivory', 'jacket',
  'jasmine', 'jelly', 'jigsaw', 'jungle', 'kayak', 'kettle', 'kite', 'kiwi',
  'koala', 'ladder', 'lagoon', 'lantern', 'lemon', 'lily', 'lion', 'lizard',
  'lobster', 'locket', 'lotus', 'magnet', 'mango', 'maple', 'marble', 'meadow',
  'melon', 'mirror', 'mitten', 'moon', 'mosaic', 'moss', 'mountain', 'muffin',
  'nectar', 'needle', 'nest', 'nutmeg', 'oak', 'oasis', 'ocean', 'olive',
  'onion', 'orange', 'orbit', 'otter', 'owl', 'oyster', 'paddle', 'palm',
  'panda', 'paper', 'parrot', 'peach', 'pebble', 'pencil', 'pepper', 'piano',
  'pillow', 'pine', 'planet', 'plum', 'pocket', 'pony', 'poppy', 'prism',
  'pumpkin', 'puzzle', 'quail', 'quartz', 'quilt', 'rabbit', 'radish', 'rain',
  'raven', 'reef', 'ribbon', 'river', 'robin', 'rocket', 'rose', 'ruby',
  'saddle', 'salmon', 'sandal', 'satin', 'scarf', 'seal', 'shell', 'silver',
  'sled', 'slipper', 'snail', 'sparrow', 'spider', 'spoon', 'spruce', 'squash',
  'star', 'stone', 'straw', 'sugar', 'summit', 'swan', 'tango', 'teapot',
  'tiger', 'timber', 'tomato', 'topaz', 'torch', 'tortoise', 'tower', 'tractor',
  'trumpet', 'tulip', 'tunnel', 'turnip', 'umbrella', 'valley', 'velvet', 'violin',
  'volcano', 'wagon', 'walnut', 'walrus', 'whale', 'wheat', 'whistle', 'willow',
  'window', 'winter', 'wolf', 'yarn', 'yogurt', 'zebra', 'zigzag', 'zinnia'
]);

/** The re-pair link: <origin>/#r=<room>.<code>.<base64url(newSecret)>. */
export function replaceLink(origin, room, code, secret) {
  return `${origin}/#r=${room}.${code}.${typeof secret === 'string' ? secret : b64u(secret)}`;
}

/**
 * The room, re-pair code and new secret of a re-pair link's fragment
 * ("#r=room.code.secret"), or of a whole pasted link; null when it is not one.
 * @returns {{room: string, code: string, secret: Uint8Array} | null}
 */
export function parseReplaceFragment(s) {
  if (typeof s !== 'string') return null;
  s = s.trim();
  s = s.slice(s.indexOf('#') + 1);
  if (!s.startsWith('r=')) return null;
  const [room, code, enc, ...more] = s.slice(2).split('.');
  if (more.length || !ROOM_RE.test(room || '')) return null;
  try {
    const secret = unb64u(enc);
    return unb64u(code).length === 32 && secret.length === 32 ? { room, code, secret } : null;
  } catch {
    return null;
  }
}

/**
 * The four verification words: HKDF-SHA-256 of the new secret (empty salt)
 * with info "softland/v1/verify/" + room + "/" + code + "/" + nonce, 4 bytes,
 * each byte one word of WORDS.
 * @param {string} secret base64url new secret
 * @returns {Promise<string[]>}
 */
export async function verifyWords(secret, room, code, nonce) {
  const subtle = globalThis.crypto.subtle;
  const ikm = await subtle.importKey('raw', unb64u(secret), 'HKDF', false, ['deriveBits']);
  const info = utf8.encode(`softland/v1/verify/${room}/${code}/${nonce}`);
  const b = new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info }, ikm, 32));
  return [...b].map((x) => WORDS[x]);
}
