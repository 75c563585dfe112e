package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/internal/controller"
	"github.com/cctrack/cctrack/internal/telemetry"
	"github.com/cctrack/cctrack/radio"
	"github.com/cctrack/cctrack/radio/sdr"
	"github.com/cctrack/cctrack/radio/sdr/iq"
)

// record runs the daemon's interval loop on the hardware backend (radio.backend: sdr) for
// --intervals intervals, regular measurements and reference sweeps alike, and writes every captured
// window to the SigMF recording BASE.sigmf-data / BASE.sigmf-meta (sdr.Recorder): cf32_le samples,
// one annotation per program and capture call with its schedule and outcome (sdr.Schedule), and the
// merged configuration in the global cctrack:config. radio.backend: replay with radio.replay.path set to
// BASE.sigmf-meta runs it again offline.
func record(ctx context.Context, args []string, stderr io.Writer, log *slog.Logger) error {
	var intervals int
	cfg, base, err := configFlags("cctrack record", args, stderr, "recording base name (writes BASE.sigmf-data and BASE.sigmf-meta)", func(fs *flag.FlagSet) {
		fs.IntVar(&intervals, "intervals", 100, "coherence intervals to record")
	})
	if err != nil {
		return err
	}
	if intervals < 1 {
		fmt.Fprintf(stderr, "cctrack record: --intervals must be >= 1 (got %d)\n", intervals)
		return errUsage
	}
	if cfg.Radio.Backend != configs.BackendSDR {
		return fmt.Errorf("cctrack record: %s: radio.backend is %q; recording needs the sdr backend", cfg.Source, cfg.Radio.Backend)
	}
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".sigmf-meta"), ".sigmf-data")
	setup, err := cfg.Setup()
	if err != nil {
		return err
	}
	p, err := cfg.SDRParams(cfg.Name)
	if err != nil {
		return err
	}
	rec, err := sdr.NewRecorder(base, iq.Meta{
		Datatype: iq.CF32, SampleRate: p.IQ.SampleRate, Frequency: cfg.RF.CarrierHz, Time: time.Now().UTC(),
		Description: fmt.Sprintf("cctrack trial %s: %d intervals, pilot sweeps of %s", cfg.Name, intervals, cfg.Source),
		HW:          fmt.Sprintf("BS board %s, UE board %s, IQ %s", p.BSBoard.Port, p.UEBoard.Port, cfg.Radio.SDR.IQ),
		Config:      json.RawMessage(cfg.Text),
	}, sdr.SetupDigest(setup))
	if err != nil {
		return err
	}
	p.Record = rec.Record
	err = recordRun(ctx, cfg, p, setup, intervals, log)
	if cerr := rec.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	log.Info("recording written", "meta", base+".sigmf-meta", "sweeps", rec.Sweeps(), "samples", rec.Samples())
	return nil
}

// recordRun drives the interval loop with LS (cheap, and its NMSE against the reference sweeps is a
// check of the recording) and no telemetry.
func recordRun(ctx context.Context, cfg configs.Config, p sdr.Params, setup radio.Setup, intervals int, log *slog.Logger) error {
	r, err := sdr.New(ctx, p, log)
	if err != nil {
		return fmt.Errorf("radio.sdr: %w", err)
	}
	cc := controller.Config{Run: cfg.Name + "-record", Setup: setup, Intervals: intervals,
		ReferenceEvery: cfg.Daemon.ReferenceEvery, Timeout: cfg.Daemon.CaptureTimeout}
	if cfg.Daemon.Realtime {
		cc.Period = cfg.IntervalPeriod()
	}
	ctl, err := controller.New(r, []estimator.Estimator{estimator.NewLS()}, discard{}, cc, log)
	if err != nil {
		r.Park(ctx)
		return err
	}
	err = ctl.Run(ctx)
	st := ctl.Status()
	log.Info("recorded", "intervals", st.Intervals, "failed", st.Failed, "ls_nmse_db", fmt.Sprintf("%.2f", st.Estimators[0].MeanNMSEdB), "last_error", st.LastError)
	return err
}

// discard is a telemetry sink that keeps nothing.
type discard struct{}

func (discard) Add(...telemetry.Point) {}
