package controller

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/radio"
)

// The history bins hold, per wall-clock second, the intervals done and 10·log10 of the mean linear
// NMSE of that second's intervals, the same numbers the telemetry points carry. synctest's clock
// starts on a whole second, so with a 250 ms period the bins hold 3, 4, 4, 4, 4 and 1 intervals.
func TestHistoryBinsMatchTelemetry(t *testing.T) {
	r, setup := testbed(t, 40, 20, false)
	synctest.Test(t, func(t *testing.T) {
		sink := &collect{}
		c, err := New(r, []estimator.Estimator{estimator.NewLS()}, sink,
			Config{Run: "t", Setup: setup, Intervals: 20, Period: 250 * time.Millisecond, HistoryBin: time.Second, HistoryLen: 3}, quiet())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := c.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		// The expected bins, from the nmse points (nmse_db back to linear).
		means := map[time.Time]*estimator.Mean{}
		for _, p := range sink.points {
			if p.Measurement != "nmse" {
				continue
			}
			bin := p.Time.Truncate(time.Second)
			if means[bin] == nil {
				means[bin] = &estimator.Mean{}
			}
			for _, f := range p.Fields {
				if f.Key == "nmse_db" {
					means[bin].Add(math.Pow(10, f.Value.(float64)/10))
				}
			}
		}
		st := c.Status()
		if len(st.History) != 3 {
			t.Fatalf("%d history bins, want the last 3: %+v", len(st.History), st.History)
		}
		for k, b := range st.History {
			wantStart := start.Add(time.Duration(3+k) * time.Second)
			wantN := []int{4, 4, 1}[k]
			m := means[wantStart]
			if !b.Start.Equal(wantStart) || b.Intervals != wantN || b.Failed != 0 || m == nil || m.N != wantN {
				t.Fatalf("bin %d: %+v, want start %v with %d intervals", k, b, wantStart, wantN)
			}
			// dB -> linear -> dB round trips within a few ulps; 1e-9 dB leaves room for summation order.
			if math.Abs(b.NMSEdB[0]-m.DB()) > 1e-9 {
				t.Errorf("bin %d: NMSE %.12f dB, the points give %.12f dB", k, b.NMSEdB[0], m.DB())
			}
		}
		// At t = 5 s the newest bin has just begun; the one before held 4 intervals in 1 s.
		if st.RateHz != 4 {
			t.Errorf("rate %v Hz, want 4", st.RateHz)
		}
		time.Sleep(3 * time.Second)
		if st := c.Status(); st.RateHz != 0 {
			t.Errorf("rate %v Hz 3 s after the last interval, want 0", st.RateHz)
		}
	})
}

// dies captures `ok` intervals and then fails every capture.
type dies struct {
	radio.Radio
	ok int
}

func (d *dies) Capture(ctx context.Context, c *radio.Capture) error {
	if d.ok == 0 {
		return radio.ErrTimeout
	}
	d.ok--
	return d.Radio.Capture(ctx, c)
}

// ConsecutiveFailed counts the failures since the last interval that ran; one success resets it.
func TestConsecutiveFailed(t *testing.T) {
	r, setup := testbed(t, 10, 20, false)
	c, err := New(&dies{Radio: r, ok: 5}, []estimator.Estimator{estimator.NewLS()}, &collect{}, Config{Run: "t", Setup: setup, Intervals: 12}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	failed := 0
	for _, b := range st.History {
		failed += b.Failed
	}
	if st.ConsecutiveFailed != 7 || st.Failed != 7 || failed != 7 {
		t.Errorf("consecutive %d, failed %d, in the history %d: want 7 each", st.ConsecutiveFailed, st.Failed, failed)
	}

	r, setup = testbed(t, 10, 20, false)
	c, err = New(&flaky{Radio: r}, []estimator.Estimator{estimator.NewLS()}, &collect{}, Config{Run: "t", Setup: setup, Intervals: 29}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Every third capture fails: interval 29 ran after 27 failed.
	if st := c.Status(); st.ConsecutiveFailed != 0 || st.Failed != 9 {
		t.Errorf("consecutive %d, failed %d: want 0 and 9", st.ConsecutiveFailed, st.Failed)
	}
}

// healthy is a radio that reports board health, counting how often it was asked.
type healthy struct {
	radio.Radio
	asked int
}

func (h *healthy) Health() map[string]any {
	h.asked++
	return map[string]any{"board0_temp_c": 41.5, "asked": h.asked}
}

var _ HealthReporter = (*healthy)(nil)

// Status describes the programmed phase shifters (per beam, the code of every element), follows
// what the radio holds, and carries a HealthReporter's report, asked once per history bin.
func TestStatusSetupAndHealth(t *testing.T) {
	r, setup := testbed(t, 10, 20, true)
	synctest.Test(t, func(t *testing.T) {
		h := &healthy{Radio: r}
		c, err := New(h, []estimator.Estimator{estimator.NewLS()}, &collect{},
			Config{Run: "t", Setup: setup, Intervals: 8, Period: 500 * time.Millisecond, ReferenceEvery: 4}, quiet())
		if err != nil {
			t.Fatal(err)
		}
		st := c.Status().Setup
		if st.Programmed != "" || st.Bits != 12 || st.BS.Array != "4x4" || st.BS.Elements != 16 || st.BS.Beams != setup.W.M || st.UE.Beams != setup.F.M {
			t.Fatalf("setup before the run %+v", st)
		}
		for j, row := range st.BS.Codes {
			for i, code := range row {
				if code != setup.W.Code[i*setup.W.M+j] {
					t.Fatalf("BS beam %d element %d: code %d, W has %d", j, i, code, setup.W.Code[i*setup.W.M+j])
				}
			}
		}
		if math.Abs(st.TxPowerDBm-30) > 1e-12 || math.Abs(st.NoiseDBm-10) > 1e-12 {
			t.Errorf("powers %v dBm, %v dBm; want 30 and 10 (1 W, 20 dB SNR)", st.TxPowerDBm, st.NoiseDBm)
		}
		// Interval 0 is a reference interval: the sweep is what the shifters hold after it.
		if err := c.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := c.Status().Setup.Programmed; got != "reference" {
			t.Errorf("after a reference interval the radio holds %q", got)
		}
		if err := c.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := c.Status().Setup.Programmed; got != "measurement" {
			t.Errorf("after a regular interval the radio holds %q", got)
		}
		if err := c.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		final := c.Status()
		// 6 more intervals at 0.5, 1, ..., 3 s fall in 4 distinct seconds: asked 4 times, not 6.
		if final.Setup.Programmed != "parked" || final.Health["board0_temp_c"] != 41.5 || h.asked != 4 {
			t.Errorf("after the run: programmed %q, health %v (asked %d times)", final.Setup.Programmed, final.Health, h.asked)
		}
	})
}

func TestHistoryBinJSON(t *testing.T) {
	b, err := json.Marshal(HistoryBin{Intervals: 2, NMSEdB: []float64{math.NaN(), -3.5}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"nmse_db":[null,-3.5]`) || !strings.Contains(string(b), `"intervals":2`) {
		t.Errorf("JSON %s", b)
	}
}
