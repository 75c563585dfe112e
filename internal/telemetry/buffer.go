package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// BufferConfig configures a Buffer.
type BufferConfig struct {
	// Limit is the most points waiting for delivery (key telemetry.buffer.limit); beyond it Add drops the
	// oldest. The batch being written is held besides, so at most Limit+BatchSize points are in memory.
	Limit int
	// BatchSize is the most points per write (telemetry.buffer.batch_size).
	BatchSize int
	// FlushInterval is how often waiting points are written when fewer than BatchSize arrive
	// (telemetry.buffer.flush_interval).
	FlushInterval time.Duration
	// RetryMin and RetryMax bound the wait before retrying a failed write (telemetry.buffer.retry_min,
	// telemetry.buffer.retry_max): RetryMin after the first failure, doubling with each further one up to
	// RetryMax. A server's Retry-After replaces it, also capped at RetryMax.
	RetryMin, RetryMax time.Duration
}

// DefaultBufferConfig returns a configuration for a daemon writing tens to thousands of points a second:
// a minute of outage at 1,000 points/s fits the limit (about 100 bytes a point besides its tags and fields).
func DefaultBufferConfig() BufferConfig {
	return BufferConfig{
		Limit:         100_000,
		BatchSize:     1000,
		FlushInterval: time.Second,
		RetryMin:      100 * time.Millisecond,
		RetryMax:      30 * time.Second,
	}
}

// Validate checks the configuration; errors name the offending key.
func (c BufferConfig) Validate() error {
	switch {
	case c.Limit <= 0:
		return fmt.Errorf("telemetry.buffer.limit: %d, want > 0", c.Limit)
	case c.BatchSize <= 0 || c.BatchSize > c.Limit:
		return fmt.Errorf("telemetry.buffer.batch_size: %d, want in [1, telemetry.buffer.limit = %d]", c.BatchSize, c.Limit)
	case c.FlushInterval <= 0:
		return fmt.Errorf("telemetry.buffer.flush_interval: %v, want > 0", c.FlushInterval)
	case c.RetryMin <= 0:
		return fmt.Errorf("telemetry.buffer.retry_min: %v, want > 0", c.RetryMin)
	case c.RetryMax < c.RetryMin:
		return fmt.Errorf("telemetry.buffer.retry_max: %v, want >= telemetry.buffer.retry_min = %v", c.RetryMax, c.RetryMin)
	}
	return nil
}

// Stats counts what happened to the points given to a Buffer. Every point added is, in the end, exactly
// one of Written, Dropped or Rejected; until then it is Pending.
type Stats struct {
	Written  uint64 // delivered
	Dropped  uint64 // pushed out by newer points while the buffer was full, added after Close, left undelivered by Close, or damaged on disk in the spool
	Rejected uint64 // refused for good by the writer (the server, or unencodable)
	Retries  uint64 // failed write attempts that were followed by another attempt after a backoff
	Pending  int    // waiting or being written
}

// Buffer is a bounded queue in front of a Writer, in the manner of telegraf's running_output: in memory
// (NewBuffer), or on disk (NewSpooledBuffer, a Spool), so that points survive a restart. Add never blocks; one goroutine writes the oldest points in batches of up to BatchSize, when a batch is
// full or every FlushInterval. What happens to a batch depends on the writer's error:
//   - success: the points are written;
//   - retryable (not a *WriteError, or one that is not Permanent): the batch goes back to the front of the
//     queue and the goroutine waits (capped exponential backoff, or the server's Retry-After) before trying
//     again; meanwhile Add keeps queueing, dropping the oldest points (the failed batch first) beyond Limit;
//   - Permanent and PerPoint: the batch is split in halves, written separately, recursively, so that only the
//     points at fault end up rejected. After an InfluxDB 1.x partial write (it stores the good points of a
//     batch it answers 400) this writes the good points again, which InfluxDB treats as an overwrite with
//     the same values; k bad points in a batch of n cost at most 2k·log2(n) extra requests;
//   - Permanent otherwise: the whole batch is rejected.
//
// A Buffer's methods are safe for concurrent use.
type Buffer struct {
	w   Writer // owned by the writing goroutine once it runs
	log *slog.Logger
	cfg BufferConfig // Limit and BatchSize are read under mu; the rest belongs to the writing goroutine

	mu       sync.Mutex
	q        queue   // the waiting points: *ring or *Spool
	inflight int     // points taken out of q by the writing goroutine, not yet settled
	retune   *retune // a Reconfigure waiting for the writing goroutine
	stats    Stats
	closed   bool
	dropping bool // a drop was logged; cleared when a write succeeds, so a full buffer logs once per episode

	kick    chan struct{} // a full batch is waiting, or a Reconfigure
	closing chan struct{} // Close was called: deliver what is left, then stop
	done    chan struct{} // the writing goroutine has stopped
	// ctx bounds every write; Close cancels it when its own context ends. It lives in the struct because it
	// belongs to the writing goroutine, which outlives any call.
	ctx    context.Context
	cancel context.CancelFunc

	closeOnce sync.Once
	closeErr  error

	batch []Point // the writing goroutine's batch, reused
}

