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
	Dropped  uint64 // pushed out by newer points while the buffer was full, added after Close, or left undelivered by Close
	Rejected uint64 // refused for good by the writer (the server, or unencodable)
	Retries  uint64 // failed write attempts that were followed by another attempt after a backoff
	Pending  int    // waiting or being written
}

// Buffer is a bounded in-memory queue in front of a Writer, in the manner of telegraf's running_output.
// Add never blocks; one goroutine writes the oldest points in batches of up to BatchSize, when a batch is
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
	w   Writer
	log *slog.Logger
	cfg BufferConfig

	mu       sync.Mutex
	ring     []Point // circular queue of the waiting points, oldest at head
	head, n  int
	inflight int // points taken out of ring by the writing goroutine, not yet settled
	stats    Stats
	closed   bool
	dropping bool // a drop was logged; cleared when a write succeeds, so a full buffer logs once per episode

	kick    chan struct{} // a full batch is waiting
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

// NewBuffer validates cfg and starts a Buffer writing to w. log (nil: discard) hears about failures,
// drops and rejections, with counts and the writer's errors (a server's refusal may quote the line).
func NewBuffer(w Writer, cfg BufferConfig, log *slog.Logger) (*Buffer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Buffer{
		w:       w,
		log:     log,
		cfg:     cfg,
		ring:    make([]Point, cfg.Limit),
		kick:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
		batch:   make([]Point, 0, cfg.BatchSize),
	}
	go b.run()
	return b, nil
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
	dropped := 0
	for _, p := range points {
		if b.n == len(b.ring) {
			b.ring[b.head] = p
			b.head = (b.head + 1) % len(b.ring)
			dropped++
		} else {
			b.ring[(b.head+b.n)%len(b.ring)] = p
			b.n++
		}
	}
	b.stats.Dropped += uint64(dropped)
	logDrop := dropped > 0 && !b.dropping
	b.dropping = b.dropping || dropped > 0
	full := b.n >= b.cfg.BatchSize
	b.mu.Unlock()
	if logDrop {
		b.log.Warn("telemetry: buffer full, dropping the oldest points until writes succeed", "limit", b.cfg.Limit)
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
	s.Pending = b.n + b.inflight
	return s
}

// Close stops accepting points, delivers what is waiting (retrying as usual) until done or until ctx
// ends, then closes the writer. Points still queued then are counted as dropped and reported in the error.
// Close returns the same result when called again.
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
		left := b.n
		clear(b.ring)
		b.n = 0
		b.stats.Dropped += uint64(left)
		b.mu.Unlock()
		var err error
		if left > 0 {
			err = fmt.Errorf("telemetry: close: %d points still queued, dropped: %w", left, context.Cause(ctx))
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
			retryAfter, err := b.flush()
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
			pending := b.n
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
		batch := b.take()
		if len(batch) == 0 {
			return 0, nil
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
func (b *Buffer) take() []Point {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := min(b.n, b.cfg.BatchSize)
	batch := b.batch[:k]
	for i := range batch {
		j := (b.head + i) % len(b.ring)
		batch[i] = b.ring[j]
		b.ring[j] = Point{} // let the queue forget it
	}
	b.head = (b.head + k) % len(b.ring)
	b.n -= k
	b.inflight = k
	return batch
}

// putBack returns unsettled points to the front of the queue, dropping the oldest of them when newer
// points have filled it meanwhile.
func (b *Buffer) putBack(pts []Point) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inflight = 0
	if over := len(pts) - (len(b.ring) - b.n); over > 0 {
		b.stats.Dropped += uint64(over)
		pts = pts[over:]
	}
	b.head = (b.head - len(pts) + len(b.ring)) % len(b.ring)
	for i, p := range pts {
		b.ring[(b.head+i)%len(b.ring)] = p
	}
	b.n += len(pts)
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
	if written > 0 {
		b.dropping = false
	}
	if b.inflight == 0 {
		clear(b.batch[:cap(b.batch)]) // let the batch forget settled points
	}
}
