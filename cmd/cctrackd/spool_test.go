package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cctrack/cctrack/internal/influxtest"
	"github.com/cctrack/cctrack/internal/telemetry"
)

// These tests check that the InfluxDB sink loses nothing and duplicates nothing when InfluxDB goes away
// and when the daemon is killed. "Acknowledged" is what the controller handed to the sinks (Add returned):
// then the point is in the line-protocol file's buffer and, for InfluxDB, in the spool file. What must be
// in InfluxDB in the end is every acknowledged point, once, with the same values: the file sink says what
// a run produced, the spool what a killed run had not delivered yet. InfluxDB identifies a point by its
// series (measurement and tags) and timestamp, so a batch sent again after a lost answer overwrites itself;
// counting rows per (measurement, estimator, interval) catches both loss and duplicates.

// key identifies a point within a run: measurement, estimator (empty for radio) and interval.
func (p filePoint) key() string {
	return p.measurement + "/" + p.tags["estimator"] + "/" + strings.TrimSuffix(p.fields["interval"], "i")
}

// fromPoint converts a spooled point to the file's representation.
func fromPoint(t *testing.T, p telemetry.Point) filePoint {
	t.Helper()
	line, err := telemetry.AppendLine(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "p.lp")
	if err := os.WriteFile(path, append(line, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	return readLineProtocol(t, path)[0]
}

// serverPoints reads run's points back through InfluxQL, keyed like filePoint.key, counting repeats.
func serverPoints(t *testing.T, srv *influxtest.Server, run string) (map[string]map[string]any, map[string]int) {
	t.Helper()
	got, count := map[string]map[string]any{}, map[string]int{}
	for _, s := range srv.Query(`SELECT * FROM nmse, radio WHERE run = '` + run + `'`) {
		for _, row := range s.Values {
			vals := map[string]any{}
			for c, name := range s.Columns {
				if row[c] != nil {
					vals[name] = row[c]
				}
			}
			est, _ := vals["estimator"].(string)
			k := s.Name + "/" + est + "/" + fmt.Sprint(vals["interval"])
			got[k] = vals
			count[k]++
		}
	}
	return got, count
}

// samePointValues checks that the server's row holds exactly p's tags, fields (floats bit for bit) and time.
func samePointValues(t *testing.T, p filePoint, row map[string]any) {
	t.Helper()
	if ns, _ := row["time"].(json.Number).Int64(); ns != p.ns {
		t.Fatalf("%s: time %d on the server, %d acknowledged", p.key(), ns, p.ns)
	}
	for k, v := range p.tags {
		if row[k] != v {
			t.Fatalf("%s: tag %s = %v on the server, %q acknowledged", p.key(), k, row[k], v)
		}
	}
	for k, raw := range p.fields {
		got, ok := row[k].(json.Number)
		if !ok {
			t.Fatalf("%s: field %s = %v on the server, %s acknowledged", p.key(), k, row[k], raw)
		}
		if iv, isInt := strings.CutSuffix(raw, "i"); isInt {
			if got.String() != iv {
				t.Fatalf("%s: field %s = %s on the server, %s acknowledged", p.key(), k, got, raw)
			}
			continue
		}
		w, _ := strconv.ParseFloat(raw, 64)
		g, _ := got.Float64()
		if math.Float64bits(w) != math.Float64bits(g) {
			t.Fatalf("%s: field %s = %s on the server, %s acknowledged", p.key(), k, got, raw)
		}
	}
}

// checkRun checks that the server holds exactly want for run: each point once, with want's values.
func checkRun(t *testing.T, srv *influxtest.Server, run string, want []filePoint) {
	t.Helper()
	got, count := serverPoints(t, srv, run)
	for _, p := range want {
		row, ok := got[p.key()]
		if !ok {
			t.Fatalf("run %s: point %s acknowledged, not on the server", run, p.key())
		}
		samePointValues(t, p, row)
	}
	for k, n := range count {
		if n != 1 {
			t.Fatalf("run %s: point %s is on the server %d times", run, k, n)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("run %s: %d points on the server, %d acknowledged", run, len(got), len(want))
	}
}

// InfluxDB stops in the middle of a run and comes back: every interval's points arrive exactly once.
func TestDaemonSpoolInfluxDBRestart(t *testing.T) {
	srv := influxtest.Start(t, influxtest.WithoutFlux())
	const intervals = 300
	cfg := smallConfig(t, intervals)
	cfg.Daemon.Realtime = true
	cfg.Trajectories.IntervalS = 0.01 // 3 s of intervals, InfluxDB away for about one of them
	cfg.Telemetry.InfluxDB.URL = srv.URL
	cfg.Telemetry.InfluxDB.Bucket = srv.Bucket()
	cfg.Telemetry.InfluxDB.Timeout = time.Second
	cfg.Telemetry.Buffer.FlushInterval = 50 * time.Millisecond
	cfg.Telemetry.Buffer.BatchSize = 40
	cfg.Telemetry.Buffer.RetryMax = 200 * time.Millisecond
	cfg.Telemetry.Spool.Dir = t.TempDir()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard) }()
	for !strings.Contains(logs.String(), "cctrackd started") {
		select {
		case err := <-done:
			t.Fatalf("run returned before it started: %v\n%s", err, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	time.Sleep(time.Second)
	srv.Stop()
	time.Sleep(time.Second)
	srv.Restart()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "write failed, keeping the points") {
		t.Errorf("InfluxDB was never found down; the test did not test the outage:\n%s", logs.String())
	}
	files, _ := filepath.Glob(filepath.Join(cfg.Telemetry.File.Dir, "nmse-*.lp"))
	if len(files) != 1 {
		t.Fatalf("telemetry files %v", files)
	}
	want := readLineProtocol(t, files[0])
	if len(want) != 4*intervals {
		t.Fatalf("file holds %d points, want %d", len(want), 4*intervals)
	}
	checkRun(t, srv, want[0].tags["run"], want)
	if left, err := telemetry.ReadSpool(cfg.Telemetry.Spool.Dir); err != nil || len(left) != 0 {
		t.Errorf("spool after a clean stop: %d points left, %v", len(left), err)
	}
}

// buildDaemon builds cctrackd into a temporary directory.
func buildDaemon(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test runs with the go command on the PATH (.ci/run puts it there)
	if err != nil {
		t.Fatalf("building cctrackd for the kill test: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "cctrackd")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The daemon is killed (SIGKILL) in the middle of a run and started again on the same spool: the killed
// run's intervals arrive exactly once, those still in the spool sent by the second process.
func TestDaemonSpoolKill9(t *testing.T) {
	srv := influxtest.Start(t, influxtest.WithoutFlux())
	bin := buildDaemon(t)
	dir := t.TempDir()
	lpDir, spoolDir := filepath.Join(dir, "lp"), filepath.Join(dir, "spool")
	config := func(name string, intervals int) string {
		path := filepath.Join(dir, name)
		yaml := fmt.Sprintf(`
bs: {array: {nh: 4, nv: 4}}
beamforming: {combiner: {beams: 8}}
users: {grid: {rows: 6, cols: 6, spacing: 4}}
trajectories: {steps: 20, interval_s: 0.01}
estimators: {run: [ls, lmmse, omp]}
telemetry:
  file: {dir: %q}
  influxdb: {url: %q, bucket: %q, timeout: 1s}
  buffer: {flush_interval: 200ms, batch_size: 50, retry_max: 200ms}
  spool: {dir: %q, max_bytes: 1048576, sync: interval}
daemon: {status_addr: "", intervals: %d}
`, lpDir, srv.URL, srv.Bucket(), spoolDir, intervals)
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	// First run: until killed, once the file sink holds 100 intervals (about a second).
	var log1 syncBuffer
	cmd := exec.Command(bin, "--config", config("run1.yaml", 0))
	cmd.Stdout, cmd.Stderr = &log1, &log1
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		files, _ := filepath.Glob(filepath.Join(lpDir, "nmse-*.lp"))
		if len(files) == 1 && len(readLineProtocol(t, files[0])) >= 400 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("daemon exited: %v\n%s", err, log1.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon wrote no 100 intervals within 2 minutes\n%s", log1.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("daemon exit after SIGKILL: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(lpDir, "nmse-*.lp"))
	file1 := readLineProtocol(t, files[0])
	run1 := file1[0].tags["run"]
	spooled, err := telemetry.ReadSpool(spoolDir)
	if err != nil {
		t.Logf("spool after the kill: %v (a record cut by the kill; the next start cuts it off)", err)
	}
	t.Logf("killed after %d points in the file sink, %d in the spool not yet delivered", len(file1), len(spooled))

	// Second run: 50 intervals, then a clean stop, which flushes everything.
	var log2 syncBuffer
	cmd = exec.Command(bin, "--config", config("run2.yaml", 50))
	cmd.Stdout, cmd.Stderr = &log2, &log2
	if err := cmd.Run(); err != nil {
		t.Fatalf("second run: %v\n%s", err, log2.String())
	}
	if len(spooled) > 0 && !strings.Contains(log2.String(), "spool holds points not yet delivered") {
		t.Errorf("second run did not report replaying the spool:\n%s", log2.String())
	}

	// The killed run: every interval from 0 up to the last acknowledged one, each with its 4 points once
	// (3 estimators + radio); the file's and the spool's points with their values. The newest interval may
	// lack points whose Add the kill interrupted (never acknowledged); all older ones are whole.
	acked := map[string]filePoint{}
	for _, p := range file1 {
		acked[p.key()] = p
	}
	for _, p := range spooled {
		if q := fromPoint(t, p); q.tags["run"] == run1 {
			acked[q.key()] = q
		}
	}
	got, count := serverPoints(t, srv, run1)
	last := int64(-1)
	for _, row := range got {
		i, _ := row["interval"].(json.Number).Int64()
		last = max(last, i)
	}
	for k, p := range acked {
		row, ok := got[k]
		if !ok {
			t.Fatalf("killed run: point %s acknowledged, not on the server", k)
		}
		samePointValues(t, p, row)
	}
	perInterval := map[int64]int{}
	for k, n := range count {
		if n != 1 {
			t.Fatalf("killed run: point %s is on the server %d times", k, n)
		}
		i, _ := strconv.ParseInt(k[strings.LastIndexByte(k, '/')+1:], 10, 64)
		perInterval[i]++
	}
	for i := range last {
		if perInterval[i] != 4 {
			t.Fatalf("killed run: interval %d has %d points on the server, want 4 (intervals 0..%d arrived)", i, perInterval[i], last)
		}
	}
	if int64(len(file1)/4) > last+1 {
		t.Fatalf("killed run: the file holds %d intervals, the server only %d", len(file1)/4, last+1)
	}
	t.Logf("killed run: intervals 0..%d on the server, each once", last)

	// The second run, stopped cleanly: exactly its file.
	var file2 []filePoint
	files, _ = filepath.Glob(filepath.Join(lpDir, "nmse-*.lp"))
	for _, f := range files {
		if pts := readLineProtocol(t, f); len(pts) > 0 && pts[0].tags["run"] != run1 {
			file2 = pts
		}
	}
	if len(file2) != 4*50 {
		t.Fatalf("second run's file holds %d points, want %d", len(file2), 4*50)
	}
	checkRun(t, srv, file2[0].tags["run"], file2)
	if left, err := telemetry.ReadSpool(spoolDir); err != nil || len(left) != 0 {
		t.Errorf("spool after the clean stop: %d points left, %v", len(left), err)
	}
}
