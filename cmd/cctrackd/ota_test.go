package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/internal/controller"
	"github.com/cctrack/cctrack/internal/telemetry"
	"github.com/cctrack/cctrack/radio/sdr"
	"github.com/cctrack/cctrack/radio/sdr/iq"
	"github.com/cctrack/cctrack/radio/sdr/psemu"
)

// otaConfig is configs/ota-example.yaml against an in-process psemu: the boards' links in a temp
// dir, the IQ stream on a free loopback port, 20 ms coherence intervals paced in real time (the
// emulated channel advances with wall time), LS and LMMSE (covariance from an 8x8 grid), telemetry
// into dir.
func otaConfig(t *testing.T, dir string, intervals int) (configs.Config, net.Listener) {
	t.Helper()
	cfg, err := configs.Load("../../configs/ota-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sd := &cfg.Radio.SDR
	sd.BS.Port, sd.UE.Port, sd.IQ = filepath.Join(dir, "bs"), filepath.Join(dir, "ue"), "tcp://"+ln.Addr().String()
	cfg.Trajectories.IntervalS, cfg.Trajectories.Steps = 0.02, 40
	cfg.Users.Grid.Rows, cfg.Users.Grid.Cols, cfg.Users.Grid.Spacing = 8, 8, 3
	cfg.Estimators.Run = []string{"ls", "lmmse"}
	cfg.Daemon.Intervals, cfg.Daemon.Realtime, cfg.Daemon.StatusAddr = intervals, true, ""
	cfg.Telemetry.File.Dir = dir
	return cfg, ln
}

// startPsemu runs the emulated testbed of cfg until the test ends.
func startPsemu(t *testing.T, cfg configs.Config, ln net.Listener, o psemu.Options) {
	t.Helper()
	s, err := cfg.NewSimulator(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	chans, err := cfg.EvaluationChannels(context.Background(), s, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.GainStdDB, o.PhaseStdDeg = math.NaN(), math.NaN()
	ec, err := cfg.Emulator(chans, ln, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan psemu.Devices, 8)
	go func() {
		done <- psemu.Run(ctx, ec, slog.New(slog.NewTextHandler(io.Discard, nil)), func(d psemu.Devices) { ready <- d })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("psemu: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("psemu did not come up")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("psemu: %v", err)
		}
	})
}

// readPoints parses the run's line-protocol file.
func readPoints(t *testing.T, dir string) []filePoint {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "nmse-*.lp"))
	if len(files) != 1 {
		t.Fatalf("telemetry files %v, want one", files)
	}
	return readLineProtocol(t, files[0])
}

func interval(t *testing.T, p filePoint) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSuffix(p.fields["interval"], "i"))
	if err != nil {
		t.Fatalf("point %+v: interval: %v", p, err)
	}
	return n
}

