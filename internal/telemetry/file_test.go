package telemetry

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const header = "# cctrack telemetry: InfluxDB line protocol, one point per line, timestamps in nanoseconds.\n" +
	"# InfluxDB 1.x: influx -import -path=FILE -precision=ns (create database lab first)\n" +
	"# InfluxDB 2.x: influx write --bucket BUCKET --precision ns --file FILE\n" +
	"# DML\n" +
	"# CONTEXT-DATABASE: lab\n"

// lines returns the line protocol of pts, newline-terminated.
func lines(t *testing.T, pts ...Point) string {
	t.Helper()
	b, err := encodeBatch(nil, pts)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFileWriterRoundTrip writes two batches, reopens the file and writes a third: one header, then every
// line in order.
func TestFileWriterRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "nmse.lp") // the directories do not exist yet
	cfg := FileConfig{Path: path, Database: "lab"}
	ctx := context.Background()
	w, err := NewFileWriter(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b1 := []Point{nmsePoint(0), nmsePoint(1)}
	b2 := []Point{nmsePoint(2)}
	for _, b := range [][]Point{b1, b2} {
		if err := w.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, b2); err == nil {
		t.Error("Write after Close succeeded")
	}
	w, err = NewFileWriter(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b3 := []Point{nmsePoint(3)}
	if err := w.Write(ctx, b3); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := header + lines(t, b1...) + lines(t, b2...) + lines(t, b3...); string(got) != want {
		t.Errorf("file =\n%s\nwant\n%s", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode %v, want 0644", fi.Mode().Perm())
	}
}

// TestFileWriterCutsPartialLine checks that a line cut short by a crash is removed on open, and that a file
// that is nothing but a partial line gets a header.
func TestFileWriterCutsPartialLine(t *testing.T) {
	full := lines(t, nmsePoint(0))
	partial := full[:len(full)-8] // a truncated timestamp would still parse, as a wrong time
	for _, tc := range []struct{ name, before, after string }{
		{"after complete lines", header + full + partial, header + full},
		{"only a partial line", partial, header},
		{"partial line longer than a read chunk", header + strings.Repeat("x", 10000), header},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "nmse.lp")
			if err := os.WriteFile(path, []byte(tc.before), 0o644); err != nil {
				t.Fatal(err)
			}
			w, err := NewFileWriter(FileConfig{Path: path, Database: "lab"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			next := []Point{nmsePoint(1)}
			if err := w.Write(context.Background(), next); err != nil {
				t.Fatal(err)
			}
			w.Close()
			got, _ := os.ReadFile(path)
			if want := tc.after + lines(t, next...); string(got) != want {
				t.Errorf("file =\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestFileWriterBadPoint checks that an unencodable point fails the batch as a permanent per-point error
// and writes nothing of it.
func TestFileWriterBadPoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nmse.lp")
	w, err := NewFileWriter(FileConfig{Path: path, Database: "lab"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	bad := nmsePoint(1)
	bad.Fields = []Field{{"nmse_db", math.NaN()}}
	err = w.Write(context.Background(), []Point{nmsePoint(0), bad})
	var we *WriteError
	if !errors.As(err, &we) || !we.Permanent || !we.PerPoint {
		t.Fatalf("Write = %v, want a permanent per-point *WriteError", err)
	}
	if got, _ := os.ReadFile(path); string(got) != header {
		t.Errorf("file after failed batch =\n%s\nwant the header only", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Write(ctx, []Point{nmsePoint(0)}); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with cancelled context = %v, want context.Canceled", err)
	}
}

func TestFileConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  FileConfig
		want string
	}{
		{FileConfig{Path: "x.lp", Database: "lab"}, ""},
		{FileConfig{Database: "lab"}, "telemetry.file.path"},
		{FileConfig{Path: "x.lp"}, "telemetry.file.database"},
		{FileConfig{Path: "x.lp", Database: "a:b"}, "telemetry.file.database"},
		{FileConfig{Path: "x.lp", Database: "a\nb"}, "telemetry.file.database"},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v.Validate() = %v, want error naming %q", tc.cfg, err, tc.want)
		}
	}
}
