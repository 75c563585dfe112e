package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"
)

// InfluxConfig configures an InfluxWriter. The token is never part of the configuration itself: it comes
// from an environment variable or a file, so that it stays out of command lines, config files and logs.
type InfluxConfig struct {
	// URL is the server, http(s)://host[:port][/path] (key telemetry.influxdb.url).
	URL string
	// Org is the organization (telemetry.influxdb.org): required by InfluxDB 2.x, ignored by 1.8.
	Org string
	// Bucket is the 2.x bucket, or for InfluxDB 1.8 "database/retention-policy", e.g. "cctrack/autogen"
	// (telemetry.influxdb.bucket).
	Bucket string
	// TokenEnv names the environment variable holding the token (telemetry.influxdb.token_env).
	TokenEnv string
	// TokenFile is a file holding the token (telemetry.influxdb.token_file). At most one of TokenEnv and
	// TokenFile is set; with neither, requests carry no token (InfluxDB 1.x without authentication). For
	// InfluxDB 1.x with authentication the token is "username:password".
	TokenFile string
	// Timeout bounds each write request (telemetry.influxdb.timeout).
	Timeout time.Duration
}

// Validate checks the configuration; errors name the offending key. A URL carrying credentials is refused
// (and not repeated in the error): the token belongs in TokenEnv or TokenFile.
func (c InfluxConfig) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case err == nil && u.User != nil, err != nil && strings.Contains(c.URL, "@"):
		return errors.New("telemetry.influxdb.url: must not carry credentials; use telemetry.influxdb.token_env or token_file")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("telemetry.influxdb.url: %q is not an http or https URL with a host", c.URL)
	case c.Bucket == "":
		return errors.New("telemetry.influxdb.bucket: empty")
	case c.TokenEnv != "" && c.TokenFile != "":
		return errors.New("telemetry.influxdb.token_env and telemetry.influxdb.token_file: set at most one")
	case c.Timeout <= 0:
		return fmt.Errorf("telemetry.influxdb.timeout: %v, want > 0", c.Timeout)
	}
	return nil
}

// Token returns the API token: the value of the environment variable TokenEnv, or the contents of TokenFile
// with surrounding whitespace trimmed, or "" when neither is configured. Errors name the variable or file,
// never the token.
func (c InfluxConfig) Token() (string, error) {
	switch {
	case c.TokenEnv != "":
		tok := strings.TrimSpace(os.Getenv(c.TokenEnv))
		if tok == "" {
			return "", fmt.Errorf("telemetry.influxdb.token_env: environment variable %s is unset or empty", c.TokenEnv)
		}
		return tok, nil
	case c.TokenFile != "":
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return "", fmt.Errorf("telemetry.influxdb.token_file: read token: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("telemetry.influxdb.token_file: %s is empty", c.TokenFile)
		}
		return tok, nil
	}
	return "", nil
}

// InfluxWriter writes batches through InfluxDB's v2 write API (POST /api/v2/write, nanosecond precision)
// with influxdb-client-go's blocking write API, one request per batch. It classifies failures for Buffer:
//   - no response (connection refused, timeout), 429 and 5xx: retryable, with the server's Retry-After;
//   - 400 reporting a partial write, a line that does not parse, a field type conflict or points beyond the
//     retention policy, 413 (too large) and 422 (2.x: unprocessable points): permanent, per point;
//   - any other 4xx (bad token, unknown bucket, other 400s): permanent for the whole batch.
type InfluxWriter struct {
	client  influxdb2.Client
	api     api.WriteAPIBlocking
	bucket  string
	timeout time.Duration

	mu  sync.Mutex
	buf []byte // encoding buffer, reused across batches
}

var _ Writer = (*InfluxWriter)(nil)

// NewInfluxWriter validates cfg, reads the token and returns a writer. hc is the HTTP client to use (TLS
// settings, proxies, tests); nil means the client library's own.
func NewInfluxWriter(cfg InfluxConfig, hc *http.Client) (*InfluxWriter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	token, err := cfg.Token()
	if err != nil {
		return nil, err
	}
	opts := influxdb2.DefaultOptions().
		SetApplicationName("cctrack").
		SetPrecision(time.Nanosecond).
		// Each Write also bounds its request by cfg.Timeout through its context, whatever hc's timeout.
		SetHTTPRequestTimeout(uint((cfg.Timeout + time.Second - 1) / time.Second))
	if hc != nil {
		opts.SetHTTPClient(hc)
	}
	client := influxdb2.NewClientWithOptions(cfg.URL, token, opts)
	return &InfluxWriter{
		client:  client,
		api:     client.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		bucket:  cfg.Bucket,
		timeout: cfg.Timeout,
	}, nil
}

// Write sends batch in one request.
func (w *InfluxWriter) Write(ctx context.Context, batch []Point) error {
	if len(batch) == 0 {
		return nil
	}
	w.mu.Lock()
	buf, err := encodeBatch(w.buf[:0], batch)
	w.buf = buf[:0]
	body := string(buf)
	w.mu.Unlock()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	if err := w.api.WriteRecord(ctx, body); err != nil {
		return classify(fmt.Errorf("telemetry: write %d points to InfluxDB bucket %s: %w", len(batch), w.bucket, err))
	}
	return nil
}

// classify turns the client's *http.Error into a *WriteError for Buffer; errors without an HTTP status
// (the request never got an answer) stay as they are, retryable.
func classify(err error) error {
	var he *influxhttp.Error
	if !errors.As(err, &he) || he.StatusCode == 0 {
		return err
	}
	we := &WriteError{Err: err, RetryAfter: time.Duration(he.RetryAfter) * time.Second}
	switch s := he.StatusCode; {
	case s == http.StatusTooManyRequests || s >= 500:
	case s == http.StatusRequestEntityTooLarge || s == http.StatusUnprocessableEntity:
		we.Permanent, we.PerPoint = true, true
	case s == http.StatusBadRequest:
		we.Permanent, we.PerPoint = true, perPointRefusal(he.Message)
	case s >= 400:
		we.Permanent = true
	}
	return we
}

// perPointRefusal reports whether a 400's message blames some of the points rather than the request. These
// are the messages of InfluxDB 1.x and 2.x (the same list influxdb-client-go treats as not worth retrying).
func perPointRefusal(msg string) bool {
	for _, s := range []string{"partial write", "unable to parse", "field type conflict", "points beyond retention policy"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Close releases the client's idle connections.
func (w *InfluxWriter) Close() error {
	w.client.Close()
	return nil
}
