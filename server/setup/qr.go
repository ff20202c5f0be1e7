package setup

import (
	"bufio"
	"fmt"
	"html/template"
	"io"
	"strings"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// quiet is the light margin around a QR code, in modules (ISO/IEC 18004
// asks for four).
const quiet = 4

// bitmap encodes text as a QR code (error correction level M) and returns
// its modules, true for dark, with the quiet zone around them.
func bitmap(text string) ([][]bool, error) {
	qr, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	var m matrixWriter
	if err := qr.Save(&m); err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	n := len(m.bits) + 2*quiet
	out := make([][]bool, n)
	for y := range out {
		out[y] = make([]bool, n)
		if y >= quiet && y < n-quiet {
			copy(out[y][quiet:], m.bits[y-quiet])
		}
	}
	return out, nil
}

// matrixWriter takes the modules from the QR library, which hands them to
// a Writer.
type matrixWriter struct{ bits [][]bool }

func (m *matrixWriter) Write(mat qrcode.Matrix) error { m.bits = mat.Bitmap(); return nil }
func (m *matrixWriter) Close() error                  { return nil }

// ANSI colours for TerminalQR: the code is drawn in black on white whatever
// the terminal's own colours, since phone cameras read dark-on-light codes
// most reliably.
const (
	fgDark, fgLight = "30", "97"
	bgDark, bgLight = "40", "107"
)

// TerminalQR prints text as a QR code for a terminal: two rows of modules
// per line, with upper half blocks whose foreground is the upper module and
// background the lower one.
func TerminalQR(w io.Writer, text string) error {
	bits, err := bitmap(text)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	for y := 0; y < len(bits); y += 2 {
		for x := range bits[y] {
			fg, bg := fgLight, bgLight
			if bits[y][x] {
				fg = fgDark
			}
			if y+1 < len(bits) && bits[y+1][x] {
				bg = bgDark
			}
			fmt.Fprintf(bw, "\x1b[%s;%sm\u2580", fg, bg)
		}
		bw.WriteString("\x1b[0m\n")
	}
	return bw.Flush()
}

// svgQR returns text as a QR code in an inline SVG image: one path of unit
// squares, so the page needs no script, style or image request for it.
func svgQR(text, label string) (template.HTML, error) {
	bits, err := bitmap(text)
	if err != nil {
		return "", err
	}
	var d strings.Builder
	for y, row := range bits {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&d, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	n := len(bits)
	return template.HTML(fmt.Sprintf(`<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s" shape-rendering="crispEdges">`+
		`<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`,
		n, n, template.HTMLEscapeString(label), n, n, d.String())), nil
}
