package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/internal/controller"
)

// smallConfig is the default testbed shrunk to test size: a 4x4 BS, 20 trajectory steps, a 6x6
// grid for the LMMSE covariance, telemetry into a temp dir, no status endpoint, and only the
// estimators that need no training (models_test.go runs the tracker with a tiny training section).
func smallConfig(t *testing.T, intervals int) configs.Config {
	t.Helper()
	cfg, err := configs.Parse([]byte(`
bs:
  array: {nh: 4, nv: 4}
beamforming:
  combiner: {beams: 8}
users:
  grid: {rows: 6, cols: 6, spacing: 4}
trajectories:
  steps: 20
estimators:
  run: [ls, lmmse, omp]
daemon:
  status_addr: ""
`), "small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Daemon.Intervals = intervals
	cfg.Daemon.Realtime = false
	cfg.Telemetry.File.Dir = t.TempDir()
	return cfg
}

func TestRunStopsAfterIntervals(t *testing.T) {
	var logs bytes.Buffer
	cfg := smallConfig(t, 50)
	if err := run(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "stopped cleanly") || !strings.Contains(logs.String(), "intervals=50") {
		t.Errorf("logs:\n%s", logs.String())
	}
	// One line-protocol file: per interval one nmse line per estimator plus one radio line.
	files, _ := filepath.Glob(filepath.Join(cfg.Telemetry.File.Dir, "nmse-*.lp"))
	if len(files) != 1 || !strings.Contains(logs.String(), files[0]) {
		t.Fatalf("telemetry files %v (the log must name it)", files)
	}
	count := map[string]int{}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m, _, _ := strings.Cut(sc.Text(), ",")
		count[m]++
	}
	// The built-in city's evaluation walk has a path at every step, so every interval is scored.
	if count["nmse"] != 50*3 || count["radio"] != 50 {
		t.Errorf("line counts %v, want nmse 150, radio 50", count)
	}
}

// Cancellation (SIGINT/SIGTERM in main) is a clean stop, not an error; the status endpoint serves
// while the daemon runs.
func TestRunStopsOnCancelAndServesStatus(t *testing.T) {
	cfg := smallConfig(t, 0)
	cfg.Daemon.StatusAddr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs syncBuffer
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard) }()
	url := regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)/status`)
	var base string
	for base == "" || !strings.Contains(logs.String(), "cctrackd started") {
		select {
		case err := <-done:
			t.Fatalf("run returned before it started: %v\n%s", err, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
		if m := url.FindStringSubmatch(logs.String()); m != nil {
			base = m[1]
		}
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	var st controller.Status
	deadline := time.Now().Add(time.Minute)
	for st.Intervals == 0 {
		if time.Now().After(deadline) {
			t.Fatal("/status reported no interval within a minute")
		}
		resp, err = http.Get(base + "/status")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if st.Backend != "sim" || st.Array != "4x4-2x2" || len(st.Estimators) != 3 || st.Estimators[0].Name != "ls" {
		t.Errorf("status %+v", st)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("cancel is a clean stop, got %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("run did not return after cancel")
	}
	if !strings.Contains(logs.String(), "stopped cleanly") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

// In real time, intervals are paced at trajectories.interval_s. synctest's virtual clock makes
// this exact: 3 intervals of 50 ms take 150 ms of bubble time, however slow the machine.
func TestRunRealtime(t *testing.T) {
	cfg := smallConfig(t, 3)
	cfg.Daemon.Realtime = true
	cfg.Trajectories.IntervalS = 0.05
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := run(context.Background(), cfg, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), io.Discard); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el != 150*time.Millisecond {
			t.Errorf("3 real-time intervals of 50 ms took %v of virtual time", el)
		}
	})
}
