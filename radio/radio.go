// Package radio is the one interface the controller drives a testbed through, whatever the backend:
// program the phase-shifter codes of the BS combiner W and the UE precoder F, then run one coherence
// interval's pilot sequence and get Y = W^H H F S + N back. Backends: radio/simradio (ray-traced
// channels, the default and what CI runs) and the SDR backend (phase-shifter boards over a serial
// port, IQ from an SDR source).
package radio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cctrack/cctrack/beamforming"
)

// ErrTimeout is returned (wrapped) when the hardware does not answer in time.
var ErrTimeout = errors.New("radio: timeout")

// Array is a UPA's shape: Nh x Nv elements, element index i = v*Nh + h.
type Array struct{ Nh, Nv int }

// N is the number of elements.
func (a Array) N() int { return a.Nh * a.Nv }

func (a Array) String() string { return fmt.Sprintf("%dx%d", a.Nh, a.Nv) }

// Info describes a radio: what it is and the arrays it drives.
type Info struct {
	Backend      string // "sim", "sdr"
	Scene        string // where the channels come from, for telemetry tags
	BS, UE       Array
	PhaseShifter beamforming.PhaseShifter
	// TxPower is the pilot power P_tx (W) and Noise the noise power sigma^2 (W) per entry of N:
	// configured for the simulated backend, measured or configured for hardware.
	TxPower, Noise float64
}

// Setup is what one pilot measurement needs programmed: the combiner and precoder phase codes
// (N_B x M_B and N_U x M_U) and the pilot symbols s (M_U).
type Setup struct {
	W, F   beamforming.Codes
	Pilots []complex128
}

// Capture is one coherence interval's result.
type Capture struct {
	// Interval counts captures since the radio started, from 0.
	Interval int
	Time     time.Time
	// Y is M_B x M_U, row-major.
	Y []complex128
	// Truth is the true H (N_B x N_U) when the backend knows it (simulated), nil otherwise.
	Truth []complex128
}

// Radio is a testbed. Calls are made from one goroutine; every call honours ctx.
type Radio interface {
	Info() Info
	// Program sets the phase codes and pilots used by the following captures.
	Program(ctx context.Context, s Setup) error
	// Capture runs one coherence interval's pilot sequence and fills c, reusing its slices.
	Capture(ctx context.Context, c *Capture) error
	// Park leaves the hardware safe (transmitter off, shifters at code 0) and releases it.
	Park(ctx context.Context) error
}
