// Package controller runs the testbed one coherence interval at a time: it programs the combiner W
// and precoder F through the radio, captures the pilot observation Y, runs every configured
// estimator, measures each one's NMSE and emits telemetry. A failing interval is counted and logged;
// it never stops the loop.
//
// NMSE (estimator.NMSE) is measured against the true H when the radio knows it (simulated backend).
// Hardware does not: there, every ReferenceEvery intervals the controller follows the regular capture
// with a full-overhead sweep (M_B = N_B, M_U = N_U DFT beams, exact least squares) within the same
// coherence interval, and that interval's estimates are scored against the sweep's channel. Only
// those intervals carry an NMSE; the reference's own noise bounds the NMSE that can be measured.
package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/internal/cmat"
	"github.com/cctrack/cctrack/internal/telemetry"
	"github.com/cctrack/cctrack/radio"
)

// Sink takes telemetry points without blocking (telemetry.Buffer).
type Sink interface {
	Add(points ...telemetry.Point)
}

// Config is one run's setup.
type Config struct {
	// Run names the run in telemetry (tag run).
	Run string
	// Setup is the regular pilot measurement: W and F codes and pilots.
	Setup radio.Setup
	// Intervals stops the run after that many intervals; 0 runs until ctx ends.
	Intervals int
	// Period paces intervals like a live testbed; 0 runs them back to back.
	Period time.Duration
	// ReferenceEvery is the reference-sweep period in intervals for radios without a true H; 0 never
	// sweeps (such a run has no NMSE).
	ReferenceEvery int
	// Timeout bounds each radio call (program, capture); 0 leaves them to ctx alone.
	Timeout time.Duration
	// HistoryBin and HistoryLen shape the NMSE history in Status (0: DefaultHistoryBin,
	// DefaultHistoryLen).
	HistoryBin time.Duration
	HistoryLen int
}

// Controller drives one radio. Run it from one goroutine; Status may be called from any.
type Controller struct {
	r       radio.Radio
	info    radio.Info
	ests    []estimator.Estimator
	sink    Sink
	cfg     Config
	log     *slog.Logger
	tuning  atomic.Pointer[Tuning] // a Tune not yet applied by Run
	tags    []telemetry.Tag        // array, backend, run, scene: the radio points'
	estTags [][]telemetry.Tag      // the same plus estimator, per estimator: the nmse points'

	design     beamforming.Design // what the estimators assume (nominal weights)
	sweep      radio.Setup
	sweepLS    estimator.Estimator
	programmed *radio.Setup // what the radio holds now
	capture    radio.Capture
	interval   int  // the next interval's index
	gap        bool // the previous interval failed: trackers start over
	ref        radio.Capture
	refH       []complex128
	hhat       [][]complex128
	latency    []time.Duration // per estimator, this interval
	errs       []error

	mu         sync.Mutex
	status     Status
	hist       *history
	healthFrom time.Time // the history bin Health was last asked in
}

// Status is a snapshot of a run, served as /status.
type Status struct {
	Run        string            `json:"run"`
	Backend    string            `json:"backend"`
	Scene      string            `json:"scene"`
	Array      string            `json:"array"`
	Started    time.Time         `json:"started"`
	Intervals  int               `json:"intervals_done"`
	Failed     int               `json:"intervals_failed"`
	NoNMSE     int               `json:"intervals_without_nmse"`
	LastError  string            `json:"last_error,omitempty"`
	Estimators []EstimatorStatus `json:"estimators"`
	// ConsecutiveFailed counts the failed intervals since the last one that ran.
	ConsecutiveFailed int         `json:"consecutive_failed"`
	RateHz            float64     `json:"interval_rate_hz"` // intervals per second over the last complete history bin
	Setup             SetupStatus `json:"setup"`
	// Health is the radio's own report (HealthReporter), nil for radios without one.
	Health  map[string]any `json:"health,omitempty"`
	History []HistoryBin   `json:"history"` // oldest first
}

// EstimatorStatus is one estimator's running NMSE: last interval and the run mean (dB of the mean of
// linear values).
type EstimatorStatus struct {
	Name          string  `json:"name"`
	Scored        int     `json:"intervals_scored"`
	Failed        int     `json:"failed"`
	LastNMSEdB    float64 `json:"last_nmse_db"` // NaN (JSON null) before the first scored interval
	MeanNMSEdB    float64 `json:"mean_nmse_db"`
	MeanLatencyUs float64 `json:"mean_latency_us"`
	mean          estimator.Mean
	runs          int
	latency       time.Duration
}

