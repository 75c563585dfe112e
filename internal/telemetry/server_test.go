package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/cctrack/cctrack/internal/influxtest"
)

// These tests run against a real InfluxDB 1.8.10 (internal/influxtest): what the encoder writes must be
// what the server stores, read back with both InfluxQL and Flux.

// awkwardPoints returns n nmse points with tag values and strings that need every kind of escaping, a
// missing tag now and then, and floats over the whole range of magnitudes, followed by 20 radio points.
func awkwardPoints(n int) []Point {
	rng := rand.New(rand.NewPCG(5, 6))
	runs := []string{"2026-11-29T05:00:00Z", `a run, with "quotes"=and spaces`, `C:\runs\x y`, "ünïcode ✓"}
	var pts []Point
	for i := range n {
		scene := "builtin:city"
		if i%7 == 0 {
			scene = "" // not written: reads back as a missing tag
		}
		pts = append(pts, Point{
			Measurement: "nmse",
			Tags: []Tag{{"run", runs[i%len(runs)]}, {"backend", "sim"}, {"estimator", []string{"ls", "lmmse", "omp"}[i%3]},
				{"scene", scene}, {"array", "10x10"}},
			Fields: []Field{
				{"nmse_db", rng.NormFloat64() * math.Pow(10, float64(rng.IntN(60)-30))},
				{"snr_db", float64(i) / 3},
				{"latency_us", rng.Int64N(1<<62) - 1<<61},
				{"interval", int64(i)},
				{"note", fmt.Sprintf(`say "%d" \ back\slash, =`, i)},
				{"ok", i%2 == 0},
			},
			Time: t0.Add(time.Duration(i) * time.Microsecond),
		})
	}
	for i := range 20 {
		pts = append(pts, Point{Measurement: "radio", Tags: []Tag{{"backend", "sim"}},
			Fields: []Field{{"rssi_dbm", -60 - float64(i)/8}, {"overruns", int64(i)}}, Time: t0.Add(time.Duration(i) * time.Millisecond)})
	}
	return pts
}

