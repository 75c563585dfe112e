package iq

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/cctrack/cctrack/internal/atomicfile"
)

// SigMF file suffixes.
const (
	MetaSuffix = ".sigmf-meta"
	DataSuffix = ".sigmf-data"
)

// chunk is how many samples the reader and writer convert at a time.
const chunk = 1 << 14

// SigMFWriter records samples into base.sigmf-data and, on Close, their metadata into
// base.sigmf-meta (written atomically, so a recording without a .sigmf-meta is an unfinished one).
type SigMFWriter struct {
	base    string
	f       *os.File
	w       *bufio.Writer
	m       metadata
	n       uint64 // samples written
	buf     []byte
	closed  bool
	scale   float32 // ci16: 32767/Scale
	failure error   // the first write error: later writes and Close report it
}

// CreateSigMF starts a recording at base (base.sigmf-data, base.sigmf-meta) with one capture segment
// from meta, replacing any recording there. meta.Datatype empty means CF32.
func CreateSigMF(base string, meta Meta) (*SigMFWriter, error) {
	base = strings.TrimSuffix(strings.TrimSuffix(base, MetaSuffix), DataSuffix)
	if meta.Datatype == "" {
		meta.Datatype = CF32
	}
	switch {
	case meta.Datatype != CF32 && meta.Datatype != CI16:
		return nil, fmt.Errorf("iq: create %s: unsupported datatype %q (want %s or %s)", base, meta.Datatype, CF32, CI16)
	case !(meta.SampleRate > 0) || math.IsInf(meta.SampleRate, 0):
		return nil, fmt.Errorf("iq: create %s: want a positive sample rate, got %g", base, meta.SampleRate)
	case !(meta.Scale >= 0) || math.IsInf(meta.Scale, 0) || math.IsNaN(meta.Frequency) || math.IsInf(meta.Frequency, 0):
		return nil, fmt.Errorf("iq: create %s: want a finite Scale >= 0 and Frequency (got %g, %g)", base, meta.Scale, meta.Frequency)
	}
	if len(meta.Config) > 0 && !json.Valid(meta.Config) {
		return nil, fmt.Errorf("iq: create %s: Config is not valid JSON", base)
	}
	// An older recording's metadata must not describe the new samples if we never reach Close.
	if err := os.Remove(base + MetaSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("iq: create %s: %w", base, err)
	}
	f, err := os.Create(base + DataSuffix)
	if err != nil {
		return nil, fmt.Errorf("iq: create %s: %w", base, err)
	}
	w := &SigMFWriter{base: base, f: f, w: bufio.NewWriterSize(f, 1<<16), buf: make([]byte, chunk*cf32Size)}
	w.m.meta = meta
	w.m.captures = []Capture{{Start: 0, Frequency: meta.Frequency, Time: meta.Time}}
	if meta.Datatype == CI16 {
		w.scale = float32(32767 / ci16Scale(meta.Scale))
	}
	return w, nil
}

// Write appends samples. ci16 samples beyond the full scale clip (counted in Clipped and in the
// metadata's cctrack:clipped).
func (w *SigMFWriter) Write(samples []complex64) error {
	if w.closed {
		return fmt.Errorf("iq: write %s%s: closed", w.base, DataSuffix)
	}
	if w.failure != nil {
		return w.failure
	}
	for len(samples) > 0 {
		n := min(len(samples), chunk)
		var b []byte
		if w.m.meta.Datatype == CF32 {
			b = w.buf[:n*cf32Size]
			putCF32(b, samples[:n])
		} else {
			b = w.buf[:n*ci16Size]
			w.putCI16(b, samples[:n])
		}
		if _, err := w.w.Write(b); err != nil {
			w.failure = fmt.Errorf("iq: write %s%s: byte %d: %w", w.base, DataSuffix, w.n*uint64(w.sampleSize()), err)
			return w.failure
		}
		w.n += uint64(n)
		samples = samples[n:]
	}
	return nil
}

