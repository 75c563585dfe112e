package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/radio/sdr/iq"
	"github.com/cctrack/cctrack/radio/sdr/psemu"
	"github.com/cctrack/cctrack/radio/sdr/replay"
)

// `cctrack record` against an in-process psemu writes a SigMF recording that replays: every
// interval's measurement and every reference sweep, in order.
func TestRecord(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "rec.yaml")
	yaml := fmt.Sprintf(`name: rec
bs: {array: {nh: 4, nv: 4}}
ue: {array: {nh: 2, nv: 1}}
beamforming: {combiner: {codebook: random, beams: 12}, precoder: {codebook: dft, beams: 2}}
trajectories: {interval_s: 0.02, steps: 20}
radio:
  backend: sdr
  sdr: {bs: {port: %s}, ue: {port: %s}, iq: "tcp://%s", frame: {preamble_len: 128, pilot_len: 32, guard: 8}, margin: 64}
daemon: {reference_every: 5}
`, filepath.Join(dir, "bs"), filepath.Join(dir, "ue"), ln.Addr())
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := cfg.NewSimulator(quiet)
	if err != nil {
		t.Fatal(err)
	}
	chans, err := cfg.EvaluationChannels(context.Background(), s, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := cfg.Emulator(chans, ln, psemu.Options{GainStdDB: math.NaN(), PhaseStdDeg: math.NaN(), CFO: 1e-4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, ready := make(chan error, 1), make(chan psemu.Devices, 4)
	go func() { done <- psemu.Run(ctx, ec, quiet, func(d psemu.Devices) { ready <- d }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("psemu: %v", err)
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("psemu: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("psemu did not come up")
	}

	base := filepath.Join(dir, "trial")
	if _, stderr, err := runCLI(t, "record", "--config", cfgPath, "--intervals", "20", "--out", base); err != nil {
		t.Fatalf("record: %v\n%s", err, stderr)
	}
	rd, err := iq.OpenSigMF(base + ".sigmf-meta")
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]int{}
	for _, a := range rd.Annotations() {
		labels[a.Label]++
	}
	rd.Close()
	// 20 intervals, a reference sweep in 4 of them (0, 5, 10, 15); a program at the start and at
	// each switch of setup: 1 + 2·4.
	if labels["measurement"] != 20 || labels["reference"] != 4 || labels["program"] != 9 {
		t.Errorf("annotation labels %v, want 20 measurement, 4 reference, 9 program", labels)
	}
	tx, noise := cfg.Powers()
	r, err := replay.Open(base+".sigmf-meta", replay.Params{BS: cfg.BSArray(), UE: cfg.UEArray(), PhaseShifter: cfg.PhaseShifter(), TxPower: tx, Noise: noise})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Park(context.Background())
	if r.Intervals() != 20 {
		t.Errorf("the recording holds %d intervals, want 20", r.Intervals())
	}

	sim := filepath.Join(dir, "sim.yaml")
	os.WriteFile(sim, []byte(strings.Replace(yaml, "backend: sdr", "backend: sim", 1)), 0o644)
	if _, _, err := runCLI(t, "record", "--config", sim, "--intervals", "2", "--out", base); err == nil || !strings.Contains(err.Error(), "radio.backend") {
		t.Errorf("record on the simulated backend: %v", err)
	}
}
