package web

import (
	"fmt"
	"net/http"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/hook"
	"github.com/dcvd/dcvd/internal/secret"
)

// mountHTTPReq serves lego's httpreq provider (POST /present, POST /cleanup)
// when [daemon.httpreq] has a username or a password; both are then
// required.
func mountHTTPReq(mux *http.ServeMux, a *app.App) error {
	hr := a.Config.Daemon.HTTPReq
	ref := secret.Ref{Key: "daemon.httpreq.password", Inline: hr.Password, File: hr.PasswordFile, Credential: hr.PasswordCredential}
	if hr.Username == "" && !ref.Set() {
		return nil
	}
	pass, err := ref.Read()
	if err != nil {
		return fmt.Errorf("[daemon.httpreq]: %w", err)
	}
	if hr.Username == "" {
		return fmt.Errorf("[daemon.httpreq]: username is required")
	}
	h := hook.HTTPReqHandler(a, hr.Username, pass)
	mux.Handle("POST /present", h)
	mux.Handle("POST /cleanup", h)
	return nil
}