// queue holds a Buffer's waiting points, oldest first; the writing goroutine takes batches from its front
// into flight and then settles them (written or rejected) or puts them back. Buffer calls it with its mutex
// held, except persist. Adding is not part of it: Add calls the concrete type, so that the points passed to
// Add need not escape to the heap.
type queue interface {
	// take moves up to max of the oldest waiting points into flight, appending them to dst; dropped
	// is how many waiting points it gave up instead (a Spool's records damaged on disk).
	take(dst []Point, max int) (out []Point, dropped int, err error)
	// settle removes the oldest n points in flight for good.
	settle(n int)
	// putBack returns the newest points in flight, pts, to the front of the waiting points; it returns how
	// many of them it dropped instead (newer points filled the queue meanwhile).
	putBack(pts []Point) (dropped int)
	// waiting is the number of waiting points.
	waiting() int
	// persist makes what was added and settled durable (a Spool); it is called without the Buffer's mutex.
	persist() error
	// close releases the queue once the writing goroutine has stopped; dropped is how many waiting points
	// are lost (a Spool keeps them for the next start).
	close() (dropped int, err error)
}

var (
	_ queue = (*ring)(nil)
	_ queue = (*Spool)(nil)
)

// NewBuffer validates cfg and starts a Buffer writing to w, queueing up to cfg.Limit points in memory. log
// (nil: discard) hears about failures, drops and rejections, with counts and the writer's errors (a server's
// refusal may quote the line).
func NewBuffer(w Writer, cfg BufferConfig, log *slog.Logger) (*Buffer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return startBuffer(w, &ring{buf: make([]Point, cfg.Limit)}, cfg, log), nil
}

// NewSpooledBuffer is NewBuffer with the queue on disk: it opens the spool sc (see OpenSpool), which
// replaces the in-memory queue (cfg.Limit does not apply; sc.MaxBytes bounds it), and sends first what an
// earlier run left in it. A point is acknowledged when Add returns: it is then in the spool file (see
// SpoolSync for when it reaches the disk itself). Close keeps what it could not deliver in the spool. The
// counters of Stats include the points replayed from earlier runs.
func NewSpooledBuffer(w Writer, sc SpoolConfig, cfg BufferConfig, log *slog.Logger) (*Buffer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := OpenSpool(sc, log)
	if err != nil {
		return nil, err
	}
	return startBuffer(w, s, cfg, log), nil
}

func startBuffer(w Writer, q queue, cfg BufferConfig, log *slog.Logger) *Buffer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Buffer{
		w:       w,
		log:     log,
		cfg:     cfg,
		q:       q,
		kick:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
		batch:   make([]Point, 0, cfg.BatchSize),
	}
	go b.run()
	return b
}

// Add queues points for delivery and returns at once; when the buffer is full the oldest waiting points
// are dropped (and counted). The Buffer keeps the points' Tags and Fields slices: the caller must not
// modify them afterwards. Points added after Close are dropped.
func (b *Buffer) Add(points ...Point) {
	b.mu.Lock()
	if b.closed {
		b.stats.Dropped += uint64(len(points))
		b.mu.Unlock()
		return
	}
	var dropped, rejected int
	switch q := b.q.(type) {
	case *ring:
		dropped = q.push(points)
	case *Spool:
		dropped, rejected = q.push(points)
	}
	b.stats.Dropped += uint64(dropped)
	b.stats.Rejected += uint64(rejected)
	logDrop := dropped > 0 && !b.dropping
	b.dropping = b.dropping || dropped > 0
	full := b.q.waiting() >= b.cfg.BatchSize
	_, memory := b.q.(*ring)
	b.mu.Unlock()
	if logDrop {
		if memory {
			b.log.Warn("telemetry: buffer full, dropping the oldest points until writes succeed", "limit", b.cfg.Limit)
		} else {
			b.log.Warn("telemetry: spool full, dropping points until writes succeed (see telemetry.spool.policy)")
		}
	}
	if full {
		select {
		case b.kick <- struct{}{}:
		default: // a kick is already pending
		}
	}
}

// Stats returns the counters so far.
func (b *Buffer) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats
	s.Pending = b.q.waiting() + b.inflight
	return s
}

