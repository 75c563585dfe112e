package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cctrack/cctrack/internal/controller"
)

// fixedStatus is a statusSource that always reports the same status.
type fixedStatus controller.Status

func (f fixedStatus) Status() controller.Status { return controller.Status(f) }

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// get fetches url with the given Authorization header and cookies; it returns the response with its
// body read into the second result.
func get(t *testing.T, url, auth string, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

const secret = "s3cr3t-T0KEN-for-the-status-page"

// With a token, every path needs it; ?token= trades it for an HttpOnly cookie that is not the token
// and drops it from the URL; nothing the server answers carries the token.
func TestStatusServerToken(t *testing.T) {
	s := newStatusServer(secret, 10, slog.New(slog.DiscardHandler))
	s.serve(fixedStatus{Run: "r1"})
	srv := httptest.NewServer(s.handler())
	defer srv.Close()
	var answers []string
	check := func(what, url, auth string, want int, cookies ...*http.Cookie) *http.Response {
		t.Helper()
		resp, body := get(t, url, auth, cookies...)
		if resp.StatusCode != want {
			t.Errorf("%s: %s, want %d", what, resp.Status, want)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("%s: no %s header", what, h)
			}
		}
		var hdr strings.Builder
		resp.Header.Write(&hdr)
		answers = append(answers, hdr.String(), body)
		return resp
	}
	for _, path := range []string{"/", "/app.js", "/status", "/healthz"} {
		u := srv.URL + path
		if r := check("no token "+path, u, "", http.StatusUnauthorized); !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate: Bearer")
		}
		check("wrong token "+path, u, "Bearer "+secret+"x", http.StatusUnauthorized)
		check("token prefix "+path, u, "Bearer "+secret[:10], http.StatusUnauthorized)
		check("wrong scheme "+path, u, "Basic "+secret, http.StatusUnauthorized)
		check("bearer "+path, u, "Bearer "+secret, http.StatusOK)
		check("lower-case scheme "+path, u, "bearer "+secret, http.StatusOK)
	}
	check("wrong ?token", srv.URL+"/?token=nope", "", http.StatusUnauthorized)
	resp := check("?token", srv.URL+"/?token="+secret+"&x=1", "", http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/?x=1" {
		t.Errorf("redirect to %q, want /?x=1 (the token dropped)", loc)
	}
	resp2 := check("?token on //host", srv.URL+"//evil.example/?token="+secret, "", http.StatusSeeOther)
	if loc := resp2.Header.Get("Location"); loc != "/evil.example" {
		t.Errorf("redirect to %q, want /evil.example (a path on this server)", loc)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || cookies[0].Path != "/" {
		t.Fatalf("cookies %+v, want one HttpOnly SameSite=Strict cookie for /", cookies)
	}
	check("cookie", srv.URL+"/status", "", http.StatusOK, cookies[0])
	forged := *cookies[0]
	forged.Value = secret
	check("the token as the cookie", srv.URL+"/status", "", http.StatusUnauthorized, &forged)
	for _, a := range answers {
		if strings.Contains(a, secret) {
			t.Fatalf("an answer carries the token:\n%s", a)
		}
	}
}

// /healthz turns 503 once the last unhealthy_after intervals all failed; 0 never does.
func TestHealthz(t *testing.T) {
	for _, c := range []struct {
		after, consecutive, want int
	}{
		{10, 0, http.StatusOK},
		{10, 9, http.StatusOK},
		{10, 10, http.StatusServiceUnavailable},
		{10, 500, http.StatusServiceUnavailable},
		{0, 500, http.StatusOK},
	} {
		s := newStatusServer("", c.after, slog.New(slog.DiscardHandler))
		s.serve(fixedStatus{ConsecutiveFailed: c.consecutive})
		rec := httptest.NewRecorder()
		s.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if rec.Code != c.want {
			t.Errorf("unhealthy_after %d, %d failed in a row: %d %q, want %d", c.after, c.consecutive, rec.Code, rec.Body, c.want)
		}
	}
}

