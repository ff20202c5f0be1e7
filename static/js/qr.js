// The pairing link as a QR code: the vendored uqr encoder (vendor/uqr, MIT)
// makes the module matrix, and this draws it as one SVG path through the DOM,
// so nothing is parsed as markup and the strict CSP needs no exceptions.
// Loaded only on the pairing screen, so the first load stays small.

import { encode } from '../vendor/uqr/uqr.mjs';

const SVG = 'http://www.w3.org/2000/svg';

/** The SVG path of the dark modules of a QR matrix (rows of booleans). */
export function qrPath(data) {
  let d = '';
  data.forEach((row, y) => {
    row.forEach((dark, x) => {
      if (dark) d += `M${x} ${y}h1v1h-1z`;
    });
  });
  return d;
}

/** Draws text as a QR code inside box, replacing what was there. */
export function drawQR(box, text) {
  const { data, size } = encode(text, { ecc: 'M', border: 2 });
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const bg = document.createElementNS(SVG, 'rect');
  bg.setAttribute('width', String(size));
  bg.setAttribute('height', String(size));
  bg.setAttribute('class', 'qr-bg');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', qrPath(data));
  path.setAttribute('class', 'qr-fg');
  svg.append(bg, path);
  box.replaceChildren(svg);
}
