package calibration

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/radio"
)

// fromImpairments is the table a perfect calibration of im would give.
func fromImpairments(im beamforming.Impairments, bits int, freq float64, at time.Time) *Table {
	n := len(im.Gain)
	t := &Table{Board: "test", Elements: n, PhaseBits: bits, FrequencyHz: freq, TemperatureC: 25, Time: at, Method: "truth",
		PhaseRad: make([]float64, n), GainDB: make([]float64, n)}
	for i := range n {
		e := im.Element(i)
		t.PhaseRad[i] = math.Atan2(imag(e), real(e))
		t.GainDB[i] = 20 * math.Log10(math.Hypot(real(e), imag(e)))
	}
	return t
}

var made = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func TestSaveLoadRoundTrip(t *testing.T) {
	tab := fromImpairments(beamforming.NewImpairments(16, 1, 15, 0.5, 3), 6, 3.5e9, made)
	p := filepath.Join(t.TempDir(), "bs.json")
	if err := tab.Save(p); err != nil {
		t.Fatal(err)
	}
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, tab) {
		t.Errorf("loaded %+v\nsaved %+v", got, tab)
	}
	b, _ := os.ReadFile(p)
	for _, key := range []string{`"board"`, `"elements"`, `"phase_bits"`, `"frequency_hz"`, `"temperature_c"`, `"time"`, `"method"`, `"phase_rad"`, `"gain_db"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("file lacks key %s:\n%s", key, b)
		}
	}
	bad := *tab
	bad.GainDB = bad.GainDB[:3]
	if err := bad.Save(p); err == nil || !strings.Contains(err.Error(), "gain_db") || !strings.Contains(err.Error(), p) {
		t.Errorf("saving a bad table: %v", err)
	}
}

// Load's errors name the file, and the key or byte offset at fault.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	good := `"board": "b", "elements": 2, "phase_bits": 6, "frequency_hz": 3.5e9, "temperature_c": 25, "time": "2026-11-01T12:00:00Z", "method": "rev"`
	for _, tc := range []struct{ name, body, want string }{
		{"syntax", `{"board": "b",, }`, "byte 15"},
		{"unknown key", `{` + good + `, "phase_rad": [0, 0], "gain_db": [0, 0], "gains": []}`, `unknown field "gains"`},
		{"phase count", `{` + good + `, "phase_rad": [0], "gain_db": [0, 0]}`, "phase_rad: has 1 entries, elements is 2"},
		{"bits", strings.Replace(`{`+good+`, "phase_rad": [0, 0], "gain_db": [0, 0]}`, `"phase_bits": 6`, `"phase_bits": 0`, 1), "phase_bits"},
		{"frequency", strings.Replace(`{`+good+`, "phase_rad": [0, 0], "gain_db": [0, 0]}`, `3.5e9`, `0`, 1), "frequency_hz"},
		{"no time", strings.Replace(`{`+good+`, "phase_rad": [0, 0], "gain_db": [0, 0]}`, `"time": "2026-11-01T12:00:00Z", `, ``, 1), "time: missing"},
		{"type", `{"board": "b", "elements": "two"}`, "elements"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".json")
			if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to name %s and %q", err, p, tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestMatchAndWarnings(t *testing.T) {
	tab := fromImpairments(beamforming.NewImpairments(100, 1, 15, 0, 3), 6, 3.5e9, made)
	ps := beamforming.PhaseShifter{Bits: 6}
	if err := tab.Match(radio.Array{Nh: 10, Nv: 10}, ps); err != nil {
		t.Error(err)
	}
	if err := tab.Match(radio.Array{Nh: 20, Nv: 20}, ps); err == nil || !strings.Contains(err.Error(), "100 elements, the array 20x20 has 400") {
		t.Errorf("element count: %v", err)
	}
	if err := tab.Match(radio.Array{Nh: 10, Nv: 10}, beamforming.PhaseShifter{Bits: 4}); err == nil || !strings.Contains(err.Error(), "6-bit") {
		t.Errorf("bits: %v", err)
	}
	for _, tc := range []struct {
		name   string
		now    time.Time
		maxAge time.Duration
		freq   float64
		want   []string
	}{
		{"fresh", made.Add(time.Hour), 720 * time.Hour, 3.5e9, nil},
		{"old", made.Add(721 * time.Hour), 720 * time.Hour, 3.5e9, []string{"older than 720h0m0s"}},
		{"age unchecked", made.Add(1e4 * time.Hour), 0, 3.5e9, nil},
		{"frequency", made, 720 * time.Hour, 28e9, []string{"made at 3.5e+09 Hz, the carrier is 2.8e+10 Hz"}},
		{"rounding", made, 720 * time.Hour, 3.5e9 * (1 + 1e-9), nil},
		{"both", made.Add(800 * time.Hour), 720 * time.Hour, 3.6e9, []string{"older", "made at"}},
	} {
		got := tab.Warnings(tc.now, tc.maxAge, tc.freq)
		if len(got) != len(tc.want) {
			t.Errorf("%s: warnings %q, want %d", tc.name, got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: warning %q, want it to say %q", tc.name, got[i], w)
			}
		}
	}
}
