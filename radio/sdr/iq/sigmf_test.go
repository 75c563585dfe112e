package iq

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func randomSamples(n int, amp float64, seed uint64) []complex64 {
	rng := rand.New(rand.NewPCG(seed, 9))
	x := make([]complex64, n)
	for i := range x {
		x[i] = complex64(complex(amp*rng.NormFloat64(), amp*rng.NormFloat64()))
	}
	return x
}

func record(t testing.TB, base string, meta Meta, x []complex64, anns ...Annotation) {
	t.Helper()
	w, err := CreateSigMF(base, meta)
	if err != nil {
		t.Fatal(err)
	}
	// Two writes: one larger than the conversion chunk.
	if err := w.Write(x[:len(x)/3]); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(x[len(x)/3:]); err != nil {
		t.Fatal(err)
	}
	for _, a := range anns {
		if err := w.Annotate(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// A recording reads back as written: cf32 bit for bit; ci16 to within half a quantisation step,
// (Scale/32767/2 per component: the writer rounds to the nearest level).
func TestSigMFRoundTrip(t *testing.T) {
	when := time.Date(2026, 11, 29, 5, 44, 57, 123456789, time.UTC)
	anns := []Annotation{
		{Start: 5000, Count: 1000, Label: "sweep 1", Time: when.Add(time.Second), Schedule: json.RawMessage(`{"bs":[[1,2],[3,4]],"ue":[[0]]}`)},
		{Start: 0, Count: 4000, Label: "sweep 0", Time: when, Schedule: json.RawMessage(`{"bs": [[0, 1]]}`)},
		{Start: 6000, Count: 0},
	}
	x := randomSamples(3*chunk+17, 0.01, 1)
	for _, tc := range []struct {
		dt    string
		scale float64
	}{{CF32, 0}, {CI16, 0.1}, {CI16, 0}} {
		t.Run(tc.dt, func(t *testing.T) {
			base := filepath.Join(t.TempDir(), "rec")
			meta := Meta{Datatype: tc.dt, SampleRate: 10e6, Frequency: 3.5e9, Time: when, Description: "test",
				HW: "emulator", Scale: tc.scale, Config: json.RawMessage(`{"rf": {"carrier_hz": 3.5e9}}`)}
			record(t, base, meta, x, anns...)
			r, err := OpenSigMF(base + MetaSuffix)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got := r.Meta()
			if got.Datatype != tc.dt || got.SampleRate != 10e6 || got.Frequency != 3.5e9 || !got.Time.Equal(when) ||
				got.Description != "test" || got.HW != "emulator" || string(got.Config) != `{"rf":{"carrier_hz":3.5e9}}` {
				t.Errorf("meta %+v", got)
			}
			if c := r.Captures(); len(c) != 1 || c[0].Start != 0 || c[0].Frequency != 3.5e9 || !c[0].Time.Equal(when) {
				t.Errorf("captures %+v", c)
			}
			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			if err := r.ReadFull(cancelled, make([]complex64, 1)); !errors.Is(err, context.Canceled) {
				t.Errorf("read with a cancelled context: %v", err)
			}
			if r.Samples() != uint64(len(x)) || r.SampleRate() != 10e6 {
				t.Errorf("%d samples at %g Hz", r.Samples(), r.SampleRate())
			}
			ga := r.Annotations()
			if len(ga) != 3 || ga[0].Label != "sweep 0" || ga[1].Start != 5000 || ga[1].Count != 1000 ||
				!ga[1].Time.Equal(when.Add(time.Second)) || string(ga[1].Schedule) != `{"bs":[[1,2],[3,4]],"ue":[[0]]}` ||
				ga[2].Label != "" || ga[2].Schedule != nil {
				t.Errorf("annotations %+v", ga)
			}
			tol := float32(0)
			if tc.dt == CI16 {
				// Half a step, plus the float32 rounding of x·32767/Scale and v·Scale/32767 (2^-24
				// relative each; for |x| <= 0.06, six standard deviations, under 0.005 of a step).
				tol = float32(ci16Scale(tc.scale) / 32767 * (0.5 + 0.005))
			}
			got2 := make([]complex64, len(x))
			// Sequential reads in odd sizes, then the end of the recording.
			for i := 0; i < len(x); {
				n := min(len(x)-i, 1000+i%777)
				if err := r.ReadFull(context.Background(), got2[i:i+n]); err != nil {
					t.Fatal(err)
				}
				i += n
			}
			for i := range x {
				if d := x[i] - got2[i]; abs32(real(d)) > tol || abs32(imag(d)) > tol {
					t.Fatalf("sample %d: %v, want %v (tol %g)", i, got2[i], x[i], tol)
				}
			}
			if err := r.ReadFull(context.Background(), got2[:1]); !errors.Is(err, io.EOF) {
				t.Errorf("read past the end: %v", err)
			}
			// ReadAt an annotation's span.
			span := make([]complex64, ga[1].Count)
			if err := r.ReadAt(span, ga[1].Start); err != nil {
				t.Fatal(err)
			}
			if span[0] != got2[5000] || span[999] != got2[5999] {
				t.Errorf("ReadAt differs from the sequential read")
			}
			err = r.ReadAt(span, uint64(len(x)-10))
			if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), base+DataSuffix) {
				t.Errorf("ReadAt past the end: %v", err)
			}
		})
	}
}

func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }

