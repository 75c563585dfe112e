package calibration

import (
	"context"
	"fmt"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/radio"
)

// Calibrated is a radio whose phase codes are corrected by calibration tables; see Wrap.
type Calibrated struct {
	r      radio.Radio
	ps     beamforming.PhaseShifter
	bs, ue *Table
	// bsImp and ueImp are the tables as element factors (nil: no table, nominal weights).
	bsImp, ueImp *beamforming.Impairments
}

var _ radio.Radio = (*Calibrated)(nil)

// Wrap returns r with its arrays' phase errors corrected: every Program subtracts each element's
// measured phase, quantised to the shifter (code c becomes c - round(L·PhaseRad[i]/2π) mod L), so
// that the physical weight e^{jφ(c')} e_i/sqrt(N) is the nominal e^{jφ(c)}/sqrt(N) up to the element's
// gain, the quantisation residual (at most π/L) and the table's own error. A nil table leaves that
// array as it is; with both nil Wrap returns r itself.
//
// Gain errors: a phase-only board cannot change an element's amplitude, so gains stay as they are.
// What is left (the gains and the known quantisation residual) is what Weights reports, and the
// controller gives the estimators those weights instead of the nominal ones (controller.Weighter).
//
// It panics if a table does not Match its array: check tables first (the daemon does, naming the
// file).
func Wrap(r radio.Radio, bs, ue *Table) radio.Radio {
	if bs == nil && ue == nil {
		return r
	}
	info := r.Info()
	c := &Calibrated{r: r, ps: info.PhaseShifter, bs: bs, ue: ue}
	for _, s := range []struct {
		t   *Table
		a   radio.Array
		dst **beamforming.Impairments
	}{{bs, info.BS, &c.bsImp}, {ue, info.UE, &c.ueImp}} {
		if s.t == nil {
			continue
		}
		if err := s.t.Match(s.a, info.PhaseShifter); err != nil {
			panic("calibration: Wrap: " + err.Error())
		}
		im := s.t.Impairments()
		*s.dst = &im
	}
	return c
}

// Info is the wrapped radio's.
func (c *Calibrated) Info() radio.Info { return c.r.Info() }

// Program programs the corrected codes. It allocates them anew on every call (programming happens
// when the setup changes, not every interval), so that a backend may keep the codes it was given.
func (c *Calibrated) Program(ctx context.Context, s radio.Setup) error {
	if !fits(s.W, c.bs) || !fits(s.F, c.ue) {
		return fmt.Errorf("calibrated: program: W %d x %d, F %d x %d codes do not fit the tables' arrays", s.W.N, s.W.M, s.F.N, s.F.M)
	}
	s.W = c.correct(s.W, c.bs)
	s.F = c.correct(s.F, c.ue)
	if err := c.r.Program(ctx, s); err != nil {
		return fmt.Errorf("calibrated: %w", err)
	}
	return nil
}

// Capture and Park are the wrapped radio's.
func (c *Calibrated) Capture(ctx context.Context, cp *radio.Capture) error {
	return c.r.Capture(ctx, cp)
}
func (c *Calibrated) Park(ctx context.Context) error { return c.r.Park(ctx) }

// Health forwards the wrapped radio's health report (nil when it has none), so that calibrating a
// hardware backend does not hide its boards from the status page.
func (c *Calibrated) Health() map[string]any {
	if h, ok := c.r.(interface{ Health() map[string]any }); ok {
		return h.Health()
	}
	return nil
}

// Weights writes the weights the codes of s form on the calibrated arrays (N_B x M_B into w,
// N_U x M_U into f): the corrected codes' weights times each element's measured factor e_i, nominal
// weights for an array without a table. These are what the estimators should assume.
func (c *Calibrated) Weights(s radio.Setup, w, f []complex128) {
	c.correct(s.W, c.bs).Weights(c.ps, c.bsImp, w)
	c.correct(s.F, c.ue).Weights(c.ps, c.ueImp, f)
}

// fits reports whether codes are well formed for t's array (any codes fit no table).
func fits(codes beamforming.Codes, t *Table) bool {
	return t == nil || codes.N == t.Elements && codes.M >= 0 && len(codes.Code) == codes.N*codes.M
}

// correct returns codes with each element's phase error subtracted (a copy; codes as they are
// without a table).
func (c *Calibrated) correct(codes beamforming.Codes, t *Table) beamforming.Codes {
	if t == nil {
		return codes
	}
	if !fits(codes, t) {
		panic(fmt.Sprintf("calibration: codes for %d elements, the table has %d", codes.N, t.Elements))
	}
	out := beamforming.Codes{N: codes.N, M: codes.M, Code: make([]uint16, len(codes.Code))}
	mask := uint16(c.ps.Levels() - 1)
	for i := range codes.N {
		k := c.ps.Code(t.PhaseRad[i])
		for j, code := range codes.Code[i*codes.M:][:codes.M] {
			out.Code[i*codes.M+j] = (code - k) & mask
		}
	}
	return out
}