func (w *SigMFWriter) sampleSize() int {
	if w.m.meta.Datatype == CI16 {
		return ci16Size
	}
	return cf32Size
}

func (w *SigMFWriter) putCI16(b []byte, src []complex64) {
	q := func(x float32) uint16 {
		v := x * w.scale
		switch {
		case v > 32767:
			w.m.clipped++
			return uint16(32767)
		case v < -32767:
			w.m.clipped++
			return uint16(0x8001) // -32767: keep the range symmetric
		case v != v: // NaN
			w.m.clipped++
			return 0
		}
		return uint16(int16(math.Round(float64(v))))
	}
	for i, x := range src {
		binary.LittleEndian.PutUint16(b[4*i:], q(real(x)))
		binary.LittleEndian.PutUint16(b[4*i+2:], q(imag(x)))
	}
}

// Samples is the number of samples written so far: the index the next sample will have.
func (w *SigMFWriter) Samples() uint64 { return w.n }

// Clipped counts ci16 sample components that were clipped (or NaN) when written.
func (w *SigMFWriter) Clipped() uint64 { return w.m.clipped }

// Annotate adds an annotation (written into the metadata on Close; annotations are sorted by Start).
func (w *SigMFWriter) Annotate(a Annotation) error {
	if w.closed {
		return fmt.Errorf("iq: annotate %s: closed", w.base)
	}
	if a.Start+a.Count < a.Start {
		return fmt.Errorf("iq: annotate %s: sample_start %d + sample_count %d overflows", w.base, a.Start, a.Count)
	}
	if len(a.Schedule) > 0 && !json.Valid(a.Schedule) {
		return fmt.Errorf("iq: annotate %s: annotation at sample %d: Schedule is not valid JSON", w.base, a.Start)
	}
	w.m.annotations = append(w.m.annotations, a)
	return nil
}

// Close flushes the samples and writes base.sigmf-meta.
func (w *SigMFWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.failure
	if ferr := w.w.Flush(); ferr != nil && err == nil {
		err = fmt.Errorf("iq: write %s%s: %w", w.base, DataSuffix, ferr)
	}
	if cerr := w.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("iq: close %s%s: %w", w.base, DataSuffix, cerr)
	}
	if err != nil {
		return err
	}
	slices.SortStableFunc(w.m.annotations, func(a, b Annotation) int {
		return cmp.Compare(a.Start, b.Start)
	})
	if err := atomicfile.Write(w.base+MetaSuffix, func(out io.Writer) error { return encodeMeta(out, &w.m) }); err != nil {
		return fmt.Errorf("iq: %w", err)
	}
	return nil
}

// SigMFReader reads a SigMF recording. It is a Source (sequential ReadFull) and also reads at any
// sample index (ReadAt), e.g. the span of an annotation.
type SigMFReader struct {
	meta, data string
	m          *metadata
	f          *os.File
	size       int     // bytes per sample
	n          uint64  // samples in the data file
	pos        uint64  // next sample of ReadFull
	scale      float32 // ci16: Scale/32767
	buf        []byte
}

var _ Source = (*SigMFReader)(nil)

