package dataset

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cctrack/cctrack/internal/npz"
)

// Shard is one shard file read back: its dataset and generating configuration.
type Shard struct {
	Name   string
	Data   *Dataset
	Config string
}

// ReadShard reads a shard written by WriteNPZ; errors name the file and the array.
func ReadShard(path string) (*Shard, error) {
	arrs, err := npz.Open(path)
	if err != nil {
		return nil, err
	}
	get := func(name string, dims int) (npz.Array, error) {
		a, ok := arrs[name]
		if !ok {
			return a, fmt.Errorf("%s: no array %q", path, name)
		}
		if len(a.Shape) != dims {
			return a, fmt.Errorf("%s: %s has %d dimensions, want %d", path, name, len(a.Shape), dims)
		}
		return a, nil
	}
	var h, pos, th, tpos, freq, shard, cfg, eh, epos npz.Array
	for _, f := range []struct {
		a    *npz.Array
		name string
		dims int
	}{{&h, "H", 3}, {&pos, "pos", 2}, {&th, "traj_H", 4}, {&tpos, "traj_pos", 3}, {&freq, "freq_hz", 1}, {&shard, "shard", 1}, {&cfg, "config", 0}} {
		if *f.a, err = get(f.name, f.dims); err != nil {
			return nil, err
		}
	}
	_, hasEval := arrs["eval_H"]
	if hasEval {
		if eh, err = get("eval_H", 4); err != nil {
			return nil, err
		}
		if epos, err = get("eval_pos", 3); err != nil {
			return nil, err
		}
	}
	bad := false
	c64 := func(a npz.Array) []complex64 { v, ok := a.Data.([]complex64); bad = bad || !ok; return v }
	f64 := func(a npz.Array) []float64 { v, ok := a.Data.([]float64); bad = bad || !ok; return v }
	d := &Dataset{
		K: h.Shape[0], NB: h.Shape[1], NU: h.Shape[2], N: th.Shape[0], T: th.Shape[1],
		H: c64(h), Pos: f64(pos), TrajH: c64(th), TrajPos: f64(tpos),
	}
	if hasEval {
		d.EvalH, d.EvalPos = c64(eh), f64(epos)
	}
	fr := f64(freq)
	ids, okIDs := shard.Data.([]int64)
	text, okText := cfg.Data.(string)
	if bad || !okIDs || !okText || len(fr) != 1 || len(ids) != 2 {
		return nil, fmt.Errorf("%s: not a cctrack dataset shard (array types or sizes differ)", path)
	}
	if ids[1] < 2 || ids[0] < 0 || ids[0] >= ids[1] {
		return nil, fmt.Errorf("%s: shard = %v, want (i, n) with 0 <= i < n and n >= 2", path, ids)
	}
	same := func(name string, got []int, want ...int) error {
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s: %s has shape %v, want %v (from H and traj_H)", path, name, got, want)
		}
		return nil
	}
	checks := []error{
		same("pos", pos.Shape, d.K, 3),
		same("traj_H", th.Shape, d.N, d.T, d.NB, d.NU),
		same("traj_pos", tpos.Shape, d.N, d.T, 3),
	}
	if hasEval {
		checks = append(checks, same("eval_H", eh.Shape, 1, d.T, d.NB, d.NU), same("eval_pos", epos.Shape, 1, d.T, 3))
	}
	if sc, ok := arrs["subcarriers"]; ok {
		ks, okK := sc.Data.([]int64)
		var hf, thf, ehf npz.Array
		for _, f := range []struct {
			a    *npz.Array
			name string
			dims int
		}{{&hf, "H_f", 4}, {&thf, "traj_H_f", 5}} {
			if *f.a, err = get(f.name, f.dims); err != nil {
				return nil, err
			}
		}
		if hasEval {
			if ehf, err = get("eval_H_f", 5); err != nil {
				return nil, err
			}
			d.EvalHF = c64(ehf)
			checks = append(checks, same("eval_H_f", ehf.Shape, 1, d.T, len(ks), d.NB, d.NU))
		}
		d.HF, d.TrajHF = c64(hf), c64(thf)
		if !okK || bad {
			return nil, fmt.Errorf("%s: not a cctrack dataset shard (subcarrier array types differ)", path)
		}
		for _, k := range ks {
			d.Subcarriers = append(d.Subcarriers, int(k))
		}
		checks = append(checks, same("H_f", hf.Shape, d.K, len(ks), d.NB, d.NU),
			same("traj_H_f", thf.Shape, d.N, d.T, len(ks), d.NB, d.NU))
	}
	if err := errors.Join(checks...); err != nil {
		return nil, err
	}
	d.FreqHz, d.Shard, d.Shards = fr[0], int(ids[0]), int(ids[1])
	sh := &Shard{Name: path, Data: d, Config: text}
	return sh, nil
}

// Merge concatenates shards 0..n-1 (in any order given) into the whole dataset. Every shard must
// come from the same configuration and appear exactly once.
func Merge(shards []*Shard) (*Dataset, string, error) {
	if len(shards) == 0 {
		return nil, "", fmt.Errorf("merge: no shards")
	}
	n := shards[0].Data.Shards
	if len(shards) != n {
		return nil, "", fmt.Errorf("merge: %d files for %d shards (%s is shard %d/%d)", len(shards), n, shards[0].Name, shards[0].Data.Shard, n)
	}
	byIndex := make([]*Shard, n)
	for _, s := range shards {
		d := s.Data
		if d.Shards != n || d.Shard < 0 || d.Shard >= n {
			return nil, "", fmt.Errorf("merge: %s is shard %d/%d, others are of %d", s.Name, d.Shard, d.Shards, n)
		}
		if byIndex[d.Shard] != nil {
			return nil, "", fmt.Errorf("merge: %s and %s are both shard %d/%d", byIndex[d.Shard].Name, s.Name, d.Shard, n)
		}
		if s.Config != shards[0].Config {
			return nil, "", fmt.Errorf("merge: %s was generated from another configuration than %s", s.Name, shards[0].Name)
		}
		byIndex[d.Shard] = s
	}
	for i, s := range byIndex {
		if s == nil {
			return nil, "", fmt.Errorf("merge: shard %d/%d missing", i, n)
		}
	}
	first := byIndex[0].Data
	out := &Dataset{NB: first.NB, NU: first.NU, T: first.T, FreqHz: first.FreqHz, EvalH: first.EvalH, EvalPos: first.EvalPos,
		Subcarriers: first.Subcarriers, EvalHF: first.EvalHF}
	for _, s := range byIndex {
		d := s.Data
		if d.NB != out.NB || d.NU != out.NU || d.T != out.T || d.FreqHz != out.FreqHz || !slices.Equal(d.Subcarriers, out.Subcarriers) {
			return nil, "", fmt.Errorf("merge: %s has other dimensions than %s", s.Name, byIndex[0].Name)
		}
		out.K += d.K
		out.N += d.N
		out.H = append(out.H, d.H...)
		out.Pos = append(out.Pos, d.Pos...)
		out.TrajH = append(out.TrajH, d.TrajH...)
		out.TrajPos = append(out.TrajPos, d.TrajPos...)
		out.HF = append(out.HF, d.HF...)
		out.TrajHF = append(out.TrajHF, d.TrajHF...)
	}
	return out, byIndex[0].Config, nil
}
