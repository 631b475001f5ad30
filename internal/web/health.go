package web

import (
	"fmt"
	"net/http"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/store"
)

// mountHealth serves GET /healthz: 200 "ok" when the store answers.
func mountHealth(mux *http.ServeMux, a *app.App) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := a.Store.List(r.Context(), store.Filter{Limit: 1}); err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
}
