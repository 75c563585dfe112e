package telemetry

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The Buffer tests run in a synctest bubble: time is fake and advances only when every goroutine of the
// bubble is blocked, so backoffs and flush intervals are exact and cost no real time. The HTTP server is
// created outside the bubble (its accept loop would otherwise keep the bubble from ever idling) and the
// client inside it closes each connection after use for the same reason.

// fakeInflux answers writes like InfluxDB 1.x: it stores the lines of a batch and answers 204, unless its
// script says otherwise; lines containing `note="bad"` it refuses like a field type conflict, storing the
// rest of the batch and answering 400 "partial write".
type fakeInflux struct {
	*httptest.Server
	down atomic.Bool // close connections without answering

	mu       sync.Mutex
	script   []answer // answers for the next requests, in order
	requests int
	stored   []string
}

type answer struct {
	status     int
	retryAfter string
	message    string
}

func newFakeInflux(t *testing.T, script ...answer) *fakeInflux {
	f := &fakeInflux{script: script}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeInflux) serve(w http.ResponseWriter, r *http.Request) {
	if f.down.Load() {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	var a answer
	if len(f.script) > 0 {
		a, f.script = f.script[0], f.script[1:]
	}
	if a.status == 0 {
		bad := 0
		for _, l := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
			if strings.Contains(l, `note="bad"`) {
				bad++
			} else {
				f.stored = append(f.stored, l)
			}
		}
		if bad == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		a = answer{status: 400, message: fmt.Sprintf(`partial write: field type conflict: input field "note" on measurement "nmse" is type string, already exists as type float dropped=%d`, bad)}
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.Header().Set("X-Influxdb-Error", a.message)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	fmt.Fprintf(w, "{\"error\":%q}\n", a.message)
}

func (f *fakeInflux) snapshot() (requests int, stored []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests, slices.Clone(f.stored)
}

// writer returns an InfluxWriter to f, for use inside the bubble.
func (f *fakeInflux) writer(t *testing.T) Writer {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	w, err := NewInfluxWriter(InfluxConfig{URL: f.URL, Bucket: "cctrack/autogen", Timeout: 5 * time.Second}, hc)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// recorder notes the (bubble) time and size of each write.
type recorder struct {
	Writer
	mu    sync.Mutex
	times []time.Duration // since start
	start time.Time
}

func (r *recorder) Write(ctx context.Context, batch []Point) error {
	r.mu.Lock()
	r.times = append(r.times, time.Since(r.start))
	r.mu.Unlock()
	return r.Writer.Write(ctx, batch)
}

func (r *recorder) attempts() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.times)
}

// points returns nmse points n0..n1-1.
func points(n0, n1 int) []Point {
	var pts []Point
	for i := n0; i < n1; i++ {
		pts = append(pts, nmsePoint(i))
	}
	return pts
}

// newBuffer returns a Buffer that is closed, giving up on what is queued, when the test ends (a synctest
// bubble must not end with the writing goroutine still running).
func newBuffer(t *testing.T, w Writer, cfg BufferConfig) *Buffer {
	t.Helper()
	b, err := NewBuffer(w, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		b.Close(ctx)
	})
	return b
}

// checkStats compares the counters and checks that every point added is accounted for exactly once.
func checkStats(t *testing.T, b *Buffer, added int, want Stats) {
	t.Helper()
	got := b.Stats()
	if got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if n := got.Written + got.Dropped + got.Rejected + uint64(got.Pending); n != uint64(added) {
		t.Errorf("written+dropped+rejected+pending = %d, want the %d points added", n, added)
	}
}

