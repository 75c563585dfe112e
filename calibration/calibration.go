// Package calibration measures and removes the per-element phase and gain errors of a phase-shifter
// array: element i of the physical array forms e^{jφ(c)} e_i / sqrt(N) for code c instead of the
// nominal e^{jφ(c)}/sqrt(N), with e_i = g_i e^{jδ_i} unknown (beamforming.Impairments models it).
//
// # Measurement
//
// The array under test (the BS combiner or the UE precoder) faces a single reference antenna at a
// known position in its far field, in line of sight: the link channel h_i between element i and the
// reference is known from the geometry (calibration/reflink computes it; in the simulator the
// channel is built the same way, so it is exact there). Calibration drives the link through any
// radio (Meter) with the reference as the other side (a 1x1 array, code 0), the pilots all sqrt(P),
// and one probing beam per observation slot m with codes c_im. Divided by the pilot, and conjugated
// for the BS (whose observation is w^H h, the UE's h^T f), slot m observes
//
//	ỹ_m = Σ_i v_im e_i ρ_i + n_m,   v_im = e^{jφ(c_im)}/sqrt(N),   n_m ~ CN(0, σ²/P),
//
// with ρ_i = conj(h_i) for the BS and h_i for the UE. Each setup is captured Averages times.
//
// # Methods
//
// Pilot (complex observations): a full-rank probing set V (N x N; Hadamard when N is a power of
// two, whose 0/π codes are exact at any resolution, otherwise the 2-D DFT beams) gives ỹ = V^T x,
// x_i = e_i ρ_i, solved by least squares x̂ = (V^* V^T)^{-1} V^* ỹ on the averaged ỹ; then
// e_i = x̂_i / ρ_i. Gains and phases are absolute.
//
// REV (rotating element electric field vector; Mano and Katagi 1982; power-only observations): all
// elements start in the beam steered at the reference (c⁰_i = code of -arg ρ_i, so that the
// contributions add up), and element n alone is rotated through the L = 2^B shifter states
// Δ_k = 2πk/L. The received power is a sinusoid,
//
//	P(Δ) = |E₀ - x_n + x_n e^{jΔ}|² = C + Re(Z e^{jΔ}),   C = |A|² + |x_n|²,  Z = 2 A^* x_n,  A = E₀ - x_n,
//
// fitted by least squares (at uniform Δ_k the fit is the DFT: C = mean P_k, Z = (2/L) Σ_k P_k e^{-jΔ_k};
// L >= 3, so B >= 2), with the noise power σ² subtracted from the mean powers. The REV equations are
// then solved exactly, not iterated: with ratio r = |Z|/C = 2Γ/(1+Γ²), Γ = |x_n|/|A| is the root
// Γ = (1 - sqrt(1 - r²))/r < 1 (the element is weaker than the rest of the array together, true for
// N >= 3 elements of similar gain), and
//
//	x_n / E₀ = Γ e^{jΔ₀} / (1 + Γ e^{jΔ₀}),   Δ₀ = arg Z,   |E₀|² = |Z| |1 + Γ e^{jΔ₀}|² / (2Γ),
//
// i.e. Mano and Katagi's k = Γ/sqrt(1 + 2Γcos Δ₀ + Γ²), tan X = sin Δ₀/(cos Δ₀ + Γ). Then
// e_n = (x_n/E₀) E₀ sqrt(N) e^{-jφ(c⁰_n)} / ρ_n. Power measurements cannot see a phase common to all
// elements, i.e. arg E₀. With a coherent receiver (every radio.Radio: Y is complex) E₀ itself is the
// mean observation of the reference state (slot Δ = 0 of every capture), so the table is absolute;
// with Spec.PowerOnly, |E₀| is the mean of the elements' fits and the common phase is set so that the
// elements' phase errors have a circular mean of zero: the phases are relative (an array's common
// phase is absorbed in the channel on hardware; the simulator's true H does not include it).
//
// # Accuracy
//
// Both methods estimate e_i without quantisation error: the probing phases are exact shifter states.
// With SNR = P |h|² g² / σ² the SNR of one element pair (h the reference channel, g the element's
// gain), an element's phase error has standard deviation 1/sqrt(2 K SNR) rad for Pilot (N slots, each
// collecting the whole array) and about 1/sqrt(L K SNR / N) rad for REV (one element's 1/sqrt(N)
// share of the field, over L states), K = Averages; the relative amplitude error has the same
// standard deviation (8.69 times it in dB). 3 degrees rms thus needs 2K·SNR >= 365 (Pilot) or
// L K SNR/N >= 365 (REV). Applying a table by code correction (Wrap) leaves a residual of at most π/L
// per element, which the calibrated weights (Calibrated.Weights) include exactly.
package calibration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"slices"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/radio"
)

