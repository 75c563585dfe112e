// Package replay is a radio.Radio that plays back a trial recorded by `cctrack record`: a SigMF
// recording with one annotation per Program and Capture call of the SDR backend (sdr.Recorder), each
// with its schedule and outcome (sdr.Schedule) and, for a capture, the IQ window it read. Captured
// windows go through the pilot correlator again, offline, so the same recording gives the same Y —
// and the same estimates and NMSE — on every run.
//
// The recording fixes the sequence of calls and their outcomes. Program must come where the recording
// has a program, with the same setup (sdr.SetupDigest), and returns the recorded error; Capture must
// come where it has a capture, measured with the programmed setup, and replays the window or the
// recorded failure. A daemon with the recorded configuration thus makes the very calls it made live
// (the controller's schedule depends only on the outcomes), failed intervals included. A call out of
// order fails and consumes the recorded event, so a differing schedule fails intervals instead of
// scoring the wrong data. After the last event every call fails with an error wrapping io.EOF.
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

// event is one recorded call.
type event struct {
	iq.Annotation
	sdr.Schedule
}

// Radio replays a recording.
type Radio struct {
	p          Params
	path       string
	rd         *iq.SigMFReader
	events     []event
	first      string // the first event's setup: the regular measurement's
	programmed string
	next       int // the next event to replay
	corrs      map[[2]int]*pilot.Correlator
	buf        []complex64
}

var _ radio.Radio = (*Radio)(nil)

// Open reads the recording's metadata (path: its .sigmf-meta) and checks every event.
func Open(path string, p Params) (*Radio, error) {
	rd, err := iq.OpenSigMF(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	r := &Radio{p: p, path: path, rd: rd, corrs: map[[2]int]*pilot.Correlator{}}
	if err := r.load(); err != nil {
		rd.Close()
		return nil, fmt.Errorf("replay: %s: %w", path, err)
	}
	return r, nil
}

func (r *Radio) load() error {
	for k, a := range r.rd.Annotations() {
		var s sdr.Schedule
		if err := json.Unmarshal(a.Schedule, &s); err != nil {
			return fmt.Errorf("annotations[%d].cctrack:schedule: %w", k, err)
		}
		switch {
		case s.Seq != k:
			return fmt.Errorf("annotations[%d]: event %d out of order", k, s.Seq)
		case s.NB != r.p.BS.N() || s.NU != r.p.UE.N():
			return fmt.Errorf("annotations[%d]: recorded with N_B = %d, N_U = %d; the arrays have %d and %d", k, s.NB, s.NU, r.p.BS.N(), r.p.UE.N())
		case s.Event != sdr.EventProgram && s.Event != sdr.EventCapture:
			return fmt.Errorf("annotations[%d]: unknown event %q", k, s.Event)
		}
		if s.Event == sdr.EventCapture && a.Count > 0 {
			f := s.Frame()
			if err := f.Validate(); err != nil {
				return fmt.Errorf("annotations[%d].cctrack:schedule: %w", k, err)
			}
			if a.Count != uint64(s.Window()) {
				return fmt.Errorf("annotations[%d]: %d samples, not one window of %d", k, a.Count, s.Window())
			}
			if w := s.Window(); w > len(r.buf) {
				r.buf = make([]complex64, w)
			}
			if key := [2]int{s.MB, s.MU}; r.corrs[key] == nil {
				r.corrs[key] = pilot.NewCorrelator(f)
			}
		}
		r.events = append(r.events, event{a, s})
	}
	if len(r.events) == 0 {
		return errors.New("no recorded calls")
	}
	r.first = r.events[0].Setup
	return nil
}

// Events is the number of recorded calls.
func (r *Radio) Events() int { return len(r.events) }

// Intervals is the number of intervals the recording holds: those that captured the regular
// measurement (the first event's setup), successfully or not, and those whose programming of it
// failed.
func (r *Radio) Intervals() int {
	n := 0
	for _, e := range r.events {
		if e.Setup == r.first && (e.Event == sdr.EventCapture || e.Error != "") {
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

// take consumes the next event, which must be of kind.
func (r *Radio) take(ctx context.Context, kind string) (event, error) {
	if err := ctx.Err(); err != nil {
		return event{}, err
	}
	if r.rd == nil {
		return event{}, errors.New("parked")
	}
	if r.next >= len(r.events) {
		return event{}, fmt.Errorf("%s: all %d recorded calls replayed: %w", r.path, len(r.events), io.EOF)
	}
	e := r.events[r.next]
	r.next++
	if e.Event != kind {
		return e, fmt.Errorf("%s: event %d is a %s, not a %s: the schedule differs from the recorded one", r.path, e.Seq, e.Event, kind)
	}
	return e, nil
}

// Program replays the next recorded program, which must have the same setup.
func (r *Radio) Program(ctx context.Context, s radio.Setup) error {
	e, err := r.take(ctx, sdr.EventProgram)
	if err != nil {
		return fmt.Errorf("replay: program: %w", err)
	}
	if d := sdr.SetupDigest(s); d != e.Setup {
		return fmt.Errorf("replay: program: event %d programmed setup %s (M_B x M_U = %d x %d), not this one (%s, %d x %d)",
			e.Seq, e.Setup, e.MB, e.MU, d, s.W.M, s.F.M)
	}
	r.programmed = e.Setup
	if e.Error != "" {
		r.programmed = ""
		return fmt.Errorf("replay: program: recorded failure: %s", e.Error)
	}
	return nil
}

// Capture replays the next recorded capture: its window through the correlator into c.Y, or its
// failure. c.Interval and c.Time are the recorded ones.
func (r *Radio) Capture(ctx context.Context, c *radio.Capture) error {
	e, err := r.take(ctx, sdr.EventCapture)
	if err != nil {
		return fmt.Errorf("replay: capture: %w", err)
	}
	if e.Setup != r.programmed {
		return fmt.Errorf("replay: capture: event %d was captured with setup %s, the radio is programmed with %q", e.Seq, e.Setup, r.programmed)
	}
	if e.Count == 0 {
		return fmt.Errorf("replay: capture: recorded failure: %s", e.Error)
	}
	w := r.buf[:e.Count]
	if err := r.rd.ReadAt(w, e.Start); err != nil {
		return fmt.Errorf("replay: capture: event %d: %w", e.Seq, err)
	}
	c.Y = grow(c.Y, e.MB*e.MU)
	if _, err := r.corrs[[2]int{e.MB, e.MU}].Estimate(w, c.Y); err != nil {
		return fmt.Errorf("replay: capture: event %d: %w", e.Seq, err)
	}
	c.Truth = nil
	c.Interval, c.Time = e.Capture, e.Time
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
