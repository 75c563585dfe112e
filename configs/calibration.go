package configs

import (
	"math"
	"time"

	"github.com/cctrack/cctrack/sim/geom"
)

// Calibration is the calibration section: the tables the daemon applies and how `cctrack calibrate`
// measures them.
type Calibration struct {
	BSFile    string               `mapstructure:"bs_file"`
	UEFile    string               `mapstructure:"ue_file"`
	MaxAge    time.Duration        `mapstructure:"max_age"`
	Averages  int                  `mapstructure:"averages"`
	Reference CalibrationReference `mapstructure:"reference"`
}

// CalibrationReference places the reference antenna.
type CalibrationReference struct {
	// Offset is the reference antenna's position relative to the centre of the array under test (m,
	// scene axes).
	Offset []float64 `mapstructure:"offset"`
}

// ReferenceOffset is calibration.reference.offset as a vector.
func (c Config) ReferenceOffset() geom.Vec3 { return vec(c.Calibration.Reference.Offset) }

func (c Config) validateCalibration(v *validator) {
	cal := c.Calibration
	if cal.MaxAge < 0 {
		v.fail("calibration.max_age", "must be >= 0 (0 never warns; got %v)", cal.MaxAge)
	}
	v.positiveInt("calibration.averages", cal.Averages)
	off := cal.Reference.Offset
	if v.point("calibration.reference.offset", off, 3); len(off) == 3 && math.Hypot(math.Hypot(off[0], off[1]), off[2]) == 0 {
		v.fail("calibration.reference.offset", "must not be the array's own centre")
	}
}