// Meter is what calibration needs of a radio: program a setup, capture its observation. Any
// radio.Radio is one.
type Meter interface {
	Program(ctx context.Context, s radio.Setup) error
	Capture(ctx context.Context, c *radio.Capture) error
}

var _ Meter = radio.Radio(nil)

// Side names the array under test.
type Side string

// The two arrays.
const (
	BS Side = "bs" // the BS combiner W
	UE Side = "ue" // the UE precoder F
)

// Method is a calibration method.
type Method string

// The methods (see the package documentation).
const (
	REV   Method = "rev"
	Pilot Method = "pilot"
)

// Methods lists the methods for flags and docs.
func Methods() []Method { return []Method{REV, Pilot} }

// Spec describes one calibration run.
type Spec struct {
	Side         Side
	Array        radio.Array
	PhaseShifter beamforming.PhaseShifter
	// TxPower is the pilot power P (W) and Noise the noise power σ² (W) per observation.
	TxPower, Noise float64
	// Channel holds h_i, the channel between element i and the reference antenna (N entries).
	Channel []complex128
	// Averages is the number of captures of each setup (K), averaged.
	Averages int
	// PowerOnly restricts REV to received powers (a power detector): its phases are then relative.
	// Pilot needs complex observations and refuses it.
	PowerOnly bool
	// Board, FrequencyHz, TemperatureC and Time describe the run; the table records them.
	Board                     string
	FrequencyHz, TemperatureC float64
	Time                      time.Time
}

func (s Spec) validate(m Method) error {
	n := s.Array.N()
	switch {
	case s.Side != BS && s.Side != UE:
		return fmt.Errorf("calibration: side %q, want %q or %q", s.Side, BS, UE)
	case !slices.Contains(Methods(), m):
		return fmt.Errorf("calibration: method %q, want one of %v", m, Methods())
	case n < 1:
		return fmt.Errorf("calibration: array %s has no elements", s.Array)
	case len(s.Channel) != n:
		return fmt.Errorf("calibration: %d reference channel entries for %d elements", len(s.Channel), n)
	case s.Averages < 1:
		return fmt.Errorf("calibration: averages = %d, want >= 1", s.Averages)
	case !(s.TxPower > 0) || !(s.Noise >= 0):
		return fmt.Errorf("calibration: want pilot power > 0 and noise >= 0 (got %g, %g W)", s.TxPower, s.Noise)
	case m == Pilot && s.PowerOnly:
		return fmt.Errorf("calibration: pilot needs complex observations, the spec is power-only")
	case m == REV && n < 3:
		return fmt.Errorf("calibration: rev needs at least 3 elements (the array has %d): with fewer, one element is not weaker than the rest", n)
	case m == REV && s.PhaseShifter.Bits < 2:
		return fmt.Errorf("calibration: rev needs at least 2-bit shifters (3 states to fit a sinusoid), got %d", s.PhaseShifter.Bits)
	}
	if err := s.PhaseShifter.Validate(); err != nil {
		return fmt.Errorf("calibration: %w", err)
	}
	for i, h := range s.Channel {
		if !(cmplx.Abs(h) > 0) || cmplx.IsInf(h) {
			return fmt.Errorf("calibration: reference channel of element %d is %v, want finite and non-zero", i, h)
		}
	}
	return nil
}