// Until the controller exists (the testbed is being built) /status and /healthz answer 503
// "starting"; the page is served already.
func TestStatusWhileStarting(t *testing.T) {
	s := newStatusServer("", 10, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(s.handler())
	defer srv.Close()
	for path, want := range map[string]int{"/status": http.StatusServiceUnavailable, "/healthz": http.StatusServiceUnavailable, "/": http.StatusOK} {
		if resp, body := get(t, srv.URL+path, ""); resp.StatusCode != want || path != "/" && !strings.Contains(body, "starting") {
			t.Errorf("%s while starting: %s %q, want %d", path, resp.Status, body, want)
		}
	}
	s.serve(fixedStatus{Run: "r1"})
	for _, path := range []string{"/status", "/healthz"} {
		if resp, body := get(t, srv.URL+path, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("%s once serving: %s %q", path, resp.Status, body)
		}
	}
}

// An address that is not loopback needs a token: without one the daemon does not start, and the
// error names the key. With one it serves, and only to requests that carry the token.
func TestStatusAddrNotLoopbackNeedsToken(t *testing.T) {
	ctx := context.Background()
	cfg := smallConfig(t, 1)
	cfg.Daemon.StatusAddr = "0.0.0.0:0"
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	err := run(ctx, cfg, log, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "daemon.status_addr") || !strings.Contains(err.Error(), "status_token") {
		t.Fatalf("non-loopback without a token: err = %v, want a refusal naming daemon.status_addr and the token keys", err)
	}

	t.Setenv("CCTRACK_TEST_STATUS_TOKEN", secret)
	cfg.Daemon.StatusTokenEnv = "CCTRACK_TEST_STATUS_TOKEN"
	s, stop, err := serveStatus(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	s.serve(fixedStatus{Run: "r1"})
	m := regexp.MustCompile(`page=http://[^ ]*:(\d+)/`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no page URL logged:\n%s", logs.String())
	}
	base := "http://" + net.JoinHostPort("127.0.0.1", m[1])
	if resp, _ := get(t, base+"/status", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %s", resp.Status)
	}
	if resp, body := get(t, base+"/status", "Bearer "+secret); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"run": "r1"`) {
		t.Errorf("with the token: %s %s", resp.Status, body)
	}
}

// Token sources: errors name the key and the variable or file, never the token.
func TestStatusToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CCTRACK_TEST_STATUS_TOKEN", " "+secret+" ")
	t.Setenv("CCTRACK_TEST_EMPTY", "")
	for _, c := range []struct {
		env, file, want, err string
	}{
		{"", "", "", ""},
		{"CCTRACK_TEST_STATUS_TOKEN", "", secret, ""},
		{"", file, secret, ""},
		{"CCTRACK_TEST_EMPTY", "", "", "daemon.status_token_env: environment variable CCTRACK_TEST_EMPTY is unset or empty"},
		{"", empty, "", "daemon.status_token_file: " + empty + " is empty"},
		{"", filepath.Join(dir, "missing"), "", "daemon.status_token_file: read token"},
	} {
		cfg := smallConfig(t, 1)
		cfg.Daemon.StatusTokenEnv, cfg.Daemon.StatusTokenFile = c.env, c.file
		got, err := statusToken(cfg)
		if got != c.want || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("env %q file %q: %q, %v; want %q, %q", c.env, c.file, got, err, c.want, c.err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("error carries the token: %v", err)
		}
	}
}

// A whole daemon run with a token read from a file: the token appears in no log line, not in
// /status, and not in any error the server sends.
func TestTokenNeverInLogsOrStatus(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig(t, 0)
	cfg.Daemon.StatusAddr = "127.0.0.1:0"
	cfg.Daemon.StatusTokenFile = file
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), io.Discard)
	}()
	base := waitForStatusURL(t, &logs, done)
	var seen strings.Builder
	deadline := time.Now().Add(hangGuard)
	for {
		resp, body := get(t, base+"/status", "Bearer "+secret)
		seen.WriteString(body)
		var st controller.Status
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("/status: %s %v", resp.Status, err)
		}
		if st.Intervals > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no interval within %v", hangGuard)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, q := range []string{"/status", "/?token=" + secret + "x", "/healthz"} {
		_, body := get(t, base+q, "Bearer wrong")
		seen.WriteString(body)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "auth=\"bearer token\"") {
		t.Errorf("the log does not say the endpoint needs a token:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(seen.String(), secret) {
		t.Errorf("the token leaked:\nlogs:\n%s\nanswers:\n%s", logs.String(), seen.String())
	}
}

// hangGuard turns a hang into a failure. It is no performance bound: building the small testbed
// takes about a second, but took over a minute under -race on a shared 2-core machine.
const hangGuard = 5 * time.Minute

// waitForStatusURL waits for the daemon's "cctrackd started" line and returns the status server's
// base URL from its log.
func waitForStatusURL(t *testing.T, logs *syncBuffer, done <-chan error) string {
	t.Helper()
	re := regexp.MustCompile(`page=(http://127\.0\.0\.1:\d+)/`)
	deadline := time.Now().Add(hangGuard)
	for {
		if m := re.FindStringSubmatch(logs.String()); m != nil && strings.Contains(logs.String(), "cctrackd started") {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("run returned before it started: %v\n%s", err, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not start within %v:\n%s", hangGuard, logs.String())
		}
	}
}
