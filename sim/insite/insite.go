// Package insite reads Wireless InSite ray-tracing output — the per-path CSV export and the .p2m
// receiver files of the Chicago study in ../shared/data/insite-chicago-3p5ghz — so that cctrack's
// tracer can be validated against it.
package insite

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/cctrack/cctrack/sim/geom"
)

// Path is one InSite path. Angles are InSite's, in degrees: theta from +z, phi from +x towards +y,
// departure at the transmitter and arrival at the receiver (pointing back towards the source).
type Path struct {
	BS                                 int
	RxID                               int
	Rx, Tx                             geom.Vec3
	Index                              int
	Desc                               string // e.g. "Tx-R-R-Rx"
	PowerDBm                           float64
	PhaseDeg                           float64
	ToA                                float64 // seconds
	AoATheta, AoAPhi, AoDTheta, AoDPhi float64
	Points                             []geom.Vec3 // interaction points, transmitter and receiver excluded
}

// Reflections is the number of 'R' interactions, or -1 when the path has others.
func (p Path) Reflections() int {
	n := 0
	for _, s := range strings.Split(p.Desc, "-") {
		switch s {
		case "Tx", "Rx":
		case "R":
			n++
		default:
			return -1
		}
	}
	return n
}

var csvColumns = []string{"bs", "rx_id", "rx_x", "rx_y", "rx_z", "tx_x", "tx_y", "tx_z", "path_idx", "n_inter",
	"desc", "power_dBm", "phase_deg", "toa_s", "aoa_theta_deg", "aoa_phi_deg", "aod_theta_deg", "aod_phi_deg",
	"interaction_points_xyz"}

// ReadPathsCSV reads paths.csv (columns as in its header, interaction points as "x:y:z" separated by
// spaces). Errors name the file and line.
func ReadPathsCSV(path string) ([]Path, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.FieldsPerRecord = len(csvColumns)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	for i, c := range csvColumns {
		if head[i] != c {
			return nil, fmt.Errorf("%s: line 1: column %d is %q, want %q", path, i+1, head[i], c)
		}
	}
	var out []Path
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		p, err := parseRow(rec)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", path, line, err)
		}
		out = append(out, p)
	}
}

func parseRow(rec []string) (Path, error) {
	var nums [18]float64
	for i := 0; i < 18; i++ {
		if i == 10 {
			continue
		}
		x, err := strconv.ParseFloat(rec[i], 64)
		if err != nil {
			return Path{}, fmt.Errorf("column %s: %w", csvColumns[i], err)
		}
		nums[i] = x
	}
	p := Path{
		BS: int(nums[0]), RxID: int(nums[1]),
		Rx: geom.V(nums[2], nums[3], nums[4]), Tx: geom.V(nums[5], nums[6], nums[7]),
		Index: int(nums[8]), Desc: rec[10], PowerDBm: nums[11], PhaseDeg: nums[12], ToA: nums[13],
		AoATheta: nums[14], AoAPhi: nums[15], AoDTheta: nums[16], AoDPhi: nums[17],
	}
	for _, tok := range strings.FieldsFunc(rec[18], func(r rune) bool { return r == ' ' || r == ';' }) {
		xyz := strings.Split(tok, ":")
		if len(xyz) != 3 {
			return Path{}, fmt.Errorf("interaction point %q: want x:y:z", tok)
		}
		var v [3]float64
		for k := range xyz {
			x, err := strconv.ParseFloat(xyz[k], 64)
			if err != nil {
				return Path{}, fmt.Errorf("interaction point %q: %w", tok, err)
			}
			v[k] = x
		}
		p.Points = append(p.Points, geom.V(v[0], v[1], v[2]))
	}
	if len(p.Points) != int(nums[9]) {
		return Path{}, fmt.Errorf("n_inter %d but %d interaction points", int(nums[9]), len(p.Points))
	}
	return p, nil
}

// Receiver is one point of an InSite receiver set with its total path gain (NaN-free: InSite
// writes -250 dB for "no path").
type Receiver struct {
	ID         int
	Pos        geom.Vec3
	Distance   float64
	PathGainDB float64
}

// ReadPathGain reads an InSite .pg.*.p2m file: "# ..." comments, then "id x y z distance gain_dB" lines.
func ReadPathGain(path string) ([]Receiver, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var out []Receiver
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		fs := strings.Fields(t)
		if len(fs) != 6 {
			return nil, fmt.Errorf("%s: line %d: want 6 fields, got %d", path, line, len(fs))
		}
		var v [6]float64
		for i, s := range fs {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: line %d: field %d: %w", path, line, i+1, err)
			}
			v[i] = x
		}
		out = append(out, Receiver{ID: int(v[0]), Pos: geom.V(v[1], v[2], v[3]), Distance: v[4], PathGainDB: v[5]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
