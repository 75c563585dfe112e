package iq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// SigMF datatypes this package reads and writes.
const (
	CF32 = "cf32_le" // complex float32, little-endian: the samples as they are
	CI16 = "ci16_le" // complex int16, little-endian: v stands for v/32767 · Meta.Scale sqrt(W)
)

// SigMFVersion is the SigMF specification version written into core:version.
const SigMFVersion = "1.2.0"

// Extension is the SigMF extension namespace of cctrack's own keys, declared in core:extensions:
//
//	global:      cctrack:ci16_scale (number, Meta.Scale), cctrack:clipped (integer, samples clipped
//	             when writing ci16), cctrack:config (any JSON, Meta.Config)
//	annotations: cctrack:schedule (any JSON, Annotation.Schedule: the phase schedule of the sweep),
//	             cctrack:datetime (RFC 3339 string, Annotation.Time: when the sweep was triggered)
const Extension = "cctrack"

// ExtensionVersion is the version of the cctrack extension.
const ExtensionVersion = "1.0.0"

// Meta is a recording's global metadata and its (single) capture segment.
type Meta struct {
	Datatype    string  // CF32 or CI16 (core:datatype)
	SampleRate  float64 // Hz (core:sample_rate)
	Frequency   float64 // centre frequency, Hz (the capture's core:frequency)
	Time        time.Time
	Description string // core:description
	HW          string // core:hw: the receiver and antennas
	// Scale is the ci16 full scale in sqrt(W): int16 v stands for v/32767·Scale (cctrack:ci16_scale);
	// 0 means 1. Samples beyond it clip when written. Unused for cf32.
	Scale float64
	// Config is free JSON describing the trial (cctrack:config), e.g. the daemon's merged config.
	Config json.RawMessage
}

// Capture is one SigMF capture segment.
type Capture struct {
	Start     uint64  // core:sample_start
	Frequency float64 // core:frequency, Hz (0 when absent)
	Time      time.Time
}

// Annotation marks a span of samples, e.g. one pilot sweep, with its phase schedule.
type Annotation struct {
	Start, Count uint64 // core:sample_start, core:sample_count
	Label        string // core:label
	Time         time.Time
	// Schedule is free JSON (cctrack:schedule): the phase codes and timing of the sweep.
	Schedule json.RawMessage
}

// MetaError is a problem in a .sigmf-meta file: the file, the JSON key and the byte offset where it
// was found.
type MetaError struct {
	File   string
	Key    string // e.g. "global.core:sample_rate", "annotations[3].core:sample_start"
	Offset int64
	Err    error
}

func (e *MetaError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s: byte %d: %v", e.File, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s: byte %d: %s: %v", e.File, e.Offset, e.Key, e.Err)
}

func (e *MetaError) Unwrap() error { return e.Err }

// metadata is a parsed .sigmf-meta.
type metadata struct {
	meta        Meta
	clipped     uint64
	captures    []Capture
	annotations []Annotation
}

// timeLayout is SigMF's core:datetime: ISO 8601 in UTC with a Z suffix.
const timeLayout = "2006-01-02T15:04:05.999999999Z"