// Close stops accepting points, delivers what is waiting (retrying as usual) until done or until ctx
// ends, then closes the writer. Points still queued in memory then are counted as dropped and reported in
// the error; a spool keeps them for the next start (logged, not an error). Close returns the same result
// when called again.
func (b *Buffer) Close(ctx context.Context) error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		stop := context.AfterFunc(ctx, b.cancel)
		close(b.closing)
		<-b.done
		stop()
		b.cancel()

		b.mu.Lock()
		left := b.q.waiting()
		lost, err := b.q.close()
		b.stats.Dropped += uint64(lost)
		b.mu.Unlock()
		if lost > 0 {
			err = errors.Join(fmt.Errorf("telemetry: close: %d points still queued, dropped: %w", lost, context.Cause(ctx)), err)
		} else if left > 0 {
			b.log.Warn("telemetry: points kept in the spool for the next start", "points", left, "err", context.Cause(ctx))
		}
		if rt := b.retune; rt != nil && rt.w != nil {
			rt.w.Close() // a replacement writer never switched to
		}
		if werr := b.w.Close(); werr != nil {
			err = errors.Join(err, fmt.Errorf("telemetry: close writer: %w", werr))
		}
		b.closeErr = err
	})
	return b.closeErr
}

// run is the writing goroutine: it waits for a full batch, the flush interval or Close, then writes until
// the queue is empty, waiting out a backoff after each retryable failure.
func (b *Buffer) run() {
	defer close(b.done)
	ticker := time.NewTicker(b.cfg.FlushInterval)
	defer ticker.Stop()
	closing := b.closing // nil once seen, so that a closed channel does not spin the selects
	for {
		select {
		case <-closing:
			closing = nil
		case <-ticker.C:
		case <-b.kick:
		}
		for failures := 0; ; {
			if d, ok := b.applyRetune(); ok {
				ticker.Reset(d)
			}
			retryAfter, err := b.flush()
			if perr := b.q.persist(); perr != nil {
				b.log.Warn("telemetry: spool", "err", perr)
			}
			if err == nil {
				if failures > 0 {
					b.log.Info("telemetry: writes succeed again", "failed_attempts", failures)
				}
				break
			}
			if b.ctx.Err() != nil {
				return // Close's context ended
			}
			failures++
			wait := b.backoff(failures, retryAfter)
			b.mu.Lock()
			b.stats.Retries++
			pending := b.q.waiting()
			b.mu.Unlock()
			if failures == 1 {
				b.log.Warn("telemetry: write failed, keeping the points and retrying",
					"err", err, "pending", pending, "retry_in", wait)
			} else {
				b.log.Debug("telemetry: write failed again", "err", err, "attempt", failures, "retry_in", wait)
			}
			timer := time.NewTimer(wait)
		waiting:
			for {
				select {
				case <-timer.C:
					break waiting
				case <-closing:
					closing = nil // keep retrying until delivered or Close's context ends
				case <-ticker.C:
					// A spool keeps syncing what is added every flush interval, however long the backoff.
					if perr := b.q.persist(); perr != nil {
						b.log.Warn("telemetry: spool", "err", perr)
					}
				case <-b.ctx.Done():
					timer.Stop()
					return
				}
			}
		}
		if closing == nil {
			return // closing and everything delivered
		}
	}
}

// backoff is the wait before attempt failures+1: the server's Retry-After if it gave one, else
// RetryMin·2^(failures-1); either capped at RetryMax.
func (b *Buffer) backoff(failures int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, b.cfg.RetryMax)
	}
	d := b.cfg.RetryMin
	for i := 1; i < failures && d < b.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, b.cfg.RetryMax)
}

// flush writes batches until the queue is empty or a write fails in a way worth retrying; then the
// unsettled points are back at the front of the queue and it returns the error and the server's
// Retry-After.
func (b *Buffer) flush() (time.Duration, error) {
	for {
		batch, err := b.take()
		if len(batch) == 0 {
			return 0, err
		}
		settled, err := b.deliver(batch)
		if err != nil {
			b.putBack(batch[settled:])
			var we *WriteError
			if errors.As(err, &we) {
				return we.RetryAfter, err
			}
			return 0, err
		}
	}
}

// take moves up to BatchSize of the oldest points from the queue into b.batch.
func (b *Buffer) take() ([]Point, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	batch, dropped, err := b.q.take(b.batch[:0], b.cfg.BatchSize)
	b.inflight = len(batch)
	b.stats.Dropped += uint64(dropped)
	return batch, err
}

// putBack returns unsettled points to the front of the queue, dropping the oldest of them when newer
// points have filled it meanwhile.
func (b *Buffer) putBack(pts []Point) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inflight = 0
	b.stats.Dropped += uint64(b.q.putBack(pts))
	clear(b.batch[:cap(b.batch)])
}

