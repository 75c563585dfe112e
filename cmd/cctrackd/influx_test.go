package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

// fieldRE matches one field of a line-protocol field set; string values are quoted and may hold
// commas and spaces (a failed interval's error).
var fieldRE = regexp.MustCompile(`([a-z_]+)=("(?:[^"\\]|\\.)*"|[^,]+)`)

// readLineProtocol parses the file sink's output, ignoring comments and a last line without its
// newline (a write cut short by a kill). The daemon's measurements and tags hold no spaces or commas.
func readLineProtocol(t *testing.T, path string) []filePoint {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []filePoint
	for _, line := range strings.Split(string(b[:bytes.LastIndexByte(b, '\n')+1]), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		head, rest, _ := strings.Cut(line, " ")
		i := strings.LastIndexByte(rest, ' ')
		if i < 0 {
			t.Fatalf("%s: line %q", path, line)
		}
		key := strings.Split(head, ",")
		p := filePoint{measurement: key[0], tags: map[string]string{}, fields: map[string]string{}}
		for _, kv := range key[1:] {
			k, v, _ := strings.Cut(kv, "=")
			p.tags[k] = v
		}
		for _, kv := range fieldRE.FindAllStringSubmatch(rest[:i], -1) {
			p.fields[kv[1]] = kv[2]
		}
		if p.ns, err = strconv.ParseInt(rest[i+1:], 10, 64); err != nil {
			t.Fatalf("%s: line %q: %v", path, line, err)
		}
		out = append(out, p)
	}
	return out
}

// The daemon writes the same points to the file sink and to a real InfluxDB; reading them back
// through InfluxQL and through Flux must give exactly the file's points: the same count, the same
// tags, every field bit-identical.
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
	// A point is identified by measurement, estimator tag (empty for radio) and time.
	id := func(m, est string, ns int64) string { return m + "/" + est + "/" + strconv.FormatInt(ns, 10) }
	want := map[string]filePoint{}
	var run string
	for _, p := range readLineProtocol(t, files[0]) {
		want[id(p.measurement, p.tags["estimator"], p.ns)] = p
		run = p.tags["run"]
	}
	if len(want) != 4*intervals {
		t.Fatalf("file holds %d distinct points, want %d (3 estimators + radio per interval)", len(want), 4*intervals)
	}
	// same checks one value read back against the file's; ints carry line protocol's i suffix there.
	same := func(via, key, name string, got any) {
		t.Helper()
		p, ok := want[key]
		if !ok {
			t.Fatalf("%s: point %s is not in the file", via, key)
		}
		if tag, ok := p.tags[name]; ok {
			if got != tag {
				t.Fatalf("%s: %s tag %s = %v, file has %q", via, key, name, got, tag)
			}
			return
		}
		raw, ok := p.fields[name]
		if !ok {
			t.Fatalf("%s: %s has %s = %v, the file has no such field", via, key, name, got)
		}
		if iv, isInt := strings.CutSuffix(raw, "i"); isInt {
			if fmt.Sprint(got) != iv {
				t.Fatalf("%s: %s %s = %v, file has %s", via, key, name, got, raw)
			}
			return
		}
		w, _ := strconv.ParseFloat(raw, 64)
		var g float64
		switch v := got.(type) {
		case float64:
			g = v
		case json.Number:
			g, _ = v.Float64()
		}
		if math.Float64bits(w) != math.Float64bits(g) {
			t.Fatalf("%s: %s %s = %v, file has %s", via, key, name, got, raw)
		}
	}

	// InfluxQL: every column of every row.
	n := 0
	for _, s := range srv.Query(`SELECT * FROM nmse, radio WHERE run = '` + run + `'`) {
		est := slices.Index(s.Columns, "estimator")
		for _, row := range s.Values {
			ns, _ := row[0].(json.Number).Int64()
			e := ""
			if est >= 0 && row[est] != nil {
				e = row[est].(string)
			}
			key := id(s.Name, e, ns)
			for c, name := range s.Columns[1:] {
				if row[c+1] != nil {
					same("InfluxQL", key, name, row[c+1])
				}
			}
			n++
		}
	}
	if n != len(want) {
		t.Errorf("InfluxQL returned %d points, the file has %d", n, len(want))
	}

	// Flux, through the client's query API: one record per point and field.
	client := influxdb2.NewClient(srv.URL, "")
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := client.QueryAPI("").Query(ctx, `from(bucket: "`+srv.Bucket()+`")
		|> range(start: -1h)
		|> filter(fn: (r) => r.run == "`+run+`")`)
	if err != nil {
		t.Fatalf("Flux query: %v", err)
	}
	records, fields := 0, 0
	for res.Next() {
		r := res.Record()
		e, _ := r.ValueByKey("estimator").(string)
		key := id(r.Measurement(), e, r.Time().UnixNano())
		same("Flux", key, r.Field(), r.Value())
		for _, tag := range []string{"array", "backend", "scene"} {
			same("Flux", key, tag, r.ValueByKey(tag))
		}
		records++
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	for _, p := range want {
		fields += len(p.fields)
	}
	if records != fields {
		t.Errorf("Flux returned %d field records, the file has %d", records, fields)
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
