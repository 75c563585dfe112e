package board_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/cctrack/cctrack/radio/sdr/board"
	"github.com/cctrack/cctrack/radio/sdr/board/emu"
)

// servePTY runs b on a pty behind a link in a temp dir until the test ends and returns the link.
func servePTY(t testing.TB, b *emu.Board) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	link := filepath.Join(t.TempDir(), "board")
	ready := make(chan string, 16)
	done := make(chan error, 1)
	go func() { done <- b.ServePTY(ctx, link, func(p string) { ready <- p }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServePTY: %v", err)
		}
	})
	select {
	case p := <-ready:
		return p
	case err := <-done:
		t.Fatalf("ServePTY: %v", err)
	}
	return ""
}

func TestSmoke(t *testing.T) {
	b := emu.New(emu.Config{ID: "bs-1", Elements: 100, PhaseBits: 6, GainBits: 4, Firmware: "emu 1"})
	path := servePTY(t, b)
	ctx := context.Background()
	c, err := board.Open(ctx, board.Config{Name: "bs", Port: path, Baud: 115200, Timeout: 200 * time.Millisecond, Retries: 2}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	codes := make([]uint16, 100)
	for i := range codes {
		codes[i] = uint16(i % 64)
	}
	if err := c.SetPhases(ctx, codes); err != nil {
		t.Fatal(err)
	}
	st, err := c.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(st, c.Identity(), c.Stats())
}
