// Softland's cryptography on the phone, with WebCrypto only.
//
// The specification is client/keys (Go); both implementations pass
// client/keys/testdata/vectors.json (see crypto.test.mjs).
//
//   secret      32 random bytes, only ever in the link's #fragment and on the phones
//   keys        HKDF-SHA-256(IKM = secret, salt = empty, info = "softland/v1/{join,match,seal}"), 32 bytes each
//   joinKey     base64url(join key)            shown to the server once, by the partner
//   joinKeyHash base64url(SHA-256(join key))   sent by the creator instead
//   token       the first 16 bytes of HMAC-SHA-256(match key, UTF-8(round + "/" + concreteId)),
//               kept as base64url (22 characters); a decoy is 16 random bytes
//   tokens      base64url(token 0 || token 1 || ...): a submission (64 tokens,
//               position = rank) or a reveal (best first), protocol v2
//   blob        base64url(nonce(12) || AES-256-GCM(seal key, nonce, plaintext,
//                         AAD = UTF-8("softland/v1/" + room + "/" + context)))
//
// All binary values travel as unpadded base64url.

/** Exactly this many tokens go in every submission (protocol.TokenSetSize). */
export const TOKEN_SET_SIZE = 64;
/** Bytes in one token (protocol.TokenBytes). */
export const TOKEN_BYTES = 16;
/** The largest sealed blob the server accepts (protocol.MaxBlobLen), in characters. */
export const MAX_BLOB_LEN = 8192;

const SECRET_SIZE = 32;
const NONCE_SIZE = 12;
const TAG_SIZE = 16;
const INFO = { join: 'softland/v1/join', match: 'softland/v1/match', seal: 'softland/v1/seal' };
const ROOM_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const B64U_RE = /^[A-Za-z0-9_-]*$/;

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Unpadded base64url of bytes. */
export function b64u(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Bytes of unpadded base64url text. Strict like the Go side: no padding, no
 * other alphabet, no stray bits. Throws on anything else.
 */
export function unb64u(s) {
  if (typeof s !== 'string' || !B64U_RE.test(s) || s.length % 4 === 1) {
    throw new Error('not unpadded base64url');
  }
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  if (b64u(out) !== s) throw new Error('not canonical base64url');
  return out;
}

/** n cryptographically random bytes. */
export function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/** A new room secret. */
export function newSecret() {
  return randomBytes(SECRET_SIZE);
}

/** A uniformly random integer in [0, n), n ≤ 2^32. */
export function randomInt(n) {
  const limit = Math.floor(0x100000000 / n) * n;
  const buf = new Uint32Array(1);
  for (;;) {
    globalThis.crypto.getRandomValues(buf);
    if (buf[0] < limit) return buf[0] % n;
  }
}

/** Shuffles a in place (Fisher–Yates with crypto randomness) and returns it. */
export function shuffle(a) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * The three raw 32-byte keys of a secret: {join, match, seal}.
 * @param {Uint8Array} secret
 */
export async function deriveRaw(secret) {
  if (!(secret instanceof Uint8Array) || secret.length !== SECRET_SIZE) {
    throw new Error(`the secret must be ${SECRET_SIZE} bytes`);
  }
  const ikm = await subtle.importKey('raw', secret, 'HKDF', false, ['deriveBits']);
  const one = async (info) =>
    new Uint8Array(
      await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: utf8.encode(info) }, ikm, 256),
    );
  return { join: await one(INFO.join), match: await one(INFO.match), seal: await one(INFO.seal) };
}

/**
 * Keys for a room secret. The match and seal keys are non-extractable
 * CryptoKeys: once derived, not even this page's code can read them back.
 * @param {Uint8Array} secret
 * @returns {Promise<{joinKey: string, joinKeyHash: string, match: CryptoKey, seal: CryptoKey}>}
 */