// The daemon over the air: psemu's boards on ptys driven through tarm/serial, the IQ stream over
// TCP, lost and corrupted frames on both boards' lines and the BS board unplugged for a second in
// the middle. Every interval must be accounted for, done or failed, with a radio point each; the
// failures must be the outage's; the loop must recover and score intervals after it.
func TestOverTheAirWithFaults(t *testing.T) {
	const intervals, outageAt = 300, 100
	dir := t.TempDir()
	cfg, ln := otaConfig(t, dir, intervals)
	startPsemu(t, cfg, ln, psemu.Options{Drop: 0.01, Corrupt: 0.01, FaultSeed: 1, Seed: 1, CFO: 2e-4,
		Outage: psemu.Outage{Board: "bs", AtInterval: outageAt, For: time.Second}})
	var logs syncBuffer
	if err := run(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	radio := map[int]filePoint{}
	var nmse []int
	for _, p := range readPoints(t, dir) {
		switch p.measurement {
		case "radio":
			i := interval(t, p)
			if _, dup := radio[i]; dup {
				t.Errorf("interval %d has two radio points", i)
			}
			radio[i] = p
		case "nmse":
			nmse = append(nmse, interval(t, p))
		}
	}
	var failed []int
	for i := range intervals {
		p, ok := radio[i]
		switch {
		case !ok:
			t.Errorf("interval %d has no radio point", i)
		case p.fields["error"] != "":
			failed = append(failed, i)
		case p.fields["rx_power_dbm"] == "":
			t.Errorf("interval %d: a done interval without rx_power_dbm: %+v", i, p)
		}
	}
	if len(radio) != intervals {
		t.Errorf("%d radio points, want %d", len(radio), intervals)
	}
	t.Logf("%d intervals failed: %v", len(failed), failed)
	// The outage starts at the air's interval outageAt, which the daemon reaches later (board
	// retries after lost frames stretch its intervals beyond the 20 ms pacing while the air counts
	// wall time). Failing intervals are quick, so about 50 fail in the second. The lost and corrupted
	// frames (1 % each way; four attempts per request) must never fail an interval: the failures
	// are one run.
	if len(failed) < 5 || failed[len(failed)-1]-failed[0] != len(failed)-1 {
		t.Fatalf("failed intervals %v, want one run of them (the outage)", failed)
	}
	last := failed[len(failed)-1]
	var after int
	for _, i := range nmse {
		if i > last {
			after++
		}
	}
	if after == 0 {
		t.Errorf("no interval scored after the outage ended at interval %d", last)
	}
	if !strings.Contains(logs.String(), "stopped cleanly") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

// A trial recorded over the air replays through the daemon to the same NMSE, line for line, twice.
func TestReplayGivesTheSameNMSE(t *testing.T) {
	dir := t.TempDir()
	cfg, ln := otaConfig(t, dir, 60)
	startPsemu(t, cfg, ln, psemu.Options{Drop: 0.01, FaultSeed: 2, Seed: 2, CFO: -1e-4})
	base := filepath.Join(dir, "trial")
	record(t, cfg, base)

	var runs [][]filePoint
	for k := range 2 {
		rcfg := cfg
		rcfg.Radio.Backend, rcfg.Radio.Replay.Path = configs.BackendReplay, base+".sigmf-meta"
		rcfg.Daemon.Intervals, rcfg.Daemon.Realtime = 0, false // the recording's intervals
		rcfg.Telemetry.File.Dir = filepath.Join(dir, strconv.Itoa(k))
		if err := run(context.Background(), rcfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, readPoints(t, rcfg.Telemetry.File.Dir))
	}
	var scored int
	for _, p := range runs[0] {
		if p.measurement == "nmse" {
			scored++
		}
	}
	if scored == 0 || len(runs[0]) != len(runs[1]) {
		t.Fatalf("replays wrote %d and %d points, %d nmse", len(runs[0]), len(runs[1]), scored)
	}
	for i, p := range runs[0] {
		q := runs[1][i]
		for _, key := range []string{"interval", "nmse_db", "snr_db", "rx_power_dbm", "error"} {
			if p.fields[key] != q.fields[key] {
				t.Errorf("point %d: %s = %s, then %s", i, key, p.fields[key], q.fields[key])
			}
		}
	}
}

// record records 60 intervals of cfg's testbed as `cctrack record` does: the interval loop with LS,
// every call into an sdr.Recorder.
func record(t *testing.T, cfg configs.Config, base string) {
	t.Helper()
	setup, err := cfg.Setup()
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.SDRParams(cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := sdr.NewRecorder(base, iq.Meta{Datatype: iq.CF32, SampleRate: p.IQ.SampleRate}, sdr.SetupDigest(setup))
	if err != nil {
		t.Fatal(err)
	}
	p.Record = rec.Record
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := sdr.New(context.Background(), p, log)
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := controller.New(r, []estimator.Estimator{estimator.NewLS()}, noSink{}, controller.Config{Run: "record",
		Setup: setup, Intervals: cfg.Daemon.Intervals, Period: cfg.IntervalPeriod(), ReferenceEvery: cfg.Daemon.ReferenceEvery,
		Timeout: cfg.Daemon.CaptureTimeout}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
}

// noSink keeps no telemetry.
type noSink struct{}

func (noSink) Add(...telemetry.Point) {}
