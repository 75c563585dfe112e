package telemetry

import (
	"testing"
	"time"
)

// BenchmarkSpooledBufferAdd adds one interval's points (3 nmse + 1 radio, as the daemon does) per op to a
// spooled Buffer whose writing goroutine drains into a writer that costs nothing: the producer's cost with
// the queue on disk, one write(2) per Add, plus one fsync per Add with sync always.
func BenchmarkSpooledBufferAdd(b *testing.B) {
	for _, sync := range []SpoolSync{SyncInterval, SyncAlways} {
		b.Run(string(sync), func(b *testing.B) {
			sc := SpoolConfig{Dir: b.TempDir(), MaxBytes: 64 << 20, Policy: DropOldest, Sync: sync}
			buf, err := NewSpooledBuffer(discardWriter{}, sc, DefaultBufferConfig(), nil)
			if err != nil {
				b.Fatal(err)
			}
			pts := points(0, 4)
			b.ReportAllocs()
			for b.Loop() {
				buf.Add(pts...)
			}
			b.StopTimer()
			closeWithin(b, buf, time.Minute)
		})
	}
}

// BenchmarkSpoolReplay reads and decodes spooled points in batches of 1000, as the writing goroutine does
// after a restart or an outage; ns/op is per point.
func BenchmarkSpoolReplay(b *testing.B) {
	s, err := OpenSpool(SpoolConfig{Dir: b.TempDir(), MaxBytes: 1 << 30, Policy: DropOldest, Sync: SyncInterval}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	pts := points(0, 1000)
	batch := make([]Point, 0, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if s.waiting() == 0 {
			b.StopTimer()
			for range 100 {
				s.push(pts)
			}
			b.StartTimer()
		}
		got, _, err := s.take(batch[:0], 1)
		if err != nil || len(got) != 1 {
			b.Fatal(len(got), err)
		}
		s.settle(1)
	}
}

// TestSpoolPushAllocs checks that appending to the spool allocates nothing once its buffers have grown.
func TestSpoolPushAllocs(t *testing.T) {
	s, err := OpenSpool(testSpoolConfig(t.TempDir()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	pts := points(0, 4)
	s.push(pts)
	if allocs := testing.AllocsPerRun(100, func() { s.push(pts) }); allocs != 0 {
		t.Errorf("push allocates %v times per call, want 0", allocs)
	}
}
