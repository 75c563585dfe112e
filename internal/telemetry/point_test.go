package telemetry

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	lp "github.com/influxdata/line-protocol"
)

var t0 = time.Unix(1_700_000_000, 123_456_789)

func TestAppendLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Point
		want string
	}{{
		name: "nmse point, tags sorted, integers suffixed",
		p: Point{
			Measurement: "nmse",
			Tags: []Tag{{"run", "r1"}, {"backend", "sim"}, {"estimator", "ls"}, {"scene", "city"},
				{"array", "10x10"}},
			Fields: []Field{{"nmse_db", -12.5}, {"snr_db", 20.0}, {"latency_us", int64(350)},
				{"interval", int64(7)}},
			Time: t0,
		},
		want: "nmse,array=10x10,backend=sim,estimator=ls,run=r1,scene=city " +
			"nmse_db=-12.5,snr_db=20,latency_us=350i,interval=7i 1700000000123456789",
	}, {
		name: "escaping",
		p: Point{
			Measurement: `my meas,x=1`,
			Tags:        []Tag{{`a b=c,d`, `v 1,2=3`}, {`back\slash`, `c:\dir\x`}},
			Fields:      []Field{{`f k=,`, `say "hi" \ ok,=`}, {"u", "ünïcode ✓"}},
			Time:        t0,
		},
		want: `my\ meas\,x=1,a\ b\=c\,d=v\ 1\,2\=3,back\slash=c:\dir\x ` +
			`f\ k\=\,="say \"hi\" \\ ok,=",u="ünïcode ✓" 1700000000123456789`,
	}, {
		name: "types and extreme values",
		p: Point{
			Measurement: "m",
			Fields: []Field{{"u", uint64(math.MaxUint64)}, {"i", int64(math.MinInt64)}, {"t", true},
				{"f", false}, {"big", 1e21}, {"tiny", 5e-324}, {"negzero", math.Copysign(0, -1)},
				{"max", math.MaxFloat64}, {"third", 1.0 / 3}, {"empty", ""}},
			Time: t0,
		},
		want: "m u=18446744073709551615u,i=-9223372036854775808i,t=true,f=false,big=1e+21,tiny=5e-324," +
			`negzero=-0,max=1.7976931348623157e+308,third=0.3333333333333333,empty="" 1700000000123456789`,
	}, {
		name: "empty tag value left out, non-finite fields left out",
		p: Point{
			Measurement: "m",
			Tags:        []Tag{{"b", ""}, {"a", "x"}},
			Fields:      []Field{{"nan", math.NaN()}, {"v", 1.5}, {"inf", math.Inf(-1)}},
			Time:        t0,
		},
		want: "m,a=x v=1.5 1700000000123456789",
	}, {
		name: "earliest and latest times",
		p:    Point{Measurement: "m", Fields: []Field{{"v", int64(1)}}, Time: minTime},
		want: "m v=1i -9223372036854775806",
	}, {
		name: "latest time",
		p:    Point{Measurement: "m", Fields: []Field{{"v", int64(1)}}, Time: maxTime},
		want: "m v=1i 9223372036854775806",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("keep\n")
			got, err := AppendLine(prefix, tc.p)
			if err != nil {
				t.Fatalf("AppendLine: %v", err)
			}
			if string(got) != "keep\n"+tc.want {
				t.Errorf("AppendLine =\n%s\nwant\n%s", got[len(prefix):], tc.want)
			}
		})
	}
}

