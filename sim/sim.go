// Package sim turns a scene description into MIMO channels: it loads or generates the scene, traces
// paths from the fixed base station with sim/rt and forms H with sim/channel. One trace from the BS
// serves every user position, since the channel is reciprocal (see sim/channel for the uplink H).
package sim

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cctrack/cctrack/sim/channel"
	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
	"github.com/cctrack/cctrack/sim/rt"
	"github.com/cctrack/cctrack/sim/scene"
	"github.com/cctrack/cctrack/sim/users"
)

// SceneSpec says where a scene comes from.
type SceneSpec struct {
	// Source is "builtin:city[:SEED]", a .xml (Sionna/Mitsuba 3) or a .ply file.
	Source string
	// Surface is what every face of a PLY mesh gets.
	Surface material.Surface
	// Ground, when its material has a name, adds the plane z = 0 (for the built-in city: replaces
	// the city's ground).
	Ground material.Surface
	// City parameterises the built-in city.
	City scene.CityParams
}

// groundMargin is how far the added ground plane extends past the scene's footprint, so that ground
// reflections towards receivers near the edge still find ground.
const groundMargin = 200

// LoadScene builds the scene a spec names.
func LoadScene(spec SceneSpec) (*scene.Scene, error) {
	var (
		sc  *scene.Scene
		err error
	)
	switch {
	case strings.HasPrefix(spec.Source, "builtin:city"):
		seed := uint64(1)
		if rest := strings.TrimPrefix(spec.Source, "builtin:city"); rest != "" {
			s, perr := strconv.ParseUint(strings.TrimPrefix(rest, ":"), 10, 64)
			if perr != nil || !strings.HasPrefix(rest, ":") {
				return nil, fmt.Errorf("scene %q: want builtin:city[:SEED] with an unsigned seed", spec.Source)
			}
			seed = s
		}
		city := spec.City
		if spec.Ground.Material.Name != "" {
			// The city has its own ground; a requested one replaces it rather than lying under it.
			city.Ground = scene.Surface{Name: "ground:" + spec.Ground.Material.Name, Surface: spec.Ground}
			spec.Ground = material.Surface{}
		}
		sc, err = scene.City(city, seed)
	default:
		sc, err = scene.Load(spec.Source, scene.Surface{Name: spec.Surface.Material.Name, Surface: spec.Surface})
	}
	if err != nil {
		return nil, fmt.Errorf("load scene: %w", err)
	}
	if spec.Ground.Material.Name != "" {
		sc.AddGround(scene.Surface{Name: "ground-" + spec.Ground.Material.Name, Surface: spec.Ground}, groundMargin)
	}
	return sc, nil
}

// Params is everything a Simulator needs.
type Params struct {
	Scene  SceneSpec
	Trace  rt.Options
	BS, UE channel.UPA
	OFDM   channel.OFDM
	// Subcarrier is the index whose channel Channels returns.
	Subcarrier int
}

// Simulator traces paths from the BS and forms channels at user positions.
type Simulator struct {
	Params
	Scene  *scene.Scene
	Tracer *rt.Tracer
}

// New loads the scene and builds the tracer.
func New(p Params) (*Simulator, error) {
	if err := p.BS.Validate(); err != nil {
		return nil, fmt.Errorf("bs array: %w", err)
	}
	if err := p.UE.Validate(); err != nil {
		return nil, fmt.Errorf("ue array: %w", err)
	}
	if err := p.OFDM.Validate(); err != nil {
		return nil, fmt.Errorf("ofdm: %w", err)
	}
	sc, err := LoadScene(p.Scene)
	if err != nil {
		return nil, err
	}
	p.Trace.Frequency = p.OFDM.Carrier // path coefficients at the carrier; channels add the subcarrier phase
	tr, err := rt.New(sc, p.Trace)
	if err != nil {
		return nil, fmt.Errorf("build tracer for %s: %w", sc.Name, err)
	}
	return &Simulator{Params: p, Scene: sc, Tracer: tr}, nil
}

