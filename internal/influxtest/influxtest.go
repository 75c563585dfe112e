// Package influxtest runs a real InfluxDB 1.8.10 server for tests: on a free loopback port, with its data,
// configuration and log in the test's temporary directory, stopped when the test ends.
//
// The server binary is $INFLUXD when set, else bin/influxd at the repository root, which `make test`
// builds (GOBIN=$PWD/bin go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10). Without it a test
// skips, except under CI=true, where that is a failure.
package influxtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Module is what `make test` installs into bin/.
const Module = "github.com/influxdata/influxdb/cmd/influxd@v1.8.10"

// Timeouts for starting and stopping the server. influxd 1.8 starts in well under a second on an empty
// directory; these only turn a hang into a clear failure.
const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
)

// Server is a running influxd. It serves the 1.x API (/ping, /query, /write) and the 2.x compatibility
// API: writes on POST /api/v2/write?bucket=DB/autogen and Flux queries on POST /api/v2/query.
type Server struct {
	// URL is the HTTP endpoint, http://127.0.0.1:PORT.
	URL string
	// DB is the database created at start.
	DB string

	t       testing.TB
	bin     string
	config  string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
}

// Option changes how Start configures the server.
type Option func(*options)

type options struct{ flux bool }

// WithoutFlux starts the server with Flux disabled (/api/v2/query refused). influxd type-checks Flux's
// standard library at every start when Flux is enabled, about 5 s of CPU on a small machine, against
// 0.1 s without; tests that do not query with Flux, or that restart the server, start faster without it.
func WithoutFlux() Option { return func(o *options) { o.flux = false } }

// Start launches influxd (with Flux enabled unless WithoutFlux is given), waits until it answers /ping,
// creates the database DB and registers a cleanup that stops the server (and shows its log if the test
// failed).
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{flux: true}
	for _, opt := range opts {
		opt(&o)
	}
	bin := binary(t)
	dir := t.TempDir()
	ports := freePorts(t, 2)
	httpPort, rpcPort := ports[0], ports[1]
	s := &Server{
		URL:     fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		DB:      "cctrack",
		t:       t,
		bin:     bin,
		config:  filepath.Join(dir, "influxdb.conf"),
		logPath: filepath.Join(dir, "influxd.log"),
	}
	// Everything on loopback and under dir; background services that would only add noise are off.
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
  logging-enabled = false
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:%d"
  flux-enabled = %t
  log-enabled = false
[logging]
  level = "warn"
  suppress-logo = true
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[retention]
  enabled = false
[shard-precreation]
  enabled = false
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort, o.flux)
	if err := os.WriteFile(s.config, []byte(conf), 0o644); err != nil {
		t.Fatalf("influxtest: write config: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			s.showLog()
		}
	})
	s.start()
	s.Query(fmt.Sprintf("CREATE DATABASE %q", s.DB))
	return s
}

// Bucket is the database's default retention policy as a 2.x bucket name, "DB/autogen".
func (s *Server) Bucket() string { return s.DB + "/autogen" }

// Stop shuts the server down (SIGTERM, then SIGKILL if it has not exited after a while). Its data stays
// for Restart. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Errorf("influxtest: signal influxd: %v", err)
	}
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		s.t.Errorf("influxtest: influxd did not stop within %v of SIGTERM; killing it", stopTimeout)
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Restart stops the server if it is running and starts it again on the same port with the same data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// start launches the process and waits until it answers /ping.
func (s *Server) start() {
	s.t.Helper()
	logf, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatalf("influxtest: open log: %v", err)
	}
	cmd := exec.Command(s.bin, "run", "-config", s.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	// influxd reads INFLUXDB_* variables as configuration overrides; the test's configuration is the file.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INFLUXDB_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.t.Fatalf("influxtest: start %s: %v", s.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for {
		resp, err := client.Get(s.URL + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return
			}
		}
		select {
		case <-exited:
			s.cmd = nil
			s.t.Fatalf("influxtest: influxd exited before answering %s/ping (log %s)\n%s", s.URL, s.logPath, s.logTail())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("influxtest: influxd did not answer %s/ping within %v (last error: %v; log %s)\n%s",
				s.URL, readyTimeout, err, s.logPath, s.logTail())
		}
	}
}

// Series is one series of an InfluxQL result. Values holds json.Number for numbers (exact: parse them with
// strconv), string, bool or nil; with the epoch=ns that Query asks for, times are json.Number nanoseconds.
type Series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// Query runs InfluxQL on database DB through /query and returns every series of every statement's
// result; a failed request or statement fails the test.
func (s *Server) Query(q string) []Series {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	form := url.Values{"db": {s.DB}, "q": {q}, "epoch": {"ns"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/query?"+form.Encode(), nil)
	if err != nil {
		s.t.Fatalf("influxtest: query %q: %v", q, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("influxtest: query %q: %v", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Results []struct {
			Series []Series `json:"series"`
			Error  string   `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		s.t.Fatalf("influxtest: query %q: HTTP %s, decode: %v", q, resp.Status, err)
	}
	if body.Error != "" {
		s.t.Fatalf("influxtest: query %q: %s", q, body.Error)
	}
	var series []Series
	for _, r := range body.Results {
		if r.Error != "" {
			s.t.Fatalf("influxtest: query %q: %s", q, r.Error)
		}
		series = append(series, r.Series...)
	}
	return series
}

// showLog logs the server's log, for a failed test.
func (s *Server) showLog() {
	s.t.Logf("influxtest: influxd log %s:\n%s", s.logPath, s.logTail())
}

// logTail returns the last 16 KiB of the server's log.
func (s *Server) logTail() string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	defer f.Close()
	const tail = 16 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > tail {
		_, _ = f.Seek(-tail, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// binary finds influxd: $INFLUXD, else bin/influxd at the repository root (the directory holding go.mod
// above the working directory, which go test sets to the package's).
func binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("INFLUXD"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("influxtest: INFLUXD=%s: %v", p, err)
		}
		return p
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("influxtest: working directory: %v", err)
	}
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			t.Fatalf("influxtest: no go.mod above %s", wd)
		}
		root = parent
	}
	p := filepath.Join(root, "bin", "influxd")
	if _, err := os.Stat(p); err != nil {
		msg := fmt.Sprintf("influxtest: %s not found (%v); `make test` builds it (GOBIN=%s go install %s), or set INFLUXD",
			p, err, filepath.Join(root, "bin"), Module)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " [CI=true: failing instead of skipping]")
		}
		t.Skip(msg)
	}
	return p
}

// freePorts returns n distinct loopback TCP ports that were free a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		// Hold each listener until all are chosen, so that the ports differ.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("influxtest: find a free port: %v", err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}
