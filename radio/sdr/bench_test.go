package sdr_test

import (
	"path/filepath"
	"testing"

	"github.com/cctrack/cctrack/radio"
	"github.com/cctrack/cctrack/radio/sdr"
	"github.com/cctrack/cctrack/radio/sdr/iq"
	"github.com/cctrack/cctrack/radio/sdr/psemu"
	"github.com/cctrack/cctrack/radio/sdr/replay"
)

// BenchmarkCapture is one interval over the emulated air: trigger over the pty, the air's burst over
// TCP, correlation into Y (M_B x M_U = 12 x 2 on the 4x4/2x1 test arrays). It measures the host's
// path end to end, the emulator's synthesis included (it shares the machine).
func BenchmarkCapture(b *testing.B) {
	tb := start(b, psemu.Config{Channels: [][]complex128{channel(1)}, Noise: 1e-11, CFO: 1e-4, Seed: 1})
	r := open(b, tb.p)
	ctx := bounded(b)
	if err := r.Program(ctx, setup(b, 12, 2, 1)); err != nil {
		b.Fatal(err)
	}
	var c radio.Capture
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Capture(ctx, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProgram switches the boards between two setups, the regular measurement (12 x 2 beams)
// and the full-overhead reference sweep (16 x 2): beam tables and sweep order over the ptys, as the
// controller does around every reference sweep. ptys are not rate-limited: on a 115200-baud line
// the bytes would take board.WireTime longer.
func BenchmarkProgram(b *testing.B) {
	tb := start(b, psemu.Config{Channels: [][]complex128{channel(1)}, Seed: 1})
	r := open(b, tb.p)
	ctx := bounded(b)
	s := []radio.Setup{setup(b, 12, 2, 1), setup(b, 16, 2, 2)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := r.Program(ctx, s[i%2]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkReplayCapture is one replayed interval: the window read back from the SigMF recording
// and correlated into Y (M_B x M_U = 12 x 2), as `radio.backend: replay` runs offline.
func BenchmarkReplayCapture(b *testing.B) {
	tb := start(b, psemu.Config{Channels: [][]complex128{channel(1)}, Noise: 1e-11, CFO: 1e-4, Seed: 1})
	base := filepath.Join(b.TempDir(), "trial")
	s := setup(b, 12, 2, 1)
	rec, err := sdr.NewRecorder(base, iq.Meta{Datatype: iq.CF32, SampleRate: 1e6}, sdr.SetupDigest(s))
	if err != nil {
		b.Fatal(err)
	}
	p := tb.p
	p.Record = rec.Record
	r := open(b, p)
	ctx := bounded(b)
	if err := r.Program(ctx, s); err != nil {
		b.Fatal(err)
	}
	const captures = 64
	var c radio.Capture
	for range captures {
		if err := r.Capture(ctx, &c); err != nil {
			b.Fatal(err)
		}
	}
	if err := rec.Close(); err != nil {
		b.Fatal(err)
	}
	var rp *replay.Radio
	b.ReportAllocs()
	for i := range b.N {
		if i%captures == 0 {
			// A recording holds 64 captures: open it again (not timed).
			b.StopTimer()
			if rp != nil {
				rp.Park(ctx)
			}
			if rp, err = replay.Open(base+".sigmf-meta", replay.Params{BS: bsArray, UE: ueArray, PhaseShifter: shifter, TxPower: txPower, Noise: 1e-11}); err != nil {
				b.Fatal(err)
			}
			if err := rp.Program(ctx, s); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if err := rp.Capture(ctx, &c); err != nil {
			b.Fatal(err)
		}
	}
	rp.Park(ctx)
}
