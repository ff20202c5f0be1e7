// Tests for qr.js: the vendored encoder makes a code the path draws whole.
// Run with: node --test static/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { encode } from '../vendor/uqr/uqr.mjs';
import { qrPath } from './qr.js';

test('a pairing link becomes a QR path with one square per dark module', () => {
  const link = 'https://softland.example/#6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
  const { data, size } = encode(link, { ecc: 'M', border: 2 });
  assert.equal(data.length, size);
  const dark = data.flat().filter(Boolean).length;
  const d = qrPath(data);
  assert.equal((d.match(/M/g) || []).length, dark);
  // The border is light and the top-left finder pattern starts inside it.
  assert.equal(data[0][0], false);
  assert.equal(data[2][2], true);
});
