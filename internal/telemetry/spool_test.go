package telemetry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// samePoint compares points exactly: floats by their bits (NaN included), times by nanoseconds.
func samePoint(a, b Point) bool {
	if a.Measurement != b.Measurement || !a.Time.Equal(b.Time) || !slices.Equal(a.Tags, b.Tags) || len(a.Fields) != len(b.Fields) {
		return false
	}
	for i, f := range a.Fields {
		g := b.Fields[i]
		if x, ok := f.Value.(float64); ok {
			y, ok := g.Value.(float64)
			if !ok || f.Key != g.Key || math.Float64bits(x) != math.Float64bits(y) {
				return false
			}
		} else if !reflect.DeepEqual(f, g) {
			return false
		}
	}
	return true
}

func samePoints(t *testing.T, what string, got, want []Point) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d points, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !samePoint(got[i], want[i]) {
			t.Fatalf("%s: point %d = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

// Every field kind, the special floats, escapes and an empty tag value survive a record unchanged.
func TestRecordRoundTrip(t *testing.T) {
	pts := append(awkwardPoints(20), Point{
		Measurement: "m", Tags: []Tag{{"a", ""}, {"b", "x y"}},
		Fields: []Field{{"f", math.NaN()}, {"g", math.Inf(-1)}, {"h", math.Copysign(0, -1)}, {"i", int64(math.MinInt64)},
			{"u", uint64(math.MaxUint64)}, {"s", `q"\`}, {"t", true}, {"v", false}},
		Time: time.Unix(0, math.MaxInt64-1),
	})
	var buf []byte
	for _, p := range pts {
		var err error
		if buf, err = appendRecord(buf, p); err != nil {
			t.Fatal(err)
		}
	}
	var got []Point
	for off := 0; off < len(buf); {
		p, n, err := readRecord(buf[off:], func(b []byte) string { return string(b) })
		if err != nil {
			t.Fatalf("record at %d: %v", off, err)
		}
		got = append(got, p)
		off += n
	}
	samePoints(t, "decoded", got, pts)
}

// Damage anywhere in a record is detected: every single-bit flip and every truncation.
func TestRecordDamage(t *testing.T) {
	rec, err := appendRecord(nil, nmsePoint(7))
	if err != nil {
		t.Fatal(err)
	}
	id := func(b []byte) string { return string(b) }
	for i := range len(rec) * 8 {
		b := bytes.Clone(rec)
		b[i/8] ^= 1 << (i % 8)
		if _, _, err := readRecord(b, id); err == nil {
			t.Fatalf("bit %d flipped: no error", i)
		}
	}
	for n := range len(rec) {
		if _, _, err := readRecord(rec[:n], id); !errors.Is(err, errShortRecord) && !errors.Is(err, errBadRecord) {
			t.Fatalf("cut to %d bytes: %v", n, err)
		}
	}
}

func testSpoolConfig(dir string) SpoolConfig {
	return SpoolConfig{Dir: dir, MaxBytes: 1 << 20, Policy: DropOldest, Sync: SyncInterval}
}

// failingWriter fails while down and otherwise records what it is given.
type failingWriter struct {
	mu     sync.Mutex
	down   bool
	every  int // with every > 0, each every-th write fails too
	writes int
	got    []Point
}

func (w *failingWriter) Write(_ context.Context, batch []Point) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	if w.down || w.every > 0 && w.writes%w.every == 0 {
		return errors.New("connection refused")
	}
	w.got = append(w.got, batch...)
	return nil
}

func (w *failingWriter) Close() error { return nil }

func (w *failingWriter) points() []Point {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}

func (w *failingWriter) setDown(d bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.down = d
}

var fastBuffer = BufferConfig{Limit: 1000, BatchSize: 7, FlushInterval: 5 * time.Millisecond,
	RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}

func spooled(t *testing.T, w Writer, sc SpoolConfig, log *slog.Logger) *Buffer {
	t.Helper()
	b, err := NewSpooledBuffer(w, sc, fastBuffer, log)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Points a down sink could not take stay in the spool across Close and are delivered, in order and once,
// by the next Buffer on the same directory; after that the spool is empty and its segments deleted.
func TestSpoolReplay(t *testing.T) {
	dir := t.TempDir()
	sc := testSpoolConfig(dir)
	down := &failingWriter{down: true}
	b := spooled(t, down, sc, nil)
	pts := points(0, 100)
	b.Add(pts...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close with a down sink and a spool: %v, want nil (the points are kept)", err)
	}
	if s := b.Stats(); s.Dropped != 0 || s.Pending != 100 {
		t.Errorf("after Close: %+v, want 100 pending, 0 dropped", s)
	}
	kept, err := ReadSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	samePoints(t, "ReadSpool", kept, pts)

	up := &failingWriter{every: 3} // every third write fails: batches are put back and sent again
	b = spooled(t, up, sc, nil)
	b.Add(points(100, 150)...)
	waitFor(t, "delivery", func() bool { return len(up.points()) == 150 })
	closeWithin(t, b, time.Minute)
	samePoints(t, "delivered", up.points(), points(0, 150))
	if kept, err := ReadSpool(dir); err != nil || len(kept) != 0 {
		t.Errorf("spool after delivery: %d points, %v", len(kept), err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Errorf("segments after delivery: %v, want only the one being appended to", segs)
	}
}

// A crash after a batch was delivered but before its acknowledgement was recorded sends that batch again;
// a crash after the acknowledgement does not. (Crash: the files are closed with nothing persisted.)
func TestSpoolAcknowledgement(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(testSpoolConfig(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.push(points(0, 20))
	batch, _, _ := s.take(nil, 5)
	samePoints(t, "first batch", batch, points(0, 5))
	s.settle(5)
	if err := s.persist(); err != nil {
		t.Fatal(err)
	}
	s.take(nil, 5) // in flight, delivered, not yet acknowledged
	s.settle(5)
	s.closeFiles()

	kept, err := ReadSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	samePoints(t, "after the crash", kept, points(5, 20))
}

// A record damaged on disk after the spool was opened (and checked) is found while sending: it and
// the rest of its segment are dropped and counted, the points before it are sent, and the points added
// afterwards go to a new segment and are sent too (retrying the damaged record would stall the sink).
func TestSpoolDamageWhileSending(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(testSpoolConfig(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.push(points(0, 10))
	var off int
	for _, p := range points(0, 4) {
		rec, err := appendRecord(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		off += len(rec)
	}
	seg := filepath.Join(dir, segmentName(0))
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{0}
	if _, err := f.ReadAt(b, int64(off+12)); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, int64(off+12)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	got, dropped, err := s.take(nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	samePoints(t, "before the damage", got, points(0, 4))
	if dropped != 6 || s.waiting() != 0 {
		t.Fatalf("dropped %d, %d waiting; want the damaged record and the 5 behind it dropped, none waiting", dropped, s.waiting())
	}
	s.settle(len(got))
	s.push(points(10, 15))
	got, dropped, err = s.take(nil, 100)
	if err != nil || dropped != 0 {
		t.Fatalf("after the damage: dropped %d, %v", dropped, err)
	}
	samePoints(t, "added after the damage", got, points(10, 15))
	s.settle(len(got))
	if _, err := s.close(); err != nil {
		t.Fatal(err)
	}
	if left, err := ReadSpool(dir); err != nil || len(left) != 0 {
		t.Fatalf("after delivery the spool holds %d points (%v), want none", len(left), err)
	}
}

// Two processes (here two opens) never share a spool.
func TestSpoolLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(testSpoolConfig(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if _, err := OpenSpool(testSpoolConfig(dir), nil); err == nil || !strings.Contains(err.Error(), "telemetry.spool.dir") {
		t.Fatalf("second open: %v, want an error naming telemetry.spool.dir", err)
	}
}

// A record cut short or damaged at the end of a segment (power lost in the middle of a write) is cut off
// with a warning naming the file and offset; the records before it are kept and sent.
func TestSpoolDamagedTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
		kept   int // of the 10 points written
	}{
		{"cut in the header", func(b []byte) []byte { return b[:len(b)-lastRecordLen(t)+3] }, 9},
		{"cut in the payload", func(b []byte) []byte { return b[:len(b)-5] }, 9},
		{"bit flipped in the payload", func(b []byte) []byte { b[len(b)-3] ^= 0x10; return b }, 9},
		{"zeros appended (a preallocated block)", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }, 10},
		{"garbage length appended", func(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0x7f, 1, 2) }, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenSpool(testSpoolConfig(dir), nil)
			if err != nil {
				t.Fatal(err)
			}
			s.push(points(0, 10))
			s.close()
			seg := filepath.Join(dir, segmentName(0))
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(seg, tc.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			w := &failingWriter{}
			buf := spooled(t, w, testSpoolConfig(dir), slog.New(slog.NewTextHandler(&logs, nil)))
			waitFor(t, "replay", func() bool { return buf.Stats().Pending == 0 })
			closeWithin(t, buf, time.Minute)
			samePoints(t, "replayed", w.points(), points(0, tc.kept))
			if !strings.Contains(logs.String(), "cutting off a damaged or incomplete record") || !strings.Contains(logs.String(), seg) {
				t.Errorf("log does not report the cut:\n%s", logs.String())
			}
		})
	}
}

// lastRecordLen is the length of nmsePoint(9)'s record, the last one TestSpoolDamagedTail writes.
func lastRecordLen(t *testing.T) int {
	rec, err := appendRecord(nil, nmsePoint(9))
	if err != nil {
		t.Fatal(err)
	}
	return len(rec)
}

// A full spool keeps MaxBytes: DropOldest gives up the oldest segments, DropNewest the new points; every
// point is counted once, the spool warns as it fills, and what is delivered afterwards is the newest (or
// oldest) run of points, in order.
func TestSpoolFull(t *testing.T) {
	for _, policy := range []SpoolPolicy{DropOldest, DropNewest} {
		t.Run(string(policy), func(t *testing.T) {
			dir := t.TempDir()
			sc := SpoolConfig{Dir: dir, MaxBytes: MinSpoolBytes, Policy: policy, Sync: SyncAlways}
			var logs syncLog
			w := &failingWriter{down: true}
			b := spooled(t, w, sc, slog.New(slog.NewTextHandler(&logs, nil)))
			const n = 2000 // about 4 times what fits
			for i := range n {
				b.Add(nmsePoint(i))
			}
			var size int64
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			for _, p := range segs {
				st, _ := os.Stat(p)
				size += st.Size()
			}
			if size > sc.MaxBytes {
				t.Errorf("segments hold %d bytes, more than max_bytes %d", size, sc.MaxBytes)
			}
			s := b.Stats()
			if s.Dropped == 0 || s.Written+s.Dropped+s.Rejected+uint64(s.Pending) != n {
				t.Errorf("Stats %+v do not account for the %d points", s, n)
			}
			if !strings.Contains(logs.String(), "spool filling") {
				t.Errorf("no warning as the spool filled:\n%s", logs.String())
			}
			w.setDown(false)
			waitFor(t, "delivery", func() bool { return b.Stats().Pending == 0 })
			closeWithin(t, b, time.Minute)
			got := w.points()
			first, _ := fieldValue(got[0], "interval").(int64)
			want := points(int(first), int(first)+len(got))
			samePoints(t, "delivered", got, want)
			switch last, _ := fieldValue(got[len(got)-1], "interval").(int64); {
			case policy == DropOldest && last != n-1:
				t.Errorf("drop_oldest delivered up to %d, want the newest point %d", last, n-1)
			case policy == DropNewest && first != 0:
				t.Errorf("drop_newest delivered from %d, want the oldest point 0", first)
			}
			if got := uint64(len(got)); got+s.Dropped != n {
				t.Errorf("delivered %d + dropped %d != %d added", got, s.Dropped, n)
			}
		})
	}
}

// syncLog is a log destination safe for concurrent writes and reads.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Reconfigure switches writers between batches: nothing is lost or sent twice.
func TestBufferReconfigure(t *testing.T) {
	a, c := &failingWriter{}, &failingWriter{}
	b := spooled(t, a, testSpoolConfig(t.TempDir()), nil)
	b.Add(points(0, 50)...)
	waitFor(t, "first writer", func() bool { return len(a.points()) == 50 })
	cfg := fastBuffer
	cfg.BatchSize = 3
	if err := b.Reconfigure(c, cfg); err != nil {
		t.Fatal(err)
	}
	b.Add(points(50, 80)...)
	waitFor(t, "second writer", func() bool { return len(c.points()) == 30 })
	closeWithin(t, b, time.Minute)
	samePoints(t, "both writers", append(a.points(), c.points()...), points(0, 80))
	cfg.Limit++
	if err := b.Reconfigure(nil, cfg); err == nil || !strings.Contains(err.Error(), "telemetry.buffer.limit") {
		t.Errorf("changing the limit: %v", err)
	}
}

func TestSpoolConfigValidate(t *testing.T) {
	ok := testSpoolConfig("d")
	mod := func(f func(*SpoolConfig)) SpoolConfig { c := ok; f(&c); return c }
	for _, tc := range []struct {
		cfg  SpoolConfig
		want string
	}{
		{ok, ""},
		{mod(func(c *SpoolConfig) { c.Dir = "" }), "telemetry.spool.dir"},
		{mod(func(c *SpoolConfig) { c.MaxBytes = MinSpoolBytes - 1 }), "telemetry.spool.max_bytes"},
		{mod(func(c *SpoolConfig) { c.Policy = "block" }), "telemetry.spool.policy"},
		{mod(func(c *SpoolConfig) { c.Sync = "never" }), "telemetry.spool.sync"},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v.Validate() = %v, want error naming %q", tc.cfg, err, tc.want)
		}
	}
}

// FuzzReadRecord: no input makes the record reader panic or allocate beyond its input, and every record it
// accepts is exactly what appendRecord writes for the point it decoded.
func FuzzReadRecord(f *testing.F) {
	for _, p := range append(awkwardPoints(4), nmsePoint(1)) {
		rec, err := appendRecord(nil, p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec)
		f.Add(rec[:len(rec)/2])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := readRecord(b, func(b []byte) string { return string(b) })
		if err != nil {
			return
		}
		again, err := appendRecord(nil, p)
		if err != nil {
			t.Fatalf("decoded point does not encode: %v", err)
		}
		if !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoded record differs:\n got %x\nwant %x", again, b[:n])
		}
	})
}

// FuzzOpenSpool: whatever a segment file holds, opening the spool neither panics nor fails; it keeps the
// longest run of good records from the start, and the file then reads back without damage.
func FuzzOpenSpool(f *testing.F) {
	var seg []byte
	for _, p := range points(0, 3) {
		seg, _ = appendRecord(seg, p)
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-4])
	f.Add(append(bytes.Clone(seg), 0, 0, 0, 0, 0, 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(0)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenSpool(testSpoolConfig(dir), nil)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		n := s.waiting()
		got, dropped, err := s.take(nil, n+1)
		if err != nil || len(got) != n || dropped != 0 {
			t.Fatalf("took %d of %d points: %v", len(got), n, err)
		}
		if _, err := s.close(); err != nil {
			t.Fatal(err)
		}
		kept, err := os.ReadFile(filepath.Join(dir, segmentName(0)))
		if err != nil || !bytes.HasPrefix(b, kept) {
			t.Fatalf("segment after open is not a prefix of the input (%v)", err)
		}
		if again, err := ReadSpool(dir); err != nil || len(again) != n {
			t.Fatalf("ReadSpool: %d points, %v; want %d", len(again), err, n)
		}
	})
}