func TestAppendLineErrors(t *testing.T) {
	ok := func(mod func(*Point)) Point {
		p := Point{Measurement: "m", Tags: []Tag{{"k", "v"}}, Fields: []Field{{"f", 1.0}}, Time: t0}
		mod(&p)
		return p
	}
	for _, tc := range []struct {
		name, want string
		p          Point
	}{
		{"no measurement", "is empty", ok(func(p *Point) { p.Measurement = "" })},
		{"comment", "starts with '#'", ok(func(p *Point) { p.Measurement = "#m" })},
		{"newline in measurement", "newline", ok(func(p *Point) { p.Measurement = "a\nb" })},
		{"trailing backslash", "backslash before", ok(func(p *Point) { p.Measurement = `m\` })},
		{"backslash before comma", "backslash before", ok(func(p *Point) { p.Tags[0].Key = `a\,b` })},
		{"backslash before quote", "backslash before", ok(func(p *Point) { p.Fields[0].Key = `a\"b` })},
		{"double backslash", "backslash before", ok(func(p *Point) { p.Tags[0].Value = `a\\b` })},
		{"empty tag key", "tag key", ok(func(p *Point) { p.Tags[0].Key = "" })},
		{"tag value with CR", "carriage return", ok(func(p *Point) { p.Tags[0].Value = "a\rb" })},
		{"tag value trailing backslash", "backslash", ok(func(p *Point) { p.Tags[0].Value = `v\` })},
		{"duplicate tag", "duplicate tag key", ok(func(p *Point) { p.Tags = append(p.Tags, Tag{"k", "w"}) })},
		{"no field", "no field", ok(func(p *Point) { p.Fields = nil })},
		{"empty field key", "field key", ok(func(p *Point) { p.Fields[0].Key = "" })},
		{"duplicate field", "duplicate field key", ok(func(p *Point) { p.Fields = append(p.Fields, Field{"f", 2.0}) })},
		{"int is not int64", "value of type int", ok(func(p *Point) { p.Fields[0].Value = 3 })},
		{"float32", "value of type float32", ok(func(p *Point) { p.Fields[0].Value = float32(3) })},
		{"newline in string", "newline", ok(func(p *Point) { p.Fields[0].Value = "a\nb" })},
		{"only non-finite", "no finite field", ok(func(p *Point) { p.Fields[0].Value = math.Inf(1) })},
		{"no time", "time not set", ok(func(p *Point) { p.Time = time.Time{} })},
		{"time too early", "outside", ok(func(p *Point) { p.Time = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) })},
		{"time too late", "outside", ok(func(p *Point) { p.Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := AppendLine(dst, tc.p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("AppendLine error = %v, want one containing %q", err, tc.want)
			}
			if string(got) != "keep" {
				t.Errorf("AppendLine on error returned %q, want dst unchanged", got)
			}
		})
	}
}

// TestAppendLineFloatExact checks that every finite float64 is written in a form that parses back to the
// same bits: random bit patterns (all exponents and mantissas), subnormals and the extremes.
func TestAppendLineFloatExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := []float64{0, math.Copysign(0, -1), math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64,
		math.MaxFloat64, -math.MaxFloat64, 1, 0.1, 1.0 / 3, math.Pi, 1e21, 1e-7, 123456789012345678}
	for len(vals) < 100_000 {
		if v := math.Float64frombits(rng.Uint64()); !math.IsNaN(v) && !math.IsInf(v, 0) {
			vals = append(vals, v)
		}
	}
	var line []byte
	for _, v := range vals {
		var err error
		line, err = AppendLine(line[:0], Point{Measurement: "m", Fields: []Field{{"v", v}}, Time: t0})
		if err != nil {
			t.Fatalf("AppendLine(%v): %v", v, err)
		}
		text := strings.TrimPrefix(strings.TrimSuffix(string(line), " 1700000000123456789"), "m v=")
		got, err := strconv.ParseFloat(text, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(v) {
			t.Fatalf("float %v (bits %#x) written as %q, parses to %v, %v", v, math.Float64bits(v), text, got, err)
		}
	}
}

// TestAppendLineParses checks random points, with every character line protocol escapes in every name and
// value, against an independent parser: telegraf's line-protocol parser must read back the same
// measurement, tags (sorted), fields (types and exact values) and time.
func TestAppendLineParses(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = `ab ,="\xé✓=,`
	runes := []rune(alphabet)
	str := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteRune(runes[rng.IntN(len(runes))])
		}
		return b.String()
	}
	// name draws measurements, keys and tag values without the backslashes AppendLine refuses.
	name := func(prefix string, n int) string {
		for {
			if s := prefix + str(n); nameProblem(s) == "" {
				return s
			}
		}
	}
	parser := lp.NewParser(lp.NewMetricHandler())
	for i := range 2000 {
		p := Point{Measurement: name("m", rng.IntN(6)), Time: time.Unix(0, rng.Int64())}
		for k := range rng.IntN(4) {
			p.Tags = append(p.Tags, Tag{Key: name(strconv.Itoa(k), rng.IntN(5)), Value: name("v", rng.IntN(5))})
		}
		for k := range 1 + rng.IntN(5) {
			key := name(strconv.Itoa(k), rng.IntN(5))
			switch rng.IntN(5) {
			case 0:
				p.Fields = append(p.Fields, Field{key, rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20))})
			case 1:
				p.Fields = append(p.Fields, Field{key, rng.Int64() - math.MaxInt64/2})
			case 2:
				p.Fields = append(p.Fields, Field{key, rng.Uint64()})
			case 3:
				p.Fields = append(p.Fields, Field{key, str(rng.IntN(8))})
			case 4:
				p.Fields = append(p.Fields, Field{key, rng.IntN(2) == 1})
			}
		}
		line, err := AppendLine(nil, p)
		if err != nil {
			t.Fatalf("point %d: %v", i, err)
		}
		ms, err := parser.Parse(append(line, '\n'))
		if err != nil || len(ms) != 1 {
			t.Fatalf("point %d: parse %q: %v (%d metrics)", i, line, err, len(ms))
		}
		m := ms[0]
		if m.Name() != p.Measurement || !m.Time().Equal(p.Time) {
			t.Fatalf("point %d: %q parsed as %q at %v, want %q at %v", i, line, m.Name(), m.Time(), p.Measurement, p.Time)
		}
		tags := m.TagList()
		if len(tags) != len(p.Tags) {
			t.Fatalf("point %d: %q parsed with %d tags, want %d", i, line, len(tags), len(p.Tags))
		}
		for j, tag := range tags {
			if j > 0 && tags[j-1].Key >= tag.Key {
				t.Fatalf("point %d: tags not sorted in %q", i, line)
			}
			if want := tagValue(p, tag.Key); tag.Value != want {
				t.Fatalf("point %d: %q: tag %q = %q, want %q", i, line, tag.Key, tag.Value, want)
			}
		}
		fields := m.FieldList()
		if len(fields) != len(p.Fields) {
			t.Fatalf("point %d: %q parsed with %d fields, want %d", i, line, len(fields), len(p.Fields))
		}
		for j, f := range fields {
			if f.Key != p.Fields[j].Key || f.Value != p.Fields[j].Value {
				t.Fatalf("point %d: %q: field %d = %q: %#v, want %q: %#v", i, line, j, f.Key, f.Value,
					p.Fields[j].Key, p.Fields[j].Value)
			}
		}
	}
}

func tagValue(p Point, key string) string {
	for _, t := range p.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// TestAppendLineAllocs checks that encoding allocates nothing once dst has room.
func TestAppendLineAllocs(t *testing.T) {
	p := nmsePoint(1)
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = AppendLine(buf[:0], p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendLine allocates %v times per call, want 0", allocs)
	}
}

// nmsePoint is a point like the daemon's, for interval i.
func nmsePoint(i int) Point {
	return Point{
		Measurement: "nmse",
		Tags: []Tag{{"run", "2026-11-29T05:00:00Z"}, {"backend", "sim"}, {"estimator", "lmmse"},
			{"scene", "builtin:city"}, {"array", "10x10"}},
		Fields: []Field{{"nmse_db", -17.25 - float64(i%100)/7}, {"snr_db", 21.5}, {"latency_us", int64(420 + i%13)},
			{"interval", int64(i)}},
		Time: t0.Add(time.Duration(i) * time.Millisecond),
	}
}