// encodeMeta writes m as an indented .sigmf-meta document.
func encodeMeta(w io.Writer, m *metadata) error {
	type kv = struct {
		k string
		v any
	}
	obj := func(fields ...kv) json.RawMessage {
		var b bytes.Buffer
		b.WriteByte('{')
		n := 0
		for _, f := range fields {
			if f.v == nil {
				continue
			}
			if n > 0 {
				b.WriteByte(',')
			}
			n++
			k, _ := json.Marshal(f.k)
			v, err := json.Marshal(f.v)
			if err != nil {
				panic(fmt.Sprintf("iq: encode %s: %v", f.k, err)) // only JSON-checked values reach here
			}
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteByte('}')
		return b.Bytes()
	}
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	tm := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(timeLayout)
	}
	raw := func(r json.RawMessage) any {
		if len(r) == 0 {
			return nil
		}
		return r
	}
	g := m.meta
	var scale, clipped any
	if g.Datatype == CI16 {
		scale = ci16Scale(g.Scale)
		clipped = m.clipped
	}
	global := obj(
		kv{"core:datatype", g.Datatype},
		kv{"core:sample_rate", g.SampleRate},
		kv{"core:version", SigMFVersion},
		kv{"core:description", str(g.Description)},
		kv{"core:hw", str(g.HW)},
		kv{"core:extensions", []map[string]any{{"name": Extension, "version": ExtensionVersion, "optional": true}}},
		kv{Extension + ":ci16_scale", scale},
		kv{Extension + ":clipped", clipped},
		kv{Extension + ":config", raw(g.Config)},
	)
	caps := make([]json.RawMessage, len(m.captures))
	for i, c := range m.captures {
		var f any
		if c.Frequency != 0 {
			f = c.Frequency
		}
		caps[i] = obj(kv{"core:sample_start", c.Start}, kv{"core:frequency", f}, kv{"core:datetime", tm(c.Time)})
	}
	anns := make([]json.RawMessage, len(m.annotations))
	for i, a := range m.annotations {
		anns[i] = obj(kv{"core:sample_start", a.Start}, kv{"core:sample_count", a.Count},
			kv{"core:label", str(a.Label)}, kv{Extension + ":datetime", tm(a.Time)},
			kv{Extension + ":schedule", raw(a.Schedule)})
	}
	doc := obj(kv{"global", global}, kv{"captures", caps}, kv{"annotations", anns})
	var out bytes.Buffer
	if err := json.Indent(&out, doc, "", "  "); err != nil {
		return fmt.Errorf("encode sigmf-meta: %w", err)
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

func ci16Scale(s float64) float64 {
	if s == 0 {
		return 1
	}
	return s
}

// jsonField is one key of a JSON object with the absolute byte offset of its value.
type jsonField struct {
	key string
	off int64
	raw json.RawMessage
}

// metaParser parses a .sigmf-meta, naming the file, key and byte offset in every error.
type metaParser struct{ file string }

func (p metaParser) errAt(off int64, key string, format string, args ...any) error {
	return &MetaError{File: p.file, Key: key, Offset: off, Err: fmt.Errorf(format, args...)}
}

// jsonErr turns a decoding error of raw (at absolute offset base) into a MetaError.
func (p metaParser) jsonErr(err error, base int64, key string) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &MetaError{File: p.file, Key: key, Offset: base + se.Offset, Err: err}
	case errors.As(err, &te):
		return &MetaError{File: p.file, Key: key, Offset: base, Err: fmt.Errorf("want a %s, got %s", te.Type, te.Value)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &MetaError{File: p.file, Key: key, Offset: base, Err: fmt.Errorf("unexpected end of JSON")}
	}
	return &MetaError{File: p.file, Key: key, Offset: base, Err: err}
}

// object splits the JSON object raw (at absolute offset base) into its fields, rejecting duplicates.
func (p metaParser) object(raw []byte, base int64, key string) ([]jsonField, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, p.jsonErr(err, base, key)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, p.errAt(base, key, "want a JSON object")
	}
	var out []jsonField
	seen := map[string]bool{}
	for dec.More() {
		keyOff := skipSpace(raw, dec.InputOffset(), ',')
		tok, err := dec.Token()
		if err != nil {
			return nil, p.jsonErr(err, base+keyOff, key)
		}
		k, _ := tok.(string) // object keys are always strings
		child := k
		if key != "" {
			child = key + "." + k
		}
		if seen[k] {
			return nil, p.errAt(base+keyOff, child, "duplicate key")
		}
		seen[k] = true
		off := skipSpace(raw, dec.InputOffset(), ':')
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, p.jsonErr(err, base+off, child)
		}
		out = append(out, jsonField{key: k, off: base + off, raw: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, p.jsonErr(err, base+dec.InputOffset(), key)
	}
	if rest := bytes.TrimSpace(raw[dec.InputOffset():]); len(rest) > 0 {
		return nil, p.errAt(base+dec.InputOffset(), key, "data after the JSON object")
	}
	return out, nil
}

// skipSpace returns the offset of the first byte at or after off that is neither JSON white space
// nor sep.
func skipSpace(raw []byte, off int64, sep byte) int64 {
	for off < int64(len(raw)) {
		switch raw[off] {
		case ' ', '\t', '\n', '\r', sep:
			off++
		default:
			return off
		}
	}
	return off
}

// array splits the JSON array raw into its elements with their absolute offsets.
func (p metaParser) array(raw []byte, base int64, key string) ([]jsonField, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, p.jsonErr(err, base, key)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, p.errAt(base, key, "want a JSON array")
	}
	var out []jsonField
	for i := 0; dec.More(); i++ {
		off := skipSpace(raw, dec.InputOffset(), ',')
		var v json.RawMessage
		el := fmt.Sprintf("%s[%d]", key, i)
		if err := dec.Decode(&v); err != nil {
			return nil, p.jsonErr(err, base+off, el)
		}
		out = append(out, jsonField{key: el, off: base + off, raw: v})
	}
	return out, nil
}

