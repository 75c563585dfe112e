package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/cctrack/cctrack/internal/influxtest"
)

// filePoint is one line of the daemon's line-protocol file, parsed for what the test compares.
type filePoint struct {
	measurement string
	tags        map[string]string
	fields      map[string]string // raw line-protocol values (floats round-trip exactly)
	ns          int64
}

// readLineProtocol parses the file sink's output. The daemon's tags and fields hold no spaces,
// commas or quotes, so splitting on them is exact here.
func readLineProtocol(t *testing.T, path string) []filePoint {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []filePoint
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Fields(line)
		if len(parts) != 3 {
			t.Fatalf("%s: line %q", path, line)
		}
		key := strings.Split(parts[0], ",")
		p := filePoint{measurement: key[0], tags: map[string]string{}, fields: map[string]string{}}
		for _, kv := range key[1:] {
			k, v, _ := strings.Cut(kv, "=")
			p.tags[k] = v
		}
		for _, kv := range strings.Split(parts[1], ",") {
			k, v, _ := strings.Cut(kv, "=")
			p.fields[k] = v
		}
		if p.ns, err = strconv.ParseInt(parts[2], 10, 64); err != nil {
			t.Fatalf("%s: line %q: %v", path, line, err)
		}
		out = append(out, p)
	}
	return out
}

// The daemon writes the same points to the file sink and to a real InfluxDB; reading them back
// through InfluxQL and through Flux must give exactly the file's points: same count, bit-identical
// float values.
func TestDaemonIntoInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	const intervals = 300
	cfg := smallConfig(t, intervals)
	cfg.Telemetry.InfluxDB.URL = srv.URL
	cfg.Telemetry.InfluxDB.Bucket = srv.Bucket()
	if err := run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(cfg.Telemetry.File.Dir, "nmse-*.lp"))
	if len(files) != 1 {
		t.Fatalf("telemetry files %v", files)
	}
	want := map[string]filePoint{} // estimator/ns -> point
	var run string
	for _, p := range readLineProtocol(t, files[0]) {
		if p.measurement == "nmse" {
			want[p.tags["estimator"]+"/"+strconv.FormatInt(p.ns, 10)] = p
			run = p.tags["run"]
		}
	}
	if len(want) != 3*intervals {
		t.Fatalf("file holds %d nmse points, want %d", len(want), 3*intervals)
	}
	same := func(via, key, field string, got float64) {
		t.Helper()
		p, ok := want[key]
		if !ok {
			t.Fatalf("%s: point %s is not in the file", via, key)
		}
		w, err := strconv.ParseFloat(p.fields[field], 64)
		if err != nil || math.Float64bits(w) != math.Float64bits(got) {
			t.Fatalf("%s: %s %s = %v, file has %s", via, key, field, got, p.fields[field])
		}
	}

	// InfluxQL
	n := 0
	for _, s := range srv.Query(`SELECT nmse_db, snr_db FROM nmse WHERE run = '` + run + `' GROUP BY estimator`) {
		for _, row := range s.Values {
			ns, _ := strconv.ParseInt(string(row[0].(interface{ String() string }).String()), 10, 64)
			key := s.Tags["estimator"] + "/" + strconv.FormatInt(ns, 10)
			for i, field := range []string{"nmse_db", "snr_db"} {
				v, err := strconv.ParseFloat(row[i+1].(interface{ String() string }).String(), 64)
				if err != nil {
					t.Fatal(err)
				}
				same("InfluxQL", key, field, v)
			}
			n++
		}
	}
	if n != len(want) {
		t.Errorf("InfluxQL returned %d nmse points, the file has %d", n, len(want))
	}

	// Flux, through the client's query API.
	client := influxdb2.NewClient(srv.URL, "")
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := client.QueryAPI("").Query(ctx, `from(bucket: "`+srv.Bucket()+`")
		|> range(start: -1h)
		|> filter(fn: (r) => r._measurement == "nmse" and r._field == "nmse_db" and r.run == "`+run+`")`)
	if err != nil {
		t.Fatalf("Flux query: %v", err)
	}
	n = 0
	for res.Next() {
		r := res.Record()
		v, ok := r.Value().(float64)
		if !ok {
			t.Fatalf("Flux: nmse_db is %T", r.Value())
		}
		same("Flux", r.ValueByKey("estimator").(string)+"/"+strconv.FormatInt(r.Time().UnixNano(), 10), "nmse_db", v)
		n++
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Errorf("Flux returned %d nmse points, the file has %d", n, len(want))
	}
}

// A down InfluxDB does not stop the loop: every interval still runs and lands in the file.
func TestDaemonWithInfluxDBDown(t *testing.T) {
	srv := influxtest.Start(t)
	srv.Stop()
	cfg := smallConfig(t, 100)
	cfg.Telemetry.InfluxDB.URL = srv.URL
	cfg.Telemetry.InfluxDB.Bucket = srv.Bucket()
	cfg.Telemetry.InfluxDB.Timeout = 200 * time.Millisecond
	cfg.Telemetry.ShutdownTimeout = 500 * time.Millisecond
	var logs syncBuffer
	if err := run(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(cfg.Telemetry.File.Dir, "nmse-*.lp"))
	if len(files) != 1 || len(readLineProtocol(t, files[0])) != 100*4 {
		t.Fatalf("file sink: %v", files)
	}
	if !strings.Contains(logs.String(), "intervals=100 failed=0") || !strings.Contains(logs.String(), "telemetry flush failed") {
		t.Errorf("logs:\n%s", logs.String())
	}
}