export async function deriveKeys(secret) {
  const raw = await deriveRaw(secret);
  const hash = new Uint8Array(await subtle.digest('SHA-256', raw.join));
  return {
    joinKey: b64u(raw.join),
    joinKeyHash: b64u(hash),
    match: await subtle.importKey('raw', raw.match, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']),
    seal: await subtle.importKey('raw', raw.seal, 'AES-GCM', false, ['encrypt', 'decrypt']),
  };
}

/** The match token of concrete suggestion id in round: the HMAC's first 16 bytes, in base64url. */
export async function token(keys, round, id) {
  const mac = new Uint8Array(await subtle.sign('HMAC', keys.match, utf8.encode(`${round}/${id}`)));
  return b64u(mac.subarray(0, TOKEN_BYTES));
}

/** The wire form of a list of tokens (each base64url of 16 bytes): base64url of their bytes in order. */
export function encodeTokens(tokens) {
  const out = new Uint8Array(tokens.length * TOKEN_BYTES);
  tokens.forEach((t, i) => {
    const b = unb64u(t);
    if (b.length !== TOKEN_BYTES) throw new Error('not a token');
    out.set(b, i * TOKEN_BYTES);
  });
  return b64u(out);
}

/**
 * The tokens of a list in wire form (a reveal), each as base64url of its 16
 * bytes, in order; "" is none. Throws on anything but whole tokens.
 */
export function decodeTokens(s) {
  const b = unb64u(s);
  if (b.length % TOKEN_BYTES !== 0) throw new Error('not a token list');
  const out = [];
  for (let i = 0; i < b.length; i += TOKEN_BYTES) out.push(b64u(b.subarray(i, i + TOKEN_BYTES)));
  return out;
}

/** Map from token to concrete id for every id in ids, for reading a reveal. */
export async function tokenMap(keys, round, ids) {
  const tokens = await Promise.all(ids.map((id) => token(keys, round, id)));
  return new Map(tokens.map((t, i) => [t, ids[i]]));
}

/** A decoy: 16 random bytes, indistinguishable from a token without the match key. */
export function decoy() {
  return b64u(randomBytes(TOKEN_BYTES));
}

/** A join, move or re-pair nonce: 32 random bytes. */
export function nonce() {
  return b64u(randomBytes(32));
}

/** A round's pool of decoys, kept (in order) for every submission of the round. */
export function decoyPool() {
  return Array.from({ length: TOKEN_SET_SIZE }, () => decoy());
}

/**
 * A submission for round in wire form, as docs/protocol.md §3.4 says: one
 * token per accepted concrete id at the position of its rank (0 is the most
 * wanted); then the round's decoys, taken in pool order up to exactly
 * TOKEN_SET_SIZE tokens, at the remaining positions n…63 in a fresh random
 * order. Every submission is 64 tokens, so how many wishes there are does
 * not show, and reusing the round's pool means that successive submissions
 * differ only where real tokens and decoys traded places.
 * @param {string[]} ids accepted concrete ids, best first
 * @param {string[]} pool from decoyPool()
 * @returns {Promise<string>}
 */
export async function submission(keys, round, ids, pool) {
  const set = [];
  const seen = new Set();
  for (const id of ids) {
    if (set.length === TOKEN_SET_SIZE) break;
    const t = await token(keys, round, id);
    if (seen.has(t)) continue;
    seen.add(t);
    set.push(t);
  }
  const real = set.length;
  const decoys = [];
  for (const d of pool) {
    if (real + decoys.length === TOKEN_SET_SIZE) break;
    if (!seen.has(d)) {
      seen.add(d);
      decoys.push(d);
    }
  }
  while (real + decoys.length < TOKEN_SET_SIZE) decoys.push(decoy());
  return encodeTokens([...set, ...shuffle(decoys)]);
}

function aad(room, context) {
  return utf8.encode(`softland/v1/${room}/${context}`);
}

/**
 * Seals plaintext (a string, sealed as UTF-8) for room and context. nonce is
 * for known-answer tests only; a nonce must never be used twice with one key.
 */
export async function seal(keys, room, context, plaintext, nonce = randomBytes(NONCE_SIZE)) {
  const ct = new Uint8Array(
    await subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad(room, context) }, keys.seal, utf8.encode(plaintext)),
  );
  const out = new Uint8Array(NONCE_SIZE + ct.length);
  out.set(nonce, 0);
  out.set(ct, NONCE_SIZE);
  return b64u(out);
}

/** Opens a blob sealed for room and context; throws if it was damaged or sealed elsewhere. */
export async function open(keys, room, context, blob) {
  let b;
  try {
    b = unb64u(blob);
  } catch {
    throw new Error('sealed blob cannot be opened');
  }
  if (b.length < NONCE_SIZE + TAG_SIZE) throw new Error('sealed blob cannot be opened');
  try {
    const pt = await subtle.decrypt(
      { name: 'AES-GCM', iv: b.subarray(0, NONCE_SIZE), additionalData: aad(room, context) },
      keys.seal,
      b.subarray(NONCE_SIZE),
    );
    return fromUtf8.decode(pt);
  } catch {
    throw new Error('sealed blob cannot be opened');
  }
}

/** Seals v as JSON. */
export async function sealJSON(keys, room, context, v) {
  const blob = await seal(keys, room, context, JSON.stringify(v));
  if (blob.length > MAX_BLOB_LEN) throw new Error('too long to send');
  return blob;
}

/** Opens a blob holding JSON. */
export async function openJSON(keys, room, context, blob) {
  return JSON.parse(await open(keys, room, context, blob));
}

/** The seal context of a debrief. */
export const debriefContext = (round) => `debrief/${round}`;

/** The pairing link: <origin>/#<room>.<base64url(secret)>. */
export function makeLink(origin, room, secret) {
  return `${origin}/#${room}.${b64u(secret)}`;
}

/**
 * The room, move code and secret of a move link's fragment
 * ("#m=room.code.secret", protocol §3.2), or of a whole pasted move link.
 * Returns null when it is not one.
 * @returns {{room: string, code: string, secret: Uint8Array} | null}
 */
export function parseMoveFragment(s) {
  if (typeof s !== 'string') return null;
  s = s.trim();
  s = s.slice(s.indexOf('#') + 1);
  if (!s.startsWith('m=')) return null;
  const [room, code, enc, ...more] = s.slice(2).split('.');
  if (more.length || !ROOM_RE.test(room || '')) return null;
  try {
    const secret = unb64u(enc);
    return unb64u(code).length === 32 && secret.length === SECRET_SIZE ? { room, code, secret } : null;
  } catch {
    return null;
  }
}

/**
 * The room and secret of a link's fragment ("#room.secret", with or without
 * the "#"), or of a whole pasted link. Returns null when it is not one.
 * @returns {{room: string, secret: Uint8Array} | null}
 */
export function parseFragment(s) {
  if (typeof s !== 'string') return null;
  s = s.trim();
  const hash = s.indexOf('#');
  if (hash >= 0) s = s.slice(hash + 1);
  const dot = s.indexOf('.');
  if (dot < 0) return null;
  const room = s.slice(0, dot);
  if (!ROOM_RE.test(room)) return null;
  try {
    const secret = unb64u(s.slice(dot + 1));
    return secret.length === SECRET_SIZE ? { room, secret } : null;
  } catch {
    return null;
  }
}
