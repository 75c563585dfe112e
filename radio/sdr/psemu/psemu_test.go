package psemu

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// The air holds H per coherence interval: triggers closer than half an interval to the previous
// one share it; a later one advances by the whole intervals since the current one began.
func TestCoherence(t *testing.T) {
	chans := make([][]complex128, 5)
	for i := range chans {
		chans[i] = []complex128{complex(float64(i), 0)}
	}
	a := newAir(context.Background(), Config{Channels: chans, Coherence: 100 * time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	for _, c := range []struct {
		at   int // ms
		step int // trajectory index, ping-pong over 5 samples
	}{
		{0, 0}, {3, 0}, {40, 0}, // a reference sweep 40 ms after the previous trigger: same interval
		{100, 1}, {102, 1},
		{300, 3},                     // a trigger 200 ms on: two intervals later
		{400, 4}, {500, 3}, {600, 2}, // back along the trajectory
		// Triggers 49 and 41 ms apart stay; one 50 ms (half an interval) after the previous starts
		// the next interval, 140 ms after the current one began: one step on.
		{649, 2}, {690, 2}, {740, 1},
	} {
		got := real(a.channel(ms(c.at))[0])
		if int(got) != c.step {
			t.Errorf("trigger at %d ms: step %v, want %d", c.at, got, c.step)
		}
	}
}
