package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/internal/controller"
	"github.com/cctrack/cctrack/internal/progress"
	"github.com/cctrack/cctrack/internal/telemetry"
	"github.com/cctrack/cctrack/radio/simradio"
	"github.com/cctrack/cctrack/sim"
	"github.com/cctrack/cctrack/sim/dataset"
)

// run builds the testbed the configuration describes and drives it until ctx ends or the
// configured number of intervals is done; a cancelled context is a clean stop. Telemetry is flushed
// and the radio parked on the way out. Progress bars go to progressOut.
func run(ctx context.Context, cfg configs.Config, log *slog.Logger, progressOut io.Writer) error {
	// SIGHUP is caught from the start: one that arrives while the testbed is built (minutes, when a
	// model trains first) waits and is applied once the daemon runs, instead of killing it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	status, stopStatus, err := serveStatus(ctx, cfg, log) // up (answering "starting") while the testbed is built
	if err != nil {
		return err
	}
	defer stopStatus()
	tb, err := newTestbed(ctx, cfg, log, progressOut)
	if err != nil {
		return err
	}
	defer tb.close(ctx, cfg.Telemetry.ShutdownTimeout, log)
	ctl := tb.ctl
	summaryEvery := make(chan time.Duration, 1) // a SIGHUP reload's new daemon.summary_every_s
	defer watchReload(ctx, hup, cfg, tb, summaryEvery, log)()
	status.serve(ctl)
	st := ctl.Status()
	log.Info("cctrackd started", "run", st.Run, "backend", st.Backend, "array", st.Array, "observations", tb.observations,
		"estimators", strings.Join(cfg.Estimators.Run, ","), "trajectory_steps", tb.steps,
		"intervals", cfg.Daemon.Intervals, "realtime", cfg.Daemon.Realtime)

	summaryDone := make(chan struct{})
	sctx, stopSummary := context.WithCancel(ctx)
	go func() {
		defer close(summaryDone)
		t := time.NewTicker(time.Duration(cfg.Daemon.SummaryEveryS * float64(time.Second)))
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case d := <-summaryEvery:
				t.Reset(d)
			case <-t.C:
				log.Info("nmse", summary(ctl.Status())...)
			}
		}
	}()
	err = ctl.Run(ctx)
	stopSummary()
	<-summaryDone
	if err != nil {
		return err
	}
	log.Info("cctrackd stopped cleanly", summary(ctl.Status())...)
	return nil
}

// testbed is a built daemon: the controller over the simulated radio and its telemetry sinks.
type testbed struct {
	ctl                 *controller.Controller
	sinks               fanout
	steps, observations int
}

// newTestbed builds the simulator, the radio along the evaluation trajectory, the estimators, the
// telemetry sinks and the controller.
func newTestbed(ctx context.Context, cfg configs.Config, log *slog.Logger, progressOut io.Writer) (*testbed, error) {
	s, err := cfg.NewSimulator(log)
	if err != nil {
		return nil, err
	}
	ests, err := newEstimators(ctx, cfg, s, log, progressOut)
	if err != nil {
		return nil, err
	}
	setup, err := cfg.Setup()
	if err != nil {
		return nil, err
	}
	runID := fmt.Sprintf("%s-%s", cfg.Name, time.Now().UTC().Format("20060102T150405.000Z"))
	cc := controller.Config{Run: runID, Setup: setup, Intervals: cfg.Daemon.Intervals,
		ReferenceEvery: cfg.Daemon.ReferenceEvery, Timeout: cfg.Daemon.CaptureTimeout}
	if cfg.Daemon.Realtime {
		cc.Period = cfg.IntervalPeriod()
	}
	sinks, err := openTelemetry(cfg, runID, log)
	if err != nil {
		return nil, err
	}
	tb := &testbed{sinks: sinks, observations: setup.W.M * setup.F.M}
	r, err := newRadio(ctx, cfg, s, log, progressOut)
	if err != nil {
		tb.close(ctx, cfg.Telemetry.ShutdownTimeout, log)
		return nil, err
	}
	if tb.steps = r.steps; cc.Intervals == 0 {
		cc.Intervals = r.intervals
	}
	cal, err := applyCalibration(cfg, r.Radio, time.Now(), log)
	if err != nil {
		r.Park(ctx)
		tb.close(ctx, cfg.Telemetry.ShutdownTimeout, log)
		return nil, err
	}
	r.Radio = cal
	if tb.ctl, err = controller.New(r.Radio, ests, sinks, cc, log); err != nil {
		r.Park(ctx)
		tb.close(ctx, cfg.Telemetry.ShutdownTimeout, log)
		return nil, err
	}
	return tb, nil
}

// close flushes the telemetry sinks, even though ctx may be done, but never longer than timeout.
func (tb *testbed) close(ctx context.Context, timeout time.Duration, log *slog.Logger) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	for _, b := range tb.sinks {
		if err := b.Close(fctx); err != nil {
			log.Error("telemetry flush failed", "err", err)
		}
	}
}

// summary is the one-line NMSE summary: intervals, failures and each estimator's mean NMSE (dB).
func summary(st controller.Status) []any {
	args := []any{"intervals", st.Intervals, "failed", st.Failed, "unscored", st.NoNMSE}
	for _, e := range st.Estimators {
		args = append(args, e.Name+"_db", fmt.Sprintf("%.2f", e.MeanNMSEdB))
	}
	return args
}