func closeBuffer(t *testing.T, b *Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

var testBufferConfig = BufferConfig{Limit: 100, BatchSize: 10, FlushInterval: time.Second,
	RetryMin: 100 * time.Millisecond, RetryMax: 30 * time.Second}

// TestBufferRetries checks capped exponential backoff after server errors, and Retry-After honoured
// (capped at RetryMax).
func TestBufferRetries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script []answer
		want   []time.Duration // attempt times after the full batch arrives
	}{
		{"500 twice", []answer{{status: 500}, {status: 500}}, []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond}},
		{"503 three times, backoff capped", []answer{{status: 503}, {status: 503}, {status: 503}},
			[]time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 500 * time.Millisecond}},
		{"429 Retry-After", []answer{{status: 429, retryAfter: "7"}}, []time.Duration{0, 7 * time.Second}},
		{"503 Retry-After", []answer{{status: 503, retryAfter: "2"}, {status: 500}},
			[]time.Duration{0, 2 * time.Second, 2*time.Second + 200*time.Millisecond}},
		{"Retry-After above RetryMax", []answer{{status: 429, retryAfter: "120"}}, []time.Duration{0, 30 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeInflux(t, tc.script...)
			synctest.Test(t, func(t *testing.T) {
				rec := &recorder{Writer: srv.writer(t), start: time.Now()}
				cfg := testBufferConfig
				if strings.Contains(tc.name, "capped") {
					cfg.RetryMax = 200 * time.Millisecond
				}
				b := newBuffer(t, rec, cfg)
				b.Add(points(0, 10)...) // a full batch: written at once
				time.Sleep(time.Minute)
				synctest.Wait()
				if got := rec.attempts(); !slices.Equal(got, tc.want) {
					t.Errorf("attempts at %v, want %v", got, tc.want)
				}
				checkStats(t, b, 10, Stats{Written: 10, Retries: uint64(len(tc.want) - 1)})
				closeBuffer(t, b)
			})
			if _, stored := srv.snapshot(); len(stored) != 10 {
				t.Errorf("server stored %d points, want 10", len(stored))
			}
		})
	}
}

// TestBufferPartialWrite checks that only the points a server refuses are rejected: per-point refusals are
// split down to the bad points, whole-request refusals reject the batch in one request.
func TestBufferPartialWrite(t *testing.T) {
	batch := points(0, 16)
	for _, i := range []int{3, 11} {
		batch[i].Fields = append(slices.Clone(batch[i].Fields), Field{"note", "bad"})
	}
	var goodPoints []Point
	for i, p := range batch {
		if i != 3 && i != 11 {
			goodPoints = append(goodPoints, p)
		}
	}
	good := lines(t, goodPoints...)
	for _, tc := range []struct {
		name         string
		script       []answer
		wantRequests int
		want         Stats
		wantStored   string
	}{
		// Halving 16 points with bad ones at 3 and 11: 16, 8, 4, 2 ok, 2, 1 ok, 1 bad, 4 ok, 8, 4, 2 ok, 2,
		// 1 ok, 1 bad, 4 ok.
		{"partial write", nil, 15, Stats{Written: 14, Rejected: 2}, good},
		{"database not found", []answer{{status: 404, message: `database not found: "cctrack"`}}, 1, Stats{Rejected: 16}, ""},
		{"unauthorized", []answer{{status: 401, message: "authorization failed"}}, 1, Stats{Rejected: 16}, ""},
		{"bad request, not per point", []answer{{status: 400, message: "database is required"}}, 1, Stats{Rejected: 16}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeInflux(t, tc.script...)
			synctest.Test(t, func(t *testing.T) {
				b := newBuffer(t, srv.writer(t), BufferConfig{Limit: 100, BatchSize: 16, FlushInterval: time.Second,
					RetryMin: time.Second, RetryMax: time.Second})
				b.Add(batch...)
				time.Sleep(time.Minute)
				synctest.Wait()
				checkStats(t, b, 16, tc.want)
				closeBuffer(t, b)
			})
			requests, stored := srv.snapshot()
			if requests != tc.wantRequests {
				t.Errorf("%d requests, want %d", requests, tc.wantRequests)
			}
			// The server stores the good points of a partial write, so some are written more than once (an
			// overwrite with the same values in InfluxDB); each good point must be there.
			slices.Sort(stored)
			stored = slices.Compact(stored)
			want := strings.Split(strings.TrimSuffix(tc.wantStored, "\n"), "\n")
			if tc.wantStored == "" {
				want = nil
			}
			slices.Sort(want)
			if !slices.Equal(stored, want) {
				t.Errorf("server stored %d distinct points, want %d:\n%s", len(stored), len(want), strings.Join(stored, "\n"))
			}
		})
	}
}

