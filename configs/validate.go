package configs

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/sim/material"
)

// Warnings lists what is valid but doubtful: materials used outside the frequency range of their
// ITU-R P.2040 fit (the fit is extrapolated there).
func (c Config) Warnings() []string {
	var out []string
	f := c.RF.CarrierHz / 1e9
	for _, m := range []struct{ key, name string }{
		{"scene.material", c.Scene.Material}, {"scene.ground", c.Scene.Ground},
		{"scene.city.wall", c.Scene.City.Wall}, {"scene.city.roof", c.Scene.City.Roof}, {"scene.city.ground", c.Scene.City.Ground},
	} {
		itu, err := material.Lookup(m.name)
		if m.name == "" || err != nil {
			continue
		}
		if f < itu.FMinGHz || f > itu.FMaxGHz {
			out = append(out, fmt.Sprintf("%s: %s is fitted for %g-%g GHz by ITU-R P.2040, rf.carrier_hz is %g GHz",
				m.key, itu.Name, itu.FMinGHz, itu.FMaxGHz, f))
		}
	}
	return out
}

// Validate checks every value and returns all problems at once, each naming its key.
func (c Config) Validate() error {
	var v validator
	v.nonEmpty("scene.source", c.Scene.Source)
	if !strings.HasPrefix(c.Scene.Source, "builtin:") {
		ext := strings.ToLower(c.Scene.Source)
		if !strings.HasSuffix(ext, ".ply") && !strings.HasSuffix(ext, ".xml") {
			v.fail("scene.source", "must be builtin:city[:SEED], a .ply or a .xml file (got %q)", c.Scene.Source)
		}
	}
	v.material("scene.material", c.Scene.Material, false)
	v.nonNegative("scene.thickness", c.Scene.Thickness)
	v.material("scene.ground", c.Scene.Ground, true)
	cy := c.Scene.City
	v.positiveInt("scene.city.blocks_x", cy.BlocksX)
	v.positiveInt("scene.city.blocks_y", cy.BlocksY)
	v.positive("scene.city.block_size", cy.BlockSize)
	v.positive("scene.city.street_width", cy.StreetWidth)
	v.positiveInt("scene.city.buildings_per_block", cy.BuildingsPerBlock)
	v.positive("scene.city.min_height", cy.MinHeight)
	if cy.MaxHeight < cy.MinHeight {
		v.fail("scene.city.max_height", "must be >= scene.city.min_height (%g < %g)", cy.MaxHeight, cy.MinHeight)
	}
	v.material("scene.city.wall", cy.Wall, false)
	v.nonNegative("scene.city.wall_thickness", cy.WallThickness)
	v.material("scene.city.roof", cy.Roof, false)
	v.material("scene.city.ground", cy.Ground, true)

	v.positive("rf.carrier_hz", c.RF.CarrierHz)
	v.positive("rf.bandwidth_hz", c.RF.BandwidthHz)
	if c.RF.BandwidthHz >= 2*c.RF.CarrierHz {
		v.fail("rf.bandwidth_hz", "must be below twice rf.carrier_hz (%g >= 2 x %g)", c.RF.BandwidthHz, c.RF.CarrierHz)
	}
	v.positiveInt("rf.subcarriers", c.RF.Subcarriers)
	if c.RF.Subcarrier < 0 || c.RF.Subcarrier >= c.RF.Subcarriers {
		v.fail("rf.subcarrier", "must be in [0, rf.subcarriers) = [0, %d) (got %d)", c.RF.Subcarriers, c.RF.Subcarrier)
	}
	for i, k := range c.RF.Wideband {
		if k < 0 || k >= c.RF.Subcarriers {
			v.fail(fmt.Sprintf("rf.wideband_subcarriers[%d]", i), "must be in [0, rf.subcarriers) = [0, %d) (got %d)", c.RF.Subcarriers, k)
		}
	}
	v.finite("rf.tx_power_dbm", c.RF.TxPowerDBm)
	v.finite("rf.noise_dbm", c.RF.NoiseDBm)

	if c.Tracer.MaxDepth < 0 || c.Tracer.MaxDepth > 8 {
		v.fail("tracer.max_depth", "must be in [0, 8] (got %d)", c.Tracer.MaxDepth)
	}
	if c.Tracer.Rays < 0 {
		v.fail("tracer.rays", "must be >= 0 (got %d)", c.Tracer.Rays)
	}

	v.point("bs.position", c.BS.Position, 3)
	v.array("bs.array", c.BS.Array)
	v.array("ue.array", c.UE.Array)

	v.positive("users.height", c.Users.Height)
	v.point("users.grid.origin", c.Users.Grid.Origin, 2)
	if c.Users.Grid.Rows < 0 || c.Users.Grid.Cols < 0 {
		v.fail("users.grid", "rows and cols must be >= 0 (got %d x %d)", c.Users.Grid.Rows, c.Users.Grid.Cols)
	}
	v.positive("users.grid.spacing", c.Users.Grid.Spacing)
	for i, p := range c.Users.Points {
		v.point(fmt.Sprintf("users.points[%d]", i), p, 3)
	}

	v.point("heatmap.grid.origin", c.Heatmap.Grid.Origin, 2)
	if c.Heatmap.Grid.Rows < 0 || c.Heatmap.Grid.Cols < 0 {
		v.fail("heatmap.grid", "rows and cols must be >= 0 (got %d x %d)", c.Heatmap.Grid.Rows, c.Heatmap.Grid.Cols)
	}
	v.positive("heatmap.grid.spacing", c.Heatmap.Grid.Spacing)

	t := c.Trajectories
	v.positive("trajectories.speed_mps", t.SpeedMps)
	v.positive("trajectories.interval_s", t.IntervalS)
	v.positiveInt("trajectories.steps", t.Steps)
	if t.Count < 0 {
		v.fail("trajectories.count", "must be >= 0 (got %d)", t.Count)
	}
	v.positive("trajectories.turn_radius", t.TurnRadius)
	v.positive("trajectories.lattice_step", t.LatticeStep)
	if len(t.Region) != 0 {
		v.point("trajectories.region", t.Region, 4)
		if len(t.Region) == 4 && (t.Region[2] <= t.Region[0] || t.Region[3] <= t.Region[1]) {
			v.fail("trajectories.region", "want [x0, y0, x1, y1] with x1 > x0 and y1 > y0 (got %v)", t.Region)
		}
	}
	if len(t.Evaluation) == 1 {
		v.fail("trajectories.evaluation", "needs at least two waypoints (got 1)")
	}
	for i, p := range t.Evaluation {
		v.point(fmt.Sprintf("trajectories.evaluation[%d]", i), p, 2)
	}

	c.validateTestbed(&v)
	c.validateTraining(&v)
	c.validateCalibration(&v)

	if c.Daemon.Intervals < 0 {
		v.fail("daemon.intervals", "must be >= 0 (got %d)", c.Daemon.Intervals)
	}
	v.positive("daemon.summary_every_s", c.Daemon.SummaryEveryS)
	if a := c.Daemon.StatusAddr; a != "" {
		host, _, err := net.SplitHostPort(a)
		ip := net.ParseIP(host)
		noToken := c.Daemon.StatusTokenEnv == "" && c.Daemon.StatusTokenFile == ""
		switch {
		case err != nil:
			v.fail("daemon.status_addr", "want HOST:PORT or \"\" (got %q)", a)
		case noToken && (host == "" || ip != nil && !ip.IsLoopback()):
			// Caught here, before the testbed is built; cctrackd checks host names once it has listened.
			v.fail("daemon.status_addr", "%s is not a loopback address; serving it needs a token (daemon.status_token_env or daemon.status_token_file)", a)
		}
	}
	if c.Daemon.StatusTokenEnv != "" && c.Daemon.StatusTokenFile != "" {
		v.fail("daemon.status_token_file", "set at most one of daemon.status_token_env and daemon.status_token_file")
	}
	v.file("daemon.status_token_file", c.Resolve(c.Daemon.StatusTokenFile))
	if c.Daemon.UnhealthyAfter < 0 {
		v.fail("daemon.unhealthy_after", "must be >= 0 (got %d)", c.Daemon.UnhealthyAfter)
	}
	if c.Daemon.CaptureTimeout <= 0 {
		v.fail("daemon.capture_timeout", "must be > 0 (got %v)", c.Daemon.CaptureTimeout)
	}
	if c.Daemon.ReferenceEvery < 0 {
		v.fail("daemon.reference_every", "must be >= 0 (got %d)", c.Daemon.ReferenceEvery)
	}
	return errors.Join(v.errs...)
}

