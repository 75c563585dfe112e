package telemetry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"
)

// A spool record is one point, framed so that a torn or damaged write is detected:
//
//	length  uint32, little endian: bytes of payload
//	crc     uint32, little endian: CRC-32C (Castagnoli) of the 4 length bytes followed by the payload
//	payload version byte 1, then
//	        measurement, number of tags, (key, value) per tag, number of fields,
//	        (key, kind byte, value) per field, time (varint nanoseconds since the Unix epoch)
//
// Strings are a uvarint length and the bytes; counts are uvarints; a field value is, by kind, float64 (8 bytes,
// little-endian IEEE 754 bits, so NaN and ±Inf survive as they are), int64 (varint), uint64 (uvarint), string,
// or bool (one byte, 0 or 1). Covering the length with the CRC means a damaged length is caught like damaged
// data rather than sending the reader off to a wrong record boundary undetected.
const (
	recordHeader  = 8
	recordVersion = 1
	// maxRecordPayload bounds one record: points are a few hundred bytes, so a larger length can only be damage.
	maxRecordPayload = 1 << 20
)

const (
	kindFloat byte = iota
	kindInt
	kindUint
	kindString
	kindBool
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	// errShortRecord: the bytes end inside a record (a write cut short by a crash or power loss).
	errShortRecord = errors.New("record cut short")
	// errBadRecord: a record whose length, CRC or payload is wrong (damaged bytes).
	errBadRecord = errors.New("damaged record")
)

// appendRecord appends p to dst as one spool record. p must pass checkPoint (the spool refuses other points
// before encoding them), so its time is in InfluxDB's range and its fields have the five supported types.
func appendRecord(dst []byte, p Point) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, recordHeader)...)
	dst = append(dst, recordVersion)
	dst = appendString(dst, p.Measurement)
	dst = binary.AppendUvarint(dst, uint64(len(p.Tags)))
	for _, t := range p.Tags {
		dst = appendString(dst, t.Key)
		dst = appendString(dst, t.Value)
	}
	dst = binary.AppendUvarint(dst, uint64(len(p.Fields)))
	for _, f := range p.Fields {
		dst = appendString(dst, f.Key)
		switch v := f.Value.(type) {
		case float64:
			dst = append(dst, kindFloat)
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
		case int64:
			dst = append(dst, kindInt)
			dst = binary.AppendVarint(dst, v)
		case uint64:
			dst = append(dst, kindUint)
			dst = binary.AppendUvarint(dst, v)
		case string:
			dst = append(dst, kindString)
			dst = appendString(dst, v)
		case bool:
			b := byte(0)
			if v {
				b = 1
			}
			dst = append(dst, kindBool, b)
		default:
			return dst[:start], fmt.Errorf("telemetry: spool point %q: field %q: value of type %T", p.Measurement, f.Key, f.Value)
		}
	}
	dst = binary.AppendVarint(dst, p.Time.UnixNano())
	n := len(dst) - start - recordHeader
	if n > maxRecordPayload {
		return dst[:start], fmt.Errorf("telemetry: spool point %q: %d bytes encoded, more than a record holds (%d)", p.Measurement, n, maxRecordPayload)
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(n))
	binary.LittleEndian.PutUint32(dst[start+4:], recordCRC(dst[start:start+4], dst[start+recordHeader:]))
	return dst, nil
}

func recordCRC(length, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, length), castagnoli, payload)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// recordLength returns the length of the whole record at the start of b, checking its frame (length and
// CRC) but not decoding it: errShortRecord when b ends inside it, errBadRecord when the frame is damaged.
func recordLength(b []byte) (int, error) {
	if len(b) < recordHeader {
		return 0, errShortRecord
	}
	n := binary.LittleEndian.Uint32(b)
	if n == 0 || n > maxRecordPayload {
		return 0, fmt.Errorf("%w: payload length %d outside [1, %d]", errBadRecord, n, maxRecordPayload)
	}
	if uint64(len(b)) < recordHeader+uint64(n) {
		return 0, errShortRecord
	}
	if got, want := recordCRC(b[:4], b[recordHeader:recordHeader+n]), binary.LittleEndian.Uint32(b[4:]); got != want {
		return 0, fmt.Errorf("%w: CRC %08x, header says %08x", errBadRecord, got, want)
	}
	return recordHeader + int(n), nil
}

// readRecord decodes the record at the start of b and returns it with the record's length. Strings that
// repeat from point to point (measurement, keys, tag values) go through intern, which returns a string
// equal to its argument. A record whose frame checks but whose payload does not decode to a point that
// checkPoint accepts is errBadRecord: replaying it could only fail.
func readRecord(b []byte, intern func([]byte) string) (Point, int, error) {
	n, err := recordLength(b)
	if err != nil {
		return Point{}, 0, err
	}
	d := decoder{b: b[recordHeader:n], intern: intern}
	p := d.point()
	if d.err != nil {
		return Point{}, 0, fmt.Errorf("%w: %v", errBadRecord, d.err)
	}
	if err := checkPoint(p); err != nil {
		return Point{}, 0, fmt.Errorf("%w: %v", errBadRecord, err)
	}
	return p, n, nil
}

// decoder reads a payload; the first problem sticks in err and makes every later read return zero values.
type decoder struct {
	b      []byte
	err    error
	intern func([]byte) string
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
	d.b = nil
}

func (d *decoder) point() Point {
	if v := d.byte(); d.err == nil && v != recordVersion {
		d.fail("version %d, want %d", v, recordVersion)
	}
	var p Point
	p.Measurement = d.intern(d.bytes())
	// Every tag takes at least 2 bytes and every field 3, so the counts are bounded by what is left: damaged
	// counts cannot make the decoder allocate more than the record's size.
	if nt := d.count(2); nt > 0 {
		p.Tags = make([]Tag, nt)
		for i := range p.Tags {
			p.Tags[i] = Tag{Key: d.intern(d.bytes()), Value: d.intern(d.bytes())}
		}
	}
	if nf := d.count(3); nf > 0 {
		p.Fields = make([]Field, nf)
		for i := range p.Fields {
			p.Fields[i] = Field{Key: d.intern(d.bytes()), Value: d.value()}
		}
	}
	p.Time = time.Unix(0, d.varint())
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d bytes after the point", len(d.b))
	}
	return p
}

func (d *decoder) value() any {
	switch k := d.byte(); k {
	case kindFloat:
		if len(d.b) < 8 {
			d.fail("float64 cut short")
			return nil
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return v
	case kindInt:
		return d.varint()
	case kindUint:
		return d.uvarint()
	case kindString:
		return string(d.bytes())
	case kindBool:
		switch b := d.byte(); b {
		case 0, 1:
			return b == 1
		default:
			d.fail("bool byte %d", b)
		}
	default:
		d.fail("field kind %d", k)
	}
	return nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail("payload cut short")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of items taking at least min bytes each.
func (d *decoder) count(min int) int {
	v := d.uvarint()
	if v > uint64(len(d.b)/min) {
		d.fail("count %d larger than the %d bytes left allow", v, len(d.b))
		return 0
	}
	return int(v)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string of %d bytes, %d left", n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
