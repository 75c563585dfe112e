package emu

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/cctrack/cctrack/radio/sdr/board"
)

// host is the test's side of a net.Pipe to a serving board, at the frame level.
type host struct {
	t    *testing.T
	conn net.Conn
	buf  []byte
}

func serve(t *testing.T, b *Board) *host {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hc, bc := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx, bc) }()
	t.Cleanup(func() {
		cancel()
		hc.Close()
		bc.Close()
		<-done
	})
	return &host{t: t, conn: hc}
}

func (h *host) send(raw []byte) {
	h.t.Helper()
	if _, err := h.conn.Write(raw); err != nil {
		h.t.Fatal(err)
	}
}

// answer reads the next frame (the pipe delivers promptly; 5 s only catches a hang).
func (h *host) answer() board.Frame {
	h.t.Helper()
	h.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	tmp := make([]byte, 256)
	for {
		if f, n, err := board.DecodeFrame(h.buf); err == nil {
			f.Payload = bytes.Clone(f.Payload)
			h.buf = h.buf[n:]
			return f
		}
		n, err := h.conn.Read(tmp)
		if err != nil {
			h.t.Fatal(err)
		}
		h.buf = append(h.buf, tmp[:n]...)
	}
}

func frame(seq, cmd uint8, payload ...byte) []byte {
	return board.AppendFrame(nil, board.Frame{Seq: seq, Cmd: cmd, Payload: payload})
}

// A retransmission (same seq, same bytes) gets the cached answer without running again; seq 0 and
// a new seq run.
func TestRetransmissionIdempotent(t *testing.T) {
	b := New(Config{ID: "x", Elements: 2, PhaseBits: 2})
	fired := 0
	b.OnTrigger(func(Sweep) { fired++ })
	h := serve(t, b)
	h.send(frame(1, board.CmdLoadBeam, 0, 0, 0, 0, 2, 0, 0x0E))
	if a := h.answer(); a.Payload[0] != 0 {
		t.Fatalf("LOAD_BEAM: %v", board.Status(a.Payload[0]))
	}
	h.send(frame(2, board.CmdArmSweep, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0))
	if a := h.answer(); a.Payload[0] != 0 {
		t.Fatalf("ARM_SWEEP: %v", board.Status(a.Payload[0]))
	}
	for _, seq := range []uint8{3, 3, 3, 4, 0, 0} {
		h.send(frame(seq, board.CmdTrigger))
		if a := h.answer(); a.Seq != seq || a.Cmd != board.CmdTrigger|board.RespFlag || a.Payload[0] != 0 {
			t.Fatalf("TRIGGER seq %d: answer %+v", seq, a)
		}
	}
	if fired != 4 {
		t.Fatalf("%d sweeps for triggers with seqs 3,3,3,4,0,0, want 4 (3 once, 4, 0 twice)", fired)
	}
	if ph, _, beam := b.State(); ph[0] != 2 || ph[1] != 3 || beam != 0 {
		t.Fatalf("after the sweep: phases %v beam %d", ph, beam)
	}
}

// Garbage between frames is skipped, a bad CRC gets a StatusBadCRC NACK, and malformed requests get
// their NACKs.
func TestMalformed(t *testing.T) {
	b := New(Config{ID: "x", Elements: 2, PhaseBits: 2})
	h := serve(t, b)
	bad := frame(5, board.CmdSetPhase, 0, 0, 1, 0)
	bad[len(bad)-1] ^= 0xFF
	h.send(append([]byte{0x00, board.Sync0, 0x13}, bad...))
	if a := h.answer(); a.Seq != 5 || board.Status(a.Payload[0]) != board.StatusBadCRC {
		t.Fatalf("bad CRC: answer %+v", a)
	}
	for _, tc := range []struct {
		raw  []byte
		want board.Status
	}{
		{frame(6, 0x7E), board.StatusUnknownCmd},
		{frame(7, board.CmdSetPhase, 0, 0), board.StatusBadLength},
		{frame(8, board.CmdSetPhase, 2, 0, 0, 0), board.StatusBadArg},
		{frame(9, board.CmdSetPhase, 0, 0, 4, 0), board.StatusBadArg},
		{frame(10, board.CmdSetPhases, 0, 0, 3, 0, 0), board.StatusBadArg},
		{frame(11, board.CmdSetPhases, 0, 0, 2, 0), board.StatusBadLength},
		{frame(12, board.CmdSetGains, 0, 0, 2, 0, 0), board.StatusUnknownCmd},
		{frame(13, board.CmdTrigger), board.StatusNotArmed},
		{frame(14, board.CmdArmSweep, 1, 0, 0, 0, 2, 0, 1, 0, 1, 0, 0, 0), board.StatusBadArg},
		{frame(15, board.CmdSetPhases, 0, 0, 2, 0, 0x0D), board.StatusOK},
	} {
		h.send(tc.raw)
		if a := h.answer(); board.Status(a.Payload[0]) != tc.want {
			t.Errorf("% x: %v, want %v", tc.raw, board.Status(a.Payload[0]), tc.want)
		}
	}
	if ph, _, _ := b.State(); ph[0] != 1 || ph[1] != 3 {
		t.Fatalf("phases %v, want [1 3]", ph)
	}
	// A flipped length bit makes a frame look longer than it is; after the frame gap the board
	// drops it and finds the next frame (without the gap it would take the next frame's bytes as
	// the damaged one's payload).
	long := frame(16, board.CmdSetPhase, 1, 0, 0, 0)
	long[5] = 0x01 // length 256 + 4
	h.send(long)
	time.Sleep(2 * board.FrameGap)
	h.send(frame(17, board.CmdSetPhase, 1, 0, 2, 0))
	if a := h.answer(); a.Seq != 17 || a.Payload[0] != 0 {
		t.Fatalf("the frame after a stalled one: answer %+v", a)
	}
	if ph, _, _ := b.State(); ph[1] != 2 {
		t.Fatalf("phases %v, want element 1 at 2", ph)
	}
}

// Serve returns ErrDisconnected on Disconnect and refuses to serve until Reconnect.
func TestDisconnect(t *testing.T) {
	b := New(Config{ID: "x", Elements: 1, PhaseBits: 1})
	hc, bc := net.Pipe()
	defer hc.Close()
	defer bc.Close()
	done := make(chan error, 1)
	go func() { done <- b.Serve(context.Background(), bc) }()
	b.Disconnect()
	if err := <-done; err != ErrDisconnected {
		t.Fatalf("Serve after Disconnect: %v", err)
	}
	if err := b.Serve(context.Background(), struct{ io.ReadWriter }{}); err != ErrDisconnected {
		t.Fatalf("Serve while disconnected: %v", err)
	}
	b.Reconnect()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Serve(ctx, bc); err != context.Canceled {
		t.Fatalf("Serve after Reconnect with a cancelled context: %v", err)
	}
}
