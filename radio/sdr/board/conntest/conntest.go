// Package conntest records the bytes a host exchanges with a serial device and plays them back, so
// that a regression test replays a real session without the device (after periph's conntest).
// Playback fails on a write that differs from the recording, and at Close when recorded exchanges
// were not used.
//
// An exchange is what the host wrote until it next read something, then everything it read until
// its next write. The file format is text, one exchange per two lines:
//
//	w <hex of the bytes written>
//	r <hex of the bytes read>
//
// with '#' comment lines allowed.
package conntest

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cctrack/cctrack/internal/atomicfile"
)

// Exchange is one write-then-read round.
type Exchange struct{ W, R []byte }

// Record wraps a byte stream and records its exchanges.
type Record struct {
	rw io.ReadWriteCloser
	mu sync.Mutex
	ex []Exchange
}

// NewRecord records the traffic over rw.
func NewRecord(rw io.ReadWriteCloser) *Record { return &Record{rw: rw} }

// Write writes p to the stream and records it.
func (r *Record) Write(p []byte) (int, error) {
	n, err := r.rw.Write(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ex) == 0 || len(r.ex[len(r.ex)-1].R) > 0 {
		r.ex = append(r.ex, Exchange{})
	}
	last := &r.ex[len(r.ex)-1]
	last.W = append(last.W, p[:n]...)
	return n, err
}

// Read reads from the stream and records what came.
func (r *Record) Read(p []byte) (int, error) {
	n, err := r.rw.Read(p)
	if n > 0 {
		r.mu.Lock()
		if len(r.ex) == 0 {
			r.ex = append(r.ex, Exchange{})
		}
		last := &r.ex[len(r.ex)-1]
		last.R = append(last.R, p[:n]...)
		r.mu.Unlock()
	}
	return n, err
}

// Close closes the stream; the recording stays available.
func (r *Record) Close() error { return r.rw.Close() }

// Exchanges returns a copy of what was recorded so far.
func (r *Record) Exchanges() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Exchange, len(r.ex))
	for i, e := range r.ex {
		out[i] = Exchange{W: bytes.Clone(e.W), R: bytes.Clone(e.R)}
	}
	return out
}

// Save writes exchanges to path (atomically).
func Save(path string, ex []Exchange) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		fmt.Fprintf(bw, "# conntest: %d exchanges; w = written by the host, r = read back (hex)\n", len(ex))
		for _, e := range ex {
			fmt.Fprintf(bw, "w %x\nr %x\n", e.W, e.R)
		}
		return bw.Flush()
	})
}

// Load reads exchanges written by Save.
func Load(path string) ([]Exchange, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("conntest: %w", err)
	}
	defer f.Close()
	var ex []Exchange
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	want := "w"
	for line := 1; sc.Scan(); line++ {
		s := sc.Text()
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		tag, hx, _ := strings.Cut(s, " ")
		if tag != want {
			return nil, fmt.Errorf("conntest: %s:%d: line starts %q, want %q", path, line, tag, want)
		}
		b, err := hex.DecodeString(hx)
		if err != nil {
			return nil, fmt.Errorf("conntest: %s:%d: %w", path, line, err)
		}
		if tag == "w" {
			ex = append(ex, Exchange{W: b})
			want = "r"
		} else {
			ex[len(ex)-1].R = b
			want = "w"
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("conntest: %s: %w", path, err)
	}
	if want == "r" {
		return nil, fmt.Errorf("conntest: %s: the last exchange has no r line", path)
	}
	return ex, nil
}

// Playback plays recorded exchanges back to a host as its byte stream.
type Playback struct {
	// Idle is how long Read waits before returning no data once the current exchange's answer is
	// used up, as a serial port's read timeout does (0: 10 ms).
	Idle time.Duration

	mu   sync.Mutex
	ex   []Exchange
	i    int // current exchange
	w, r int // bytes of ex[i].W written and ex[i].R read
	err  error
}

// NewPlayback plays ex back.
func NewPlayback(ex []Exchange) *Playback { return &Playback{ex: ex} }

// ErrMismatch is wrapped by errors about a write that differs from the recording.
var ErrMismatch = errors.New("conntest: unexpected exchange")

// Write checks p against the recording.
func (p *Playback) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return 0, p.err
	}
	if p.i < len(p.ex) && p.w == len(p.ex[p.i].W) && p.w > 0 {
		if p.r < len(p.ex[p.i].R) {
			return 0, p.fail(fmt.Errorf("%w: exchange %d: wrote % x with %d bytes of the answer unread", ErrMismatch, p.i, b, len(p.ex[p.i].R)-p.r))
		}
		p.i, p.w, p.r = p.i+1, 0, 0
	}
	if p.i >= len(p.ex) {
		return 0, p.fail(fmt.Errorf("%w: wrote % x after the %d recorded exchanges", ErrMismatch, b, len(p.ex)))
	}
	want := p.ex[p.i].W[p.w:]
	if len(b) > len(want) || !bytes.Equal(b, want[:len(b)]) {
		return 0, p.fail(fmt.Errorf("%w: exchange %d byte %d: wrote % x, recorded % x", ErrMismatch, p.i, p.w, b, want))
	}
	p.w += len(b)
	return len(b), nil
}

func (p *Playback) fail(err error) error {
	p.err = err
	return err
}

// Read returns the recorded answer once the exchange's write is complete; otherwise it waits Idle
// and returns no data.
func (p *Playback) Read(b []byte) (int, error) {
	p.mu.Lock()
	if p.err == nil && p.i < len(p.ex) && p.w == len(p.ex[p.i].W) && p.r < len(p.ex[p.i].R) {
		n := copy(b, p.ex[p.i].R[p.r:])
		p.r += n
		p.mu.Unlock()
		return n, nil
	}
	idle := p.Idle
	p.mu.Unlock()
	if idle == 0 {
		idle = 10 * time.Millisecond
	}
	time.Sleep(idle)
	return 0, nil
}

// Close returns the first mismatch, or an error when recorded exchanges were not used. A host that
// closes and reopens the same Playback continues where it was.
func (p *Playback) Close() error { return p.Err() }

// Err is what Close returns, without closing.
func (p *Playback) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	used := p.i
	if p.i < len(p.ex) && p.w == len(p.ex[p.i].W) && p.r == len(p.ex[p.i].R) {
		used++
	}
	if used < len(p.ex) {
		return fmt.Errorf("conntest: %d of %d recorded exchanges not used, the first: wrote % x", len(p.ex)-used, len(p.ex), p.ex[used].W)
	}
	return nil
}
