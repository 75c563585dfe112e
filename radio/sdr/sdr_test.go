package sdr_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/radio"
	"github.com/cctrack/cctrack/radio/sdr"
	"github.com/cctrack/cctrack/radio/sdr/board"
	"github.com/cctrack/cctrack/radio/sdr/board/emu"
	"github.com/cctrack/cctrack/radio/sdr/iq"
	"github.com/cctrack/cctrack/radio/sdr/pilot"
	"github.com/cctrack/cctrack/radio/sdr/psemu"
	"github.com/cctrack/cctrack/radio/sdr/replay"
	"github.com/cctrack/cctrack/radio/simradio"
)

// The test testbed: a 4x4 BS and a 2x1 UE, 6-bit shifters, a short waveform.
var (
	bsArray = radio.Array{Nh: 4, Nv: 4}
	ueArray = radio.Array{Nh: 2, Nv: 1}
	shifter = beamforming.PhaseShifter{Bits: 6}
	frame   = pilot.Frame{PreambleLen: 128, PilotLen: 32, Guard: 8}
)

const (
	txPower = 1.0
	margin  = 64
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// channel is a seeded i.i.d. CN(0, 1e-8) channel: with unit pilot power and unit-norm beams, |Y|^2 is
// about 1e-8 W, 30 dB above a noise of 1e-11 W.
func channel(seed uint64) []complex128 {
	rng := rand.New(rand.NewPCG(seed, 7))
	h := make([]complex128, bsArray.N()*ueArray.N())
	for i := range h {
		h[i] = complex(rng.NormFloat64(), rng.NormFloat64()) * complex(math.Sqrt(0.5e-8), 0)
	}
	return h
}

// testbed is a psemu instance in this process and the sdr parameters that reach it.
type testbed struct {
	p      sdr.Params
	cancel context.CancelFunc
	done   chan error
}

// start runs psemu with cfg's boards (Link set here), channels and faults, and returns the
// parameters of a radio that drives it.
func start(t testing.TB, cfg psemu.Config) *testbed {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.BS.Link, cfg.UE.Link = filepath.Join(dir, "bs"), filepath.Join(dir, "ue")
	cfg.BS.Elements, cfg.UE.Elements = bsArray.N(), ueArray.N()
	cfg.BS.PhaseBits, cfg.UE.PhaseBits = shifter.Bits, shifter.Bits
	cfg.BS.GainBits, cfg.UE.GainBits = 4, 4
	cfg.TxPower, cfg.Frame, cfg.Margin, cfg.IQ = txPower, frame, margin, ln
	if cfg.Coherence == 0 {
		cfg.Coherence = time.Hour
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb := &testbed{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan psemu.Devices, 4)
	go func() { tb.done <- psemu.Run(ctx, cfg, quiet, func(d psemu.Devices) { ready <- d }) }()
	var d psemu.Devices
	select {
	case d = <-ready:
	case err := <-tb.done:
		t.Fatalf("psemu: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("psemu did not come up")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-tb.done; err != nil {
			t.Errorf("psemu: %v", err)
		}
	})
	link := func(name, port string) board.Config {
		return board.Config{Name: name, Port: port, Baud: 115200, Timeout: 100 * time.Millisecond, Retries: 4}
	}
	tb.p = sdr.Params{Scene: "test", BS: bsArray, UE: ueArray, PhaseShifter: shifter, TxPower: txPower, Noise: math.Max(cfg.Noise, 1e-30),
		BSBoard: link("bs", d.BS), UEBoard: link("ue", d.UE), IQ: sdr.IQ{Kind: sdr.IQTCP, Addr: d.IQ, SampleRate: 1e6},
		Frame: frame, Margin: margin}
	return tb
}

func setup(t testing.TB, mb, mu int, seed uint64) radio.Setup {
	t.Helper()
	w, err := beamforming.Codebook("random", bsArray.Nh, bsArray.Nv, mb, shifter, seed)
	if err != nil {
		t.Fatal(err)
	}
	f, err := beamforming.Codebook("dft", ueArray.Nh, ueArray.Nv, mu, shifter, 0)
	if err != nil {
		t.Fatal(err)
	}
	return radio.Setup{W: w, F: f, Pilots: beamforming.Pilots(mu, txPower)}
}

func open(t testing.TB, p sdr.Params) *sdr.Radio {
	t.Helper()
	r, err := sdr.New(context.Background(), p, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Park(context.Background()) })
	return r
}

