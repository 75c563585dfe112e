package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/internal/controller"
)

// web holds the status page: plain HTML, CSS and JavaScript, no external resources.
//
//go:embed web
var web embed.FS

// sessionCookie carries, after /?token=TOKEN, a value derived from the token (never the token itself).
const sessionCookie = "cctrackd_session"

// statusSource is what the status server reads (the controller).
type statusSource interface {
	Status() controller.Status
}

// statusServer serves the status page (/), /status (the controller's Status as JSON) and /healthz.
// It starts before the testbed is built (tracing, training can take minutes): until serve gives it
// the controller, /status and /healthz answer 503 "starting". With a token, every request must
// carry it: "Authorization: Bearer TOKEN", or the session cookie that opening the page as
// /?token=TOKEN sets.
type statusServer struct {
	mu             sync.Mutex
	src            statusSource       // nil while the daemon starts
	tokenHash      *[sha256.Size]byte // nil: no token, loopback only
	session        string             // the session cookie's value: hex HMAC-SHA256(token, "cctrackd session")
	unhealthyAfter int
	log            *slog.Logger
	page           http.Handler
}

// serveStatus listens on daemon.status_addr and serves until the returned stop is called; call
// serve once the controller exists. It refuses an address that is not loopback unless a token is
// configured. With daemon.status_addr "" it serves nothing and returns a nil server.
func serveStatus(ctx context.Context, cfg configs.Config, log *slog.Logger) (s *statusServer, stop func(), err error) {
	if cfg.Daemon.StatusAddr == "" {
		return nil, func() {}, nil
	}
	token, err := statusToken(cfg)
	if err != nil {
		return nil, nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Daemon.StatusAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("daemon.status_addr: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); token == "" && (!ok || !tcp.IP.IsLoopback()) {
		ln.Close()
		return nil, nil, fmt.Errorf("daemon.status_addr: %s is not a loopback address; serving it needs a token (daemon.status_token_env or daemon.status_token_file)", cfg.Daemon.StatusAddr)
	}
	s = newStatusServer(token, cfg.Daemon.UnhealthyAfter, log)
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("status server stopped", "err", err)
		}
	}()
	base := "http://" + ln.Addr().String()
	auth := "none (loopback)"
	if token != "" {
		auth = "bearer token"
	}
	log.Info("status endpoint", "url", base+"/status", "page", base+"/", "auth", auth)
	return s, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}

// serve starts answering /status and /healthz from src. A nil server (no status address) ignores it.
func (s *statusServer) serve(src statusSource) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.src = src
	s.mu.Unlock()
}

// status is the current status; false while the daemon starts.
func (s *statusServer) status() (controller.Status, bool) {
	s.mu.Lock()
	src := s.src
	s.mu.Unlock()
	if src == nil {
		return controller.Status{}, false
	}
	return src.Status(), true
}

// statusToken reads the token from the environment variable daemon.status_token_env names or from
// daemon.status_token_file ("" when neither is set). Errors name the key and variable or file, never
// the token.
func statusToken(cfg configs.Config) (string, error) {
	d := cfg.Daemon
	switch {
	case d.StatusTokenEnv != "":
		tok := strings.TrimSpace(os.Getenv(d.StatusTokenEnv))
		if tok == "" {
			return "", fmt.Errorf("daemon.status_token_env: environment variable %s is unset or empty", d.StatusTokenEnv)
		}
		return tok, nil
	case d.StatusTokenFile != "":
		p := cfg.Resolve(d.StatusTokenFile)
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("daemon.status_token_file: read token: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("daemon.status_token_file: %s is empty", p)
		}
		return tok, nil
	}
	return "", nil
}

func newStatusServer(token string, unhealthyAfter int, log *slog.Logger) *statusServer {
	page, err := fs.Sub(web, "web")
	if err != nil {
		panic("cctrackd: embedded status page: " + err.Error()) // the embed directive guarantees it
	}
	s := &statusServer{unhealthyAfter: unhealthyAfter, log: log, page: http.FileServerFS(page)}
	if token != "" {
		h := sha256.Sum256([]byte(token))
		s.tokenHash = &h
		mac := hmac.New(sha256.New, []byte(token))
		io.WriteString(mac, "cctrackd session")
		s.session = hex.EncodeToString(mac.Sum(nil))
	}
	return s
}

func (s *statusServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /status", s.statusJSON)
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		s.page.ServeHTTP(w, r)
	})
	return s.guard(mux)
}

// guard sets the security headers and, with a token, lets only authorised requests through.
func (s *statusServer) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if s.tokenHash == nil {
			next.ServeHTTP(w, r)
			return
		}
		if q := r.URL.Query(); q.Has("token") {
			if !s.validToken(q.Get("token")) {
				s.unauthorized(w)
				return
			}
			// Trade the token for a cookie and drop it from the address bar and history.
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.session, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			// A cleaned path: "//host/" would send the browser to another host.
			q.Del("token")
			u := url.URL{Path: path.Clean("/" + r.URL.Path), RawQuery: q.Encode()}
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
		if s.authorized(r) {
			next.ServeHTTP(w, r)
			return
		}
		s.unauthorized(w)
	})
}

// authorized checks the bearer token or the session cookie, in constant time.
func (s *statusServer) authorized(r *http.Request) bool {
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, tok, ok := strings.Cut(a, " ")
		return ok && strings.EqualFold(scheme, "Bearer") && s.validToken(strings.TrimSpace(tok))
	}
	c, err := r.Cookie(sessionCookie)
	return err == nil && hmac.Equal([]byte(c.Value), []byte(s.session))
}

// validToken compares SHA-256 digests, so that the time taken reveals neither the token's content
// nor its length.
func (s *statusServer) validToken(tok string) bool {
	h := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(h[:], s.tokenHash[:]) == 1
}

func (s *statusServer) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="cctrackd"`)
	http.Error(w, "unauthorized: send Authorization: Bearer TOKEN, or open the page as /?token=TOKEN", http.StatusUnauthorized)
}

// healthz answers 503 while the daemon starts and once the last unhealthyAfter intervals have all
// failed.
func (s *statusServer) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	st, ok := s.status()
	switch {
	case !ok:
		http.Error(w, "starting", http.StatusServiceUnavailable)
	case s.unhealthyAfter > 0 && st.ConsecutiveFailed >= s.unhealthyAfter:
		http.Error(w, fmt.Sprintf("unhealthy: the last %d intervals failed", st.ConsecutiveFailed), http.StatusServiceUnavailable)
	default:
		io.WriteString(w, "ok\n")
	}
}

func (s *statusServer) statusJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	st, ok := s.status()
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"starting": true}`+"\n")
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		s.log.Warn("status: encode", "err", err)
	}
}
