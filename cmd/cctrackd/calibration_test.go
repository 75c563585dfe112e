package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/cmplx"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cctrack/cctrack/calibration"
	"github.com/cctrack/cctrack/calibration/reflink"
	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/internal/controller"
	"github.com/cctrack/cctrack/internal/telemetry"
	"github.com/cctrack/cctrack/radio/simradio"
)

// records is a slog handler that keeps every record, for asserting on warnings.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *records) WithGroup(string) slog.Handler            { return h }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

// warnings are the WARN records as "message key=value ..." lines.
func (h *records) warnings() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		if r.Level != slog.LevelWarn {
			continue
		}
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			b.WriteString(" " + a.Key + "=" + a.Value.String())
			return true
		})
		out = append(out, b.String())
	}
	return out
}

// calibrate measures side of cfg's simulated arrays with m and saves the table under dir.
func calibrate(t *testing.T, cfg configs.Config, side calibration.Side, m calibration.Method, at time.Time, dir string) string {
	t.Helper()
	r, spec, err := reflink.Simulated(cfg, side, at)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := calibration.Run(context.Background(), r, spec, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, string(side)+"-"+string(m)+".json")
	if err := tab.Save(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// exact saves the table of side's injected errors themselves: a perfect calibration.
func exact(t *testing.T, cfg configs.Config, side calibration.Side, at time.Time, dir string) string {
	t.Helper()
	e := reflink.Truth(cfg, side)
	tab := &calibration.Table{Board: "exact", Elements: len(e), PhaseBits: cfg.Beamforming.Bits, FrequencyHz: cfg.RF.CarrierHz,
		TemperatureC: 25, Time: at, Method: "exact", PhaseRad: make([]float64, len(e)), GainDB: make([]float64, len(e))}
	for i, x := range e {
		tab.PhaseRad[i], tab.GainDB[i] = cmplx.Phase(x), 20*math.Log10(cmplx.Abs(x))
	}
	p := filepath.Join(dir, string(side)+"-exact.json")
	if err := tab.Save(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// The daemon applies matching tables, warns (naming the key and file) when one is older than
// calibration.max_age or made at another frequency, and refuses one for another element count or
// shifter resolution.
func TestApplyCalibrationChecksTables(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, 1)
	made := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	bsFile := calibrate(t, cfg, calibration.BS, calibration.Pilot, made, dir)
	ueFile := calibrate(t, cfg, calibration.UE, calibration.Pilot, made, dir)
	other := cfg
	other.BS.Array.Nh = 5
	wrongN := calibrate(t, other, calibration.BS, calibration.Pilot, made, t.TempDir())
	other = cfg
	other.Beamforming.Bits = 4
	wrongBits := calibrate(t, other, calibration.BS, calibration.Pilot, made, t.TempDir())
	other = cfg
	other.RF.CarrierHz = 28e9
	otherFreq := calibrate(t, other, calibration.UE, calibration.Pilot, made, t.TempDir())

	tx, noise := cfg.Powers()
	r, err := simradio.New(simradio.Params{BS: cfg.BSArray(), UE: cfg.UEArray(), PhaseShifter: cfg.PhaseShifter(),
		TxPower: tx, Noise: noise, Channels: [][]complex128{make([]complex128, cfg.BSArray().N()*cfg.UEArray().N())}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		bs, ue     string
		now        time.Time
		warnings   []string // substrings, one per expected warning
		err        string
		calibrated bool
	}{
		{"none", "", "", made, nil, "", false},
		{"fresh", bsFile, ueFile, made.Add(24 * time.Hour), nil, "", true},
		{"old", bsFile, "", made.Add(800 * time.Hour), []string{"key=calibration.bs_file file=" + bsFile + " warning=made 800h0m0s ago"}, "", true},
		{"other frequency", "", otherFreq, made, []string{"key=calibration.ue_file file=" + otherFreq + " warning=made at 2.8e+10 Hz, the carrier is 3.5e+09 Hz"}, "", true},
		{"other element count", wrongN, "", made, nil, "calibration.bs_file: " + wrongN + ": calibration: table of board \"sim-bs\" has 20 elements, the array 4x4 has 16", false},
		{"other bits", wrongBits, "", made, nil, "calibration.bs_file: " + wrongBits + ": calibration: table of board \"sim-bs\" is for 4-bit phase shifters, the array has 6 bits", false},
		{"missing", filepath.Join(dir, "nope.json"), "", made, nil, "calibration.bs_file: calibration: open " + filepath.Join(dir, "nope.json"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.Calibration.BSFile, c.Calibration.UEFile = tc.bs, tc.ue
			var h records
			got, err := applyCalibration(c, r, tc.now, slog.New(&h))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := got.(*calibration.Calibrated); ok != tc.calibrated {
				t.Errorf("calibrated radio %v, want %v", ok, tc.calibrated)
			}
			w := h.warnings()
			if len(w) != len(tc.warnings) {
				t.Fatalf("warnings %q, want %d", w, len(tc.warnings))
			}
			for i, want := range tc.warnings {
				if !strings.Contains(w[i], want) {
					t.Errorf("warning %q, want it to contain %q", w[i], want)
				}
			}
		})
	}
}

// The daemon itself applies the tables (and stops at a bad one, naming it).
func TestDaemonAppliesCalibration(t *testing.T) {
	cfg := smallConfig(t, 5)
	made := time.Now()
	cfg.Calibration.BSFile = calibrate(t, cfg, calibration.BS, calibration.Pilot, made, t.TempDir())
	var logs bytes.Buffer
	if err := run(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `msg="calibration applied" key=calibration.bs_file file=`+cfg.Calibration.BSFile) {
		t.Errorf("logs:\n%s", logs.String())
	}
	other := cfg
	other.Beamforming.Bits = 5
	cfg.Calibration.BSFile = calibrate(t, other, calibration.BS, calibration.Pilot, made, t.TempDir())
	err := run(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "calibration.bs_file: "+cfg.Calibration.BSFile) {
		t.Errorf("a 5-bit table on 6-bit shifters: %v", err)
	}
}

// loop is the daemon's testbed for one configuration, traced once: its trajectory channels and
// estimators, so that runs differing only in the arrays' errors and calibration share them.
type loop struct {
	chans [][]complex128
	ests  []estimator.Estimator
}

func newLoop(t *testing.T, cfg configs.Config) loop {
	t.Helper()
	log, ctx := slog.New(slog.DiscardHandler), context.Background()
	s, err := cfg.NewSimulator(log)
	if err != nil {
		t.Fatal(err)
	}
	chans, err := cfg.EvaluationChannels(ctx, s, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ests, err := newEstimators(ctx, cfg, s, log, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return loop{chans, ests}
}

type discard struct{}

func (discard) Add(...telemetry.Point) {}

// run is one run of the daemon's loop over the simulated radio with cfg's impairments and
// calibration tables (as newTestbed wires them): each estimator's mean NMSE (dB).
func (l loop) run(t *testing.T, cfg configs.Config) map[string]float64 {
	t.Helper()
	log, ctx := slog.New(slog.DiscardHandler), context.Background()
	tx, noise := cfg.Powers()
	bsImp, ueImp := cfg.Impairments()
	r, err := simradio.New(simradio.Params{BS: cfg.BSArray(), UE: cfg.UEArray(), PhaseShifter: cfg.PhaseShifter(),
		TxPower: tx, Noise: noise, BSImp: bsImp, UEImp: ueImp, Channels: l.chans, Seed: cfg.Radio.Seed})
	if err != nil {
		t.Fatal(err)
	}
	cal, err := applyCalibration(cfg, r, time.Now(), log)
	if err != nil {
		t.Fatal(err)
	}
	setup, err := cfg.Setup()
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := controller.New(cal, l.ests, discard{}, controller.Config{Run: "calibration", Setup: setup, Intervals: cfg.Daemon.Intervals}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.Run(ctx); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, e := range ctl.Status().Estimators {
		out[e.Name] = e.MeanNMSEdB
	}
	return out
}

// With injected errors (gain 1 dB, phase 15 degrees rms, on both arrays) the daemon's NMSE is
// clearly (3 dB) worse than the error-free array's; calibrated by either method it is within 0.5 dB
// of it where the estimate is not noise-limited. Two setups on the default 10x10 BS along the default
// evaluation walk (400 intervals, the same noise in every run): the default 96 observations (LMMSE;
// minimum-norm LS sees 96 of 400 dimensions and barely notices the errors) and a full-overhead sweep
// (M_B = 100, M_U = 4), where LS is exact and its NMSE is the noise alone (about -52 dB). There the
// physical array's gain spread is a real SNR loss no phase shifter can undo (LS's noise grows by the
// mean of 1/g_i^2 over each array's elements, ~0.46 dB with this seed, mostly the 2x2 UE's four
// elements), so calibration is held to an array whose errors are known exactly: within 0.15 dB (the
// calibration error, ~-72 dB per element at K = 16, is 20 dB below the -52 dB noise: ~0.05 dB).
func TestCalibrationRestoresNMSE(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, run, combiner string
		est                 string
		noiseLimited        bool
	}{
		{"default 96 observations", "[ls, lmmse]", "", "lmmse", false},
		{"full overhead", "[ls]", "combiner: {codebook: dft, beams: 100}, ", "ls", true},
	} {
		parse := func(impaired bool) configs.Config {
			imp := "{gain_std_db: 0, phase_std_deg: 0}"
			if impaired {
				imp = "{gain_std_db: 1, phase_std_deg: 15}"
			}
			y := fmt.Sprintf("estimators: {run: %s}\nbeamforming: {%simpairments: %s}\ndaemon: {intervals: 400, realtime: false, status_addr: \"\"}\n",
				tc.run, tc.combiner, imp)
			cfg, err := configs.Parse([]byte(y), tc.name+".yaml")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Telemetry.File.Dir = ""
			return cfg
		}
		l := newLoop(t, parse(false))
		ideal := l.run(t, parse(false))
		impaired := parse(true)
		raw := l.run(t, impaired)
		now := time.Now()
		cal := map[calibration.Method]map[string]float64{}
		for _, m := range calibration.Methods() {
			c := impaired
			c.Calibration.BSFile = calibrate(t, c, calibration.BS, m, now, dir)
			c.Calibration.UEFile = calibrate(t, c, calibration.UE, m, now, dir)
			cal[m] = l.run(t, c)
		}
		c := impaired
		c.Calibration.BSFile = exact(t, c, calibration.BS, now, dir)
		c.Calibration.UEFile = exact(t, c, calibration.UE, now, dir)
		oracle := l.run(t, c)
		for name := range ideal {
			t.Logf("%s, %s: error-free %.2f dB, impaired %.2f dB, calibrated pilot %.2f dB, calibrated rev %.2f dB, exact errors known %.2f dB",
				tc.name, name, ideal[name], raw[name], cal[calibration.Pilot][name], cal[calibration.REV][name], oracle[name])
		}
		e := tc.est
		if raw[e] < ideal[e]+3 {
			t.Errorf("%s: %s impaired %.2f dB is not clearly (3 dB) worse than error-free %.2f dB", tc.name, e, raw[e], ideal[e])
		}
		for _, m := range calibration.Methods() {
			got := cal[m][e]
			if d := got - ideal[e]; tc.noiseLimited && got-oracle[e] > 0.15 || !tc.noiseLimited && d > 0.5 {
				t.Errorf("%s: %s calibrated by %s %.2f dB: error-free %.2f dB, exact errors known %.2f dB", tc.name, e, m, got, ideal[e], oracle[e])
			}
		}
	}
}
