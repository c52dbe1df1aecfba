// Package web is the cashier page: static HTML, CSS and JS embedded in the binary (the
// machine that runs it may have no internet, so no CDN), talking to the gateway's own JSON
// routes from the same origin.
package web

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves GET / (the page), GET /result (the page, as the return page after a
// provider's cashier), GET /assets/* and GET /ui/config.json, which tells the
// page whether to show the sandbox pay button.
func Handler(devMode bool) http.Handler {
	assets, _ := fs.Sub(static, "static")
	files := http.FileServerFS(assets)
	config, _ := json.Marshal(map[string]bool{"devMode": devMode})

	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		http.ServeFileFS(w, r, assets, "index.html")
	}
	mux.HandleFunc("GET /{$}", page)
	// The return page: where the provider's cashier sends the buyer back (a returnUrl on
	// PAYMENT_RETURN_URL_ALLOWLIST); the same page, showing what the server knows.
	mux.HandleFunc("GET /result", page)
	mux.Handle("GET /assets/", http.StripPrefix("/assets", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		files.ServeHTTP(w, r)
	})))
	mux.HandleFunc("GET /ui/config.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(config)
	})
	return mux
}

// secure sets headers that keep the page to its own origin: scripts only from us, images
// from us or data: URIs (the QR PNG arrives base64-encoded).
func secure(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}
