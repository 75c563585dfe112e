package calibration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/internal/atomicfile"
	"github.com/cctrack/cctrack/radio"
)

// Table is one array's measured per-element errors: element i's physical weight is its nominal
// weight e^{jφ(c)}/sqrt(N) times
//
//	e_i = 10^{GainDB[i]/20} · e^{j PhaseRad[i]},
//
// the same factor beamforming.Impairments.Element models (GainDB includes any common insertion
// loss). It is stored as JSON with the keys of the field tags.
type Table struct {
	Board        string    `json:"board"`
	Elements     int       `json:"elements"`
	PhaseBits    int       `json:"phase_bits"`
	FrequencyHz  float64   `json:"frequency_hz"`
	TemperatureC float64   `json:"temperature_c"`
	Time         time.Time `json:"time"`
	Method       string    `json:"method"`
	PhaseRad     []float64 `json:"phase_rad"`
	GainDB       []float64 `json:"gain_db"`
}

// Load reads and checks a table; errors name the file and, for bad values, the key.
func Load(path string) (*Table, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var t Table
	if err := dec.Decode(&t); err != nil {
		if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
			return nil, fmt.Errorf("calibration: %s: byte %d: %w", path, se.Offset, err)
		}
		return nil, fmt.Errorf("calibration: %s: %w", path, err)
	}
	if err := t.validate(); err != nil {
		return nil, fmt.Errorf("calibration: %s: %w", path, err)
	}
	return &t, nil
}

// Save writes the table atomically (a crash never leaves half a file).
func (t *Table) Save(path string) error {
	if err := t.validate(); err != nil {
		return fmt.Errorf("calibration: save %s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(t)
	})
}

// validate names the first bad key.
func (t *Table) validate() error {
	switch {
	case t.Elements < 1:
		return fmt.Errorf("elements: must be >= 1 (got %d)", t.Elements)
	case (beamforming.PhaseShifter{Bits: t.PhaseBits}).Validate() != nil:
		return fmt.Errorf("phase_bits: must be in 1..16 (got %d)", t.PhaseBits)
	case !(t.FrequencyHz > 0) || math.IsInf(t.FrequencyHz, 0):
		return fmt.Errorf("frequency_hz: must be > 0 and finite (got %g)", t.FrequencyHz)
	case math.IsNaN(t.TemperatureC) || math.IsInf(t.TemperatureC, 0):
		return fmt.Errorf("temperature_c: must be finite (got %g)", t.TemperatureC)
	case t.Time.IsZero():
		return fmt.Errorf("time: missing")
	case len(t.PhaseRad) != t.Elements:
		return fmt.Errorf("phase_rad: has %d entries, elements is %d", len(t.PhaseRad), t.Elements)
	case len(t.GainDB) != t.Elements:
		return fmt.Errorf("gain_db: has %d entries, elements is %d", len(t.GainDB), t.Elements)
	}
	for i := range t.Elements {
		if p := t.PhaseRad[i]; math.IsNaN(p) || math.IsInf(p, 0) {
			return fmt.Errorf("phase_rad[%d]: must be finite (got %g)", i, p)
		}
		if g := t.GainDB[i]; math.IsNaN(g) || math.IsInf(g, 0) {
			return fmt.Errorf("gain_db[%d]: must be finite (got %g)", i, g)
		}
	}
	return nil
}

// Match is an error unless the table was made for an array of a's element count and ps's bits: a
// table for another array cannot be applied at all.
func (t *Table) Match(a radio.Array, ps beamforming.PhaseShifter) error {
	if t.Elements != a.N() {
		return fmt.Errorf("calibration: table of board %q has %d elements, the array %s has %d", t.Board, t.Elements, a, a.N())
	}
	if t.PhaseBits != ps.Bits {
		return fmt.Errorf("calibration: table of board %q is for %d-bit phase shifters, the array has %d bits", t.Board, t.PhaseBits, ps.Bits)
	}
	return nil
}

// Warnings lists why a table that matches the array may no longer describe it: it is older than
// maxAge at now (0 disables the check), or was measured at another frequency than freqHz (relative
// difference above 1e-6: another setting, not rounding). Element errors drift with temperature and
// time and scale with frequency, so such a table is applied but should be remeasured.
func (t *Table) Warnings(now time.Time, maxAge time.Duration, freqHz float64) []string {
	var out []string
	if age := now.Sub(t.Time); maxAge > 0 && age > maxAge {
		out = append(out, fmt.Sprintf("made %s ago (%s), older than %s", age.Round(time.Minute), t.Time.Format(time.RFC3339), maxAge))
	}
	if math.Abs(t.FrequencyHz-freqHz) > 1e-6*freqHz {
		out = append(out, fmt.Sprintf("made at %g Hz, the carrier is %g Hz", t.FrequencyHz, freqHz))
	}
	return out
}

// Impairments is the table as the element factors beamforming models, for computing the weights a
// calibrated array actually forms.
func (t *Table) Impairments() beamforming.Impairments {
	im := beamforming.Impairments{Gain: make([]float64, t.Elements), Phase: append([]float64(nil), t.PhaseRad...)}
	for i, g := range t.GainDB {
		im.Gain[i] = math.Pow(10, g/20)
	}
	return im
}