func (p metaParser) str(f jsonField, key string) (string, error) {
	var s string
	if err := json.Unmarshal(f.raw, &s); err != nil {
		return "", p.jsonErr(err, f.off, key)
	}
	return s, nil
}

func (p metaParser) num(f jsonField, key string) (float64, error) {
	var x float64
	if err := json.Unmarshal(f.raw, &x); err != nil {
		return 0, p.jsonErr(err, f.off, key)
	}
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, p.errAt(f.off, key, "not a finite number")
	}
	return x, nil
}

func (p metaParser) uint(f jsonField, key string) (uint64, error) {
	var x uint64
	if err := json.Unmarshal(f.raw, &x); err != nil {
		return 0, p.jsonErr(err, f.off, key)
	}
	return x, nil
}

func (p metaParser) time(f jsonField, key string) (time.Time, error) {
	s, err := p.str(f, key)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, p.errAt(f.off, key, "want an ISO 8601 date-time like 2026-11-29T05:44:57.123Z: %v", err)
	}
	return t, nil
}

// rawJSON copies a free-form JSON value, compacted.
func rawJSON(f jsonField) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, f.raw); err != nil {
		panic(fmt.Sprintf("iq: compact decoded JSON: %v", err)) // raw was produced by the decoder
	}
	return b.Bytes()
}

