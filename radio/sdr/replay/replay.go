// Package replay is a radio.Radio that runs a trial recorded by `cctrack record` (a SigMF recording:
// every sweep's captured IQ window, annotated with its schedule, sdr.Schedule) through the pilot
// correlator again, offline. The same recording gives the same Y, and so the same estimates and
// NMSE, on every run.
//
// The recording fixes the sequence of sweeps. Program must name a setup the recording holds (its
// digest, sdr.SetupDigest), and each Capture replays the next recorded sweep, which must have been
// measured with the programmed setup; a sweep that does not match is skipped with an error, so that
// a daemon whose schedule differs from the recorded one fails those intervals instead of scoring the
// wrong data. After the last sweep every Capture fails with an error wrapping io.EOF.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/radio"
	"github.com/cctrack/cctrack/radio/sdr"
	"github.com/cctrack/cctrack/radio/sdr/iq"
	"github.com/cctrack/cctrack/radio/sdr/pilot"
)

// Params describe the testbed the recording was made on (radio.Info); the arrays must match the
// recording's.
type Params struct {
	Scene          string
	BS, UE         radio.Array
	PhaseShifter   beamforming.PhaseShifter
	TxPower, Noise float64
}

// sweep is one recorded window.
type sweep struct {
	iq.Annotation
	sdr.Schedule
}

// Radio replays a recording.
type Radio struct {
	p          Params
	path       string
	rd         *iq.SigMFReader
	sweeps     []sweep
	setups     map[string]bool
	first      string // the first sweep's setup: the regular measurement's
	programmed string
	next       int    // the next sweep to replay
	pos        uint64 // samples read from the recording
	corrs      map[[2]int]*pilot.Correlator
	buf        []complex64
}

var _ radio.Radio = (*Radio)(nil)

// Open reads the recording's metadata (path: its .sigmf-meta) and checks every sweep's schedule.
func Open(path string, p Params) (*Radio, error) {
	rd, err := iq.OpenSigMF(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	r := &Radio{p: p, path: path, rd: rd, setups: map[string]bool{}, corrs: map[[2]int]*pilot.Correlator{}}
	if err := r.load(); err != nil {
		rd.Close()
		return nil, fmt.Errorf("replay: %s: %w", path, err)
	}
	return r, nil
}

func (r *Radio) load() error {
	var end uint64
	for k, a := range r.rd.Annotations() {
		var s sdr.Schedule
		if err := json.Unmarshal(a.Schedule, &s); err != nil {
			return fmt.Errorf("annotations[%d].cctrack:schedule: %w", k, err)
		}
		if s.NB != r.p.BS.N() || s.NU != r.p.UE.N() {
			return fmt.Errorf("annotations[%d]: sweep measured with N_B = %d, N_U = %d; the arrays have %d and %d", k, s.NB, s.NU, r.p.BS.N(), r.p.UE.N())
		}
		f := s.Frame()
		if err := f.Validate(); err != nil {
			return fmt.Errorf("annotations[%d].cctrack:schedule: %w", k, err)
		}
		if a.Start < end || a.Count != uint64(s.Window()) {
			return fmt.Errorf("annotations[%d]: samples %d+%d overlap the previous sweep or are not one window of %d", k, a.Start, a.Count, s.Window())
		}
		end = a.Start + a.Count
		r.sweeps = append(r.sweeps, sweep{a, s})
		r.setups[s.Setup] = true
		if w := s.Window(); w > len(r.buf) {
			r.buf = make([]complex64, w)
		}
		key := [2]int{s.MB, s.MU}
		if r.corrs[key] == nil {
			r.corrs[key] = pilot.NewCorrelator(f)
		}
	}
	if len(r.sweeps) == 0 {
		return errors.New("no annotated sweeps")
	}
	r.first = r.sweeps[0].Setup
	return nil
}

// Sweeps is the number of recorded sweeps.
func (r *Radio) Sweeps() int { return len(r.sweeps) }

// Intervals is the number of sweeps of the regular measurement (the first sweep's setup): the
// intervals a daemon with the recording's schedule runs.
func (r *Radio) Intervals() int {
	n := 0
	for _, s := range r.sweeps {
		if s.Setup == r.first {
			n++
		}
	}
	return n
}

// Info describes the recorded testbed.
func (r *Radio) Info() radio.Info {
	return radio.Info{Backend: "replay", Scene: r.p.Scene, BS: r.p.BS, UE: r.p.UE, PhaseShifter: r.p.PhaseShifter,
		TxPower: r.p.TxPower, Noise: r.p.Noise}
}

// Program selects a setup the recording holds.
func (r *Radio) Program(ctx context.Context, s radio.Setup) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("replay: program: %w", err)
	}
	d := sdr.SetupDigest(s)
	if !r.setups[d] {
		return fmt.Errorf("replay: program: %s holds no sweep with this setup (W %d x %d, F %d x %d, digest %s)",
			r.path, s.W.N, s.W.M, s.F.N, s.F.M, d)
	}
	r.programmed = d
	return nil
}

// Capture correlates the next recorded sweep into c.Y; c.Interval and c.Time are the recorded ones.
func (r *Radio) Capture(ctx context.Context, c *radio.Capture) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("replay: capture: %w", err)
	}
	if r.programmed == "" || r.rd == nil {
		return errors.New("replay: capture before Program or after Park")
	}
	if r.next >= len(r.sweeps) {
		return fmt.Errorf("replay: %s: all %d sweeps replayed: %w", r.path, len(r.sweeps), io.EOF)
	}
	sw := r.sweeps[r.next]
	r.next++
	// Samples between sweeps (none in what `cctrack record` writes) are read and dropped.
	for r.pos < sw.Start {
		n := min(sw.Start-r.pos, uint64(len(r.buf)))
		if err := r.rd.ReadFull(ctx, r.buf[:n]); err != nil {
			return fmt.Errorf("replay: %s: sweep %d: %w", r.path, r.next-1, err)
		}
		r.pos += n
	}
	w := r.buf[:sw.Count]
	if err := r.rd.ReadFull(ctx, w); err != nil {
		return fmt.Errorf("replay: %s: sweep %d: %w", r.path, r.next-1, err)
	}
	r.pos += sw.Count
	if sw.Setup != r.programmed {
		return fmt.Errorf("replay: sweep %d (capture %d) was recorded with setup %s (M_B x M_U = %d x %d), the radio is programmed with %s",
			r.next-1, sw.Capture, sw.Setup, sw.MB, sw.MU, r.programmed)
	}
	c.Y = grow(c.Y, sw.MB*sw.MU)
	if _, err := r.corrs[[2]int{sw.MB, sw.MU}].Estimate(w, c.Y); err != nil {
		return fmt.Errorf("replay: sweep %d (capture %d): %w", r.next-1, sw.Capture, err)
	}
	c.Truth = nil
	c.Interval, c.Time = sw.Capture, sw.Time
	return nil
}

// Park closes the recording.
func (r *Radio) Park(context.Context) error {
	if r.rd == nil {
		return nil
	}
	err := r.rd.Close()
	r.rd = nil
	if err != nil {
		return fmt.Errorf("replay: park: %w", err)
	}
	return nil
}

func grow(s []complex128, n int) []complex128 {
	if cap(s) < n {
		return make([]complex128, n)
	}
	return s[:n]
}