// Run calibrates the array s describes by method m through meter (whose other side is the single
// reference antenna) and returns its table. progress, when not nil, is called with the captures done
// and their total.
func Run(ctx context.Context, meter Meter, s Spec, m Method, progress func(done, total int)) (*Table, error) {
	if err := s.validate(m); err != nil {
		return nil, err
	}
	p := newProber(meter, s, progress)
	var (
		e   []complex128
		err error
	)
	if m == REV {
		p.total = s.Array.N() * s.Averages
		e, err = rev(ctx, p)
	} else {
		p.total = s.Averages
		e, err = pilot(ctx, p)
	}
	if err != nil {
		return nil, fmt.Errorf("calibration: %s %s array: %w", m, s.Side, err)
	}
	t := &Table{Board: s.Board, Elements: len(e), PhaseBits: s.PhaseShifter.Bits, FrequencyHz: s.FrequencyHz,
		TemperatureC: s.TemperatureC, Time: s.Time, Method: string(m),
		PhaseRad: make([]float64, len(e)), GainDB: make([]float64, len(e))}
	for i, x := range e {
		t.PhaseRad[i] = cmplx.Phase(x)
		t.GainDB[i] = 20 * math.Log10(cmplx.Abs(x))
	}
	return t, nil
}

// prober programs probing beams on the array under test and returns the unified observations ỹ.
type prober struct {
	meter    Meter
	s        Spec
	rho      []complex128 // ρ_i
	amp      float64      // sqrt(P), every pilot
	cap      radio.Capture
	done     int
	total    int
	progress func(done, total int)
}

func newProber(meter Meter, s Spec, progress func(done, total int)) *prober {
	p := &prober{meter: meter, s: s, rho: make([]complex128, len(s.Channel)), amp: math.Sqrt(s.TxPower), progress: progress}
	for i, h := range s.Channel {
		if s.Side == BS {
			h = cmplx.Conj(h)
		}
		p.rho[i] = h
	}
	return p
}

// reference is the single reference antenna at code 0, for m slots.
func reference(m int) beamforming.Codes {
	return beamforming.Codes{N: 1, M: m, Code: make([]uint16, m)}
}

// program sets codes (N x M) on the array under test.
func (p *prober) program(ctx context.Context, codes beamforming.Codes) error {
	setup := radio.Setup{W: codes, F: reference(1), Pilots: []complex128{complex(p.amp, 0)}}
	if p.s.Side == UE {
		setup = radio.Setup{W: reference(1), F: codes, Pilots: make([]complex128, codes.M)}
		for j := range setup.Pilots {
			setup.Pilots[j] = complex(p.amp, 0)
		}
	}
	if err := p.meter.Program(ctx, setup); err != nil {
		return fmt.Errorf("program: %w", err)
	}
	return nil
}

// capture runs one capture of the programmed M slots and writes ỹ into dst (M entries).
func (p *prober) capture(ctx context.Context, dst []complex128) error {
	if err := p.meter.Capture(ctx, &p.cap); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	if len(p.cap.Y) != len(dst) {
		return fmt.Errorf("capture: %d observations, want %d (is the reference a single antenna?)", len(p.cap.Y), len(dst))
	}
	for m, y := range p.cap.Y {
		if cmplx.IsNaN(y) || cmplx.IsInf(y) {
			return fmt.Errorf("capture: observation %d is %v", m, y)
		}
		if p.s.Side == BS {
			y = cmplx.Conj(y)
		}
		dst[m] = y / complex(p.amp, 0)
	}
	p.done++
	if p.progress != nil {
		p.progress(p.done, p.total)
	}
	return nil
}

// errWeak reports a fit that the noise or a dead element made meaningless.
var errWeak = errors.New("no usable signal")