// OpenSigMF opens a recording by its base name or either file's name. It checks the metadata (errors
// name the file, the key and the byte offset; core:datatype must be cf32_le or ci16_le, and
// core:sample_rate, optional in SigMF, is required), that the data file holds whole samples and that
// every annotation lies within it.
func OpenSigMF(path string) (*SigMFReader, error) {
	base := strings.TrimSuffix(strings.TrimSuffix(path, MetaSuffix), DataSuffix)
	r := &SigMFReader{meta: base + MetaSuffix, data: base + DataSuffix}
	b, err := os.ReadFile(r.meta)
	if err != nil {
		return nil, fmt.Errorf("iq: open sigmf: %w", err)
	}
	if r.m, err = parseMeta(r.meta, b); err != nil {
		return nil, fmt.Errorf("iq: open sigmf: %w", err)
	}
	if r.f, err = os.Open(r.data); err != nil {
		return nil, fmt.Errorf("iq: open sigmf: %w", err)
	}
	st, err := r.f.Stat()
	if err != nil {
		r.f.Close()
		return nil, fmt.Errorf("iq: open sigmf: %w", err)
	}
	r.size = cf32Size
	if r.m.meta.Datatype == CI16 {
		r.size = ci16Size
		r.scale = float32(ci16Scale(r.m.meta.Scale) / 32767)
	}
	if rem := st.Size() % int64(r.size); rem != 0 {
		r.f.Close()
		return nil, fmt.Errorf("iq: open sigmf: %s: byte %d: truncated sample (%d of %d bytes of a %s sample)",
			r.data, st.Size()-rem, rem, r.size, r.m.meta.Datatype)
	}
	r.n = uint64(st.Size() / int64(r.size))
	for i, a := range r.m.annotations {
		if a.Start+a.Count > r.n {
			r.f.Close()
			return nil, fmt.Errorf("iq: open sigmf: %s: annotations[%d] covers samples [%d, %d) but %s holds %d samples (%d bytes)",
				r.meta, i, a.Start, a.Start+a.Count, r.data, r.n, st.Size())
		}
	}
	r.buf = make([]byte, chunk*r.size)
	return r, nil
}

// Meta is the recording's global metadata and first capture segment.
func (r *SigMFReader) Meta() Meta { return r.m.meta }

// Captures are the capture segments.
func (r *SigMFReader) Captures() []Capture { return slices.Clone(r.m.captures) }

// Annotations are the annotations, in sample order.
func (r *SigMFReader) Annotations() []Annotation { return slices.Clone(r.m.annotations) }

// Samples is the number of samples in the recording.
func (r *SigMFReader) Samples() uint64 { return r.n }

// SampleRate is core:sample_rate.
func (r *SigMFReader) SampleRate() float64 { return r.m.meta.SampleRate }

// ReadFull reads the next len(dst) samples; at the end of the recording it returns a wrapped io.EOF
// (no sample left) or io.ErrUnexpectedEOF (fewer than len(dst) left; dst then holds the rest).
func (r *SigMFReader) ReadFull(ctx context.Context, dst []complex64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("iq: read %s: %w", r.data, err)
	}
	if r.pos >= r.n && len(dst) > 0 {
		return fmt.Errorf("iq: read %s: byte %d: %w", r.data, r.pos*uint64(r.size), io.EOF)
	}
	err := r.ReadAt(dst, r.pos)
	r.pos = min(r.pos+uint64(len(dst)), r.n)
	return err
}

// ReadAt reads len(dst) samples starting at sample index start; past the end it returns a wrapped
// io.ErrUnexpectedEOF with the samples that exist in dst.
func (r *SigMFReader) ReadAt(dst []complex64, start uint64) error {
	for len(dst) > 0 {
		n := min(len(dst), chunk)
		b := r.buf[:n*r.size]
		off := int64(start) * int64(r.size)
		got, err := r.f.ReadAt(b, off)
		whole := got / r.size
		r.decode(dst[:whole], b)
		if whole < n {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("iq: read %s: byte %d: %w", r.data, off+int64(whole*r.size), err)
		}
		dst, start = dst[n:], start+uint64(n)
	}
	return nil
}

func (r *SigMFReader) decode(dst []complex64, b []byte) {
	if r.size == cf32Size {
		getCF32(dst, b)
		return
	}
	for i := range dst {
		re := int16(binary.LittleEndian.Uint16(b[4*i:]))
		im := int16(binary.LittleEndian.Uint16(b[4*i+2:]))
		dst[i] = complex(float32(re)*r.scale, float32(im)*r.scale)
	}
}

// Close closes the data file.
func (r *SigMFReader) Close() error { return r.f.Close() }