// ci16 samples beyond the full scale clip to ±32767 and are counted, in the writer and in the file.
func TestSigMFCI16Clips(t *testing.T) {
	base := filepath.Join(t.TempDir(), "clip")
	w, err := CreateSigMF(base, Meta{Datatype: CI16, SampleRate: 1e6, Scale: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]complex64{complex(2, -0.5), complex(-3, 1.5), complex(0.5, 0)}); err != nil {
		t.Fatal(err)
	}
	if w.Clipped() != 3 || w.Samples() != 3 {
		t.Errorf("clipped %d of %d", w.Clipped(), w.Samples())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenSigMF(base)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make([]complex64, 3)
	if err := r.ReadFull(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	if got[0] != complex(1, -0.5) && real(got[1]) != -1 || r.m.clipped != 3 {
		t.Errorf("got %v, clipped %d", got, r.m.clipped)
	}
	meta, _ := os.ReadFile(base + MetaSuffix)
	if !strings.Contains(string(meta), `"cctrack:clipped": 3`) || !strings.Contains(string(meta), `"core:extensions"`) {
		t.Errorf("meta:\n%s", meta)
	}
}

// Corrupt and partial recordings fail with errors that name the file, the key and the byte offset.
func TestSigMFCorrupt(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "good")
	record(t, base, Meta{SampleRate: 1e6, Frequency: 2.4e9}, randomSamples(100, 1, 2),
		Annotation{Start: 10, Count: 50, Label: "sweep"})
	meta, err := os.ReadFile(base + MetaSuffix)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(base + DataSuffix)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		meta, data []byte
		want       []string // substrings of the error
		// at is "prefix|point": the error's byte offset must be where point starts after prefix in
		// the corrupt meta ("" : not checked).
		at string
	}{
		{"truncated meta", meta[:200], data, []string{"good.sigmf-meta", "byte 200", "unexpected end"}, ""},
		{"not json", []byte("\n\n  nonsense"), data, []string{"good.sigmf-meta", "byte 5"}, "n|onsense"},
		{"datatype", replace(meta, `"cf32_le"`, `"cu8"`), data, []string{"global.core:datatype", "unsupported datatype"}, `"core:datatype": |"cu8"`},
		{"rate type", replace(meta, `"core:sample_rate": 1000000`, `"core:sample_rate": "fast"`), data, []string{"global.core:sample_rate", "want a float64"}, `|"fast"`},
		{"rate zero", replace(meta, `"core:sample_rate": 1000000`, `"core:sample_rate": 0`), data, []string{"global.core:sample_rate", "positive"}, `"core:sample_rate": |0`},
		{"no version", replace(meta, `"core:version": "1.2.0",`, ``), data, []string{"global.core:version", "missing"}, `"global": |{`},
		{"negative start", replace(meta, `"core:sample_start": 10`, `"core:sample_start": -10`), data, []string{"annotations[0].core:sample_start", "want a uint64"}, `|-10`},
		{"bad datetime", replace(meta, `"core:sample_start": 0,`, `"core:sample_start": 0, "core:datetime": "yesterday",`), data, []string{"captures[0].core:datetime", "ISO 8601"}, `|"yesterday"`},
		{"duplicate key", replace(meta, `"core:version"`, `"core:sample_rate": 1, "core:version"`), data, []string{"global.core:sample_rate", "duplicate"}, `|"core:sample_rate": 1, `},
		{"annotation beyond data", meta, data[:400], []string{"annotations[0]", "[10, 60)", "50 samples"}, ""},
		{"partial sample", meta, data[:403], []string{"good.sigmf-data", "byte 400", "truncated sample"}, ""},
		{"two channels", replace(meta, `"core:version"`, `"core:num_channels": 2, "core:version"`), data, []string{"core:num_channels"}, `"core:num_channels": |2`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := filepath.Join(dir, "bad")
			os.WriteFile(b+MetaSuffix, tc.meta, 0o644)
			os.WriteFile(b+DataSuffix, tc.data, 0o644)
			r, err := OpenSigMF(b)
			if err == nil {
				r.Close()
				t.Fatal("no error")
			}
			msg := strings.ReplaceAll(err.Error(), "bad.", "good.")
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if tc.at != "" {
				pre, point, _ := strings.Cut(tc.at, "|")
				i := strings.Index(string(tc.meta), pre+point)
				if i < 0 {
					t.Fatalf("%q not in the corrupt meta", pre+point)
				}
				var me *MetaError
				if !errors.As(err, &me) || me.Offset != int64(i+len(pre)) {
					t.Errorf("error %q: want a MetaError at byte %d", msg, i+len(pre))
				}
			}
		})
	}
	if _, err := OpenSigMF(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing.sigmf-meta") {
		t.Errorf("missing recording: %v", err)
	}
}

