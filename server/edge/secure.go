package edge

import "net/http"

// Secure wraps h with the security headers the app's own pages carry (no
// script or style from elsewhere, no referrer, no framing). Home mode's setup
// page is served by another listener, on plain HTTP, and needs them as much.
func Secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range securityHeaders {
			w.Header().Set(k, v)
		}
		h.ServeHTTP(w, r)
	})
}