// newEstimators builds estimators.run in order. LMMSE's covariance comes from a dataset's H or from
// the channels at the users.grid positions; the learned estimators' models from models.go.
func newEstimators(ctx context.Context, cfg configs.Config, s *sim.Simulator, log *slog.Logger, progressOut io.Writer) ([]estimator.Estimator, error) {
	var out []estimator.Estimator
	models := newModels(cfg, s, log, progressOut)
	for _, name := range cfg.Estimators.Run {
		switch name {
		case "tracker", "e2e":
			e, err := models.estimator(ctx, name)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		case "ls":
			out = append(out, estimator.NewLS())
		case "omp":
			e, err := estimator.NewOMP(cfg.OMPConfig())
			if err != nil {
				return nil, fmt.Errorf("estimators.omp: %w", err)
			}
			out = append(out, e)
		case "lmmse":
			samples, err := covarianceSamples(ctx, cfg, s, progressOut)
			if err != nil {
				return nil, err
			}
			cov, err := estimator.EstimateCovariance(s.BS.N(), s.UE.N(), samples)
			if err != nil {
				return nil, fmt.Errorf("estimators.lmmse: %w", err)
			}
			log.Info("lmmse covariance ready", "samples", len(samples))
			out = append(out, estimator.NewLMMSE(cov))
		default:
			return nil, fmt.Errorf("estimators.run: unknown estimator %q", name) // Validate catches it first
		}
	}
	return out, nil
}

func covarianceSamples(ctx context.Context, cfg configs.Config, s *sim.Simulator, progressOut io.Writer) ([][]complex128, error) {
	nb, nu := s.BS.N(), s.UE.N()
	if p := cfg.Resolve(cfg.Estimators.LMMSE.Dataset); p != "" {
		sh, err := dataset.ReadShard(p)
		if err != nil {
			return nil, fmt.Errorf("estimators.lmmse.dataset: %w", err)
		}
		if sh.Data.NB != nb || sh.Data.NU != nu || sh.Data.K == 0 {
			return nil, fmt.Errorf("estimators.lmmse.dataset: %s holds %d channels of %d x %d, want %d x %d", p, sh.Data.K, sh.Data.NB, sh.Data.NU, nb, nu)
		}
		return dataset.Matrices(sh.Data.H, nb*nu), nil
	}
	pos := cfg.DatasetSpec().Grid.Points()
	bar := progress.New(progressOut, len(pos), "tracing lmmse covariance")
	defer bar.Finish()
	chans, err := simradio.Trajectory(ctx, s, pos, bar.Set)
	if err != nil {
		return nil, fmt.Errorf("estimators.lmmse: %w", err)
	}
	// Positions without any path carry no channel statistics.
	kept := chans[:0]
	for _, h := range chans {
		for _, x := range h {
			if x != 0 {
				kept = append(kept, h)
				break
			}
		}
	}
	return kept, nil
}

// fanout hands every point to each sink.
type fanout []*telemetry.Buffer

func (f fanout) Add(points ...telemetry.Point) {
	for _, b := range f {
		b.Add(points...)
	}
}

// openTelemetry starts the line-protocol file sink (telemetry.file.dir) and the InfluxDB sink
// (telemetry.influxdb.url), each behind its own bounded buffer; the InfluxDB sink's is on disk when
// telemetry.spool.dir is set. The InfluxDB sink, when there is one, is the last.
func openTelemetry(cfg configs.Config, runID string, log *slog.Logger) (fanout, error) {
	var out fanout
	newBuffer := func(w telemetry.Writer) (*telemetry.Buffer, error) {
		return telemetry.NewBuffer(w, cfg.BufferConfig(), log)
	}
	add := func(w telemetry.Writer, err error) error {
		if err == nil {
			var b *telemetry.Buffer
			if b, err = newBuffer(w); err == nil {
				out = append(out, b)
				return nil
			}
			w.Close()
		}
		for _, b := range out {
			b.Close(context.Background()) // nothing was added yet: returns at once
		}
		return err
	}
	if fc := cfg.FileConfig(runID); fc.Path != "" {
		abs, err := filepath.Abs(fc.Path)
		if err != nil {
			return nil, fmt.Errorf("telemetry.file.dir: %w", err)
		}
		fc.Path = abs
		if err := add(telemetry.NewFileWriter(fc, log)); err != nil {
			return nil, err
		}
		log.Info("telemetry to file", "path", abs)
	}
	if in := cfg.InfluxConfig(); in.URL != "" {
		if sc := cfg.SpoolConfig(); sc.Dir != "" {
			newBuffer = func(w telemetry.Writer) (*telemetry.Buffer, error) {
				return telemetry.NewSpooledBuffer(w, sc, cfg.BufferConfig(), log)
			}
			log.Info("telemetry to influxdb through the spool", "dir", sc.Dir, "max_bytes", sc.MaxBytes, "sync", sc.Sync)
		}
		if err := add(telemetry.NewInfluxWriter(in, nil)); err != nil {
			return nil, err
		}
		log.Info("telemetry to influxdb", "url", in.URL, "bucket", in.Bucket)
	}
	return out, nil
}
