package telemetry

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cctrack/cctrack/internal/influxtest"
)

// BenchmarkAppendLine encodes one point with a few to many tags and fields.
func BenchmarkAppendLine(b *testing.B) {
	for _, n := range []int{1, 5, 20} {
		p := Point{Measurement: "nmse", Time: t0}
		for i := range n {
			p.Tags = append(p.Tags, Tag{"tag" + strconv.Itoa(n-i), "value with space"})
			p.Fields = append(p.Fields, Field{"f" + strconv.Itoa(i), float64(i) / 3})
		}
		b.Run(fmt.Sprintf("tags=fields=%d", n), func(b *testing.B) {
			buf, err := AppendLine(nil, p)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = AppendLine(buf[:0], p)
			}
		})
	}
}

// discardWriter accepts everything at once.
type discardWriter struct{}

func (discardWriter) Write(context.Context, []Point) error { return nil }
func (discardWriter) Close() error                         { return nil }

// BenchmarkBufferAdd adds one point at a time while the writing goroutine drains the buffer into a writer
// that costs nothing: the producer's cost per point.
func BenchmarkBufferAdd(b *testing.B) {
	buf, err := NewBuffer(discardWriter{}, DefaultBufferConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	p := nmsePoint(0)
	b.ReportAllocs()
	for b.Loop() {
		buf.Add(p)
	}
	b.StopTimer()
	closeWithin(b, buf, time.Minute)
}

// BenchmarkFileWriter appends batches of nmse points to a file, one fsync per batch; ns/op is per point.
func BenchmarkFileWriter(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			w, err := NewFileWriter(FileConfig{Path: filepath.Join(b.TempDir(), "nmse.lp"), Database: "lab"}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			batch := points(0, n)
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += n {
				if err := w.Write(context.Background(), batch[:min(n, b.N-done)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
		})
	}
}

// BenchmarkServerBuffer sends b.N nmse points through Buffer and InfluxWriter into a real InfluxDB 1.8.10
// on loopback, from Add until Close has delivered them all; ns/op is per point.
func BenchmarkServerBuffer(b *testing.B) {
	s := influxtest.Start(b, influxtest.WithoutFlux())
	next := 0 // every point new: distinct times across runs
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			pts := make([]Point, b.N)
			for i := range pts {
				pts[i] = nmsePoint(next)
				next++
			}
			buf := serverBuffer(b, s, n, max(b.N, n))
			b.ResetTimer()
			buf.Add(pts...)
			closeWithin(b, buf, 10*time.Minute)
			b.StopTimer()
			if st := buf.Stats(); st.Written != uint64(b.N) {
				b.Fatalf("Stats() = %+v, want %d written", st, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