// EstimatorNames are the estimators estimators.run may list.
var EstimatorNames = []string{"ls", "lmmse", "omp", "tracker", "e2e"}

// validateTestbed checks the beamforming, radio, estimators and telemetry sections.
func (c Config) validateTestbed(v *validator) {
	b := c.Beamforming
	if err := (beamforming.PhaseShifter{Bits: b.Bits}).Validate(); err != nil {
		v.fail("beamforming.bits", "%v", err)
	}
	for _, s := range []struct {
		key   string
		beams Beams
		n     int
	}{{"beamforming.combiner", b.Combiner, c.BS.Array.Nh * c.BS.Array.Nv}, {"beamforming.precoder", b.Precoder, c.UE.Array.Nh * c.UE.Array.Nv}} {
		if !slices.Contains(beamforming.Kinds(), s.beams.Codebook) {
			v.fail(s.key+".codebook", "must be one of %s (got %q)", strings.Join(beamforming.Kinds(), ", "), s.beams.Codebook)
			continue
		}
		most := beamforming.MaxBeams(s.beams.Codebook, s.n)
		if most == 0 {
			v.fail(s.key+".codebook", "a %s codebook cannot be built on %d elements", s.beams.Codebook, s.n)
		} else if s.beams.Beams < 1 || s.beams.Beams > most {
			v.fail(s.key+".beams", "a %s codebook on %d elements allows 1..%d beams (got %d)", s.beams.Codebook, s.n, most, s.beams.Beams)
		}
	}
	im := b.Impairments
	v.nonNegative("beamforming.impairments.gain_std_db", im.GainStdDB)
	v.nonNegative("beamforming.impairments.phase_std_deg", im.PhaseStdDeg)
	v.nonNegative("beamforming.impairments.insertion_loss_db", im.InsertionLossDB)

	c.validateRadio(v)

	if len(c.Estimators.Run) == 0 {
		v.fail("estimators.run", "must list at least one of %s", strings.Join(EstimatorNames, ", "))
	}
	for i, name := range c.Estimators.Run {
		if !slices.Contains(EstimatorNames, name) {
			v.fail(fmt.Sprintf("estimators.run[%d]", i), "unknown estimator %q (known: %s)", name, strings.Join(EstimatorNames, ", "))
		} else if slices.Index(c.Estimators.Run, name) != i {
			v.fail(fmt.Sprintf("estimators.run[%d]", i), "%s is listed twice", name)
		}
	}
	v.file("estimators.lmmse.dataset", c.Resolve(c.Estimators.LMMSE.Dataset))
	o := c.Estimators.OMP
	v.positiveInt("estimators.omp.oversample", o.Oversample)
	v.positiveInt("estimators.omp.max_paths", o.MaxPaths)
	v.positive("estimators.omp.residual_factor", o.ResidualFactor)
	v.dir("estimators.tracker.model", c.Resolve(c.Estimators.Tracker.Model))
	v.dir("estimators.e2e.model", c.Resolve(c.Estimators.E2E.Model))
	v.nonEmpty("estimators.cache_dir", c.Estimators.CacheDir)

	if err := c.FileConfig("run").Validate(); c.Telemetry.File.Dir != "" && err != nil {
		v.errs = append(v.errs, err) // names its telemetry.file key
	}
	if c.Telemetry.InfluxDB.URL != "" {
		if err := c.InfluxConfig().Validate(); err != nil {
			v.errs = append(v.errs, err) // names its telemetry.influxdb key
		}
	}
	if c.Telemetry.ShutdownTimeout <= 0 {
		v.fail("telemetry.shutdown_timeout", "must be > 0 (got %v)", c.Telemetry.ShutdownTimeout)
	}
	if err := c.BufferConfig().Validate(); err != nil {
		v.errs = append(v.errs, err) // names its telemetry.buffer key
	}
	c.validateSpool(v)
}

