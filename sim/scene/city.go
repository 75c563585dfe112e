package scene

import (
	"fmt"
	"math/rand/v2"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
)

// CityParams describes the built-in procedural city: a Manhattan grid of BlocksX x BlocksY square
// blocks separated by streets, each block holding a k x k grid (k = BuildingsPerBlock) of box
// buildings with random heights.
//
// Along x (and likewise y) the city is, from -Wx/2 to Wx/2,
//
//	Wx = BlocksX·BlockSize + (BlocksX+1)·StreetWidth
//
// street, block, street, …, block, street: a street runs round the perimeter too, so that every
// building faces streets on all sides. Street i (i = 0…BlocksX) is centred on
//
//	x_i = -Wx/2 + StreetWidth/2 + i·(BlockSize + StreetWidth)
//
// and block i spans [x_i + StreetWidth/2, x_{i+1} - StreetWidth/2]. With an even BlocksX a street is
// centred on x = 0, so the origin is a street corner when both counts are even. Inside a block the
// buildings keep Setback metres from the block edge (the pavement) and Gap metres from each other, so
// each footprint side is
//
//	f = (BlockSize - 2·Setback - (k-1)·Gap) / k.
type CityParams struct {
	BlocksX, BlocksY int     // blocks along x and y
	BlockSize        float64 // side of a square block, m
	StreetWidth      float64 // m, between blocks and round the perimeter
	// BuildingsPerBlock is k: a block holds k x k buildings.
	BuildingsPerBlock int
	Setback           float64 // m from the block edge to the buildings
	Gap               float64 // m between neighbouring buildings of a block
	// MinHeight and MaxHeight bound the building heights, drawn uniformly.
	MinHeight, MaxHeight float64
	// Wall and Roof are the building materials (equal names make one surface).
	Wall, Roof Surface
	// Ground covers the city footprint, perimeter streets included, at z = 0; an empty Ground.Name
	// means no ground.
	Ground Surface
}

// CityBuilding is one box building: footprint [Min.X, Max.X] x [Min.Y, Max.Y], from z = Min.Z = 0 up
// to its roof at Max.Z.
type CityBuilding struct{ Min, Max geom.Vec3 }

// DefaultCityParams is an urban microcell at 3.5 GHz: 4 x 4 blocks of 40 m with 15 m streets (a
// 235 m square city whose centre, the origin, is a street crossing where a base station can sit),
// 2 x 2 buildings per block with 1.5 m setbacks and 3 m gaps (17.75 m footprints), 8–40 m tall, with
// ITU-R P.2040 concrete walls as 0.3 m slabs (the thickness of the InSite reference study), metal roofs
// and wet ground.
func DefaultCityParams() CityParams {
	return CityParams{
		BlocksX: 4, BlocksY: 4,
		BlockSize:         40,
		StreetWidth:       15,
		BuildingsPerBlock: 2,
		Setback:           1.5,
		Gap:               3,
		MinHeight:         8,
		MaxHeight:         40,
		Wall:              Surface{Name: "itu_concrete", Surface: material.Surface{Material: cityITU("concrete"), Thickness: 0.3}},
		Roof:              Surface{Name: "itu_metal", Surface: material.Surface{Material: cityITU("metal")}},
		Ground:            Surface{Name: "itu_wet_ground", Surface: material.Surface{Material: cityITU("wet_ground")}},
	}
}

// cityITU looks up a material of the built-in table by a constant name, so a failure is a programming
// error.
func cityITU(name string) material.ITU {
	m, err := material.Lookup(name)
	if err != nil {
		panic(err)
	}
	return m
}

// Validate reports the first invalid field by name.
func (p CityParams) Validate() error {
	switch {
	case p.BlocksX < 1:
		return fmt.Errorf("city: BlocksX = %d, want >= 1", p.BlocksX)
	case p.BlocksY < 1:
		return fmt.Errorf("city: BlocksY = %d, want >= 1", p.BlocksY)
	case !geom.Finite(p.BlockSize) || p.BlockSize <= 0:
		return fmt.Errorf("city: BlockSize = %g, want > 0", p.BlockSize)
	case !geom.Finite(p.StreetWidth) || p.StreetWidth <= 0:
		return fmt.Errorf("city: StreetWidth = %g, want > 0", p.StreetWidth)
	case p.BuildingsPerBlock < 1:
		return fmt.Errorf("city: BuildingsPerBlock = %d, want >= 1", p.BuildingsPerBlock)
	case !geom.Finite(p.Setback) || p.Setback < 0:
		return fmt.Errorf("city: Setback = %g, want >= 0", p.Setback)
	case !geom.Finite(p.Gap) || p.Gap < 0:
		return fmt.Errorf("city: Gap = %g, want >= 0", p.Gap)
	case p.footprint() <= 0:
		return fmt.Errorf("city: BlockSize %g leaves no room for %d buildings per side with Setback %g and Gap %g",
			p.BlockSize, p.BuildingsPerBlock, p.Setback, p.Gap)
	case !geom.Finite(p.MinHeight) || p.MinHeight <= 0:
		return fmt.Errorf("city: MinHeight = %g, want > 0", p.MinHeight)
	case !geom.Finite(p.MaxHeight) || p.MaxHeight < p.MinHeight:
		return fmt.Errorf("city: MaxHeight = %g, want >= MinHeight (%g)", p.MaxHeight, p.MinHeight)
	case p.Wall.Name == "":
		return fmt.Errorf("city: Wall.Name is empty")
	case p.Roof.Name == "":
		return fmt.Errorf("city: Roof.Name is empty")
	}
	return nil
}

