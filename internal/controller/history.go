package controller

import (
	"encoding/json"
	"math"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/radio"
)

// The NMSE history's shape when Config leaves it unset: 300 bins of one second, the last five
// minutes, whatever the interval rate.
const (
	DefaultHistoryBin = time.Second
	DefaultHistoryLen = 300
)

// HealthReporter is a radio that reports its boards' health (temperatures, PLL lock, link errors,
// ...). The controller asks once per history bin, from its own goroutine as the Radio contract
// requires, and serves the answer as Status.Health. Health must not block: it returns what the
// backend last observed, as a fresh map the controller keeps and never modifies.
type HealthReporter interface {
	Health() map[string]any
}

// SetupStatus is what the phase shifters hold: the regular measurement's codes and which setup the
// radio is programmed with now.
type SetupStatus struct {
	// Programmed is "measurement", "reference" (the full-overhead sweep), "parked" or "" (nothing yet).
	Programmed string `json:"programmed"`
	// Bits is the phase shifters' resolution: codes run 0..2^Bits-1, code k is phase 2 pi k / 2^Bits.
	Bits       int        `json:"bits"`
	TxPowerDBm float64    `json:"tx_power_dbm"`
	NoiseDBm   float64    `json:"noise_dbm"`
	BS         ArrayState `json:"bs"`
	UE         ArrayState `json:"ue"`
}

// ArrayState is one array's phase-shifter codes in the regular measurement.
type ArrayState struct {
	Array    string `json:"array"` // Nh x Nv
	Elements int    `json:"elements"`
	Beams    int    `json:"beams"`
	// Codes holds, per beam, the code of every element (element i = v*Nh + h). It is shared by every
	// snapshot: read it, never modify it.
	Codes [][]uint16 `json:"codes"`
}

// setupStatus describes the regular measurement s on the radio info.
func setupStatus(info radio.Info, s radio.Setup) SetupStatus {
	return SetupStatus{
		Bits: info.PhaseShifter.Bits, TxPowerDBm: estimator.DB(info.TxPower) + 30, NoiseDBm: estimator.DB(info.Noise) + 30,
		BS: arrayState(info.BS, s.W), UE: arrayState(info.UE, s.F),
	}
}

// arrayState transposes the N x M codes (element i, beam j at i*M+j) into per-beam rows.
func arrayState(a radio.Array, c beamforming.Codes) ArrayState {
	st := ArrayState{Array: a.String(), Elements: c.N, Beams: c.M, Codes: make([][]uint16, c.M)}
	for j := range st.Codes {
		row := make([]uint16, c.N)
		for i := range row {
			row[i] = c.Code[i*c.M+j]
		}
		st.Codes[j] = row
	}
	return st
}

// HistoryBin is one bin of the NMSE history: the intervals that ended in [Start, Start + bin).
type HistoryBin struct {
	Start     time.Time `json:"start"`
	Intervals int       `json:"intervals"` // failed ones included
	Failed    int       `json:"failed"`
	// NMSEdB is per estimator (Status.Estimators order) 10·log10 of the mean linear NMSE of the bin's
	// scored intervals (estimator.Mean); NaN (JSON null) when none was scored.
	NMSEdB []float64 `json:"nmse_db"`
}

// MarshalJSON writes NaN values (nothing scored in the bin) as null.
func (b HistoryBin) MarshalJSON() ([]byte, error) {
	type plain HistoryBin
	nmse := make([]*float64, len(b.NMSEdB))
	for k, x := range b.NMSEdB {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			nmse[k] = &b.NMSEdB[k]
		}
	}
	return json.Marshal(struct {
		plain
		NMSEdB []*float64 `json:"nmse_db"`
	}{plain(b), nmse})
}

// history is a ring of the last len(bins) non-empty bins of width bin. Bins are aligned to multiples
// of bin since the Unix epoch, so that they line up with a dashboard's windows.
type history struct {
	bin  time.Duration
	bins []histBin // ring; bins[head] is the newest
	head int
	n    int // bins in use
}

type histBin struct {
	start             time.Time
	intervals, failed int
	nmse              []estimator.Mean // per estimator
}

// newHistory allocates every bin up front: adding to it never allocates.
func newHistory(bin time.Duration, n, estimators int) *history {
	if bin <= 0 {
		bin = DefaultHistoryBin
	}
	if n <= 0 {
		n = DefaultHistoryLen
	}
	h := &history{bin: bin, bins: make([]histBin, n), head: n - 1}
	for i := range h.bins {
		h.bins[i].nmse = make([]estimator.Mean, estimators)
	}
	return h
}

// at returns the bin holding time t, starting a new one when t is past the newest. A clock that
// steps backwards lands in the newest bin.
func (h *history) at(t time.Time) *histBin {
	start := t.Truncate(h.bin)
	if h.n > 0 && !start.After(h.bins[h.head].start) {
		return &h.bins[h.head]
	}
	h.head = (h.head + 1) % len(h.bins)
	h.n = min(h.n+1, len(h.bins))
	b := &h.bins[h.head]
	b.start, b.intervals, b.failed = start, 0, 0
	clear(b.nmse)
	return b
}

// snapshot copies the bins, oldest first.
func (h *history) snapshot() []HistoryBin {
	out := make([]HistoryBin, h.n)
	for k := range out {
		b := &h.bins[(h.head-h.n+1+k+len(h.bins))%len(h.bins)]
		db := make([]float64, len(b.nmse))
		for e, m := range b.nmse {
			db[e] = m.DB()
		}
		out[k] = HistoryBin{Start: b.start, Intervals: b.intervals, Failed: b.failed, NMSEdB: db}
	}
	return out
}

// rate is the interval rate (Hz) of the newest complete bin before now: 0 when there is none or it
// is older than one bin (the loop has stalled).
func (h *history) rate(now time.Time) float64 {
	if h.n < 2 {
		return 0
	}
	cur := now.Truncate(h.bin)
	newest := h.bins[h.head]
	prev := h.bins[(h.head-1+len(h.bins))%len(h.bins)]
	switch {
	case newest.start.Before(cur) && !newest.start.Before(cur.Add(-h.bin)):
		return float64(newest.intervals) / h.bin.Seconds()
	case newest.start.Equal(cur) && prev.start.Equal(cur.Add(-h.bin)):
		return float64(prev.intervals) / h.bin.Seconds()
	}
	return 0
}

// setProgrammed records which setup the radio holds.
func (c *Controller) setProgrammed(what string) {
	c.mu.Lock()
	c.status.Setup.Programmed = what
	c.mu.Unlock()
}

// pollHealth asks a HealthReporter radio for its health once per history bin.
func (c *Controller) pollHealth(now time.Time) {
	hr, ok := c.r.(HealthReporter)
	if !ok {
		return
	}
	bin := now.Truncate(c.hist.bin)
	if bin.Equal(c.healthFrom) {
		return
	}
	c.healthFrom = bin
	h := hr.Health()
	c.mu.Lock()
	c.status.Health = h
	c.mu.Unlock()
}
