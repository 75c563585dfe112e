package board_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cctrack/cctrack/radio/sdr/board"
	"github.com/cctrack/cctrack/radio/sdr/board/emu"
)

// The board disappears in the middle of a run (its device link goes away, the pty hangs up): calls
// fail with ErrDisconnected naming the board and the command, without hanging; once it is back, the
// next call reopens the port and the run goes on with the board's state intact.
func TestReconnect(t *testing.T) {
	b := emu.New(emu.Config{ID: "bs-1", Elements: 16, PhaseBits: 5})
	path, ready := servePTY(t, b)
	c := open(t, "bs", path, 50*time.Millisecond, 1)
	ctx := context.Background()
	const calls, off, on = 60, 20, 40
	var failed int
	for i := range calls {
		switch i {
		case off:
			b.Disconnect()
			waitGone(t, path)
		case on:
			b.Reconnect()
			select {
			case <-ready:
			case <-time.After(10 * time.Second):
				t.Fatal("the emulator did not come back")
			}
		}
		var cmd string
		var err error
		if i%3 == 2 {
			cmd, err = "TRIGGER", c.Trigger(ctx)
			if errors.Is(err, board.StatusNotArmed) {
				err = nil // the board answered: connected
			}
		} else {
			cmd, err = "SET_PHASES", c.SetPhases(ctx, ramp(16, 32, i))
		}
		if i >= off && i < on {
			if !errors.Is(err, board.ErrDisconnected) || !strings.Contains(err.Error(), `board "bs" `+cmd) {
				t.Fatalf("call %d while disconnected: %v", i, err)
			}
			failed++
			continue
		}
		if err != nil {
			t.Fatalf("call %d while connected: %v", i, err)
		}
	}
	if failed != on-off {
		t.Fatalf("%d failed calls, want %d", failed, on-off)
	}
	st, err := c.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Phases, ramp(16, 32, calls-2)) {
		t.Fatalf("phases %v after the run, want the last SetPhases' %v", st.Phases, ramp(16, 32, calls-2))
	}
	// The first call while disconnected fails on the dead port and drops it; each later one tries to
	// reopen it (and fails) until the first call after the board is back.
	if s := c.Stats(); s.Reconnects != on-off {
		t.Fatalf("%d reconnect attempts, want %d", s.Reconnects, on-off)
	}
}

// waitGone waits until the emulator has removed its device link.
func waitGone(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			return
		}
	}
	t.Fatal("the emulator's link did not go away")
}
