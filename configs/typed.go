package configs

import (
	"fmt"
	"log/slog"
	"math"
	"strings"

	"github.com/cctrack/cctrack/sim"
	"github.com/cctrack/cctrack/sim/channel"
	"github.com/cctrack/cctrack/sim/dataset"
	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
	"github.com/cctrack/cctrack/sim/rt"
	"github.com/cctrack/cctrack/sim/scene"
	"github.com/cctrack/cctrack/sim/users"
)

// NewSimulator logs the configuration's warnings and builds the simulator it describes; both
// commands start this way.
func (c Config) NewSimulator(log *slog.Logger) (*sim.Simulator, error) {
	for _, w := range c.Warnings() {
		log.Warn("config "+c.Source, "warning", w)
	}
	p, err := c.SimParams()
	if err != nil {
		return nil, err
	}
	s, err := sim.New(p)
	if err != nil {
		return nil, err
	}
	log.Info("scene ready", "config", c.Source, "scene", s.Scene.Name, "triangles", len(s.Scene.Triangles))
	return s, nil
}

// SimParams converts the configuration into the simulator's typed parameters (SI units, radians).
func (c Config) SimParams() (sim.Params, error) {
	surf := func(key, name string, thickness float64) (material.Surface, error) {
		if name == "" {
			return material.Surface{}, nil
		}
		m, err := material.Lookup(name)
		if err != nil {
			return material.Surface{}, fmt.Errorf("%s: %w", key, err)
		}
		return material.Surface{Material: m, Thickness: thickness}, nil
	}
	var p sim.Params
	var err error
	src := c.Scene.Source
	if !strings.HasPrefix(src, "builtin:") {
		src = c.Resolve(src)
	}
	p.Scene.Source = src
	if p.Scene.Surface, err = surf("scene.material", c.Scene.Material, c.Scene.Thickness); err != nil {
		return p, err
	}
	if p.Scene.Ground, err = surf("scene.ground", c.Scene.Ground, 0); err != nil {
		return p, err
	}
	cy := c.Scene.City
	city := scene.DefaultCityParams()
	city.BlocksX, city.BlocksY, city.BlockSize, city.StreetWidth = cy.BlocksX, cy.BlocksY, cy.BlockSize, cy.StreetWidth
	city.BuildingsPerBlock, city.MinHeight, city.MaxHeight = cy.BuildingsPerBlock, cy.MinHeight, cy.MaxHeight
	for _, s := range []struct {
		dst       *scene.Surface
		key, name string
		thickness float64
	}{
		{&city.Wall, "scene.city.wall", cy.Wall, cy.WallThickness},
		{&city.Roof, "scene.city.roof", cy.Roof, 0},
		{&city.Ground, "scene.city.ground", cy.Ground, 0},
	} {
		ms, err := surf(s.key, s.name, s.thickness)
		if err != nil {
			return p, err
		}
		*s.dst = scene.Surface{Name: strings.TrimPrefix(s.key, "scene.city.") + ":" + s.name, Surface: ms}
	}
	p.Scene.City = city

	p.OFDM = channel.OFDM{Carrier: c.RF.CarrierHz, Bandwidth: c.RF.BandwidthHz, Subcarriers: c.RF.Subcarriers}
	p.Subcarrier = c.RF.Subcarrier
	p.Trace = rt.Options{MaxDepth: c.Tracer.MaxDepth, Diffraction: c.Tracer.Diffraction, Rays: c.Tracer.Rays}
	lambda := material.C / c.RF.CarrierHz
	p.BS = upa(c.BS.Array, lambda, vec(c.BS.Position))
	p.UE = upa(c.UE.Array, lambda, geom.Vec3{})
	return p, nil
}

// DatasetSpec converts the users and trajectories sections.
func (c Config) DatasetSpec() dataset.Spec {
	h := c.Users.Height
	g := c.Users.Grid
	spec := dataset.Spec{
		Grid: users.Grid{Origin: geom.V(g.Origin[0], g.Origin[1], h), Rows: g.Rows, Cols: g.Cols, Spacing: g.Spacing},
		Traj: users.TrajectoryParams{
			Speed: c.Trajectories.SpeedMps, Interval: c.Trajectories.IntervalS,
			Steps: c.Trajectories.Steps, TurnRadius: c.Trajectories.TurnRadius,
		},
		Count:       c.Trajectories.Count,
		Subcarriers: c.RF.Wideband,
		Seed:        c.Trajectories.Seed,
		LatticeStep: c.Trajectories.LatticeStep,
	}
	if r := c.Trajectories.Region; len(r) == 4 {
		spec.RegionLo, spec.RegionHi = geom.V(r[0], r[1], 0), geom.V(r[2], r[3], 0)
	}
	for _, p := range c.Users.Points {
		spec.Points = append(spec.Points, vec(p))
	}
	for _, w := range c.Trajectories.Evaluation {
		spec.Evaluation = append(spec.Evaluation, geom.V(w[0], w[1], h))
	}
	return spec
}

// HeatmapGrid is the grid `sim heatmap` maps: heatmap.grid, or users.grid when it has no rows.
func (c Config) HeatmapGrid() users.Grid {
	g := c.Heatmap.Grid
	if g.Rows == 0 || g.Cols == 0 {
		g = c.Users.Grid
	}
	return users.Grid{Origin: geom.V(g.Origin[0], g.Origin[1], c.Users.Height), Rows: g.Rows, Cols: g.Cols, Spacing: g.Spacing}
}

func upa(a Array, lambda float64, pos geom.Vec3) channel.UPA {
	rad := math.Pi / 180
	return channel.UPA{
		Nh: a.Nh, Nv: a.Nv, Spacing: a.Spacing * lambda, Position: pos,
		Yaw: a.YawDeg * rad, Pitch: a.PitchDeg * rad, Roll: a.RollDeg * rad,
	}
}

// vec converts a validated 3-element slice.
func vec(p []float64) geom.Vec3 { return geom.V(p[0], p[1], p[2]) }