// parseMeta parses a .sigmf-meta document named file.
func parseMeta(file string, data []byte) (*metadata, error) {
	p := metaParser{file: file}
	// Syntax first, on the whole document: json.Unmarshal's offsets are exact (the decoder's, while
	// streaming tokens, are not).
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off := se.Offset
			if !strings.HasPrefix(se.Error(), "unexpected end") {
				off-- // Offset counts the offending byte
			}
			return nil, &MetaError{File: file, Offset: off, Err: err}
		}
		return nil, &MetaError{File: file, Err: err}
	}
	top, err := p.object(data, 0, "")
	if err != nil {
		return nil, err
	}
	m := &metadata{}
	have := map[string]bool{}
	for _, f := range top {
		have[f.key] = true
		switch f.key {
		case "global":
			err = p.global(f, m)
		case "captures":
			err = p.captures(f, m)
		case "annotations":
			err = p.annotations(f, m)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, k := range []string{"global", "captures", "annotations"} {
		if !have[k] {
			return nil, p.errAt(0, k, "missing")
		}
	}
	return m, nil
}

func (p metaParser) global(g jsonField, m *metadata) error {
	fields, err := p.object(g.raw, g.off, "global")
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, f := range fields {
		key := "global." + f.key
		have[f.key] = true
		switch f.key {
		case "core:datatype":
			s, err := p.str(f, key)
			if err != nil {
				return err
			}
			if s != CF32 && s != CI16 {
				return p.errAt(f.off, key, "unsupported datatype %q (want %s or %s)", s, CF32, CI16)
			}
			m.meta.Datatype = s
		case "core:sample_rate":
			x, err := p.num(f, key)
			if err != nil {
				return err
			}
			if !(x > 0) {
				return p.errAt(f.off, key, "want a positive sample rate, got %g", x)
			}
			m.meta.SampleRate = x
		case "core:version":
			s, err := p.str(f, key)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(s, "1.") {
				return p.errAt(f.off, key, "unsupported SigMF version %q (want 1.x.y)", s)
			}
		case "core:num_channels":
			n, err := p.uint(f, key)
			if err != nil {
				return err
			}
			if n != 1 {
				return p.errAt(f.off, key, "%d channels: only single-channel recordings are supported", n)
			}
		case "core:description":
			if m.meta.Description, err = p.str(f, key); err != nil {
				return err
			}
		case "core:hw":
			if m.meta.HW, err = p.str(f, key); err != nil {
				return err
			}
		case Extension + ":ci16_scale":
			x, err := p.num(f, key)
			if err != nil {
				return err
			}
			if !(x > 0) {
				return p.errAt(f.off, key, "want a positive scale, got %g", x)
			}
			m.meta.Scale = x
		case Extension + ":clipped":
			if m.clipped, err = p.uint(f, key); err != nil {
				return err
			}
		case Extension + ":config":
			m.meta.Config = rawJSON(f)
		}
	}
	for _, k := range []string{"core:datatype", "core:sample_rate", "core:version"} {
		if !have[k] {
			return p.errAt(g.off, "global."+k, "missing")
		}
	}
	return nil
}

func (p metaParser) captures(c jsonField, m *metadata) error {
	els, err := p.array(c.raw, c.off, "captures")
	if err != nil {
		return err
	}
	for _, el := range els {
		fields, err := p.object(el.raw, el.off, el.key)
		if err != nil {
			return err
		}
		var cp Capture
		start := false
		for _, f := range fields {
			key := el.key + "." + f.key
			switch f.key {
			case "core:sample_start":
				if cp.Start, err = p.uint(f, key); err != nil {
					return err
				}
				start = true
			case "core:frequency":
				if cp.Frequency, err = p.num(f, key); err != nil {
					return err
				}
			case "core:datetime":
				if cp.Time, err = p.time(f, key); err != nil {
					return err
				}
			}
		}
		if !start {
			return p.errAt(el.off, el.key+".core:sample_start", "missing")
		}
		if n := len(m.captures); n > 0 && cp.Start <= m.captures[n-1].Start {
			return p.errAt(el.off, el.key+".core:sample_start", "captures must be in increasing sample_start order")
		}
		m.captures = append(m.captures, cp)
	}
	if len(m.captures) > 0 {
		m.meta.Frequency, m.meta.Time = m.captures[0].Frequency, m.captures[0].Time
	}
	return nil
}

func (p metaParser) annotations(a jsonField, m *metadata) error {
	els, err := p.array(a.raw, a.off, "annotations")
	if err != nil {
		return err
	}
	for _, el := range els {
		fields, err := p.object(el.raw, el.off, el.key)
		if err != nil {
			return err
		}
		var an Annotation
		start := false
		for _, f := range fields {
			key := el.key + "." + f.key
			switch f.key {
			case "core:sample_start":
				if an.Start, err = p.uint(f, key); err != nil {
					return err
				}
				start = true
			case "core:sample_count":
				if an.Count, err = p.uint(f, key); err != nil {
					return err
				}
			case "core:label":
				if an.Label, err = p.str(f, key); err != nil {
					return err
				}
			case Extension + ":datetime":
				if an.Time, err = p.time(f, key); err != nil {
					return err
				}
			case Extension + ":schedule":
				an.Schedule = rawJSON(f)
			}
		}
		if !start {
			return p.errAt(el.off, el.key+".core:sample_start", "missing")
		}
		if n := len(m.annotations); n > 0 && an.Start < m.annotations[n-1].Start {
			return p.errAt(el.off, el.key+".core:sample_start", "annotations must be in sample_start order")
		}
		if an.Start+an.Count < an.Start {
			return p.errAt(el.off, el.key+".core:sample_count", "sample_start + sample_count overflows")
		}
		m.annotations = append(m.annotations, an)
	}
	return nil
}
