package board_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cctrack/cctrack/radio/sdr/board"
	"github.com/cctrack/cctrack/radio/sdr/board/emu"
)

// A 4-element board emulated on a pty, programmed through the serial port: a beam table of two
// beams, a four-slot sweep, one trigger.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	dir, err := os.MkdirTemp("", "board")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	dev := emu.New(emu.Config{ID: "ue-7", Elements: 4, PhaseBits: 2, Firmware: "emu"})
	dev.OnTrigger(func(s emu.Sweep) { fmt.Println("swept beams", s.Beams) })
	ready := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- dev.ServePTY(ctx, filepath.Join(dir, "ttyUE"), func(p string) { ready <- p }) }()
	defer func() { cancel(); <-served }()

	c, err := board.Open(ctx, board.Config{Name: "ue", Port: <-ready, Baud: 921600, Timeout: 200 * time.Millisecond, Retries: 3}, slog.New(slog.DiscardHandler))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	id := c.Identity()
	fmt.Printf("%s: %d elements, %d-bit phases\n", id.ID, id.Elements, id.PhaseBits)
	if err := c.LoadBeamTable(ctx, [][]uint16{{0, 0, 0, 0}, {0, 1, 2, 3}}); err != nil {
		log.Fatal(err)
	}
	if err := c.ArmSweep(ctx, []uint16{0, 1, 1, 0}, 512); err != nil {
		log.Fatal(err)
	}
	if err := c.Trigger(ctx); err != nil {
		log.Fatal(err)
	}
	st, err := c.ReadState(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("beam", st.Beam, "phases", st.Phases)
	// Output:
	// ue-7: 4 elements, 2-bit phases
	// swept beams [0 1 1 0]
	// beam 0 phases [0 0 0 0]
}
