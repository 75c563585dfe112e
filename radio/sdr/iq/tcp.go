package iq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/cctrack/cctrack/radio"
)

// TCPSource reads a raw stream of cf32_le samples (I then Q, float32 little-endian, no framing) from
// a TCP server, e.g. ServeTCP in an emulator or a network-attached SDR.
type TCPSource struct {
	addr  string
	conn  net.Conn
	rate  float64
	buf   []byte
	part  [cf32Size]byte // bytes of a sample split across calls (after an interrupted read)
	npart int
}

var _ Source = (*TCPSource)(nil)

// DialTCP connects to addr (host:port); sampleRate is the stream's rate in Hz (the raw stream does
// not carry it).
func DialTCP(ctx context.Context, addr string, sampleRate float64) (*TCPSource, error) {
	if !(sampleRate > 0) {
		return nil, fmt.Errorf("iq: dial %s: want a positive sample rate, got %g", addr, sampleRate)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("iq: dial %s: %w", addr, err)
	}
	return &TCPSource{addr: addr, conn: conn, rate: sampleRate, buf: make([]byte, chunk*cf32Size)}, nil
}

// SampleRate is the rate given to DialTCP.
func (s *TCPSource) SampleRate() float64 { return s.rate }

// ReadFull reads the next len(dst) samples. When ctx ends first it returns ctx's error (wrapping
// radio.ErrTimeout too when its deadline passed); the samples already taken from the stream are lost
// but the stream stays aligned on sample boundaries. A closed stream gives a wrapped io.EOF (nothing
// read) or io.ErrUnexpectedEOF.
func (s *TCPSource) ReadFull(ctx context.Context, dst []complex64) (err error) {
	if err := ctx.Err(); err != nil {
		return s.ctxErr(ctx, err)
	}
	dl, _ := ctx.Deadline() // zero: none
	if err := s.conn.SetReadDeadline(dl); err != nil {
		return fmt.Errorf("iq: read %s: %w", s.addr, err)
	}
	// Cancellation interrupts a blocked Read by moving the deadline into the past.
	if ctx.Done() != nil {
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			s.conn.SetReadDeadline(time.Unix(1, 0))
			close(fired)
		})
		defer func() {
			if !stop() {
				<-fired
			}
		}()
	}
	total := len(dst)
	for len(dst) > 0 {
		n := min(len(dst), chunk)
		b := s.buf[:n*cf32Size]
		copy(b, s.part[:s.npart])
		got, rerr := io.ReadFull(s.conn, b[s.npart:])
		got += s.npart
		whole := got / cf32Size
		getCF32(dst[:whole], b)
		s.npart = copy(s.part[:], b[whole*cf32Size:got])
		if rerr != nil {
			if errors.Is(rerr, os.ErrDeadlineExceeded) {
				// Only ctx sets deadlines: its own (which may fire a moment before ctx's timer) or a
				// past one on cancellation. Either way ctx is done or about to be.
				<-ctx.Done()
			}
			if cerr := ctx.Err(); cerr != nil {
				return s.ctxErr(ctx, cerr)
			}
			if errors.Is(rerr, io.EOF) && (whole > 0 || len(dst) < total) {
				rerr = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("iq: read %s: %w", s.addr, rerr)
		}
		dst = dst[n:]
	}
	return nil
}

func (s *TCPSource) ctxErr(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("iq: read %s: %w (%w)", s.addr, radio.ErrTimeout, context.Cause(ctx))
	}
	return fmt.Errorf("iq: read %s: %w", s.addr, context.Cause(ctx))
}

// Close closes the connection.
func (s *TCPSource) Close() error { return s.conn.Close() }

// ServeTCP serves a raw cf32_le stream on ln to one client at a time, for emulators: for each client
// it calls next for the following samples and writes them, until next returns io.EOF (the client is
// disconnected and the next one gets a fresh stream), another error (returned), or the client goes
// away. It closes ln and returns nil when ctx ends.
func ServeTCP(ctx context.Context, ln net.Listener, next func(ctx context.Context) ([]complex64, error), log *slog.Logger) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("iq: serve %s: accept: %w", ln.Addr(), err)
		}
		log.Info("iq client connected", "listen", ln.Addr().String(), "client", conn.RemoteAddr().String())
		err = serveConn(ctx, conn, next)
		conn.Close()
		if ctx.Err() != nil {
			return nil
		}
		var gone *clientGone
		if errors.As(err, &gone) {
			log.Info("iq client gone", "client", conn.RemoteAddr().String(), "err", gone.err)
			continue
		}
		if err != nil {
			return fmt.Errorf("iq: serve %s: %w", ln.Addr(), err)
		}
		log.Info("iq stream ended", "client", conn.RemoteAddr().String())
	}
}

// clientGone is a write error: the client closed or reset the connection.
type clientGone struct{ err error }

func (e *clientGone) Error() string { return e.err.Error() }

func serveConn(ctx context.Context, conn net.Conn, next func(ctx context.Context) ([]complex64, error)) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	buf := make([]byte, chunk*cf32Size)
	for {
		samples, err := next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for len(samples) > 0 {
			n := min(len(samples), chunk)
			putCF32(buf, samples[:n])
			if _, err := conn.Write(buf[:n*cf32Size]); err != nil {
				return &clientGone{err}
			}
			samples = samples[n:]
		}
	}
}
