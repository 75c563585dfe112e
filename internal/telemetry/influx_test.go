package telemetry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInfluxConfigValidate(t *testing.T) {
	good := InfluxConfig{URL: "http://127.0.0.1:8086", Bucket: "cctrack/autogen", Timeout: time.Second}
	mod := func(f func(*InfluxConfig)) InfluxConfig { c := good; f(&c); return c }
	for _, tc := range []struct {
		name string
		cfg  InfluxConfig
		want string // part of the error; "" for none
	}{
		{"good", good, ""},
		{"https with path", mod(func(c *InfluxConfig) { c.URL = "https://influx.lab:443/prefix" }), ""},
		{"no URL", mod(func(c *InfluxConfig) { c.URL = "" }), "telemetry.influxdb.url"},
		{"no scheme", mod(func(c *InfluxConfig) { c.URL = "localhost:8086" }), "telemetry.influxdb.url"},
		{"other scheme", mod(func(c *InfluxConfig) { c.URL = "udp://localhost:8089" }), "telemetry.influxdb.url"},
		{"no host", mod(func(c *InfluxConfig) { c.URL = "http:///x" }), "telemetry.influxdb.url"},
		{"unparsable", mod(func(c *InfluxConfig) { c.URL = "http://[::1" }), "telemetry.influxdb.url"},
		{"no bucket", mod(func(c *InfluxConfig) { c.Bucket = "" }), "telemetry.influxdb.bucket"},
		{"two token sources", mod(func(c *InfluxConfig) { c.TokenEnv, c.TokenFile = "X", "/x" }), "token_file"},
		{"no timeout", mod(func(c *InfluxConfig) { c.Timeout = 0 }), "telemetry.influxdb.timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want error naming %q", err, tc.want)
			}
		})
	}
	// Credentials in the URL are refused without being repeated, even when the URL does not parse.
	for _, u := range []string{"http://admin:s3cret@localhost:8086", "http://admin:s3cret@[::1"} {
		err := mod(func(c *InfluxConfig) { c.URL = u }).Validate()
		if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "credentials") {
			t.Errorf("Validate(URL with credentials) = %v, want a refusal that does not show them", err)
		}
	}
}

