package hook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/app"
)

// HTTPReqWait bounds how long POST /present waits for propagation before
// answering. lego's httpreq client gives up after 30 s (HTTPREQ_HTTP_TIMEOUT)
// and runs its own propagation check afterwards, so a record that is not
// visible yet is left in place and the request still succeeds.
const HTTPReqWait = 25 * time.Second

// httpreqBody is lego's httpreq request: the default form {"fqdn","value"}
// or the RAW form {"domain","token","keyAuth"}.
type httpreqBody struct {
	FQDN    string `json:"fqdn"`
	Value   string `json:"value"`
	Domain  string `json:"domain"`
	Token   string `json:"token"`
	KeyAuth string `json:"keyAuth"`
}

// HTTPReqHandler serves lego's httpreq DNS provider: POST …/present and
// POST …/cleanup with a JSON body, HTTP basic auth required (user and pass
// must both be non-empty, or every request is refused). Mount it under any
// prefix; lego is configured with HTTPREQ_ENDPOINT=<prefix URL>,
// HTTPREQ_USERNAME and HTTPREQ_PASSWORD.
//
// Replies: 200 {"ok":true}; 400 bad body or unroutable name; 401 bad
// credentials; 405 not POST; 502 the backend failed. Errors are JSON
// {"error":"one line"}.
func HTTPReqHandler(a *app.App, user, pass string) http.Handler {
	return newHTTPReqHandler(NewRunner(a), user, pass)
}

func newHTTPReqHandler(r *Runner, user, pass string) http.Handler {
	wantUser, wantPass := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, p, ok := req.BasicAuth()
		gotUser, gotPass := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
		if !ok || user == "" || pass == "" ||
			subtle.ConstantTimeCompare(gotUser[:], wantUser[:])&subtle.ConstantTimeCompare(gotPass[:], wantPass[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="dcvd httpreq"`)
			httpError(w, http.StatusUnauthorized, errors.New("unauthorized"))
			return
		}
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			httpError(w, http.StatusMethodNotAllowed, fmt.Errorf("%s not allowed", req.Method))
			return
		}
		var verb string
		switch {
		case strings.HasSuffix(req.URL.Path, "/present"):
			verb = "present"
		case strings.HasSuffix(req.URL.Path, "/cleanup"):
			verb = "cleanup"
		default:
			httpError(w, http.StatusNotFound, fmt.Errorf("%s: want …/present or …/cleanup", req.URL.Path))
			return
		}
		var body httpreqBody
		dec := json.NewDecoder(io.LimitReader(req.Body, 64<<10))
		if err := dec.Decode(&body); err != nil {
			httpError(w, http.StatusBadRequest, fmt.Errorf("httpreq %s: decode body: %v", verb, err))
			return
		}
		var item Item
		switch {
		case body.FQDN != "" && body.Value != "":
			item = Item{Record: dnspublish.Record{FQDN: body.FQDN, Type: dnspublish.TXT, Value: body.Value}}
		case body.Domain != "" && body.KeyAuth != "":
			item = acmeItem(body.Domain, dnspublish.ACMEValue(body.KeyAuth))
		default:
			httpError(w, http.StatusBadRequest, fmt.Errorf(`httpreq %s: want {"fqdn","value"} or {"domain","token","keyAuth"}`, verb))
			return
		}
		ctx := req.Context()
		var err error
		if verb == "present" {
			err = r.presentHTTP(ctx, item)
		} else {
			err = r.Remove(ctx, []Item{item})
		}
		if err != nil {
			code := http.StatusBadGateway
			if ExitCode(err) == ExitUsage {
				code = http.StatusBadRequest
			}
			r.log.Warn("httpreq "+verb, "record", item.Record.FQDN, "err", err)
			httpError(w, code, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`+"\n")
	})
}

// presentHTTP publishes and waits at most HTTPReqWait; a record that is not
// visible yet stays (lego checks and calls cleanup).
func (r *Runner) presentHTTP(ctx context.Context, item Item) error {
	rows, err := r.Publish(ctx, "lego-httpreq:"+nameOf(strings.ToLower(item.Record.FQDN)), []Item{item})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, HTTPReqWait)
	defer cancel()
	if err := r.Wait(wctx, rows); err != nil {
		r.log.Info("httpreq present: not visible yet, lego checks on", "record", rows[0].Record.String(), "err", err)
	}
	return nil
}

func httpError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}
