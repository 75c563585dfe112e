package iq

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/cctrack/cctrack/radio"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func counting(i int) complex64 { return complex(float32(i), -float32(i)/2) }

// A client reads the server's stream in chunk sizes unrelated to the server's; when the server's
// stream ends the client sees io.EOF; the next client gets a fresh stream; cancelling the server's
// context stops it cleanly.
func TestTCPAgainstServer(t *testing.T) {
	ln := listen(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	const total = 3*chunk + 5
	served := make(chan error, 1)
	go func() {
		sent := 0
		served <- ServeTCP(ctx, ln, func(ctx context.Context) ([]complex64, error) {
			if sent == total {
				sent = 0 // the next client starts from 0 again
				return nil, io.EOF
			}
			n := min(total-sent, 1000+sent%3333)
			out := make([]complex64, n)
			for i := range out {
				out[i] = counting(sent + i)
			}
			sent += n
			return out, nil
		}, slog.New(slog.DiscardHandler))
	}()
	for client := range 2 {
		src, err := DialTCP(ctx, ln.Addr().String(), 10e6)
		if err != nil {
			t.Fatal(err)
		}
		if src.SampleRate() != 10e6 {
			t.Errorf("rate %g", src.SampleRate())
		}
		got := make([]complex64, total)
		for i := 0; i < total; {
			n := min(total-i, 777+i%5000)
			if err := src.ReadFull(ctx, got[i:i+n]); err != nil {
				t.Fatalf("client %d at %d: %v", client, i, err)
			}
			i += n
		}
		for i, x := range got {
			if x != counting(i) {
				t.Fatalf("client %d: sample %d = %v", client, i, x)
			}
		}
		if err := src.ReadFull(ctx, got[:1]); !errors.Is(err, io.EOF) {
			t.Errorf("client %d: after the end: %v", client, err)
		}
		src.Close()
	}
	stop()
	if err := <-served; err != nil {
		t.Errorf("ServeTCP after cancel: %v", err)
	}
	if _, err := DialTCP(context.Background(), ln.Addr().String(), 1); err == nil {
		t.Error("listener still open after cancel")
	}
}

// A client that goes away does not stop the server; its next client is served.
func TestServeTCPClientGone(t *testing.T) {
	ln := listen(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() {
		served <- ServeTCP(ctx, ln, func(ctx context.Context) ([]complex64, error) {
			return make([]complex64, 4096), nil // an endless stream
		}, slog.New(slog.DiscardHandler))
	}()
	for range 3 {
		src, err := DialTCP(ctx, ln.Addr().String(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := src.ReadFull(ctx, make([]complex64, 10000)); err != nil {
			t.Fatal(err)
		}
		src.Close()
	}
	stop()
	if err := <-served; err != nil {
		t.Errorf("ServeTCP: %v", err)
	}
}

// A read blocked on a silent stream returns when its context is cancelled or its deadline passes
// (the latter wrapping radio.ErrTimeout), and a sample split by the interruption stays aligned.
func TestTCPSourceContext(t *testing.T) {
	ln := listen(t)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	src, err := DialTCP(context.Background(), ln.Addr().String(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	srv := <-accepted
	defer srv.Close()
	var b [4 * cf32Size]byte
	putCF32(b[:], []complex64{counting(0), counting(1), counting(2), counting(3)})

	// Cancel: nothing was sent.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.ReadFull(ctx, make([]complex64, 2)) }()
	time.AfterFunc(20*time.Millisecond, cancel) // most likely while the read blocks
	if err := <-done; !errors.Is(err, context.Canceled) || errors.Is(err, radio.ErrTimeout) {
		t.Errorf("cancelled read: %v", err)
	}

	// Deadline: a sample and a half arrive, then silence.
	if _, err := srv.Write(b[:12]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = src.ReadFull(ctx, make([]complex64, 2))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, radio.ErrTimeout) {
		t.Errorf("read past the deadline: %v", err)
	}
	// Sample 0 was consumed by the failed read; the stream resumes at sample 1, aligned.
	if _, err := srv.Write(b[12:]); err != nil {
		t.Fatal(err)
	}
	got := make([]complex64, 3)
	if err := src.ReadFull(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	if got[0] != counting(1) || got[2] != counting(3) {
		t.Errorf("after the interrupted read: %v", got)
	}
	// A server that closes mid-sample gives io.ErrUnexpectedEOF.
	srv.Write(b[:4])
	srv.Close()
	if err := src.ReadFull(context.Background(), got[:1]); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated stream: %v", err)
	}
}

func TestDialTCPErrors(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()
	if _, err := DialTCP(context.Background(), addr, 1); err == nil {
		t.Error("dial to a closed port succeeded")
	}
	if _, err := DialTCP(context.Background(), addr, 0); err == nil {
		t.Error("zero sample rate accepted")
	}
}

// BenchmarkTCP streams 64 Ki-sample reads over loopback from ServeTCP.
func BenchmarkTCP(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	block := make([]complex64, 1<<16)
	go ServeTCP(ctx, ln, func(ctx context.Context) ([]complex64, error) { return block, nil }, slog.New(slog.DiscardHandler))
	src, err := DialTCP(ctx, ln.Addr().String(), 1)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst := make([]complex64, 1<<16)
	b.SetBytes(int64(len(dst)) * cf32Size)
	b.ReportAllocs()
	for b.Loop() {
		if err := src.ReadFull(ctx, dst); err != nil {
			b.Fatal(err)
		}
	}
}
