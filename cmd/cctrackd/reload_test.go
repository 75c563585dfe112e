package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/internal/influxtest"
)

// reloadYAML is a small testbed config writing its line-protocol file into dir, with the given daemon and
// telemetry keys.
func reloadYAML(dir, daemon, telemetry string) string {
	return fmt.Sprintf(`
bs: {array: {nh: 4, nv: 4}}
beamforming: {combiner: {beams: 8}}
users: {grid: {rows: 6, cols: 6, spacing: 4}}
trajectories: {steps: 20, interval_s: 0.01}
estimators: {run: [ls, lmmse, omp]}
daemon: {status_addr: "", %s}
telemetry: {file: {dir: %q}, %s}
`, daemon, dir, telemetry)
}

func loadYAML(t *testing.T, path, yaml string) configs.Config {
	t.Helper()
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestReloadPlan(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	influx := `influxdb: {url: "http://127.0.0.1:1"}`
	base := loadYAML(t, path, reloadYAML(dir, "summary_every_s: 5", influx))
	for _, tc := range []struct {
		name, daemon, telemetry string
		changed                 []string
		refused                 string // in the error; "" for none
	}{
		{"nothing", "summary_every_s: 5", influx, nil, ""},
		{"summary and pacing", "summary_every_s: 1, realtime: false, capture_timeout: 1s", influx,
			[]string{"daemon.capture_timeout", "daemon.realtime", "daemon.summary_every_s"}, ""},
		{"influxdb and batching", "summary_every_s: 5",
			`influxdb: {url: "http://127.0.0.1:2", bucket: other/autogen, timeout: 1s}, buffer: {batch_size: 10, flush_interval: 2s}`,
			[]string{"telemetry.buffer.batch_size", "telemetry.buffer.flush_interval", "telemetry.influxdb.bucket", "telemetry.influxdb.timeout", "telemetry.influxdb.url"}, ""},
		{"a run's length", "summary_every_s: 5, intervals: 10", influx, []string{"daemon.intervals"}, "daemon.intervals"},
		{"the queue's bound", "summary_every_s: 5", influx + `, buffer: {limit: 10, batch_size: 10}`,
			[]string{"telemetry.buffer.batch_size", "telemetry.buffer.limit"}, "telemetry.buffer.limit"},
		{"influxdb off", "summary_every_s: 5", `influxdb: {url: ""}`, []string{"telemetry.influxdb.url"}, "switching the InfluxDB sink on or off"},
		{"reference sweep off", "summary_every_s: 5, reference_every: 0", influx, []string{"daemon.reference_every"}, "switching the reference sweep on or off"},
		{"the spool", "summary_every_s: 5", influx + `, spool: {dir: /tmp/x}`, []string{"telemetry.spool.dir"}, "telemetry.spool.dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := loadYAML(t, path, reloadYAML(dir, tc.daemon, tc.telemetry))
			changed, err := reloadPlan(base, next)
			if !slices.Equal(changed, tc.changed) {
				t.Errorf("changed %v, want %v", changed, tc.changed)
			}
			if (err == nil) != (tc.refused == "") || err != nil && !strings.Contains(err.Error(), tc.refused) {
				t.Errorf("err %v, want one naming %q", err, tc.refused)
			}
		})
	}
	// The arrays differ: refused, naming the key.
	arr := strings.Replace(reloadYAML(dir, "summary_every_s: 5", influx), "nh: 4", "nh: 5", 1)
	if _, err := reloadPlan(base, loadYAML(t, path, arr)); err == nil || !strings.Contains(err.Error(), "bs.array.nh") {
		t.Errorf("changing the BS array: %v, want a refusal naming bs.array.nh", err)
	}
}

// waitLog waits until the log holds s after the first `after` bytes; it returns the log's length then.
func waitLog(t *testing.T, logs *syncBuffer, after int, s string) int {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		l := logs.String()
		if i := strings.Index(l[after:], s); i >= 0 {
			return after + i + len(s)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log within 5 minutes:\n%s", s, l[after:])
		}
	}
}

