package board_test

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cctrack/cctrack/radio/sdr/board"
	"github.com/cctrack/cctrack/radio/sdr/board/conntest"
	"github.com/cctrack/cctrack/radio/sdr/board/emu"
)

var update = flag.Bool("update", false, "record testdata/session.conntest against the emulator on a pty")

const sessionFile = "testdata/session.conntest"

// session is the regression session: every command once, and a NACK.
func session(ctx context.Context, c *board.Client) (board.State, float64, error) {
	if err := c.Trigger(ctx); !errors.Is(err, board.StatusNotArmed) {
		return board.State{}, 0, err
	}
	steps := []func() error{
		func() error { _, err := c.Identify(ctx); return err },
		func() error { return c.SetPhases(ctx, ramp(100, 64, 3)) },
		func() error { return c.SetPhase(ctx, 7, 63) },
		func() error { return c.SetGains(ctx, ramp(100, 16, 1)) },
		func() error {
			return c.LoadBeamTable(ctx, [][]uint16{ramp(100, 64, 1), ramp(100, 64, 2), ramp(100, 64, 5)})
		},
		func() error { return c.SelectBeam(ctx, 1) },
		func() error { return c.ArmSweep(ctx, []uint16{0, 1, 2, 2, 1, 0}, 256) },
		func() error { return c.Trigger(ctx) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return board.State{}, 0, err
		}
	}
	st, err := c.ReadState(ctx)
	if err != nil {
		return board.State{}, 0, err
	}
	temp, err := c.Temperature(ctx)
	return st, temp, err
}

func sessionConfig(dial func(context.Context) (io.ReadWriteCloser, error)) board.Config {
	return board.Config{Name: "bs", Port: "playback", Baud: 115200, Timeout: 100 * time.Millisecond, Retries: 0, Dial: dial}
}

// TestPlayback replays a recorded session (the client through tarm/serial against the emulator on
// a pty; `go test -run TestPlayback -update` records it again) and checks the client sends exactly
// the recorded bytes and reads the same results; a changed or missing call fails the playback.
func TestPlayback(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	if *update {
		b := emu.New(emu.Config{ID: "bs-rec", Elements: 100, PhaseBits: 6, GainBits: 4, Firmware: "emu-1.0", TemperatureC: 24.5})
		path, _ := servePTY(t, b)
		var rec *conntest.Record
		c, err := board.Open(ctx, sessionConfig(func(context.Context) (io.ReadWriteCloser, error) {
			p, err := board.OpenSerial(path, 115200)
			rec = conntest.NewRecord(p)
			return rec, err
		}), log)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := session(ctx, c); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if err := conntest.Save(sessionFile, rec.Exchanges()); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := conntest.Load(sessionFile)
	if err != nil {
		t.Fatal(err)
	}
	play := func() (*board.Client, *conntest.Playback) {
		pb := conntest.NewPlayback(ex)
		c, err := board.Open(ctx, sessionConfig(func(context.Context) (io.ReadWriteCloser, error) { return pb, nil }), log)
		if err != nil {
			t.Fatal(err)
		}
		return c, pb
	}

	c, _ := play()
	st, temp, err := session(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("playback: %v", err)
	}
	if !slices.Equal(st.Phases, ramp(100, 64, 1)) || !slices.Equal(st.Gains, ramp(100, 16, 1)) || st.Beam != 0 || temp != 24.5 {
		t.Fatalf("played back state beam %d, temperature %v differ from the session's", st.Beam, temp)
	}

	// The session's first call only: the recording is not used up.
	c, pb := play()
	if err := c.Trigger(ctx); !errors.Is(err, board.StatusNotArmed) {
		t.Fatal(err)
	}
	if err := pb.Err(); err == nil || !strings.Contains(err.Error(), "not used") {
		t.Fatalf("a short session: %v", err)
	}

	// A different call: the write does not match.
	c, pb = play()
	if err := c.SetPhase(ctx, 0, 1); !errors.Is(err, conntest.ErrMismatch) || !errors.Is(pb.Err(), conntest.ErrMismatch) {
		t.Fatalf("an unexpected call: %v; playback: %v", err, pb.Err())
	}
}
