package board_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cctrack/cctrack/radio/sdr/board"
	"github.com/cctrack/cctrack/radio/sdr/board/emu"
)

// BenchmarkSetPhases is one bulk SetPhases (6-bit codes) through tarm/serial and the pty to the
// emulator and back. A pty is not rate-limited: wire-ms is what the same bytes take at a baud rate.
func BenchmarkSetPhases(b *testing.B) {
	for _, n := range []int{100, 400} {
		b.Run(fmt.Sprintf("%delements", n), func(b *testing.B) {
			path, _ := servePTY(b, emu.New(emu.Config{ID: "bs", Elements: n, PhaseBits: 6}))
			c := open(b, "bs", path, time.Second, 0)
			ctx := context.Background()
			codes := ramp(n, 64, 1)
			s0 := c.Stats()
			b.ReportAllocs()
			for b.Loop() {
				if err := c.SetPhases(ctx, codes); err != nil {
					b.Fatal(err)
				}
			}
			reportWire(b, s0, c.Stats())
		})
	}
}

// BenchmarkSweepSetup programs one pilot sweep of the paper's shape, M_B = 24 BS beams and
// M_U·M_B = 96 slots: the beam table (24 beams of 6-bit codes), the sweep order, and the trigger.
// With a fixed codebook only the trigger recurs per interval (BenchmarkTrigger).
func BenchmarkSweepSetup(b *testing.B) {
	const beams, slots = 24, 96
	for _, n := range []int{100, 400} {
		b.Run(fmt.Sprintf("%delements", n), func(b *testing.B) {
			e := emu.New(emu.Config{ID: "bs", Elements: n, PhaseBits: 6})
			path, _ := servePTY(b, e)
			c := open(b, "bs", path, time.Second, 0)
			ctx := context.Background()
			table := make([][]uint16, beams)
			for i := range table {
				table[i] = ramp(n, 64, i+1)
			}
			order := make([]uint16, slots)
			for k := range order {
				order[k] = uint16(k % beams)
			}
			s0 := c.Stats()
			for b.Loop() {
				if err := c.LoadBeamTable(ctx, table); err != nil {
					b.Fatal(err)
				}
				if err := c.ArmSweep(ctx, order, 1024); err != nil {
					b.Fatal(err)
				}
				if err := c.Trigger(ctx); err != nil {
					b.Fatal(err)
				}
			}
			reportWire(b, s0, c.Stats())
		})
	}
}

// BenchmarkTrigger is the per-interval serial traffic once tables and sweep are loaded.
func BenchmarkTrigger(b *testing.B) {
	e := emu.New(emu.Config{ID: "bs", Elements: 4, PhaseBits: 6})
	path, _ := servePTY(b, e)
	c := open(b, "bs", path, time.Second, 0)
	ctx := context.Background()
	if err := c.LoadBeamTable(ctx, [][]uint16{ramp(4, 64, 1)}); err != nil {
		b.Fatal(err)
	}
	if err := c.ArmSweep(ctx, []uint16{0}, 1024); err != nil {
		b.Fatal(err)
	}
	s0 := c.Stats()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Trigger(ctx); err != nil {
			b.Fatal(err)
		}
	}
	reportWire(b, s0, c.Stats())
}

// reportWire reports the bytes each operation moved and their time on an 8N1 line at 115200 and
// 921600 baud.
func reportWire(b *testing.B, s0, s1 board.Stats) {
	n := (s1.BytesOut - s0.BytesOut + s1.BytesIn - s0.BytesIn) / int64(b.N)
	b.ReportMetric(float64(n), "wire-B/op")
	b.ReportMetric(board.WireTime(n, 115200).Seconds()*1e3, "wire-ms@115200/op")
	b.ReportMetric(board.WireTime(n, 921600).Seconds()*1e3, "wire-ms@921600/op")
}