// SIGHUP reloads the file the daemon started from: a safe change applies (the summary interval), an
// unsafe or invalid one is refused with the key named in the log, and the daemon runs on.
func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	cfg := loadYAML(t, path, reloadYAML(dir, "summary_every_s: 3600", `influxdb: {url: ""}`))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard) }()
	at := waitLog(t, &logs, 0, "cctrackd started") // the SIGHUP handler is installed before this line
	hup := func(yaml string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}

	hup(reloadYAML(dir, "summary_every_s: 0.05", `influxdb: {url: ""}`))
	at = waitLog(t, &logs, at, `msg="config reloaded"`)
	at = waitLog(t, &logs, at, "changed=daemon.summary_every_s")
	at = waitLog(t, &logs, at, "msg=nmse intervals=") // the new summary interval, not an hour

	hup(strings.Replace(reloadYAML(dir, "summary_every_s: 0.05", `influxdb: {url: ""}`), "nh: 4", "nh: 5", 1))
	at = waitLog(t, &logs, at, "config reload refused")
	at = waitLog(t, &logs, at, "bs.array.nh cannot change while cctrackd runs")

	hup(reloadYAML(dir, "summary_every_s: -1", `influxdb: {url: ""}`))
	at = waitLog(t, &logs, at, "config reload refused")
	waitLog(t, &logs, at, "daemon.summary_every_s: must be > 0")

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "stopped cleanly") {
		t.Errorf("log:\n%s", logs.String())
	}
}

// A SIGHUP while the testbed is still being built (sent as soon as the status endpoint, the first
// thing run starts, is up) neither kills the daemon nor is lost: it is applied once the daemon runs.
func TestSIGHUPDuringStartup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	withStatus := func(yaml string) string {
		return strings.Replace(yaml, `status_addr: ""`, `status_addr: "127.0.0.1:0"`, 1)
	}
	cfg := loadYAML(t, path, withStatus(reloadYAML(dir, "summary_every_s: 3600", `influxdb: {url: ""}`)))
	if err := os.WriteFile(path, []byte(withStatus(reloadYAML(dir, "summary_every_s: 0.05", `influxdb: {url: ""}`))), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard) }()
	at := waitLog(t, &logs, 0, "msg=\"status endpoint\"")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	at = waitLog(t, &logs, at, "cctrackd started")
	waitLog(t, &logs, at, "changed=daemon.summary_every_s")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
}

// A reload moves the InfluxDB sink to another server between two batches: every point of the run is on
// exactly one of the two servers, with the file's values.
func TestReloadMovesInfluxDB(t *testing.T) {
	a := influxtest.Start(t, influxtest.WithoutFlux())
	b := influxtest.Start(t, influxtest.WithoutFlux())
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	influx := func(url string) string {
		return fmt.Sprintf(`influxdb: {url: %q, bucket: %q}, buffer: {flush_interval: 50ms, batch_size: 40}, spool: {dir: %q}`,
			url, a.Bucket(), filepath.Join(dir, "spool"))
	}
	const intervals = 300
	cfg := loadYAML(t, path, reloadYAML(dir, fmt.Sprintf("intervals: %d", intervals), influx(a.URL)))
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard) }()
	at := waitLog(t, &logs, 0, "cctrackd started")
	time.Sleep(time.Second) // about a third of the run
	if err := os.WriteFile(path, []byte(reloadYAML(dir, fmt.Sprintf("intervals: %d", intervals), influx(b.URL))), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, &logs, at, "changed=telemetry.influxdb.url")
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "nmse-*.lp"))
	if len(files) != 1 {
		t.Fatalf("telemetry files %v", files)
	}
	want := readLineProtocol(t, files[0])
	run := want[0].tags["run"]
	onA, countA := serverPoints(t, a, run)
	onB, countB := serverPoints(t, b, run)
	t.Logf("%d points on the first server, %d on the second", len(onA), len(onB))
	if len(onA) == 0 || len(onB) == 0 {
		t.Fatalf("the reload did not split the run: %d points on the first server, %d on the second", len(onA), len(onB))
	}
	for _, p := range want {
		rowA, inA := onA[p.key()]
		rowB, inB := onB[p.key()]
		switch {
		case inA && inB:
			t.Fatalf("point %s is on both servers", p.key())
		case inA:
			samePointValues(t, p, rowA)
		case inB:
			samePointValues(t, p, rowB)
		default:
			t.Fatalf("point %s is on neither server", p.key())
		}
	}
	for k, n := range countA {
		if n != 1 || countB[k] > 1 {
			t.Fatalf("point %s stored more than once", k)
		}
	}
	if len(onA)+len(onB) != len(want) {
		t.Fatalf("%d + %d points on the servers, %d in the file", len(onA), len(onB), len(want))
	}
}
