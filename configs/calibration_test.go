package configs

import (
	"strings"
	"testing"
)

// Bad calibration values are errors naming the key; table files are not checked here (the daemon
// loads them, and `cctrack calibrate` may be about to write them).
func TestCalibrationSection(t *testing.T) {
	cfg, err := Parse([]byte("calibration: {bs_file: not-yet.json, max_age: 24h}\n"), "ok.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Calibration.BSFile != "not-yet.json" || cfg.Calibration.MaxAge.Hours() != 24 || cfg.Calibration.Averages != 16 || cfg.ReferenceOffset().X != 47 {
		t.Errorf("calibration %+v", cfg.Calibration)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"calibration: {max_age: -1h}", "calibration.max_age: must be >= 0"},
		{"calibration: {averages: 0}", "calibration.averages: must be > 0"},
		{"calibration: {reference: {offset: [1, 2]}}", "calibration.reference.offset: must have 3 coordinates"},
		{"calibration: {reference: {offset: [0, 0, 0]}}", "calibration.reference.offset: must not be the array's own centre"},
		{"calibration: {reference: {position: [1, 2, 3]}}", "unknown key calibration.reference.position"},
	} {
		if _, err := Parse([]byte(tc.yaml), "bad.yaml"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
