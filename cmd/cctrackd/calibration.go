package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/cctrack/cctrack/calibration"
	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/estimator/learned"
	"github.com/cctrack/cctrack/internal/controller"
	"github.com/cctrack/cctrack/radio"
)

// A calibrated radio gives the estimators its measured weights, except to trained models, which
// keep the nominal design they were trained on.
var (
	_ controller.Weighter        = (*calibration.Calibrated)(nil)
	_ controller.NominalDesigner = (*learned.Estimator)(nil)
)

// applyCalibration wraps r with the tables calibration.bs_file and calibration.ue_file name (none:
// r as it is). A table for another element count or shifter resolution is an error naming its key
// and file; one older than calibration.max_age at now, or made at another frequency than
// rf.carrier_hz, is applied with a warning: it still describes the array better than nothing.
func applyCalibration(cfg configs.Config, r radio.Radio, now time.Time, log *slog.Logger) (radio.Radio, error) {
	info := r.Info()
	var tabs [2]*calibration.Table
	for i, s := range []struct {
		key, path string
		array     radio.Array
	}{
		{"calibration.bs_file", cfg.Calibration.BSFile, info.BS},
		{"calibration.ue_file", cfg.Calibration.UEFile, info.UE},
	} {
		p := cfg.Resolve(s.path)
		if p == "" {
			continue
		}
		t, err := calibration.Load(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.key, err)
		}
		if err := t.Match(s.array, info.PhaseShifter); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", s.key, p, err)
		}
		for _, w := range t.Warnings(now, cfg.Calibration.MaxAge, cfg.RF.CarrierHz) {
			log.Warn("calibration table may be stale", "key", s.key, "file", p, "warning", w)
		}
		log.Info("calibration applied", "key", s.key, "file", p, "board", t.Board, "method", t.Method, "made", t.Time.Format(time.RFC3339))
		tabs[i] = t
	}
	return calibration.Wrap(r, tabs[0], tabs[1]), nil
}