// TestBufferUnencodable checks that a point the encoder refuses is rejected alone, never sent.
func TestBufferUnencodable(t *testing.T) {
	srv := newFakeInflux(t)
	batch := points(0, 8)
	batch[5].Fields = []Field{{"nmse_db", math.NaN()}}
	synctest.Test(t, func(t *testing.T) {
		b := newBuffer(t, srv.writer(t), BufferConfig{Limit: 100, BatchSize: 8, FlushInterval: time.Second,
			RetryMin: time.Second, RetryMax: time.Second})
		b.Add(batch...)
		time.Sleep(time.Minute)
		synctest.Wait()
		checkStats(t, b, 8, Stats{Written: 7, Rejected: 1})
		closeBuffer(t, b)
	})
	if _, stored := srv.snapshot(); strings.Join(stored, "\n")+"\n" != lines(t, slices.Delete(batch, 5, 6)...) {
		t.Errorf("server stored\n%s\nwant every point but the unencodable one, in order", strings.Join(stored, "\n"))
	}
}

// TestBufferServerDown checks that while the server does not answer, Add keeps queueing up to Limit and
// drops the oldest, and that the newest Limit points are delivered, in order, once it answers again.
func TestBufferServerDown(t *testing.T) {
	srv := newFakeInflux(t)
	srv.down.Store(true)
	const n = 120
	synctest.Test(t, func(t *testing.T) {
		b := newBuffer(t, srv.writer(t), BufferConfig{Limit: 50, BatchSize: 10, FlushInterval: time.Second,
			RetryMin: 100 * time.Millisecond, RetryMax: time.Second})
		for i := range n {
			b.Add(nmsePoint(i))
			time.Sleep(10 * time.Millisecond) // points arrive while writes fail
		}
		time.Sleep(5 * time.Second)
		synctest.Wait() // the writing goroutine is waiting out a backoff, no batch in flight
		s := b.Stats()
		if s.Written != 0 || s.Pending != 50 || s.Dropped != n-50 || s.Retries == 0 {
			t.Errorf("server down: Stats() = %+v, want 0 written, 50 pending, %d dropped, some retries", s, n-50)
		}
		srv.down.Store(false)
		time.Sleep(2 * time.Second) // past RetryMax
		synctest.Wait()
		checkStats(t, b, n, Stats{Written: 50, Dropped: n - 50, Retries: s.Retries})
		closeBuffer(t, b)
	})
	if _, stored := srv.snapshot(); strings.Join(stored, "\n")+"\n" != lines(t, points(n-50, n)...) {
		t.Errorf("server stored\n%s\nwant the newest 50 points in order", strings.Join(stored, "\n"))
	}
}

// stuckWriter never finishes a write before its context ends.
type stuckWriter struct{ closed atomic.Bool }

func (w *stuckWriter) Write(ctx context.Context, _ []Point) error {
	<-ctx.Done()
	return ctx.Err()
}

func (w *stuckWriter) Close() error {
	w.closed.Store(true)
	return nil
}

// TestBufferAddNeverBlocks checks that Add returns while a write hangs, that the buffer holds Limit points
// besides the batch in flight, and that Close gives up when its context ends, counting what it could not
// deliver and still closing the writer.
func TestBufferAddNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &stuckWriter{}
		b := newBuffer(t, w, testBufferConfig)
		const n = 10_000
		b.Add(points(0, 10)...)
		synctest.Wait() // the first batch is in flight, stuck
		for i := 10; i < n; i++ {
			b.Add(nmsePoint(i))
		}
		checkStats(t, b, n, Stats{Dropped: n - 110, Pending: 110})

		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		err := b.Close(ctx)
		if err == nil || !strings.Contains(err.Error(), "100 points still queued") {
			t.Errorf("Close = %v, want an error counting the 100 points still queued", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("Close took %v, want its context's 3s", d)
		}
		if !w.closed.Load() {
			t.Error("Close did not close the writer")
		}
		checkStats(t, b, n, Stats{Dropped: n})
		if err2 := b.Close(context.Background()); err2 != err {
			t.Errorf("second Close = %v, want the first's result %v", err2, err)
		}
	})
}

