package psemu

import "time"

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
