package configs

import (
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/internal/telemetry"
	"github.com/cctrack/cctrack/radio"
)

// Powers are rf.tx_power_dbm and rf.noise_dbm in W.
func (c Config) Powers() (txPower, noise float64) {
	return dBmToW(c.RF.TxPowerDBm), dBmToW(c.RF.NoiseDBm)
}

func dBmToW(dbm float64) float64 { return math.Pow(10, dbm/10) / 1e3 }

// PhaseShifter is the arrays' shifter resolution.
func (c Config) PhaseShifter() beamforming.PhaseShifter {
	return beamforming.PhaseShifter{Bits: c.Beamforming.Bits}
}

// BSArray and UEArray are the arrays' shapes.
func (c Config) BSArray() radio.Array { return radio.Array{Nh: c.BS.Array.Nh, Nv: c.BS.Array.Nv} }
func (c Config) UEArray() radio.Array { return radio.Array{Nh: c.UE.Array.Nh, Nv: c.UE.Array.Nv} }

// Setup builds the combiner and precoder codebooks and the pilots of the beamforming section.
func (c Config) Setup() (radio.Setup, error) {
	b, ps := c.Beamforming, c.PhaseShifter()
	bs, ue := c.BSArray(), c.UEArray()
	w, err := beamforming.Codebook(b.Combiner.Codebook, bs.Nh, bs.Nv, b.Combiner.Beams, ps, b.Seed)
	if err != nil {
		return radio.Setup{}, fmt.Errorf("beamforming.combiner: %w", err)
	}
	f, err := beamforming.Codebook(b.Precoder.Codebook, ue.Nh, ue.Nv, b.Precoder.Beams, ps, b.Seed+1)
	if err != nil {
		return radio.Setup{}, fmt.Errorf("beamforming.precoder: %w", err)
	}
	tx, _ := c.Powers()
	return radio.Setup{W: w, F: f, Pilots: beamforming.Pilots(f.M, tx)}, nil
}

// Design is the pilot measurement of the beamforming section as the estimators and the learned
// models assume it: the codes' nominal weights (no impairments) and the pilots. The controller forms
// the same design from the radio (internal/controller), so a model trained on Design fits it.
func (c Config) Design() (beamforming.Design, error) {
	s, err := c.Setup()
	if err != nil {
		return beamforming.Design{}, err
	}
	ps := c.PhaseShifter()
	d := beamforming.Design{NB: s.W.N, NU: s.F.N, MB: s.W.M, MU: s.F.M, S: s.Pilots,
		W: make([]complex128, s.W.N*s.W.M), F: make([]complex128, s.F.N*s.F.M)}
	s.W.Weights(ps, nil, d.W)
	s.F.Weights(ps, nil, d.F)
	return d, nil
}

// Impairments draws the physical arrays' deviations (the BS and the UE get different seeds).
func (c Config) Impairments() (bs, ue beamforming.Impairments) {
	im := c.Beamforming.Impairments
	bs = beamforming.NewImpairments(c.BSArray().N(), im.GainStdDB, im.PhaseStdDeg, im.InsertionLossDB, im.Seed)
	ue = beamforming.NewImpairments(c.UEArray().N(), im.GainStdDB, im.PhaseStdDeg, im.InsertionLossDB, im.Seed+1)
	return bs, ue
}

// OMPConfig is the estimators.omp section for the arrays.
func (c Config) OMPConfig() estimator.OMPConfig {
	o := c.Estimators.OMP
	var cfg estimator.OMPConfig
	cfg.BS.Nh, cfg.BS.Nv = c.BS.Array.Nh, c.BS.Array.Nv
	cfg.UE.Nh, cfg.UE.Nv = c.UE.Array.Nh, c.UE.Array.Nv
	cfg.Oversample, cfg.MaxPaths, cfg.ResidualFactor = o.Oversample, o.MaxPaths, o.ResidualFactor
	return cfg
}

// InfluxConfig is the telemetry.influxdb section (token_file relative to the config file).
func (c Config) InfluxConfig() telemetry.InfluxConfig {
	in := c.Telemetry.InfluxDB
	return telemetry.InfluxConfig{URL: in.URL, Org: in.Org, Bucket: in.Bucket, TokenEnv: in.TokenEnv,
		TokenFile: c.Resolve(in.TokenFile), Timeout: in.Timeout}
}

// FileConfig is the line-protocol file of run: telemetry.file.dir/nmse-RUN.lp ("" path when disabled).
func (c Config) FileConfig(run string) telemetry.FileConfig {
	f := telemetry.FileConfig{Database: c.Telemetry.File.Database}
	if c.Telemetry.File.Dir != "" {
		f.Path = filepath.Join(c.Telemetry.File.Dir, "nmse-"+run+".lp")
	}
	return f
}

// BufferConfig is the telemetry.buffer section, used by every sink.
func (c Config) BufferConfig() telemetry.BufferConfig {
	b := c.Telemetry.Buffer
	return telemetry.BufferConfig{Limit: b.Limit, BatchSize: b.BatchSize, FlushInterval: b.FlushInterval, RetryMin: b.RetryMin, RetryMax: b.RetryMax}
}

// IntervalPeriod is trajectories.interval_s, the coherence interval.
func (c Config) IntervalPeriod() time.Duration { return seconds(c.Trajectories.IntervalS) }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