// deliver writes pts, splitting it on per-point refusals. It returns how many leading points were settled
// (written or rejected) and, if it stopped before the end, the retryable error that stopped it.
func (b *Buffer) deliver(pts []Point) (int, error) {
	err := b.w.Write(b.ctx, pts)
	var we *WriteError
	switch {
	case err == nil:
		b.settle(len(pts), 0)
		return len(pts), nil
	case !errors.As(err, &we) || !we.Permanent:
		return 0, err
	case we.PerPoint && len(pts) > 1:
		h := len(pts) / 2
		k, err := b.deliver(pts[:h])
		if err != nil {
			return k, err
		}
		k, err = b.deliver(pts[h:])
		return h + k, err
	}
	b.settle(0, len(pts))
	b.log.Warn("telemetry: points rejected", "points", len(pts), "err", err)
	return len(pts), nil
}

// settle counts points written or rejected.
func (b *Buffer) settle(written, rejected int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stats.Written += uint64(written)
	b.stats.Rejected += uint64(rejected)
	b.inflight -= written + rejected
	b.q.settle(written + rejected)
	if written > 0 {
		b.dropping = false
	}
	if b.inflight == 0 {
		clear(b.batch[:cap(b.batch)]) // let the batch forget settled points
	}
}

// ring is the in-memory queue: a circular buffer of Limit points, dropping the oldest when full.
type ring struct {
	buf     []Point // oldest at head
	head, n int
}

// push adds points, overwriting the oldest when full; it returns how many it overwrote.
func (r *ring) push(points []Point) (dropped int) {
	for _, p := range points {
		if r.n == len(r.buf) {
			r.buf[r.head] = p
			r.head = (r.head + 1) % len(r.buf)
			dropped++
		} else {
			r.buf[(r.head+r.n)%len(r.buf)] = p
			r.n++
		}
	}
	return dropped
}

func (r *ring) take(dst []Point, max int) ([]Point, int, error) {
	k := min(r.n, max)
	for i := range k {
		j := (r.head + i) % len(r.buf)
		dst = append(dst, r.buf[j])
		r.buf[j] = Point{} // let the queue forget it
	}
	r.head = (r.head + k) % len(r.buf)
	r.n -= k
	return dst, 0, nil
}

func (r *ring) settle(int) {}

func (r *ring) putBack(pts []Point) (dropped int) {
	if over := len(pts) - (len(r.buf) - r.n); over > 0 {
		dropped = over
		pts = pts[over:]
	}
	r.head = (r.head - len(pts) + len(r.buf)) % len(r.buf)
	for i, p := range pts {
		r.buf[(r.head+i)%len(r.buf)] = p
	}
	r.n += len(pts)
	return dropped
}

func (r *ring) waiting() int   { return r.n }
func (r *ring) persist() error { return nil }

func (r *ring) close() (int, error) {
	n := r.n
	clear(r.buf)
	r.n = 0
	return n, nil
}

// retune is a configuration change waiting for the writing goroutine.
type retune struct {
	w   Writer // nil: keep the writer
	cfg BufferConfig
}

// Reconfigure replaces the writer (unless w is nil) and the batching and retry settings while the Buffer
// runs: the writing goroutine switches between two batches, closing the old writer, so no point is lost or
// sent twice. The queue's bound cannot change: cfg.Limit must be the Buffer's (for a spooled Buffer,
// whatever it was created with).
func (b *Buffer) Reconfigure(w Writer, cfg BufferConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if cfg.Limit != b.cfg.Limit {
		return fmt.Errorf("telemetry.buffer.limit: cannot change from %d to %d while running", b.cfg.Limit, cfg.Limit)
	}
	if b.closed {
		return errors.New("telemetry: reconfigure: buffer closed")
	}
	if old := b.retune; old != nil && old.w != nil && w == nil {
		w = old.w // a writer not yet switched to stays the next one
	} else if old != nil && old.w != nil {
		old.w.Close()
	}
	b.retune = &retune{w: w, cfg: cfg}
	select {
	case b.kick <- struct{}{}:
	default:
	}
	return nil
}

// applyRetune switches to a pending Reconfigure; it returns the new flush interval when there was one.
func (b *Buffer) applyRetune() (time.Duration, bool) {
	b.mu.Lock()
	rt := b.retune
	b.retune = nil
	if rt != nil {
		b.cfg = rt.cfg
		if cap(b.batch) < rt.cfg.BatchSize {
			b.batch = make([]Point, 0, rt.cfg.BatchSize)
		}
	}
	b.mu.Unlock()
	if rt == nil {
		return 0, false
	}
	if rt.w != nil {
		if err := b.w.Close(); err != nil {
			b.log.Warn("telemetry: close the replaced writer", "err", err)
		}
		b.w = rt.w
	}
	return rt.cfg.FlushInterval, true
}