// Without noise, over the air Y must be the simulated backend's Y for the same channel, codes and
// per-element errors: one signal model. The residual is float32 IQ (relative precision 6e-8 per
// sample, amplified by the CFO and phase estimates over a 1.6k-sample sweep); -90 dB is far below any
// noise floor and far above a wrong model (a wrong weight or pilot costs > -20 dB).
func TestOverTheAirIsTheSignalModel(t *testing.T) {
	h := channel(1)
	bsImp := beamforming.NewImpairments(bsArray.N(), 1, 10, 0, 3)
	ueImp := beamforming.NewImpairments(ueArray.N(), 1, 10, 0, 4)
	db := func(im beamforming.Impairments) []float64 {
		out := make([]float64, len(im.Gain))
		for i, g := range im.Gain {
			out[i] = 20 * math.Log10(g)
		}
		return out
	}
	tb := start(t, psemu.Config{
		BS:       psemu.Board{PhaseErrRad: bsImp.Phase, GainErrDB: db(bsImp)},
		UE:       psemu.Board{PhaseErrRad: ueImp.Phase, GainErrDB: db(ueImp)},
		Channels: [][]complex128{h}, CFO: 3e-4, Seed: 1,
	})
	r := open(t, tb.p)
	sim, err := simradio.New(simradio.Params{BS: bsArray, UE: ueArray, PhaseShifter: shifter, TxPower: txPower,
		BSImp: bsImp, UEImp: ueImp, Channels: [][]complex128{h}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := bounded(t)
	for _, s := range []radio.Setup{setup(t, 12, 2, 1), setup(t, 16, 1, 2), setup(t, 5, 2, 3)} {
		if err := r.Program(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := sim.Program(ctx, s); err != nil {
			t.Fatal(err)
		}
		var ota, want radio.Capture
		for range 3 {
			if err := r.Capture(ctx, &ota); err != nil {
				t.Fatal(err)
			}
			if err := sim.Capture(ctx, &want); err != nil {
				t.Fatal(err)
			}
			if ota.Truth != nil {
				t.Fatal("hardware capture carries a truth")
			}
			if got := estimator.DB(estimator.NMSE(want.Y, ota.Y)); got > -90 {
				t.Errorf("M_B x M_U = %d x %d: over-the-air Y is %.1f dB off the signal model", s.W.M, s.F.M, got)
			}
		}
	}
}

// Y's noise per entry must be Noise (rf.noise_dbm), as in the simulated backend. The correlator's
// phase reference adds sigma_s^2/(3P A^2) relative error per entry with sigma_s^2 = Noise·L the noise
// per sample and A^2 the mean |y|^2 (radio/sdr/pilot's package doc), i.e. a factor 1 + L/(3P) = 1.083
// here. 300 sweeps of 24 entries give a relative standard error of about 1/sqrt(7200) = 1.2 %; the
// common phase error of a sweep correlates its entries, which at most doubles that for the 8 % it
// contributes. 5 % is over 3 sigma.
func TestNoiseIsConfigured(t *testing.T) {
	const noise = 1e-11
	h := channel(2)
	tb := start(t, psemu.Config{Channels: [][]complex128{h}, Noise: noise, CFO: -2e-4, Seed: 2})
	r := open(t, tb.p)
	sim, err := simradio.New(simradio.Params{BS: bsArray, UE: ueArray, PhaseShifter: shifter, TxPower: txPower, Channels: [][]complex128{h}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := bounded(t)
	s := setup(t, 12, 2, 4)
	r.Program(ctx, s)
	sim.Program(ctx, s)
	var ota, want radio.Capture
	if err := sim.Capture(ctx, &want); err != nil {
		t.Fatal(err)
	}
	var sum float64
	n := 0
	for range 300 {
		if err := r.Capture(ctx, &ota); err != nil {
			t.Fatal(err)
		}
		for i, y := range ota.Y {
			d := y - want.Y[i]
			sum += real(d)*real(d) + imag(d)*imag(d)
			n++
		}
	}
	wantRatio := 1 + float64(frame.PilotLen)/(3*float64(frame.PreambleLen))
	if got := sum / float64(n) / noise; math.Abs(got/wantRatio-1) > 0.05 {
		t.Errorf("Y noise per entry is %.3f x Noise, want %.3f", got, wantRatio)
	}
}

// A board that disappears fails captures with errors naming it and the command; once it is back the
// radio programs it again and captures resume, without a new radio.
func TestBoardOutage(t *testing.T) {
	tb := start(t, psemu.Config{Channels: [][]complex128{channel(3)}, Noise: 1e-12, Seed: 3,
		Outage: psemu.Outage{Board: "bs", AtInterval: 0, For: 400 * time.Millisecond}})
	r := open(t, tb.p)
	ctx := bounded(t)
	if err := r.Program(ctx, setup(t, 8, 2, 5)); err != nil {
		t.Fatal(err)
	}
	// The first trigger starts the outage: that capture may fail already (the port can vanish
	// before its ACK is read).
	var c radio.Capture
	var failed int
	var firstErr error
	deadline := time.Now().Add(10 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		err := r.Capture(cctx, &c)
		cancel()
		if err == nil && failed > 0 {
			break
		}
		if err != nil {
			if failed++; firstErr == nil {
				firstErr = err
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no capture succeeded after the outage (%d failed, last %v)", failed, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var be *board.Error
	if !errors.As(firstErr, &be) || be.Board != "bs" || !strings.Contains(firstErr.Error(), `board "bs"`) {
		t.Errorf("outage error %v does not name the board", firstErr)
	}
	for range 5 {
		if err := r.Capture(ctx, &c); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	}
}

// Line faults (lost and corrupted frames both ways) are absorbed by the boards' retries: every
// capture still succeeds.
func TestLineFaults(t *testing.T) {
	faults := func(seed uint64) psemu.Board {
		return psemu.Board{Faults: emu.Faults{DropRate: 0.05, CorruptRate: 0.05, Seed: seed}}
	}
	tb := start(t, psemu.Config{BS: faults(1), UE: faults(2), Channels: [][]complex128{channel(4)}, Noise: 1e-12, Seed: 4})
	r := open(t, tb.p)
	ctx := bounded(t)
	for k := range 20 {
		if err := r.Program(ctx, setup(t, 6+k%3, 2, uint64(k))); err != nil {
			t.Fatal(err)
		}
		var c radio.Capture
		if err := r.Capture(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
}

func TestProgramRejects(t *testing.T) {
	tb := start(t, psemu.Config{Channels: [][]complex128{channel(5)}, Seed: 5})
	r := open(t, tb.p)
	ctx := bounded(t)
	s := setup(t, 4, 2, 1)
	s.Pilots = beamforming.Pilots(2, 2*txPower)
	if err := r.Program(ctx, s); err == nil || !strings.Contains(err.Error(), "pilot") {
		t.Errorf("other pilots: %v", err)
	}
	s = setup(t, 4, 2, 1)
	s.W.N = 3
	if err := r.Program(ctx, s); err == nil {
		t.Error("a combiner for another array accepted")
	}
	var c radio.Capture
	if err := r.Capture(ctx, &c); err == nil {
		t.Error("capture before Program accepted")
	}
	p := tb.p
	p.UE = radio.Array{Nh: 2, Nv: 2}
	if _, err := sdr.New(ctx, p, quiet); err == nil || !strings.Contains(err.Error(), "board ue") {
		t.Errorf("a 4-element UE array on a 2-element board: %v", err)
	}
}

// A recorded trial replays to the very Y the live radio correlated, every time, failures included;
// calls must come in the recorded order with the recorded setups.
func TestRecordReplay(t *testing.T) {
	tb := start(t, psemu.Config{Channels: [][]complex128{channel(6)}, Noise: 1e-11, CFO: 1e-4, Seed: 6})
	base := filepath.Join(t.TempDir(), "trial")
	a, b := setup(t, 10, 2, 1), setup(t, 16, 2, 2)
	rec, err := sdr.NewRecorder(base, iq.Meta{Datatype: iq.CF32, SampleRate: 1e6}, sdr.SetupDigest(a))
	if err != nil {
		t.Fatal(err)
	}
	p := tb.p
	p.Record = rec.Record
	r := open(t, p)
	ctx := bounded(t)
	order := []radio.Setup{a, a, b, a, a, b, a}
	var live [][]complex128
	for k, s := range order {
		if err := r.Program(ctx, s); err != nil {
			t.Fatal(err)
		}
		var c radio.Capture
		if k == 4 { // a capture that times out before its window arrives
			cctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
			err := r.Capture(cctx, &c)
			cancel()
			if err == nil {
				t.Fatal("capture with an expired context succeeded")
			}
			live = append(live, nil)
			continue
		}
		if err := r.Capture(ctx, &c); err != nil {
			t.Fatal(err)
		}
		live = append(live, c.Y)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if rec.Sweeps() != len(order)-1 {
		t.Fatalf("recorded %d sweeps, want %d", rec.Sweeps(), len(order)-1)
	}
	params := replay.Params{BS: bsArray, UE: ueArray, PhaseShifter: shifter, TxPower: txPower, Noise: 1e-11}
	for run := range 2 {
		rp, err := replay.Open(base+".sigmf-meta", params)
		if err != nil {
			t.Fatal(err)
		}
		if rp.Events() != 2*len(order) || rp.Intervals() != 5 {
			t.Fatalf("replay holds %d calls, %d intervals; want %d, 5", rp.Events(), rp.Intervals(), 2*len(order))
		}
		for k, s := range order {
			if err := rp.Program(ctx, s); err != nil {
				t.Fatal(err)
			}
			var c radio.Capture
			err := rp.Capture(ctx, &c)
			switch {
			case live[k] == nil && (err == nil || !strings.Contains(err.Error(), "recorded failure")):
				t.Fatalf("run %d, call %d: replayed %v, want the recorded failure", run, k, err)
			case live[k] != nil && (err != nil || !equal(c.Y, live[k])):
				t.Fatalf("run %d, call %d: replayed Y differs from the live one (%v)", run, k, err)
			}
		}
		var c radio.Capture
		if err := rp.Capture(ctx, &c); !errors.Is(err, io.EOF) {
			t.Errorf("capture past the recording: %v, want io.EOF", err)
		}
		rp.Park(ctx)
	}
	rp, err := replay.Open(base+".sigmf-meta", params)
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Park(ctx)
	var c radio.Capture
	if err := rp.Program(ctx, b); err == nil || !strings.Contains(err.Error(), "not this one") {
		t.Errorf("program of another setup: %v", err)
	}
	if err := rp.Capture(ctx, &c); err == nil || !strings.Contains(err.Error(), "programmed with") {
		t.Errorf("capture of a setup that was not programmed: %v", err)
	}
	if err := rp.Capture(ctx, &c); err == nil || !strings.Contains(err.Error(), "is a program, not a capture") {
		t.Errorf("capture where a program was recorded: %v", err)
	}
	if _, err := replay.Open(base+".sigmf-meta", replay.Params{BS: radio.Array{Nh: 2, Nv: 2}, UE: ueArray, PhaseShifter: shifter, TxPower: 1, Noise: 1}); err == nil {
		t.Error("a recording of another array accepted")
	}
}

func equal(a, b []complex128) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestHealth(t *testing.T) {
	tb := start(t, psemu.Config{Channels: [][]complex128{channel(7)}, Noise: 1e-11, CFO: 3e-4, Seed: 7})
	r := open(t, tb.p)
	ctx := bounded(t)
	if err := r.Program(ctx, setup(t, 8, 2, 1)); err != nil {
		t.Fatal(err)
	}
	var c radio.Capture
	for range 3 {
		if err := r.Capture(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	h := r.Health()
	if h["captures"] != 3 || h["bs_requests"].(int) < 4 || h["ue_requests"].(int) < 2 {
		t.Errorf("health %v", h)
	}
	// The CFO estimate's error is far below 1e-5 rad/sample at this SNR (pilot package doc).
	if cfo := h["cfo_rad_per_sample"].(float64); math.Abs(cfo-3e-4) > 1e-5 {
		t.Errorf("reported CFO %g, psemu applies 3e-4", cfo)
	}
	if _, err := json.Marshal(h); err != nil {
		t.Error(err)
	}
}

// bounded is the test's context: a capture whose burst never arrives fails the test within a
// minute instead of hanging it.
func bounded(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