func TestInfluxConfigToken(t *testing.T) {
	const secret = "tok-3f9a"
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("  "+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CCTRACK_TEST_TOKEN", secret)
	t.Setenv("CCTRACK_TEST_EMPTY", "")
	for _, tc := range []struct {
		name    string
		cfg     InfluxConfig
		want    string
		wantErr string // part of the error; "" for none
	}{
		{"none", InfluxConfig{}, "", ""},
		{"env", InfluxConfig{TokenEnv: "CCTRACK_TEST_TOKEN"}, secret, ""},
		{"env empty", InfluxConfig{TokenEnv: "CCTRACK_TEST_EMPTY"}, "", "CCTRACK_TEST_EMPTY"},
		{"env unset", InfluxConfig{TokenEnv: "CCTRACK_TEST_UNSET"}, "", "CCTRACK_TEST_UNSET"},
		{"file, trimmed", InfluxConfig{TokenFile: file}, secret, ""},
		{"file empty", InfluxConfig{TokenFile: empty}, "", empty},
		{"file missing", InfluxConfig{TokenFile: filepath.Join(dir, "nope")}, "", filepath.Join(dir, "nope")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.Token()
			if got != tc.want {
				t.Errorf("Token() = %q, want %q", got, tc.want)
			}
			if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Token() error = %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}

// TestInfluxWriterRequest checks what goes over the wire: the v2 write endpoint with bucket, org and
// nanosecond precision, the token, and the batch's line protocol.
func TestInfluxWriterRequest(t *testing.T) {
	const secret = "tok-77c1"
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	t.Setenv("CCTRACK_TEST_TOKEN", secret)
	w, err := NewInfluxWriter(InfluxConfig{URL: srv.URL, Org: "lab", Bucket: "cctrack/autogen",
		TokenEnv: "CCTRACK_TEST_TOKEN", Timeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	batch := []Point{nmsePoint(0), nmsePoint(1)}
	if err := w.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	q := got.URL.Query()
	if got.Method != http.MethodPost || got.URL.Path != "/api/v2/write" || q.Get("bucket") != "cctrack/autogen" ||
		q.Get("org") != "lab" || q.Get("precision") != "ns" {
		t.Errorf("request %s %s, want POST /api/v2/write?bucket=cctrack/autogen&org=lab&precision=ns", got.Method, got.URL)
	}
	if a := got.Header.Get("Authorization"); a != "Token "+secret {
		t.Errorf("Authorization = %q, want the token", a)
	}
	if string(body) != lines(t, batch...) {
		t.Errorf("body =\n%s\nwant\n%s", body, lines(t, batch...))
	}
}

// TestInfluxWriterClassifies checks how server answers become errors for Buffer.
func TestInfluxWriterClassifies(t *testing.T) {
	type verdict struct {
		writeErr, permanent, perPoint bool
		retryAfter                    time.Duration
	}
	for _, tc := range []struct {
		name    string
		status  int
		header  map[string]string
		message string // sent the way InfluxDB 1.x does: X-Influxdb-Error and a JSON body
		want    verdict
	}{
		{"500", 500, nil, "engine: timeout", verdict{writeErr: true}},
		{"503 Retry-After", 503, map[string]string{"Retry-After": "9"}, "", verdict{writeErr: true, retryAfter: 9 * time.Second}},
		{"429 Retry-After", 429, map[string]string{"Retry-After": "3"}, "", verdict{writeErr: true, retryAfter: 3 * time.Second}},
		{"400 partial write", 400, nil, `partial write: field type conflict: input field "nmse_db" on measurement "nmse" is type string, already exists as type float dropped=1`,
			verdict{writeErr: true, permanent: true, perPoint: true}},
		{"400 unable to parse", 400, nil, `unable to parse 'nmse x=1u 1': invalid number`, verdict{writeErr: true, permanent: true, perPoint: true}},
		{"400 other", 400, nil, "database is required", verdict{writeErr: true, permanent: true}},
		{"401", 401, nil, "authorization failed", verdict{writeErr: true, permanent: true}},
		{"404", 404, nil, `database not found: "x"`, verdict{writeErr: true, permanent: true}},
		{"413", 413, nil, "request too large", verdict{writeErr: true, permanent: true, perPoint: true}},
		{"422", 422, nil, "points beyond retention policy", verdict{writeErr: true, permanent: true, perPoint: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("X-Influxdb-Error", tc.message)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				io.WriteString(w, `{"error":"`+strings.ReplaceAll(tc.message, `"`, `\"`)+`"}`)
			}))
			defer srv.Close()
			w, err := NewInfluxWriter(InfluxConfig{URL: srv.URL, Bucket: "b", Timeout: time.Second}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			err = w.Write(context.Background(), []Point{nmsePoint(0)})
			var we *WriteError
			got := verdict{writeErr: errors.As(err, &we)}
			if we != nil {
				got.permanent, got.perPoint, got.retryAfter = we.Permanent, we.PerPoint, we.RetryAfter
			}
			if got != tc.want {
				t.Errorf("Write error %v classified %+v, want %+v", err, got, tc.want)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("Write error %q does not carry the server's message %q", err, tc.message)
			}
		})
	}
}

// TestInfluxWriterUnreachable checks that a server that does not answer gives a retryable error (not a
// *WriteError) within the configured timeout.
func TestInfluxWriterUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now: connection refused
	w, err := NewInfluxWriter(InfluxConfig{URL: url, Bucket: "b", Timeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.Write(context.Background(), []Point{nmsePoint(0)})
	var we *WriteError
	if err == nil || errors.As(err, &we) {
		t.Errorf("Write to a closed port = %v, want a plain (retryable) error", err)
	}
}
