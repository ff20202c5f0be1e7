// Package static holds Softland's web app and catalog and embeds them, so the
// server binary carries everything a phone needs and the Go client reads the
// very same catalog the web app does.
package static

import "embed"

// FS is the web app as served at "/". Files are named relative to this folder.
//
//go:embed index.html app.css sw.js manifest.webmanifest catalog.json rules-vectors.json js icons vendor
var FS embed.FS

// Catalog is the versioned catalog of needs, suggestions and rules.
//
//go:embed catalog.json
var Catalog []byte

// Vectors are the shared rule test vectors that the Go and the JavaScript
// interpreters must both pass.
//
//go:embed rules-vectors.json
var Vectors []byte
