// Package deploy holds Softland's deployment files (container image, Docker
// Compose with Caddy and Redis, Kubernetes manifests, a systemd unit) and a
// test that checks them against the server's real flags and routes, since no
// container engine runs where the tests do.
package deploy
