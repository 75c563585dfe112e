// Package telemetry delivers points (the daemon's per-interval NMSE, radio statistics) to a line-protocol
// file or to an InfluxDB server.
//
// A Writer delivers one batch: FileWriter appends InfluxDB line protocol to a file (the embedded default),
// InfluxWriter posts it to InfluxDB's v2 write API (InfluxDB 2.x, Cloud, and 1.8+ where the bucket is
// "database/retention-policy"). Buffer sits between the producer and a Writer: Add never blocks, a goroutine
// sends batches, retries what failed for a transient reason with capped exponential backoff (honouring the
// server's Retry-After), rejects what the server refuses for good and, when the server is down for long,
// drops the oldest points beyond its bound (telegraf's running_output model).
//
// A Buffer's queue is in memory (NewBuffer) or on disk (NewSpooledBuffer): a Spool appends every point to
// a segment file before Add returns, removes it once the writer accepted it, and after a restart sends what
// is left, so that a down server or a killed daemon loses nothing.
//
// The daemon writes measurement "nmse" (tags run, backend, estimator, scene, array; fields nmse_db, snr_db,
// latency_us, interval) and measurement "radio"; this package carries any Point.
package telemetry

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Point is one InfluxDB point: a measurement, its tags (indexed strings), its fields (values) and a time.
type Point struct {
	Measurement string
	Tags        []Tag
	Fields      []Field
	// Time is written in nanoseconds since the Unix epoch; it must be set (a point without one would be
	// stamped with the time of writing or, for a file, of import) and lie in InfluxDB's range, the years
	// 1677 to 2262.
	Time time.Time
}

// Tag is a tag key and value. A tag with an empty value is not written: InfluxDB has no empty tag values
// (an absent tag reads as "").
type Tag struct {
	Key, Value string
}

// Field is a field key and value. Value must be one of float64, int64, uint64, string or bool (line protocol's
// float, integer, unsigned integer, string and boolean). InfluxDB 1.x servers refuse uint64 fields (they
// parse unsigned integers only when built with that support); InfluxDB 2.x accepts them.
type Field struct {
	Key   string
	Value any
}

// InfluxDB's timestamp range: int64 nanoseconds less the two smallest values, which its engine reserves.
var (
	minTime = time.Unix(0, math.MinInt64+2)
	maxTime = time.Unix(0, math.MaxInt64-1)
)