// testLogger sends the package's logs to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// serverBuffer returns a Buffer writing to s with short intervals, so that tests do not wait.
func serverBuffer(t testing.TB, s *influxtest.Server, batchSize, limit int) *Buffer {
	t.Helper()
	w, err := NewInfluxWriter(InfluxConfig{URL: s.URL, Bucket: s.Bucket(), Timeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBuffer(w, BufferConfig{Limit: limit, BatchSize: batchSize, FlushInterval: 20 * time.Millisecond,
		RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func closeWithin(t testing.TB, b *Buffer, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// waitFor polls cond until it holds; the deadline only turns a hang into a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// checkInfluxQL reads measurement m back with InfluxQL and compares every row with want, exactly.
func checkInfluxQL(t *testing.T, s *influxtest.Server, m string, want []Point) {
	t.Helper()
	series := s.Query(fmt.Sprintf("SELECT * FROM %q", m))
	if len(series) != 1 || len(series[0].Values) != len(want) {
		t.Fatalf("SELECT * FROM %s: %d series, want 1 with %d rows", m, len(series), len(want))
	}
	col := map[string]int{}
	for i, c := range series[0].Columns {
		col[c] = i
	}
	byTime := map[int64]Point{}
	for _, p := range want {
		byTime[p.Time.UnixNano()] = p
	}
	for _, row := range series[0].Values {
		ns, err := row[col["time"]].(json.Number).Int64()
		p, ok := byTime[ns]
		if err != nil || !ok {
			t.Fatalf("row %v: time %v not written", row, row[col["time"]])
		}
		for _, tag := range p.Tags {
			got := row[col[tag.Key]]
			if tag.Value == "" && got != nil || tag.Value != "" && got != tag.Value {
				t.Errorf("%s at %d: tag %q = %#v, want %q", m, ns, tag.Key, got, tag.Value)
			}
		}
		for _, f := range p.Fields {
			got := row[col[f.Key]]
			var same bool
			switch v := f.Value.(type) {
			case float64:
				x, err := strconv.ParseFloat(string(got.(json.Number)), 64)
				same = err == nil && math.Float64bits(x) == math.Float64bits(v)
			case int64:
				x, err := got.(json.Number).Int64()
				same = err == nil && x == v
			default:
				same = got == f.Value
			}
			if !same {
				t.Errorf("%s at %d: field %q = %v, want %v", m, ns, f.Key, got, f.Value)
			}
		}
	}
}

// TestServerRoundTrip writes a few hundred points through Buffer and InfluxWriter and reads them back
// exactly, with InfluxQL and with Flux through the client's query API; then imports a FileWriter file.
func TestServerRoundTrip(t *testing.T) {
	s := influxtest.Start(t)
	pts := awkwardPoints(300)
	b := serverBuffer(t, s, 64, 1000)
	b.Add(pts...)
	closeWithin(t, b, 30*time.Second)
	if st := b.Stats(); st != (Stats{Written: uint64(len(pts))}) {
		t.Fatalf("Stats() = %+v, want all %d written", st, len(pts))
	}
	nmse, radio := pts[:300], pts[300:]
	checkInfluxQL(t, s, "nmse", nmse)
	checkInfluxQL(t, s, "radio", radio)

	// Flux: one record per point and field.
	client := influxdb2.NewClient(s.URL, "")
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := client.QueryAPI("").Query(ctx, `from(bucket: "`+s.Bucket()+`")
		|> range(start: 2023-01-01T00:00:00Z, stop: 2024-01-01T00:00:00Z)
		|> filter(fn: (r) => r._measurement == "nmse")`)
	if err != nil {
		t.Fatalf("Flux query: %v", err)
	}
	byTime := map[int64]Point{}
	for _, p := range nmse {
		byTime[p.Time.UnixNano()] = p
	}
	records := 0
	for res.Next() {
		r := res.Record()
		records++
		p, ok := byTime[r.Time().UnixNano()]
		if !ok {
			t.Fatalf("Flux record at %v: not written", r.Time())
		}
		for _, tag := range p.Tags {
			got := r.ValueByKey(tag.Key)
			if tag.Value == "" && got != nil || tag.Value != "" && got != tag.Value {
				t.Errorf("Flux %v: tag %q = %#v, want %q", r.Time(), tag.Key, got, tag.Value)
			}
		}
		want := fieldValue(p, r.Field())
		if v, ok := want.(float64); ok {
			if got, ok := r.Value().(float64); !ok || math.Float64bits(got) != math.Float64bits(v) {
				t.Errorf("Flux %v: field %s = %#v, want %v", r.Time(), r.Field(), r.Value(), v)
			}
		} else if r.Value() != want {
			t.Errorf("Flux %v: field %s = %#v, want %#v", r.Time(), r.Field(), r.Value(), want)
		}
	}
	if err := res.Err(); err != nil {
		t.Fatalf("Flux result: %v", err)
	}
	if want := len(nmse) * len(nmse[0].Fields); records != want {
		t.Errorf("Flux returned %d records, want %d", records, want)
	}

	// A FileWriter file is accepted by the server as it is (its header lines are comments).
	path := filepath.Join(t.TempDir(), "nmse.lp")
	fw, err := NewFileWriter(FileConfig{Path: path, Database: s.DB}, nil)
	if err != nil {
		t.Fatal(err)
	}
	imported := make([]Point, len(nmse))
	for i, p := range nmse {
		p.Measurement = "imported"
		imported[i] = p
	}
	if err := fw.Write(context.Background(), imported); err != nil {
		t.Fatal(err)
	}
	fw.Close()
	body, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	resp, err := http.Post(s.URL+"/write?db="+s.DB+"&precision=ns", "text/plain", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST the file to /write: %s", resp.Status)
	}
	checkInfluxQL(t, s, "imported", imported)
}

func fieldValue(p Point, key string) any {
	for _, f := range p.Fields {
		if f.Key == key {
			return f.Value
		}
	}
	return nil
}

// TestServerPartialWrite checks that the points InfluxDB 1.8 refuses (a field type conflict, an unsigned
// integer, which 1.8 does not parse) are rejected alone and the rest of their batch is stored.
func TestServerPartialWrite(t *testing.T) {
	s := influxtest.Start(t, influxtest.WithoutFlux())
	b := serverBuffer(t, s, 50, 1000)
	pts := points(0, 100)
	bad := map[int]bool{55: true, 61: true, 80: true, 99: true}
	for i := range bad {
		pts[i].Fields = []Field{{"nmse_db", "not a number"}, {"interval", int64(i)}} // conflicts with the float
	}
	pts[80].Fields = []Field{{"nmse_db", -3.5}, {"interval", uint64(80)}}
	b.Add(pts[:50]...) // the first batch makes nmse_db a float
	waitFor(t, "the first batch is written", func() bool { return b.Stats().Written == 50 })
	b.Add(pts[50:]...)
	closeWithin(t, b, 30*time.Second)
	if st := b.Stats(); st != (Stats{Written: 96, Rejected: 4}) {
		t.Errorf("Stats() = %+v, want 96 written, 4 rejected", st)
	}
	var good []Point
	for i, p := range pts {
		if !bad[i] {
			good = append(good, p)
		}
	}
	checkInfluxQL(t, s, "nmse", good)
}

// TestServerOutage stops the server while points keep coming: Add does not block, the points wait in the
// buffer, and after a restart on the same port they are all delivered.
func TestServerOutage(t *testing.T) {
	s := influxtest.Start(t, influxtest.WithoutFlux())
	b := serverBuffer(t, s, 20, 10_000)
	pts := points(0, 300)
	b.Add(pts[:100]...)
	waitFor(t, "the first 100 points are written", func() bool { return b.Stats().Written == 100 })

	s.Stop()
	for _, p := range pts[100:] {
		b.Add(p)
	}
	waitFor(t, "writes to the stopped server fail and are retried", func() bool { return b.Stats().Retries >= 3 })
	if st := b.Stats(); st.Written != 100 || st.Pending != 200 || st.Dropped != 0 || st.Rejected != 0 {
		t.Fatalf("server down: Stats() = %+v, want 100 written, 200 pending", st)
	}

	s.Restart()
	closeWithin(t, b, 30*time.Second)
	if st := b.Stats(); st.Written != 300 || st.Pending != 0 || st.Dropped != 0 || st.Rejected != 0 {
		t.Fatalf("after restart: Stats() = %+v, want all 300 written", st)
	}
	checkInfluxQL(t, s, "nmse", pts)
}
