package board_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/cmplx"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cctrack/cctrack/radio"
	"github.com/cctrack/cctrack/radio/sdr/board"
	"github.com/cctrack/cctrack/radio/sdr/board/emu"
)

// servePTY runs b on a pty behind a link in a temp dir until the test ends. It returns the link and
// a channel that gets the path each time the board (re)appears, the first time already drained.
func servePTY(t testing.TB, b *emu.Board) (string, <-chan string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	link := filepath.Join(t.TempDir(), "board")
	ready := make(chan string, 16)
	done := make(chan error, 1)
	go func() { done <- b.ServePTY(ctx, link, func(p string) { ready <- p }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServePTY: %v", err)
		}
	})
	select {
	case <-ready:
		return link, ready
	case err := <-done:
		t.Fatalf("ServePTY: %v", err)
	}
	return "", nil
}

func open(t testing.TB, name, path string, timeout time.Duration, retries int) *board.Client {
	t.Helper()
	c, err := board.Open(context.Background(), board.Config{Name: name, Port: path, Baud: 115200, Timeout: timeout, Retries: retries}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ramp(n, levels, k int) []uint16 {
	codes := make([]uint16, n)
	for i := range codes {
		codes[i] = uint16((i*k + k) % levels)
	}
	return codes
}

// Every command, through tarm/serial on the pty, on shapes that need several frames per call
// (16-bit phases on 1500 elements; a sweep longer than one ARM_SWEEP frame).
func TestCommands(t *testing.T) {
	for _, tc := range []struct{ elements, phaseBits, gainBits, beams, slots int }{
		{4, 2, 0, 4, 16},
		{100, 6, 4, 24, 96},
		{1500, 16, 8, 3, 24},
		{4, 2, 0, 2, 1200},
	} {
		t.Run(fmt.Sprintf("%dx%dbit/%dslots", tc.elements, tc.phaseBits, tc.slots), func(t *testing.T) {
			b := emu.New(emu.Config{ID: "bs-1", Elements: tc.elements, PhaseBits: tc.phaseBits, GainBits: tc.gainBits, Firmware: "emu-1.0", TemperatureC: 31.25})
			path, _ := servePTY(t, b)
			c := open(t, "bs", path, 200*time.Millisecond, 2)
			ctx := context.Background()
			id, err := c.Identify(ctx)
			want := board.Identity{ID: "bs-1", Elements: tc.elements, PhaseBits: tc.phaseBits, GainBits: tc.gainBits, Firmware: "emu-1.0", Beams: emu.DefaultBeams, MaxSlots: emu.DefaultMaxSlots, MaxPayload: board.MaxPayload}
			if err != nil || id != want {
				t.Fatalf("Identify = %+v, %v; want %+v", id, err, want)
			}
			levels := 1 << tc.phaseBits
			phases := ramp(tc.elements, levels, 7)
			if err := c.SetPhases(ctx, phases); err != nil {
				t.Fatal(err)
			}
			phases[tc.elements-1] = uint16(levels - 1)
			if err := c.SetPhase(ctx, tc.elements-1, uint16(levels-1)); err != nil {
				t.Fatal(err)
			}
			gains := make([]uint16, tc.elements)
			if tc.gainBits > 0 {
				gains = ramp(tc.elements, 1<<tc.gainBits, 3)
				if err := c.SetGains(ctx, gains); err != nil {
					t.Fatal(err)
				}
			} else if err := c.SetGains(ctx, gains); err == nil {
				t.Fatal("SetGains on a board without gain control: no error")
			}
			st, err := c.ReadState(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(st.Phases, phases) || !slices.Equal(st.Gains, gains) || st.Beam != -1 {
				t.Fatalf("ReadState after SetPhases/SetGains differs (beam %d)", st.Beam)
			}
			table := make([][]uint16, tc.beams)
			for i := range table {
				table[i] = ramp(tc.elements, levels, i+1)
			}
			if err := c.LoadBeamTable(ctx, table); err != nil {
				t.Fatal(err)
			}
			if err := c.SelectBeam(ctx, tc.beams-1); err != nil {
				t.Fatal(err)
			}
			if st, err = c.ReadState(ctx); err != nil || st.Beam != tc.beams-1 || !slices.Equal(st.Phases, table[tc.beams-1]) {
				t.Fatalf("ReadState after SelectBeam(%d): beam %d, err %v", tc.beams-1, st.Beam, err)
			}
			order := make([]uint16, tc.slots)
			for k := range order {
				order[k] = uint16(k % tc.beams)
			}
			var mu sync.Mutex
			var got []uint16
			b.OnTrigger(func(s emu.Sweep) {
				mu.Lock()
				got = append([]uint16(nil), s.Beams...)
				mu.Unlock()
			})
			if err := c.ArmSweep(ctx, order, 128); err != nil {
				t.Fatal(err)
			}
			if err := c.Trigger(ctx); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(got, order) {
				t.Fatalf("swept beams %v, want %v", got, order)
			}
			temp, err := c.Temperature(ctx)
			if err != nil || temp != 31.25 {
				t.Fatalf("Temperature = %v, %v; want 31.25", temp, err)
			}
		})
	}
}

// Refusals are errors that name the board and the command and wrap the Status; arguments a board
// would refuse are refused before anything is sent.
func TestNack(t *testing.T) {
	b := emu.New(emu.Config{ID: "ue-1", Elements: 4, PhaseBits: 3, GainBits: 2})
	path, _ := servePTY(t, b)
	c := open(t, "ue", path, 200*time.Millisecond, 1)
	ctx := context.Background()
	err := c.Trigger(ctx)
	if !errors.Is(err, board.StatusNotArmed) || !strings.Contains(err.Error(), `board "ue" TRIGGER`) {
		t.Fatalf("Trigger unarmed: %v", err)
	}
	if err := c.SelectBeam(ctx, 5); !errors.Is(err, board.StatusBadArg) || !strings.Contains(err.Error(), "SELECT_BEAM") {
		t.Fatalf("SelectBeam of an unloaded beam: %v", err)
	}
	if err := c.ArmSweep(ctx, []uint16{0}, 1); !errors.Is(err, board.StatusBadArg) {
		t.Fatalf("ArmSweep of an unloaded beam: %v", err)
	}
	sent := c.Stats().Requests
	for _, call := range []func() error{
		func() error { return c.SetPhase(ctx, 4, 0) },
		func() error { return c.SetPhase(ctx, 0, 8) },
		func() error { return c.SetPhases(ctx, []uint16{0, 0, 0}) },
		func() error { return c.SetGains(ctx, []uint16{0, 0, 0, 4}) },
		func() error { return c.LoadBeamTable(ctx, [][]uint16{{0, 0, 0, 9}}) },
		func() error { return c.ArmSweep(ctx, nil, 1) },
	} {
		var be *board.Error
		if err := call(); !errors.As(err, &be) || be.Board != "ue" {
			t.Errorf("invalid argument: %v", err)
		}
	}
	if got := c.Stats().Requests; got != sent {
		t.Errorf("invalid arguments sent %d requests", got-sent)
	}
}

// The weights a sweep reports follow the codes, the gains and the injected per-element errors, and
// a trigger to the master also sweeps the linked board.
func TestSweepWeights(t *testing.T) {
	const n = 8
	perr := make([]float64, n)
	gerr := make([]float64, n)
	for e := range n {
		perr[e] = 0.1 * float64(e-3)
		gerr[e] = 0.25 * float64(e%3-1)
	}
	bs := emu.New(emu.Config{ID: "bs", Elements: n, PhaseBits: 4, GainBits: 3, PhaseErrRad: perr, GainErrDB: gerr})
	ue := emu.New(emu.Config{ID: "ue", Elements: 2, PhaseBits: 2})
	bs.Link(ue)
	var sweeps []emu.Sweep
	var mu sync.Mutex
	keep := func(s emu.Sweep) {
		mu.Lock()
		defer mu.Unlock()
		c := s
		c.Slots = make([][]complex128, len(s.Slots))
		for k := range s.Slots {
			c.Slots[k] = append([]complex128(nil), s.Slots[k]...)
		}
		sweeps = append(sweeps, c)
	}
	bs.OnTrigger(keep)
	ue.OnTrigger(keep)
	bsPath, _ := servePTY(t, bs)
	uePath, _ := servePTY(t, ue)
	cb := open(t, "bs", bsPath, 200*time.Millisecond, 1)
	cu := open(t, "ue", uePath, 200*time.Millisecond, 1)
	ctx := context.Background()
	table := [][]uint16{ramp(n, 16, 1), ramp(n, 16, 5)}
	gains := ramp(n, 8, 1)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cb.LoadBeamTable(ctx, table))
	must(cb.SetGains(ctx, gains))
	must(cb.ArmSweep(ctx, []uint16{1, 0, 1}, 64))
	must(cu.LoadBeamTable(ctx, [][]uint16{{0, 1}, {2, 3}}))
	must(cu.ArmSweep(ctx, []uint16{1, 1, 0}, 64))
	must(cb.Trigger(ctx))
	if len(sweeps) != 2 || sweeps[0].Board != "bs" || sweeps[1].Board != "ue" {
		t.Fatalf("sweeps %+v, want the BS's then the linked UE's", sweeps)
	}
	// Weights are computed in float64 from exact inputs: 1e-12 is rounding, not model error.
	const tol = 1e-12
	for k, beam := range []int{1, 0, 1} {
		for e := range n {
			ph := 2*math.Pi*float64(table[beam][e])/16 + perr[e]
			amp := math.Pow(10, (gerr[e]-board.GainStepDB*float64(gains[e]))/20) / math.Sqrt(n)
			if d := cmplx.Abs(sweeps[0].Slots[k][e] - cmplx.Rect(amp, ph)); d > tol {
				t.Fatalf("BS slot %d element %d: %v, want %v", k, e, sweeps[0].Slots[k][e], cmplx.Rect(amp, ph))
			}
		}
	}
	if w := sweeps[1].Slots[0][1]; cmplx.Abs(w-cmplx.Rect(1/math.Sqrt2, 2*math.Pi*3/4)) > tol {
		t.Fatalf("UE slot 0 element 1: %v", w)
	}
	if _, _, beam := bs.State(); beam != 1 {
		t.Fatalf("after the sweep the BS holds beam %d, want the last slot's 1", beam)
	}
}

// Under dropped and corrupted frames every call still succeeds through retransmissions, and the
// board runs each request once: as many sweeps fire as Trigger calls succeed.
func TestFaultsIdempotent(t *testing.T) {
	b := emu.New(emu.Config{ID: "bs", Elements: 64, PhaseBits: 6, Faults: emu.Faults{DropRate: 0.15, CorruptRate: 0.15, Seed: 5}})
	var fired atomic.Int64
	b.OnTrigger(func(emu.Sweep) { fired.Add(1) })
	path, _ := servePTY(t, b)
	// With p = 0.3 of a failed attempt, 8 retries fail a call with probability 0.3^9 = 2e-5; the
	// generator is seeded, so the run is the same every time anyway.
	c := open(t, "bs", path, 20*time.Millisecond, 8)
	ctx := context.Background()
	if err := c.LoadBeamTable(ctx, [][]uint16{ramp(64, 64, 1), ramp(64, 64, 2)}); err != nil {
		t.Fatal(err)
	}
	if err := c.ArmSweep(ctx, []uint16{0, 1}, 10); err != nil {
		t.Fatal(err)
	}
	const triggers = 40
	for i := range triggers {
		if err := c.Trigger(ctx); err != nil {
			t.Fatalf("trigger %d: %v", i, err)
		}
		codes := ramp(64, 64, i)
		if err := c.SetPhases(ctx, codes); err != nil {
			t.Fatal(err)
		}
		if ph, _, _ := b.State(); !slices.Equal(ph, codes) {
			t.Fatalf("after SetPhases %d the board holds other codes", i)
		}
	}
	if n := fired.Load(); n != triggers {
		t.Fatalf("%d sweeps fired for %d triggers", n, triggers)
	}
	if s := c.Stats(); s.Retransmissions == 0 {
		t.Fatalf("no retransmissions under faults: %+v", s)
	}
}

// An answer slower than every attempt is a timeout naming board and command; a cancelled context
// ends a call early; late answers to old requests are then ignored.
func TestTimeout(t *testing.T) {
	b := emu.New(emu.Config{ID: "bs", Elements: 4, PhaseBits: 2})
	path, _ := servePTY(t, b)
	c, err := board.Open(context.Background(), board.Config{Name: "bs", Port: path, Baud: 115200, Timeout: 20 * time.Millisecond, Retries: 1}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b.SetFaults(emu.Faults{Delay: 300 * time.Millisecond})
	err = c.SetPhase(context.Background(), 0, 1)
	if !errors.Is(err, radio.ErrTimeout) || !strings.Contains(err.Error(), `board "bs" SET_PHASE`) {
		t.Fatalf("SetPhase to a slow board: %v", err)
	}
	if s := c.Stats(); s.Retransmissions != 1 {
		t.Fatalf("%d retransmissions, want Retries = 1", s.Retransmissions)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.SetPhase(ctx, 0, 2); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `board "bs" SET_PHASE`) {
		t.Fatalf("SetPhase with an expiring context: %v", err)
	}
	b.SetFaults(emu.Faults{})
	c2, err := board.Open(context.Background(), board.Config{Name: "bs", Port: path, Baud: 115200, Timeout: 2 * time.Second, Retries: 0}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.SetPhase(context.Background(), 0, 3); err != nil {
		t.Fatal(err)
	}
	if ph, _, _ := b.State(); ph[0] != 3 {
		t.Fatalf("element 0 holds code %d, want 3", ph[0])
	}
}

func TestConfigErrors(t *testing.T) {
	ok := board.Config{Name: "bs", Port: "/dev/null", Baud: 115200, Timeout: time.Second}
	for _, tc := range []struct {
		edit func(*board.Config)
		want string
	}{
		{func(c *board.Config) { c.Name = "" }, "empty name"},
		{func(c *board.Config) { c.Port = "" }, "empty port"},
		{func(c *board.Config) { c.Baud = 100000 }, "baud 100000"},
		{func(c *board.Config) { c.Timeout = 0 }, "timeout"},
		{func(c *board.Config) { c.Retries = -1 }, "retries"},
	} {
		cfg := ok
		tc.edit(&cfg)
		if _, err := board.Open(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error with %q", cfg, err, tc.want)
		}
	}
	cfg := ok
	cfg.Port = filepath.Join(t.TempDir(), "absent")
	if _, err := board.Open(context.Background(), cfg, slog.New(slog.DiscardHandler)); !errors.Is(err, board.ErrDisconnected) || !strings.Contains(err.Error(), `board "bs" open`) {
		t.Errorf("absent port: %v", err)
	}
}