// AppendLine appends p to dst as one line of InfluxDB line protocol, without the newline:
//
//	measurement[,tag_key=tag_value...] field_key=field_value[,field_key=field_value...] timestamp
//
// Escaping follows InfluxDB's line protocol: a backslash goes before each comma and space of the
// measurement, before each comma, equals sign and space of tag keys, tag values and field keys, and string
// field values are double-quoted with a backslash before each double quote and backslash. A backslash
// elsewhere is literal, so one inside a measurement, key or tag value must be followed by some other
// character: InfluxDB would read a backslash before a space, comma, equals sign, double quote or
// backslash, or at the end, as an escape (checked against InfluxDB 1.8). Tags are written
// sorted by key (byte order), which is how InfluxDB keys series. Field values are written as float64 in the
// shortest form that parses back to the same float64 (strconv 'g', precision -1), int64 with an "i" suffix,
// uint64 with a "u" suffix, string quoted, and bool as true or false; fields keep their order. Non-finite
// floats (NaN, ±Inf), which line protocol cannot carry, are left out, so an NMSE of -Inf dB (a perfect
// estimate) leaves its field absent rather than losing the point. The timestamp is in nanoseconds.
//
// AppendLine returns dst unchanged and an error when the point cannot be written faithfully: no
// measurement or a measurement starting with '#' (a comment line), an empty key, a duplicate tag or field
// key, a newline or carriage return anywhere (the file importers read line by line), a backslash that
// InfluxDB would read as an escape (see above) in a measurement, key or tag value, a field value of another
// type, no finite field, or a time unset or outside InfluxDB's range.
func AppendLine(dst []byte, p Point) ([]byte, error) {
	if err := checkPoint(p); err != nil {
		return dst, fmt.Errorf("telemetry: encode point %q: %w", p.Measurement, err)
	}
	start := len(dst)
	dst = appendEscaped(dst, p.Measurement, ", ")
	// Tags in key order without sorting a copy: pick the next larger key each round. O(len(Tags)^2), cheap for
	// the handful of tags a point has, and it allocates nothing.
	var last string
	for i := range p.Tags {
		next := -1
		for j, t := range p.Tags {
			if (i == 0 || t.Key > last) && (next < 0 || t.Key < p.Tags[next].Key) {
				next = j
			}
		}
		t := p.Tags[next]
		last = t.Key
		if t.Value == "" {
			continue
		}
		dst = append(dst, ',')
		dst = appendEscaped(dst, t.Key, ",= ")
		dst = append(dst, '=')
		dst = appendEscaped(dst, t.Value, ",= ")
	}
	sep := byte(' ')
	for _, f := range p.Fields {
		if v, ok := f.Value.(float64); ok && (math.IsNaN(v) || math.IsInf(v, 0)) {
			continue
		}
		dst = append(dst, sep)
		sep = ','
		dst = appendEscaped(dst, f.Key, ",= ")
		dst = append(dst, '=')
		switch v := f.Value.(type) {
		case float64:
			dst = strconv.AppendFloat(dst, v, 'g', -1, 64)
		case int64:
			dst = strconv.AppendInt(dst, v, 10)
			dst = append(dst, 'i')
		case uint64:
			dst = strconv.AppendUint(dst, v, 10)
			dst = append(dst, 'u')
		case string:
			dst = append(dst, '"')
			dst = appendEscaped(dst, v, `"\`)
			dst = append(dst, '"')
		case bool:
			dst = strconv.AppendBool(dst, v)
		}
	}
	if sep == ' ' {
		return dst[:start], fmt.Errorf("telemetry: encode point %q: no finite field", p.Measurement)
	}
	dst = append(dst, ' ')
	return strconv.AppendInt(dst, p.Time.UnixNano(), 10), nil
}

// checkPoint reports why p cannot be written faithfully, or nil.
func checkPoint(p Point) error {
	if why := nameProblem(p.Measurement); why != "" {
		return fmt.Errorf("measurement %q %s", p.Measurement, why)
	}
	if p.Measurement[0] == '#' {
		return errors.New("measurement starts with '#', which makes the line a comment")
	}
	for i, t := range p.Tags {
		if why := nameProblem(t.Key); why != "" {
			return fmt.Errorf("tag key %q %s", t.Key, why)
		}
		if why := nameProblem(t.Value); t.Value != "" && why != "" {
			return fmt.Errorf("tag %q value %q %s", t.Key, t.Value, why)
		}
		for _, u := range p.Tags[:i] {
			if u.Key == t.Key {
				return fmt.Errorf("duplicate tag key %q", t.Key)
			}
		}
	}
	if len(p.Fields) == 0 {
		return errors.New("no field")
	}
	for i, f := range p.Fields {
		if why := nameProblem(f.Key); why != "" {
			return fmt.Errorf("field key %q %s", f.Key, why)
		}
		for _, g := range p.Fields[:i] {
			if g.Key == f.Key {
				return fmt.Errorf("duplicate field key %q", f.Key)
			}
		}
		switch v := f.Value.(type) {
		case float64, int64, uint64, bool:
		case string:
			if containsAnyByte(v, "\n\r") {
				return fmt.Errorf("field %q: string value contains a newline or carriage return", f.Key)
			}
		default:
			return fmt.Errorf("field %q: value of type %T (want float64, int64, uint64, string or bool)", f.Key, f.Value)
		}
	}
	if p.Time.IsZero() {
		return errors.New("time not set")
	}
	if p.Time.Before(minTime) || p.Time.After(maxTime) {
		return fmt.Errorf("time %v outside InfluxDB's range [%v, %v]", p.Time, minTime.UTC(), maxTime.UTC())
	}
	return nil
}

// nameProblem says what is wrong with a measurement, key or tag value (written unquoted), or "".
func nameProblem(s string) string {
	switch {
	case s == "":
		return "is empty"
	case containsAnyByte(s, "\n\r"):
		return "contains a newline or carriage return"
	}
	// InfluxDB reads a backslash before any of these (or at the end) as an escape, so such a value would not
	// read back as written.
	for i := strings.IndexByte(s, '\\'); i >= 0 && i < len(s); i++ {
		if s[i] == '\\' && (i == len(s)-1 || strings.IndexByte(` ,="\\`, s[i+1]) >= 0) {
			return "has a backslash before a space, comma, equals sign, double quote, backslash or the end"
		}
	}
	return ""
}

// appendEscaped appends s with a backslash before each byte of special (all ASCII, so byte-wise is exact for
// UTF-8).
func appendEscaped(dst []byte, s, special string) []byte {
	if !containsAnyByte(s, special) {
		return append(dst, s...)
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(special, s[i]) >= 0 {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return dst
}

// containsAnyByte reports whether s contains any byte of special: strings.ContainsAny without building a
// character set per call, which dominated encoding (one vectorised IndexByte per special byte instead).
func containsAnyByte(s, special string) bool {
	for i := 0; i < len(special); i++ {
		if strings.IndexByte(s, special[i]) >= 0 {
			return true
		}
	}
	return false
}
