package telemetry

import (
	"context"
	"time"
)

// Writer delivers batches of points. Buffer calls Write from one goroutine; the writers here are also safe
// for concurrent use.
type Writer interface {
	// Write delivers batch. An error that is not a *WriteError (a network or disk error, the context ending)
	// means the batch is worth sending again.
	Write(ctx context.Context, batch []Point) error
	// Close releases the writer; it does not deliver anything.
	Close() error
}

// WriteError is a Writer's verdict on a batch it did not deliver, telling Buffer what to do with it.
type WriteError struct {
	Err error
	// Permanent means sending the same batch again cannot succeed: the server refused it (an HTTP 4xx other
	// than 429) or a point cannot be encoded. Buffer rejects such points.
	Permanent bool
	// PerPoint, with Permanent, means the refusal concerns some of the points (a line that does not parse, a
	// field type conflict, a point outside the retention policy, a request too large), so writing parts of the
	// batch separately sorts the good points from the bad.
	PerPoint bool
	// RetryAfter is the wait the server asked for before the next attempt (HTTP Retry-After), 0 for none.
	RetryAfter time.Duration
}

func (e *WriteError) Error() string { return e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// encodeBatch appends batch to dst as newline-terminated lines of line protocol. An unencodable point
// makes the whole batch fail with a permanent, per-point *WriteError, so that Buffer isolates and rejects
// just that point.
func encodeBatch(dst []byte, batch []Point) ([]byte, error) {
	for _, p := range batch {
		var err error
		if dst, err = AppendLine(dst, p); err != nil {
			return dst, &WriteError{Err: err, Permanent: true, PerPoint: true}
		}
		dst = append(dst, '\n')
	}
	return dst, nil
}
