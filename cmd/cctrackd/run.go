package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
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
	tb, err := newTestbed(ctx, cfg, log, progressOut)
	if err != nil {
		return err
	}
	defer tb.close(ctx, cfg.Telemetry.ShutdownTimeout, log)
	ctl := tb.ctl
	if cfg.Daemon.StatusAddr != "" {
		stop, err := serveStatus(ctx, cfg.Daemon.StatusAddr, ctl, log)
		if err != nil {
			return err
		}
		defer stop()
	}
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
	chans, err := trajectoryChannels(ctx, cfg, s, progressOut)
	if err != nil {
		return nil, err
	}
	ests, err := newEstimators(ctx, cfg, s, log, progressOut)
	if err != nil {
		return nil, err
	}
	tx, noise := cfg.Powers()
	bsImp, ueImp := cfg.Impairments()
	r, err := simradio.New(simradio.Params{
		Scene: s.Scene.Name, BS: cfg.BSArray(), UE: cfg.UEArray(), PhaseShifter: cfg.PhaseShifter(),
		TxPower: tx, Noise: noise, BSImp: bsImp, UEImp: ueImp, Channels: chans, Seed: cfg.Radio.Seed,
	})
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
	tb := &testbed{sinks: sinks, steps: len(chans), observations: setup.W.M * setup.F.M}
	if tb.ctl, err = controller.New(r, ests, sinks, cc, log); err != nil {
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

// trajectoryChannels is H along the evaluation trajectory: replayed from radio.dataset, or traced.
func trajectoryChannels(ctx context.Context, cfg configs.Config, s *sim.Simulator, progressOut io.Writer) ([][]complex128, error) {
	if p := cfg.Resolve(cfg.Radio.Dataset); p != "" {
		chans, err := simradio.Dataset(p, s.BS.N(), s.UE.N())
		if err != nil {
			return nil, fmt.Errorf("radio.dataset: %w", err)
		}
		return chans, nil
	}
	spec := cfg.DatasetSpec()
	spec.Count = 0
	if len(spec.Evaluation) == 0 {
		spec.Count = 1
	}
	random, eval, err := dataset.Trajectories(ctx, s, spec)
	if err != nil {
		return nil, err
	}
	traj := eval
	if traj == nil {
		traj = random[0]
	}
	// The BS is fixed and the trajectory known, so trace it once; each interval then only forms Y.
	bar := progress.New(progressOut, len(traj), "tracing trajectory")
	defer bar.Finish()
	return simradio.Trajectory(ctx, s, traj, bar.Set)
}

// newEstimators builds estimators.run in order. LMMSE's covariance comes from a dataset's H or from
// the channels at the users.grid positions.
func newEstimators(ctx context.Context, cfg configs.Config, s *sim.Simulator, log *slog.Logger, progressOut io.Writer) ([]estimator.Estimator, error) {
	var out []estimator.Estimator
	for _, name := range cfg.Estimators.Run {
		switch name {
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
		return simradio.Complex128(sh.Data.H, nb*nu), nil
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
// (telemetry.influxdb.url), each behind its own bounded buffer.
func openTelemetry(cfg configs.Config, runID string, log *slog.Logger) (fanout, error) {
	var out fanout
	add := func(w telemetry.Writer, err error) error {
		if err == nil {
			var b *telemetry.Buffer
			if b, err = telemetry.NewBuffer(w, cfg.BufferConfig(), log); err == nil {
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
		if err := add(telemetry.NewInfluxWriter(in, nil)); err != nil {
			return nil, err
		}
		log.Info("telemetry to influxdb", "url", in.URL, "bucket", in.Bucket)
	}
	return out, nil
}

// serveStatus serves /healthz and /status (JSON) until the returned stop is called.
func serveStatus(ctx context.Context, addr string, ctl *controller.Controller, log *slog.Logger) (stop func(), err error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("daemon.status_addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(ctl.Status()); err != nil {
			log.Warn("status: encode", "err", err)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("status server stopped", "err", err)
		}
	}()
	log.Info("status endpoint", "url", "http://"+ln.Addr().String()+"/status")
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}
