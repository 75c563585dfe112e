package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/cmplx"
	"slices"
	"time"

	"github.com/cctrack/cctrack/calibration"
	"github.com/cctrack/cctrack/calibration/reflink"
	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/internal/atomicfile"
	"github.com/cctrack/cctrack/internal/progress"
)

// calibrate measures one array's per-element phase and gain errors into a table (JSON) the daemon
// applies through calibration.bs_file / calibration.ue_file:
//
//	cctrack calibrate --config F --array bs|ue --method rev|pilot --out FILE.json [--power-only]
//
// It drives the simulated backend: the configured array with its configured impairments facing a
// reference antenna at calibration.reference.offset (calibration/reflink).
func calibrate(ctx context.Context, args []string, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("cctrack calibrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default.yaml)")
	array := fs.String("array", "bs", "the array to calibrate: bs or ue")
	method := fs.String("method", "pilot", "rev (rotating element, from received powers) or pilot (complex observations)")
	out := fs.String("out", "", "output table (.json)")
	powerOnly := fs.Bool("power-only", false, "rev from received powers alone, as with a power detector (phases relative to the array's mean)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	side, m := calibration.Side(*array), calibration.Method(*method)
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "cctrack calibrate: unexpected arguments %q\n", fs.Args())
	case side != calibration.BS && side != calibration.UE:
		fmt.Fprintf(stderr, "cctrack calibrate: --array: want bs or ue, got %q\n", *array)
	case !slices.Contains(calibration.Methods(), m):
		fmt.Fprintf(stderr, "cctrack calibrate: --method: want rev or pilot, got %q\n", *method)
	case *out == "":
		fmt.Fprintln(stderr, "cctrack calibrate: --out is required")
	default:
		return runCalibration(ctx, *cfgPath, side, m, *out, *powerOnly, stderr, log)
	}
	fs.Usage()
	return errUsage
}

func runCalibration(ctx context.Context, cfgPath string, side calibration.Side, m calibration.Method, out string, powerOnly bool,
	stderr io.Writer, log *slog.Logger) error {
	if err := atomicfile.CheckDir(out); err != nil {
		return err
	}
	cfg, err := configs.Load(cfgPath)
	if err != nil {
		return err
	}
	if cfg.Radio.Backend != configs.BackendSim {
		return fmt.Errorf("calibrate: radio.backend %q: only the simulated backend can be calibrated so far", cfg.Radio.Backend)
	}
	r, spec, err := reflink.Simulated(cfg, side, time.Now().UTC().Truncate(time.Second))
	if err != nil {
		return err
	}
	spec.PowerOnly = powerOnly
	var bar *progress.Bar
	tab, err := calibration.Run(ctx, r, spec, m, func(done, total int) {
		if bar == nil {
			bar = progress.New(stderr, total, "calibrating "+string(side))
		}
		bar.Set(done)
	})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	if err := tab.Save(out); err != nil {
		return err
	}
	// The simulated array's injected errors are known: report how far the table is from them
	// (phases up to the common phase when power-only).
	phase, gain := tableErrors(tab, reflink.Truth(cfg, side), powerOnly)
	log.Info("calibration written", "out", out, "board", tab.Board, "array", string(side), "elements", tab.Elements,
		"method", tab.Method, "power_only", powerOnly, "averages", spec.Averages,
		"phase_rms_deg", fmt.Sprintf("%.2f", rms(tab.PhaseRad)*180/math.Pi), "gain_rms_db", fmt.Sprintf("%.3f", rms(tab.GainDB)),
		"error_phase_rms_deg", fmt.Sprintf("%.4f", phase*180/math.Pi), "error_gain_rms_db", fmt.Sprintf("%.4f", gain))
	return nil
}

func rms(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s / float64(len(x)))
}

// tableErrors is the rms phase (rad) and gain (dB) error of tab against the element factors truth;
// relative removes the common phase first.
func tableErrors(tab *calibration.Table, truth []complex128, relative bool) (phase, gainDB float64) {
	d := make([]complex128, tab.Elements)
	var mean complex128
	for i := range d {
		d[i] = cmplx.Rect(math.Pow(10, tab.GainDB[i]/20), tab.PhaseRad[i]) / truth[i]
		mean += d[i] / complex(cmplx.Abs(d[i]), 0)
	}
	turn := complex(1, 0)
	if relative {
		turn = cmplx.Conj(mean) / complex(cmplx.Abs(mean), 0)
	}
	ph, g := make([]float64, len(d)), make([]float64, len(d))
	for i, x := range d {
		ph[i], g[i] = cmplx.Phase(x*turn), 20*math.Log10(cmplx.Abs(x))
	}
	return rms(ph), rms(g)
}