// MarshalJSON writes NaN values (nothing scored yet) as null, which JSON can carry.
func (e EstimatorStatus) MarshalJSON() ([]byte, error) {
	type plain EstimatorStatus
	num := func(x float64) *float64 {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return &x
	}
	return json.Marshal(struct {
		plain
		LastNMSEdB *float64 `json:"last_nmse_db"`
		MeanNMSEdB *float64 `json:"mean_nmse_db"`
	}{plain(e), num(e.LastNMSEdB), num(e.MeanNMSEdB)})
}

// New prepares every estimator for the nominal design of cfg.Setup.
func New(r radio.Radio, ests []estimator.Estimator, sink Sink, cfg Config, log *slog.Logger) (*Controller, error) {
	if len(ests) == 0 {
		return nil, errors.New("controller: no estimators")
	}
	info := r.Info()
	d, err := nominal(r, info, cfg.Setup)
	if err != nil {
		return nil, err
	}
	c := &Controller{r: r, info: info, ests: ests, sink: sink, cfg: cfg, log: log, design: d}
	array := info.BS.String() + "-" + info.UE.String()
	c.tags = []telemetry.Tag{{Key: "array", Value: array}, {Key: "backend", Value: info.Backend}, {Key: "run", Value: cfg.Run}, {Key: "scene", Value: info.Scene}}
	c.status = Status{Run: cfg.Run, Backend: info.Backend, Scene: info.Scene, Array: array, Setup: setupStatus(info, cfg.Setup)}
	c.hist = newHistory(cfg.HistoryBin, cfg.HistoryLen, len(ests))
	for _, e := range ests {
		de := d
		if _, ok := e.(NominalDesigner); ok {
			de, _ = nominal(nil, info, cfg.Setup) // the same checks passed above
		}
		if err := e.Prepare(de, info.Noise); err != nil {
			return nil, fmt.Errorf("controller: prepare %s: %w", e.Name(), err)
		}
		c.status.Estimators = append(c.status.Estimators, EstimatorStatus{Name: e.Name(), LastNMSEdB: math.NaN(), MeanNMSEdB: math.NaN()})
		c.hhat = append(c.hhat, make([]complex128, info.BS.N()*info.UE.N()))
		c.estTags = append(c.estTags, withTag(c.tags, "estimator", e.Name()))
	}
	c.latency, c.errs = make([]time.Duration, len(ests)), make([]error, len(ests))
	if cfg.ReferenceEvery > 0 {
		if err := c.prepareSweep(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Weighter is a radio that knows the weights its codes form better than the nominal ones (a
// calibrated radio, calibration.Wrap: measured gains and phases): it writes them for s (N_B x M_B
// into w, N_U x M_U into f).
type Weighter interface {
	Weights(s radio.Setup, w, f []complex128)
}

// NominalDesigner is an estimator prepared with the nominal design even on a Weighter radio: a
// trained model, to which the design identifies the pilot scheme it was trained on rather than
// being a measurement model (a calibrated radio's corrected codes give it near-nominal observations).
type NominalDesigner interface {
	estimator.Estimator
	NominalDesign()
}

// nominal is the design the estimators assume: the codes' nominal weights (or the Weighter's) and
// the pilots.
func nominal(r radio.Radio, info radio.Info, s radio.Setup) (beamforming.Design, error) {
	if s.W.N != info.BS.N() || s.F.N != info.UE.N() || len(s.Pilots) != s.F.M {
		return beamforming.Design{}, fmt.Errorf("controller: setup is W %d x %d, F %d x %d with %d pilots; the radio has N_B = %d, N_U = %d",
			s.W.N, s.W.M, s.F.N, s.F.M, len(s.Pilots), info.BS.N(), info.UE.N())
	}
	d := beamforming.Design{NB: s.W.N, NU: s.F.N, MB: s.W.M, MU: s.F.M, S: s.Pilots,
		W: make([]complex128, s.W.N*s.W.M), F: make([]complex128, s.F.N*s.F.M)}
	if wr, ok := r.(Weighter); ok {
		wr.Weights(s, d.W, d.F)
		return d, nil
	}
	s.W.Weights(info.PhaseShifter, nil, d.W)
	s.F.Weights(info.PhaseShifter, nil, d.F)
	return d, nil
}

// prepareSweep builds the full-overhead reference measurement and its exact LS estimator.
func (c *Controller) prepareSweep() error {
	bs, ue, ps := c.info.BS, c.info.UE, c.info.PhaseShifter
	w, err := beamforming.Codebook("dft", bs.Nh, bs.Nv, bs.N(), ps, 0)
	if err != nil {
		return fmt.Errorf("controller: reference sweep: %w", err)
	}
	f, err := beamforming.Codebook("dft", ue.Nh, ue.Nv, ue.N(), ps, 0)
	if err != nil {
		return fmt.Errorf("controller: reference sweep: %w", err)
	}
	c.sweep = radio.Setup{W: w, F: f, Pilots: beamforming.Pilots(ue.N(), c.info.TxPower)}
	d, err := nominal(c.r, c.info, c.sweep)
	if err != nil {
		return err
	}
	c.sweepLS = estimator.NewLS()
	if err := c.sweepLS.Prepare(d, c.info.Noise); err != nil {
		return fmt.Errorf("controller: reference sweep: %w", err)
	}
	c.refH = make([]complex128, bs.N()*ue.N())
	return nil
}

// Run runs intervals until cfg.Intervals are done or ctx ends (a clean stop, returning nil), then
// parks the radio.
func (c *Controller) Run(ctx context.Context) error {
	c.mu.Lock()
	c.status.Started = time.Now()
	c.mu.Unlock()
	var ticker *time.Ticker
	pace := func(period time.Duration) {
		if ticker != nil {
			ticker.Stop()
			ticker = nil
		}
		if period > 0 {
			ticker = time.NewTicker(period)
		}
	}
	pace(c.cfg.Period)
	defer func() { pace(0) }()
	c.gap = true
	for c.cfg.Intervals == 0 || c.interval < c.cfg.Intervals {
		if t := c.tuning.Swap(nil); t != nil {
			c.cfg.Period, c.cfg.ReferenceEvery, c.cfg.Timeout = t.Period, t.ReferenceEvery, t.Timeout
			pace(t.Period)
		}
		if ticker != nil {
			select {
			case <-ctx.Done():
			case <-ticker.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		if err := c.Step(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			c.fail(c.interval-1, err)
		}
		c.pollHealth(time.Now())
	}
	// Park even when ctx is done: the hardware must be left safe.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := c.r.Park(pctx); err != nil {
		return fmt.Errorf("controller: park radio: %w", err)
	}
	c.setProgrammed("parked")
	return nil
}

// Tuning is what may change while the controller runs (a configuration reload).
type Tuning struct {
	Period         time.Duration // Config.Period
	ReferenceEvery int           // Config.ReferenceEvery; cannot switch the sweep on or off
	Timeout        time.Duration // Config.Timeout
}

// Tune changes the pacing, the reference-sweep period and the radio-call timeout from the next interval
// on; it may be called from any goroutine. The reference sweep is prepared by New, so ReferenceEvery
// cannot turn it on or off.
func (c *Controller) Tune(t Tuning) error {
	if (t.ReferenceEvery > 0) != (c.sweepLS != nil) {
		return fmt.Errorf("controller: reference sweep every %d intervals: cannot switch it on or off while running", t.ReferenceEvery)
	}
	c.tuning.Store(&t)
	return nil
}

func (c *Controller) fail(i int, err error) {
	c.gap = true
	c.mu.Lock()
	c.status.Intervals++
	c.status.Failed++
	c.status.LastError = err.Error()
	c.status.ConsecutiveFailed++
	failed := c.status.Failed
	now := time.Now()
	b := c.hist.at(now)
	b.intervals++
	b.failed++
	c.mu.Unlock()
	c.log.Warn("interval failed", "interval", i, "err", err)
	// A failed interval has its radio point too, with the error instead of a received power.
	c.sink.Add(telemetry.Point{Measurement: "radio", Tags: c.tags, Time: now, Fields: []telemetry.Field{
		{Key: "error", Value: err.Error()}, {Key: "failed", Value: int64(failed)}, {Key: "interval", Value: int64(i)}}})
}

// program makes the radio hold s, skipping the call when it already does: boards keep their codes.
func (c *Controller) program(ctx context.Context, s *radio.Setup) error {
	if c.programmed == s {
		return nil
	}
	if err := c.r.Program(ctx, *s); err != nil {
		c.programmed = nil
		c.setProgrammed("")
		return fmt.Errorf("program: %w", err)
	}
	c.programmed = s
	if s == &c.sweep {
		c.setProgrammed("reference")
	} else {
		c.setProgrammed("measurement")
	}
	return nil
}

// Step runs one coherence interval. Trackers are reset first when the interval sequence has a gap
// (the start of a run, a failed interval): their state belongs to consecutive intervals.
func (c *Controller) Step(ctx context.Context) error {
	i := c.interval
	c.interval++
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	if err := c.program(ctx, &c.cfg.Setup); err != nil {
		return err
	}
	if err := c.r.Capture(ctx, &c.capture); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	if c.gap {
		for _, e := range c.ests {
			if t, ok := e.(estimator.Tracker); ok {
				t.Reset()
			}
		}
		c.gap = false
	}
	for k, e := range c.ests {
		t0 := time.Now()
		c.errs[k] = e.Estimate(c.hhat[k], c.capture.Y)
		c.latency[k] = time.Since(t0)
	}
	truth := c.capture.Truth
	if truth == nil && c.cfg.ReferenceEvery > 0 && i%c.cfg.ReferenceEvery == 0 {
		var err error
		if truth, err = c.reference(ctx); err != nil {
			return err
		}
		// A reference swept more than half a coherence interval after the regular capture measures a
		// channel that has moved on; scoring against it would charge the estimators for the motion.
		if late := c.ref.Time.Sub(c.capture.Time); c.cfg.Period > 0 && late > c.cfg.Period/2 {
			c.log.Warn("reference sweep too late to score the interval", "interval", i, "late", late, "coherence_interval", c.cfg.Period)
			truth = nil
		}
	}
	c.record(i, truth)
	return nil
}

// reference runs the full-overhead sweep and returns its exact-LS channel.
func (c *Controller) reference(ctx context.Context) ([]complex128, error) {
	if err := c.program(ctx, &c.sweep); err != nil {
		return nil, fmt.Errorf("reference sweep: %w", err)
	}
	if err := c.r.Capture(ctx, &c.ref); err != nil {
		return nil, fmt.Errorf("reference sweep: capture: %w", err)
	}
	if err := c.sweepLS.Estimate(c.refH, c.ref.Y); err != nil {
		return nil, fmt.Errorf("reference sweep: %w", err)
	}
	return c.refH, nil
}

// record scores the interval against truth (nil: not scored) and emits its points.
func (c *Controller) record(i int, truth []complex128) {
	latency, errs := c.latency, c.errs
	cp := &c.capture
	power := cmat.Norm2(truth)
	scored := truth != nil && power > 0
	// SNR per antenna pair: P_tx ||H||_F^2 / (N_B N_U sigma^2).
	snrDB := estimator.DB(c.info.TxPower * power / (float64(len(truth)) * c.info.Noise))
	points := make([]telemetry.Point, 0, len(c.ests)+1)

	c.mu.Lock()
	defer c.mu.Unlock()
	st := &c.status
	st.Intervals++
	st.ConsecutiveFailed = 0
	bin := c.hist.at(time.Now())
	bin.intervals++
	if !scored {
		st.NoNMSE++
	}
	for k, e := range c.ests {
		es := &st.Estimators[k]
		if errs[k] != nil {
			es.Failed++
			st.LastError = fmt.Sprintf("%s: %v", e.Name(), errs[k])
			c.log.Warn("estimator failed", "estimator", e.Name(), "interval", i, "err", errs[k])
			continue
		}
		es.runs++
		es.latency += latency[k]
		es.MeanLatencyUs = float64(es.latency) / float64(es.runs) / float64(time.Microsecond)
		if !scored {
			continue
		}
		nmse := estimator.NMSE(truth, c.hhat[k])
		es.Scored++
		es.mean.Add(nmse)
		es.LastNMSEdB, es.MeanNMSEdB = estimator.DB(nmse), es.mean.DB()
		bin.nmse[k].Add(nmse)
		points = append(points, telemetry.Point{
			Measurement: "nmse",
			Tags:        c.estTags[k],
			Fields: []telemetry.Field{
				{Key: "interval", Value: int64(i)},
				{Key: "latency_us", Value: float64(latency[k]) / float64(time.Microsecond)},
				{Key: "nmse_db", Value: es.LastNMSEdB},
				{Key: "snr_db", Value: snrDB},
			},
			Time: cp.Time,
		})
	}
	points = append(points, telemetry.Point{
		Measurement: "radio",
		Tags:        c.tags,
		Fields: []telemetry.Field{
			{Key: "failed", Value: int64(st.Failed)},
			{Key: "interval", Value: int64(i)},
			{Key: "rx_power_dbm", Value: estimator.DB(cmat.Norm2(cp.Y)/float64(len(cp.Y))) + 30},
		},
		Time: cp.Time,
	})
	c.sink.Add(points...)
}

// withTag returns tags (sorted by key) plus one, still sorted.
func withTag(tags []telemetry.Tag, key, value string) []telemetry.Tag {
	out := make([]telemetry.Tag, 0, len(tags)+1)
	added := false
	for _, t := range tags {
		if !added && key < t.Key {
			out = append(out, telemetry.Tag{Key: key, Value: value})
			added = true
		}
		out = append(out, t)
	}
	if !added {
		out = append(out, telemetry.Tag{Key: key, Value: value})
	}
	return out
}

// Status returns a snapshot of the run.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	s.Estimators = append([]EstimatorStatus(nil), s.Estimators...)
	s.History = c.hist.snapshot()
	s.RateHz = c.hist.rate(time.Now())
	return s
}