func replace(b []byte, old, new string) []byte {
	s := string(b)
	if !strings.Contains(s, old) {
		panic("replace: " + old + " not found")
	}
	return []byte(strings.Replace(s, old, new, 1))
}

func TestCreateSigMFRejects(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []Meta{{Datatype: "cu8", SampleRate: 1}, {SampleRate: 0}, {SampleRate: 1, Scale: -1},
		{SampleRate: 1, Config: json.RawMessage("{")}} {
		if w, err := CreateSigMF(filepath.Join(dir, "x"), m); err == nil {
			w.Close()
			t.Errorf("%+v accepted", m)
		}
	}
	w, err := CreateSigMF(filepath.Join(dir, "y"), Meta{SampleRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Annotate(Annotation{Start: math.MaxUint64, Count: 2}); err == nil {
		t.Error("overflowing annotation accepted")
	}
	if err := w.Annotate(Annotation{Schedule: json.RawMessage("[1,")}); err == nil {
		t.Error("invalid schedule accepted")
	}
	w.Close()
	if err := w.Write([]complex64{1}); err == nil {
		t.Error("write after close accepted")
	}
}

func BenchmarkSigMFRead(b *testing.B) {
	for _, dt := range []string{CF32, CI16} {
		b.Run(dt, func(b *testing.B) {
			base := filepath.Join(b.TempDir(), "rec")
			x := randomSamples(1<<20, 0.1, 3)
			record(b, base, Meta{Datatype: dt, SampleRate: 10e6}, x)
			r, err := OpenSigMF(base)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			dst := make([]complex64, len(x))
			b.SetBytes(int64(len(x)) * 8) // decoded complex64 bytes per op
			b.ReportAllocs()
			for b.Loop() {
				if err := r.ReadAt(dst, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSigMFWrite(b *testing.B) {
	for _, dt := range []string{CF32, CI16} {
		b.Run(dt, func(b *testing.B) {
			x := randomSamples(1<<20, 0.1, 3)
			w, err := CreateSigMF(filepath.Join(b.TempDir(), "rec"), Meta{Datatype: dt, SampleRate: 10e6})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(x)) * 8)
			b.ReportAllocs()
			for b.Loop() {
				if err := w.Write(x); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// Recording over an existing recording removes its metadata at once: until Close, the pair is an
// unfinished recording, never old metadata describing new samples.
func TestCreateSigMFReplaces(t *testing.T) {
	base := filepath.Join(t.TempDir(), "rec")
	record(t, base, Meta{SampleRate: 1}, randomSamples(10, 1, 1))
	w, err := CreateSigMF(base, Meta{SampleRate: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSigMF(base); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("open during a new recording: %v", err)
	}
	if err := w.Write(randomSamples(3, 1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenSigMF(base)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Samples() != 3 || r.SampleRate() != 2 {
		t.Errorf("%d samples at %g Hz", r.Samples(), r.SampleRate())
	}
}