// footprint is the side f of a building footprint (see CityParams).
func (p CityParams) footprint() float64 {
	k := float64(p.BuildingsPerBlock)
	return (p.BlockSize - 2*p.Setback - (k-1)*p.Gap) / k
}

// Size returns the city's extent Wx, Wy (see CityParams); it spans [-Wx/2, Wx/2] x [-Wy/2, Wy/2].
func (p CityParams) Size() (wx, wy float64) {
	return float64(p.BlocksX)*p.BlockSize + float64(p.BlocksX+1)*p.StreetWidth,
		float64(p.BlocksY)*p.BlockSize + float64(p.BlocksY+1)*p.StreetWidth
}

// StreetCentres returns the centre lines of the streets: xs[i] of the BlocksX+1 streets running along
// y, ys[j] of the BlocksY+1 streets running along x, ascending.
func (p CityParams) StreetCentres() (xs, ys []float64) {
	wx, wy := p.Size()
	lines := func(n int, w float64) []float64 {
		out := make([]float64, n+1)
		for i := range out {
			out[i] = -w/2 + p.StreetWidth/2 + float64(i)*(p.BlockSize+p.StreetWidth)
		}
		return out
	}
	return lines(p.BlocksX, wx), lines(p.BlocksY, wy)
}

// Buildings returns the city's buildings for a seed, block by block (x fastest, then y) and inside a
// block row by row; heights are uniform in [MinHeight, MaxHeight] from a PCG stream seeded by seed.
func (p CityParams) Buildings(seed uint64) ([]CityBuilding, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	// The second PCG word is a fixed stream constant: the seed alone selects the city.
	rng := rand.New(rand.NewPCG(seed, 0x63697479))
	xs, ys := p.StreetCentres()
	k, f := p.BuildingsPerBlock, p.footprint()
	out := make([]CityBuilding, 0, p.BlocksX*p.BlocksY*k*k)
	for by := 0; by < p.BlocksY; by++ {
		y0 := ys[by] + p.StreetWidth/2 + p.Setback
		for bx := 0; bx < p.BlocksX; bx++ {
			x0 := xs[bx] + p.StreetWidth/2 + p.Setback
			for r := 0; r < k; r++ {
				for c := 0; c < k; c++ {
					lx := x0 + float64(c)*(f+p.Gap)
					ly := y0 + float64(r)*(f+p.Gap)
					h := p.MinHeight + (p.MaxHeight-p.MinHeight)*rng.Float64()
					out = append(out, CityBuilding{Min: geom.V(lx, ly, 0), Max: geom.V(lx+f, ly+f, h)})
				}
			}
		}
	}
	return out, nil
}

// City builds the procedural city for a seed (same parameters and seed, same scene). Each building is
// a closed box without a floor: 4 walls (surface Wall) and a roof (surface Roof), 8 vertices and 10
// triangles, every triangle wound counter-clockwise seen from outside so that
// (v1-v0) x (v2-v0) is the outward normal. The ground, when asked for, is 2 triangles facing +z over
// the whole footprint. The scene is named "builtin:city:<seed>".
func City(p CityParams, seed uint64) (*Scene, error) {
	bs, err := p.Buildings(seed)
	if err != nil {
		return nil, err
	}
	sc := &Scene{
		Name:        fmt.Sprintf("builtin:city:%d", seed),
		Vertices:    make([]geom.Vec3, 0, 8*len(bs)+4),
		Triangles:   make([][3]int32, 0, 10*len(bs)+2),
		FaceSurface: make([]int32, 0, 10*len(bs)+2),
	}
	wall, roof := sc.AddSurface(p.Wall), sc.AddSurface(p.Roof)
	// Vertices 0–3 go round the bottom counter-clockwise seen from above, 4–7 are the same at the
	// roof; wall i runs from corner i to corner i+1, so its outside is on the right of that edge.
	walls := [][3]int32{{0, 1, 5}, {0, 5, 4}, {1, 2, 6}, {1, 6, 5}, {2, 3, 7}, {2, 7, 6}, {3, 0, 4}, {3, 4, 7}}
	roofs := [][3]int32{{4, 5, 6}, {4, 6, 7}}
	for _, b := range bs {
		x0, y0, x1, y1, h := b.Min.X, b.Min.Y, b.Max.X, b.Max.Y, b.Max.Z
		base := int32(len(sc.Vertices))
		sc.AddMesh([]geom.Vec3{
			{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1},
			{X: x0, Y: y0, Z: h}, {X: x1, Y: y0, Z: h}, {X: x1, Y: y1, Z: h}, {X: x0, Y: y1, Z: h},
		}, walls, wall)
		// The roof shares the wall vertices, so the box is watertight by index, not only by position.
		for _, t := range roofs {
			sc.Triangles = append(sc.Triangles, [3]int32{t[0] + base, t[1] + base, t[2] + base})
			sc.FaceSurface = append(sc.FaceSurface, roof)
		}
	}
	if p.Ground.Name != "" {
		wx, wy := p.Size()
		sc.AddMesh([]geom.Vec3{{X: -wx / 2, Y: -wy / 2}, {X: wx / 2, Y: -wy / 2}, {X: wx / 2, Y: wy / 2}, {X: -wx / 2, Y: wy / 2}},
			[][3]int32{{0, 1, 2}, {0, 2, 3}}, sc.AddSurface(p.Ground))
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("city: %w", err)
	}
	return sc, nil
}