// TestBufferFlushInterval checks that a partial batch is written after FlushInterval, not before, and that
// Close writes what is left and drops points added afterwards.
func TestBufferFlushInterval(t *testing.T) {
	srv := newFakeInflux(t)
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{Writer: srv.writer(t), start: time.Now()}
		cfg := testBufferConfig
		cfg.FlushInterval = time.Hour
		b := newBuffer(t, rec, cfg)
		b.Add(points(0, 5)...)
		time.Sleep(time.Hour - time.Nanosecond)
		synctest.Wait()
		if got := rec.attempts(); len(got) != 0 {
			t.Fatalf("writes before FlushInterval at %v", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := rec.attempts(); !slices.Equal(got, []time.Duration{time.Hour}) {
			t.Fatalf("writes at %v, want one at FlushInterval", got)
		}
		b.Add(points(5, 12)...)
		closeBuffer(t, b)
		b.Add(nmsePoint(12))
		checkStats(t, b, 13, Stats{Written: 12, Dropped: 1})
	})
	if _, stored := srv.snapshot(); strings.Join(stored, "\n")+"\n" != lines(t, points(0, 12)...) {
		t.Errorf("server stored\n%s\nwant points 0..11 in order", strings.Join(stored, "\n"))
	}
}

func TestBufferBackoff(t *testing.T) {
	b := &Buffer{cfg: BufferConfig{RetryMin: 100 * time.Millisecond, RetryMax: 30 * time.Second}}
	for _, tc := range []struct {
		failures   int
		retryAfter time.Duration
		want       time.Duration
	}{
		{1, 0, 100 * time.Millisecond},
		{2, 0, 200 * time.Millisecond},
		{9, 0, 25600 * time.Millisecond},
		{10, 0, 30 * time.Second},
		{1000, 0, 30 * time.Second}, // no overflow
		{1, 7 * time.Second, 7 * time.Second},
		{20, time.Second, time.Second}, // the server's word, even below the backoff reached
		{1, time.Hour, 30 * time.Second},
	} {
		if got := b.backoff(tc.failures, tc.retryAfter); got != tc.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", tc.failures, tc.retryAfter, got, tc.want)
		}
	}
}

func TestBufferConfigValidate(t *testing.T) {
	mod := func(f func(*BufferConfig)) BufferConfig { c := DefaultBufferConfig(); f(&c); return c }
	for _, tc := range []struct {
		cfg  BufferConfig
		want string
	}{
		{DefaultBufferConfig(), ""},
		{mod(func(c *BufferConfig) { c.Limit = 0 }), "telemetry.buffer.limit"},
		{mod(func(c *BufferConfig) { c.BatchSize = 0 }), "telemetry.buffer.batch_size"},
		{mod(func(c *BufferConfig) { c.BatchSize = c.Limit + 1 }), "telemetry.buffer.batch_size"},
		{mod(func(c *BufferConfig) { c.FlushInterval = 0 }), "telemetry.buffer.flush_interval"},
		{mod(func(c *BufferConfig) { c.RetryMin = 0 }), "telemetry.buffer.retry_min"},
		{mod(func(c *BufferConfig) { c.RetryMax = c.RetryMin / 2 }), "telemetry.buffer.retry_max"},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v.Validate() = %v, want error naming %q", tc.cfg, err, tc.want)
		}
	}
}

// TestBufferAddAllocs checks that Add allocates nothing.
func TestBufferAddAllocs(t *testing.T) {
	b := newBuffer(t, &stuckWriter{}, BufferConfig{Limit: 1000, BatchSize: 1000, FlushInterval: time.Hour,
		RetryMin: time.Second, RetryMax: time.Second})
	p := nmsePoint(0)
	if allocs := testing.AllocsPerRun(1000, func() { b.Add(p) }); allocs != 0 {
		t.Errorf("Add allocates %v times per call, want 0", allocs)
	}
}