// file checks that an optional input file exists ("" is fine).
func (v *validator) file(key, path string) {
	if path == "" {
		return
	}
	if _, err := os.Stat(path); err != nil {
		v.fail(key, "%v", err)
	}
}

type validator struct{ errs []error }

// dir checks that an optional input directory exists ("" is fine).
func (v *validator) dir(key, path string) {
	if path == "" {
		return
	}
	if st, err := os.Stat(path); err != nil {
		v.fail(key, "%v", err)
	} else if !st.IsDir() {
		v.fail(key, "%s is not a directory", path)
	}
}

func (v *validator) fail(key, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
}

func (v *validator) finite(key string, x float64) bool {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		v.fail(key, "must be finite (got %g)", x)
		return false
	}
	return true
}

func (v *validator) positive(key string, x float64) {
	if v.finite(key, x) && x <= 0 {
		v.fail(key, "must be > 0 (got %g)", x)
	}
}

func (v *validator) nonNegative(key string, x float64) {
	if v.finite(key, x) && x < 0 {
		v.fail(key, "must be >= 0 (got %g)", x)
	}
}

func (v *validator) positiveInt(key string, n int) {
	if n <= 0 {
		v.fail(key, "must be > 0 (got %d)", n)
	}
}

func (v *validator) nonEmpty(key, s string) {
	if strings.TrimSpace(s) == "" {
		v.fail(key, "must not be empty")
	}
}

func (v *validator) material(key, name string, optional bool) {
	if optional && name == "" {
		return
	}
	if _, err := material.Lookup(name); err != nil {
		v.fail(key, "%v", err)
	}
}

func (v *validator) point(key string, p []float64, n int) {
	if len(p) != n {
		v.fail(key, "must have %d coordinates (got %d)", n, len(p))
		return
	}
	for _, x := range p {
		if !v.finite(key, x) {
			return
		}
	}
}

func (v *validator) array(key string, a Array) {
	v.positiveInt(key+".nh", a.Nh)
	v.positiveInt(key+".nv", a.Nv)
	v.positive(key+".spacing", a.Spacing)
	v.finite(key+".yaw_deg", a.YawDeg)
	v.finite(key+".pitch_deg", a.PitchDeg)
	v.finite(key+".roll_deg", a.RollDeg)
}
