package psemu

import (
	"fmt"
	"math"
	"net"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/radio/sdr/board/emu"
)

// Options are the emulator's settings beyond the configuration.
type Options struct {
	// Drop and Corrupt are the probabilities of a lost and of a corrupted board frame, Delay holds
	// back every board answer; FaultSeed seeds them (the UE board uses FaultSeed+1).
	Drop, Corrupt float64
	Delay         time.Duration
	FaultSeed     uint64
	// GainStdDB and PhaseStdDeg, when not NaN, replace beamforming.impairments' spreads of the
	// injected per-element errors.
	GainStdDB, PhaseStdDeg float64
	// CFO is the carrier frequency offset (rad/sample); Seed seeds noise, offsets and phases.
	CFO    float64
	Seed   uint64
	Outage Outage
}

// FromConfig is the testbed a configuration describes, as the SDR backend will see it: boards with
// the arrays' element counts and beamforming.bits at radio.sdr.bs.port and radio.sdr.ue.port (links),
// the per-element errors the simulated backend would apply for the same beamforming.impairments
// (same seeds: configs.Config.Impairments), rf.tx_power_dbm and rf.noise_dbm, the radio.sdr frame and
// margin, and chans (configs.Config.EvaluationChannels) walked at trajectories.interval_s. The IQ
// stream is served on ln.
func FromConfig(c configs.Config, chans [][]complex128, ln net.Listener, o Options) (Config, error) {
	for _, x := range []struct {
		name string
		v    float64
	}{{"drop", o.Drop}, {"corrupt", o.Corrupt}} {
		if !(x.v >= 0 && x.v < 1) {
			return Config{}, fmt.Errorf("psemu: %s: want a probability in [0, 1) (got %g)", x.name, x.v)
		}
	}
	if b := o.Outage.Board; b != "" && b != "bs" && b != "ue" {
		return Config{}, fmt.Errorf("psemu: outage: board %q, want bs or ue", b)
	}
	im := c.Beamforming.Impairments
	if !math.IsNaN(o.GainStdDB) {
		im.GainStdDB = o.GainStdDB
	}
	if !math.IsNaN(o.PhaseStdDeg) {
		im.PhaseStdDeg = o.PhaseStdDeg
	}
	if !(im.GainStdDB >= 0) || !(im.PhaseStdDeg >= 0) || math.IsInf(im.GainStdDB, 0) || math.IsInf(im.PhaseStdDeg, 0) {
		return Config{}, fmt.Errorf("psemu: per-element error spreads must be finite and >= 0 (got %g dB, %g deg)", im.GainStdDB, im.PhaseStdDeg)
	}
	board := func(link string, n int, seed, faultSeed uint64) Board {
		e := beamforming.NewImpairments(n, im.GainStdDB, im.PhaseStdDeg, im.InsertionLossDB, seed)
		b := Board{Link: link, Elements: n, PhaseBits: c.Beamforming.Bits, GainBits: 4, PhaseErrRad: e.Phase,
			Faults: emu.Faults{DropRate: o.Drop, CorruptRate: o.Corrupt, Delay: o.Delay, Seed: faultSeed}}
		for _, g := range e.Gain {
			// The board's gain error carries the common insertion loss too.
			b.GainErrDB = append(b.GainErrDB, 20*math.Log10(g)-im.InsertionLossDB)
		}
		return b
	}
	tx, noise := c.Powers()
	s := c.Radio.SDR
	return Config{
		BS:       board(s.BS.Port, c.BSArray().N(), im.Seed, o.FaultSeed),
		UE:       board(s.UE.Port, c.UEArray().N(), im.Seed+1, o.FaultSeed+1),
		Channels: chans, Coherence: c.IntervalPeriod(), TxPower: tx, Noise: noise,
		Frame: c.PilotFrame(1, 1), Margin: s.Margin, CFO: o.CFO, Seed: o.Seed, IQ: ln, Outage: o.Outage,
	}, nil
}
