package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/internal/telemetry"
	"github.com/cctrack/cctrack/radio"
	"github.com/cctrack/cctrack/radio/simradio"
)

// collect is a Sink that keeps every point.
type collect struct {
	mu     sync.Mutex
	points []telemetry.Point
}

func (c *collect) Add(p ...telemetry.Point) {
	c.mu.Lock()
	c.points = append(c.points, p...)
	c.mu.Unlock()
}

func (c *collect) count(measurement, estimator string) int {
	n := 0
	for _, p := range c.points {
		if p.Measurement != measurement {
			continue
		}
		for _, t := range p.Tags {
			if estimator == "" || (t.Key == "estimator" && t.Value == estimator) {
				n++
				break
			}
		}
	}
	return n
}

// testbed is a 4x4 BS / 2x1 UE simulated radio over random i.i.d. channels (unit variance), with a
// full-rank DFT design so that LS is exact up to noise: NMSE = sigma^2/P_tx per entry (DESIGN.md
// signal model with unitary W and F), i.e. -snrDB.
func testbed(t *testing.T, steps int, snrDB float64, hide bool) (radio.Radio, radio.Setup) {
	t.Helper()
	bs, ue := radio.Array{Nh: 4, Nv: 4}, radio.Array{Nh: 2, Nv: 1}
	rng := rand.New(rand.NewPCG(1, 2))
	chans := make([][]complex128, steps)
	for i := range chans {
		chans[i] = make([]complex128, bs.N()*ue.N())
		for j := range chans[i] {
			chans[i][j] = complex(rng.NormFloat64(), rng.NormFloat64()) / math.Sqrt2
		}
	}
	ps := beamforming.PhaseShifter{Bits: 12}
	tx := 1.0
	r, err := simradio.New(simradio.Params{Scene: "iid", BS: bs, UE: ue, PhaseShifter: ps, TxPower: tx,
		Noise: tx * math.Pow(10, -snrDB/10), Channels: chans, Seed: 3, HideTruth: hide})
	if err != nil {
		t.Fatal(err)
	}
	w, err := beamforming.Codebook("dft", bs.Nh, bs.Nv, bs.N(), ps, 0)
	if err != nil {
		t.Fatal(err)
	}
	f, err := beamforming.Codebook("dft", ue.Nh, ue.Nv, ue.N(), ps, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r, radio.Setup{W: w, F: f, Pilots: beamforming.Pilots(f.M, tx)}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestRunScoresEveryIntervalAgainstTruth(t *testing.T) {
	const n, snrDB = 400, 20
	r, setup := testbed(t, n, snrDB, false)
	sink := &collect{}
	c, err := New(r, []estimator.Estimator{estimator.NewLS()}, sink, Config{Run: "t", Setup: setup, Intervals: n}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	if st.Intervals != n || st.Failed != 0 || st.NoNMSE != 0 {
		t.Fatalf("status %+v", st)
	}
	ls := st.Estimators[0]
	// Exact LS on a unitary design: the error has energy N_B N_U sigma^2/P, and ||H||^2 ~ Gamma(32, 1)
	// so E[1/||H||^2] = 1/31: E[NMSE] = (32/31) sigma^2/P. Each interval's NMSE has a relative spread
	// of ~sqrt(2/64) = 18 %, so the mean over 400 distinct channels is within ~0.9 % (0.04 dB) and the
	// 12-bit DFT beams are orthogonal to ~1e-3: 0.2 dB is over 4 standard deviations.
	want := -float64(snrDB) + 10*math.Log10(32.0/31)
	if ls.Scored != n || math.Abs(ls.MeanNMSEdB-want) > 0.2 {
		t.Errorf("ls: scored %d, mean NMSE %.3f dB, want %d and %.2f dB", ls.Scored, ls.MeanNMSEdB, n, want)
	}
	if got := sink.count("nmse", "ls"); got != n {
		t.Errorf("%d nmse points, want %d", got, n)
	}
	if got := sink.count("radio", ""); got != n {
		t.Errorf("%d radio points, want %d", got, n)
	}
	p := sink.points[0]
	keys := []string{}
	for _, tg := range p.Tags {
		keys = append(keys, tg.Key)
	}
	if strings.Join(keys, ",") != "array,backend,estimator,run,scene" {
		t.Errorf("nmse tags %v, want array,backend,estimator,run,scene (sorted)", keys)
	}
}

// flaky fails every third capture, like a board that misses a deadline.
type flaky struct {
	radio.Radio
	n int
}

func (f *flaky) Capture(ctx context.Context, c *radio.Capture) error {
	f.n++
	if f.n%3 == 0 {
		return radio.ErrTimeout
	}
	return f.Radio.Capture(ctx, c)
}

// resets counts how often the controller restarts a tracker.
type resets struct {
	estimator.Estimator
	n int
}

func (r *resets) Reset() { r.n++ }

var _ estimator.Tracker = (*resets)(nil)

// Failed intervals are counted, not fatal; each one is a gap in the sequence, so trackers restart
// after it (and at the start of the run).
func TestFailedIntervalsAreCountedNotFatal(t *testing.T) {
	r, setup := testbed(t, 10, 20, false)
	sink := &collect{}
	tr := &resets{Estimator: estimator.NewLS()}
	c, err := New(&flaky{Radio: r}, []estimator.Estimator{tr}, sink, Config{Run: "t", Setup: setup, Intervals: 30}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	if st.Intervals != 30 || st.Failed != 10 || st.Estimators[0].Scored != 20 || !strings.Contains(st.LastError, "timeout") {
		t.Errorf("status %+v: want 30 intervals, 10 failed, 20 scored, a timeout error", st)
	}
	if tr.n != 10 {
		t.Errorf("tracker reset %d times, want 10 (the start, and after each failure but the last, interval 30)", tr.n)
	}
}

// slow never answers a capture; the controller's timeout must end the call.
type slow struct{ radio.Radio }

func (slow) Capture(ctx context.Context, _ *radio.Capture) error {
	<-ctx.Done()
	return fmt.Errorf("%w: %w", radio.ErrTimeout, ctx.Err())
}

func TestCaptureTimeout(t *testing.T) {
	r, setup := testbed(t, 10, 20, false)
	synctest.Test(t, func(t *testing.T) {
		c, err := New(slow{r}, []estimator.Estimator{estimator.NewLS()}, &collect{}, Config{Run: "t", Setup: setup, Intervals: 3, Timeout: time.Second}, quiet())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := c.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if st := c.Status(); st.Failed != 3 || time.Since(start) != 3*time.Second {
			t.Errorf("failed %d in %v, want 3 timeouts of 1 s", st.Failed, time.Since(start))
		}
	})
}

// Without a true H, every ReferenceEvery-th interval is scored against a full-overhead sweep. On a
// static channel that reference is LS with N_B N_U observations, so the measured NMSE is the true
// one plus the reference's own error: E ~ sigma^2/P (estimate) + sigma^2/P (reference) = 2x, +3 dB.
func TestReferenceSweepScoresHardwareRuns(t *testing.T) {
	const n, every, snrDB = 300, 3, 20
	r, setup := testbed(t, 1, snrDB, true)
	c, err := New(r, []estimator.Estimator{estimator.NewLS()}, &collect{}, Config{Run: "t", Setup: setup, Intervals: n, ReferenceEvery: every}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	ls := st.Estimators[0]
	// Intervals 0, 3, 6, ... are scored.
	if ls.Scored != n/every || st.NoNMSE != n-ls.Scored {
		t.Fatalf("scored %d of %d (unscored %d)", ls.Scored, n, st.NoNMSE)
	}
	// 100 scored intervals x 32 entries: relative spread of the mean ~2 %, so 0.5 dB is ample.
	if want := -float64(snrDB) + 10*math.Log10(2); math.Abs(ls.MeanNMSEdB-want) > 0.5 {
		t.Errorf("mean NMSE against the reference %.2f dB, want %.2f dB", ls.MeanNMSEdB, want)
	}
}

func TestRunStopsOnCancelAndParks(t *testing.T) {
	r, setup := testbed(t, 10, 20, false)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := New(r, []estimator.Estimator{estimator.NewLS()}, cancelAfter{cancel: cancel, n: new(int)}, Config{Run: "t", Setup: setup}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		t.Fatalf("cancel is a clean stop, got %v", err)
	}
	if got := c.Status().Intervals; got != 5 {
		t.Errorf("%d intervals, want 5", got)
	}
	var cp radio.Capture
	if err := r.Capture(context.Background(), &cp); err == nil {
		t.Error("the radio was not parked")
	}
}

type cancelAfter struct {
	cancel func()
	n      *int
}

func (c cancelAfter) Add(...telemetry.Point) {
	if *c.n++; *c.n == 5 {
		c.cancel()
	}
}

func TestStatusJSON(t *testing.T) {
	r, setup := testbed(t, 10, 20, false)
	c, err := New(r, []estimator.Estimator{estimator.NewLS()}, &collect{}, Config{Run: "t", Setup: setup}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	// Before any interval the NMSE is NaN, which JSON cannot hold: it must come out as null.
	b, err := json.Marshal(c.Status())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"last_nmse_db":null`) || !strings.Contains(string(b), `"name":"ls"`) {
		t.Errorf("status JSON %s", b)
	}
}

func TestNewRejectsMismatchedSetup(t *testing.T) {
	r, setup := testbed(t, 1, 20, false)
	setup.Pilots = setup.Pilots[:1]
	_, err := New(r, []estimator.Estimator{estimator.NewLS()}, &collect{}, Config{Setup: setup}, quiet())
	if err == nil || !strings.Contains(err.Error(), "pilots") {
		t.Errorf("err = %v, want a mismatch naming the pilots", err)
	}
	if _, err := New(r, nil, &collect{}, Config{Setup: setup}, quiet()); err == nil {
		t.Error("no estimators accepted")
	}
}

// clocked stamps capture k with t0 + k·step, as if each sweep took step.
type clocked struct {
	radio.Radio
	k    *int
	step time.Duration
}

func (c clocked) Capture(ctx context.Context, cp *radio.Capture) error {
	err := c.Radio.Capture(ctx, cp)
	*c.k++
	cp.Time = time.Unix(0, 0).Add(time.Duration(*c.k) * c.step)
	return err
}

// A reference sweep later than half a coherence interval after the regular capture is not scored;
// one in time is.
func TestLateReferenceSweepIsNotScored(t *testing.T) {
	const n, period = 6, 100 * time.Millisecond
	for _, tc := range []struct {
		step   time.Duration
		scored int
	}{{period / 2, n}, {period/2 + time.Millisecond, 0}} {
		r, setup := testbed(t, 1, 20, true)
		c, err := New(clocked{r, new(int), tc.step}, []estimator.Estimator{estimator.NewLS()}, &collect{},
			Config{Run: "t", Setup: setup, ReferenceEvery: 1, Period: period}, quiet())
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := c.Step(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if st := c.Status(); st.Estimators[0].Scored != tc.scored || st.NoNMSE != n-tc.scored {
			t.Errorf("reference %v after the capture: scored %d, unscored %d; want %d scored", tc.step, st.Estimators[0].Scored, st.NoNMSE, tc.scored)
		}
	}
}
