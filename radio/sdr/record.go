package sdr

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cctrack/cctrack/radio/sdr/iq"
)

// Recorder writes a radio's calls to a SigMF recording (set Params.Record to its Record): one
// annotation per call with its schedule in cctrack:schedule, spanning the captured window of a
// capture (no samples for a program or a capture that read none). `cctrack record` records trials
// with it; radio/sdr/replay plays them back.
type Recorder struct {
	w           *iq.SigMFWriter
	measurement string
	samples     uint64
	sweeps      int
}

// NewRecorder starts the recording base.sigmf-data / base.sigmf-meta. Sweeps programmed with the
// setup whose digest is measurement are labelled "measurement", the others "reference".
func NewRecorder(base string, meta iq.Meta, measurement string) (*Recorder, error) {
	w, err := iq.CreateSigMF(base, meta)
	if err != nil {
		return nil, fmt.Errorf("radio/sdr: record: %w", err)
	}
	return &Recorder{w: w, measurement: measurement}, nil
}

// Record appends one call: its window (if any), annotated with its schedule and the time. Capture
// windows are labelled "measurement" or "reference", programs "program", failed captures without a
// window "failed".
func (r *Recorder) Record(e Event) error {
	label := e.Event
	if e.Event == EventCapture {
		switch {
		case e.Samples == nil:
			label = "failed"
		case e.Setup == r.measurement:
			label = "measurement"
		default:
			label = "reference"
		}
	}
	sched, err := json.Marshal(e.Schedule)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	if err := r.w.Write(e.Samples); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	if err := r.w.Annotate(iq.Annotation{Start: r.samples, Count: uint64(len(e.Samples)), Label: label, Time: time.Now().UTC(), Schedule: sched}); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	r.samples += uint64(len(e.Samples))
	if e.Event == EventCapture && e.Samples != nil {
		r.sweeps++
	}
	return nil
}

// Sweeps and Samples count what was recorded.
func (r *Recorder) Sweeps() int     { return r.sweeps }
func (r *Recorder) Samples() uint64 { return r.samples }

// Close writes the metadata; the recording is complete only then.
func (r *Recorder) Close() error {
	if err := r.w.Close(); err != nil {
		return fmt.Errorf("radio/sdr: record: %w", err)
	}
	return nil
}