// Frequency is the absolute frequency of the configured subcarrier.
func (s *Simulator) Frequency() float64 { return s.OFDM.Carrier + s.OFDM.Offset(s.Subcarrier) }

// Paths traces from the BS to every position.
func (s *Simulator) Paths(ctx context.Context, pos []geom.Vec3, progress func(done int)) ([][]rt.Path, error) {
	paths, err := s.Tracer.Trace(ctx, s.BS.Position, pos, progress)
	if err != nil {
		return nil, fmt.Errorf("trace %d positions in %s: %w", len(pos), s.Scene.Name, err)
	}
	return paths, nil
}

// Channel writes the N_B x N_U channel (row-major) of one position's paths into dst at the
// configured subcarrier; the UE array is moved to pos.
func (s *Simulator) Channel(paths []rt.Path, pos geom.Vec3, dst []complex128) {
	ue := s.UE
	ue.Position = pos
	channel.Matrix(paths, s.BS, ue, s.Frequency(), dst)
}

// ChannelsAt writes the channels of several subcarriers (indices into the OFDM grid) into dst,
// one N_B x N_U row-major matrix per subcarrier, with the UE array moved to pos.
func (s *Simulator) ChannelsAt(paths []rt.Path, pos geom.Vec3, subcarriers []int, dst [][]complex128) {
	ue := s.UE
	ue.Position = pos
	channel.Matrices(paths, s.BS, ue, s.OFDM, subcarriers, dst)
}

// PathGainDB is 10 log10 of the incoherent sum of |a|^2 over paths (NaN when there is none), the
// quantity of a coverage map.
func PathGainDB(paths []rt.Path) float64 {
	var g float64
	for _, p := range paths {
		g += real(p.A)*real(p.A) + imag(p.A)*imag(p.A)
	}
	if g == 0 {
		return math.NaN()
	}
	return 10 * math.Log10(g)
}

// Walkable builds the street network users walk on: lattice points at the given height that are
// outdoors (nothing above them) joined where the straight segment between them is clear. The
// lattice covers the xy box [lo, hi], or the whole city when lo == hi.
func (s *Simulator) Walkable(ctx context.Context, lo, hi geom.Vec3, step, height float64) (*users.Walkable, error) {
	if lo == hi {
		// Pad the buildings' box so that streets round the outside of a city are walkable too,
		// but stay within the scene (whose ground may extend further).
		lo, hi = structureBounds(s.Scene)
		slo, shi := s.Scene.Bounds()
		pad := geom.V(2*step, 2*step, 0)
		lo, hi = geom.Max(slo, lo.Sub(pad)), geom.Min(shi, hi.Add(pad))
	}
	up := geom.V(0, 0, 1)
	outdoor := func(p geom.Vec3) bool {
		_, _, hit := s.Tracer.Hit(p, up, math.Inf(1))
		return !hit
	}
	w, err := users.NewWalkable(ctx, lo, hi, step, height, outdoor, s.Tracer.Visible)
	if err != nil {
		return nil, fmt.Errorf("street network of %s: %w", s.Scene.Name, err)
	}
	return w, nil
}

// structureBounds is the bounding box of everything above the ground (z > 0.5 m), so that walks
// stay among the buildings rather than wandering over the added ground plane's margin.
func structureBounds(sc *scene.Scene) (lo, hi geom.Vec3) {
	lo = geom.V(math.Inf(1), math.Inf(1), math.Inf(1))
	hi = lo.Neg()
	for _, t := range sc.Triangles {
		for _, k := range t {
			if v := sc.Vertices[k]; v.Z > 0.5 {
				lo, hi = geom.Min(lo, v), geom.Max(hi, v)
			}
		}
	}
	if lo.X > hi.X {
		return sc.Bounds()
	}
	return lo, hi
}
