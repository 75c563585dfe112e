package scene

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
)

// defaultThickness is the slab thickness Sionna gives a radio material that states none (metres).
const defaultThickness = 0.1

// xmlMaxDepth bounds element nesting; Mitsuba scenes nest four deep (scene/sensor/transform/rotate).
const xmlMaxDepth = 32

// LoadXML reads a Sionna / Mitsuba 3 scene file. Mesh filenames are relative to the XML file's
// directory. See ReadXML for what is understood.
func LoadXML(path string) (*Scene, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load XML scene: %w", err)
	}
	defer f.Close()
	return ReadXML(f, path, os.DirFS(filepath.Dir(path)))
}

// ReadXML reads a Mitsuba 3 scene as Sionna RT writes it. name is used in errors and as the scene's
// name; mesh filenames are opened in fsys (the directory of the XML file), and must stay inside it.
//
// Materials (<bsdf>, Surface.Name = its id) come in three spellings:
//   - type="itu-radio-material": <string name="type"> names an ITU-R P.2040 material (material.Lookup),
//     <float name="thickness"> defaults to 0.1 m;
//   - type="radio-material": constant <float name="relative_permittivity"> (default 1) and
//     <float name="conductivity"> in S/m (default 0), thickness as above;
//   - any other type (the legacy Blender export, e.g. "twosided"): the id must be "mat-itu_<name>" or
//     "itu_<name>" with an ITU name; thickness 0.1 m.
//
// Shapes must be type="ply", with a filename, exactly one material (<ref name="bsdf"> or a nested
// <bsdf>, which is named after its id or else the shape's id), and optionally face_normals and
// flip_tex_coords (ignored), flip_normals (reverses the winding) and a to_world <transform> of
// translate, scale, rotate and matrix steps. Sensors, integrators, emitters and the like are ignored;
// anything else, including any other shape type, is an error rather than silently missing geometry.
func ReadXML(r io.Reader, name string, fsys fs.FS) (*Scene, error) {
	root, err := parseXMLTree(r, name)
	if err != nil {
		return nil, err
	}
	l := &xmlLoader{name: name, fsys: fsys, bsdfs: map[string]Surface{}, surf: map[string]int32{},
		sc: &Scene{Name: name}}
	if root.tag != "scene" {
		return nil, l.errf(root, "root element is <%s>, want <scene>", root.tag)
	}
	// Materials first: Mitsuba resolves references after parsing, so a shape may precede its bsdf.
	var shapes []*xmlNode
	for _, n := range root.children {
		switch n.tag {
		case "bsdf":
			id := n.attr("id")
			if id == "" {
				return nil, l.errf(n, "top-level <bsdf> has no id")
			}
			if _, dup := l.bsdfs[id]; dup {
				return nil, l.errf(n, "bsdf id %q defined twice", id)
			}
			s, err := l.bsdf(n, id)
			if err != nil {
				return nil, err
			}
			l.bsdfs[id] = s
		case "shape":
			shapes = append(shapes, n)
		case "default", "sensor", "integrator", "emitter", "texture", "medium", "film", "sampler", "rfilter":
			// No effect on geometry or radio materials.
		default:
			return nil, l.errf(n, "unsupported element <%s>", n.tag)
		}
	}
	for _, n := range shapes {
		if err := l.shape(n); err != nil {
			return nil, err
		}
	}
	if err := l.sc.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return l.sc, nil
}

// xmlNode is an element of the parsed document; line is where its start tag ends.
type xmlNode struct {
	tag      string
	attrs    []xml.Attr
	children []*xmlNode
	line     int
}

func (n *xmlNode) attr(key string) string {
	v, _ := n.lookup(key)
	return v
}

func (n *xmlNode) lookup(key string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Local == key {
			return a.Value, true
		}
	}
	return "", false
}

// parseXMLTree reads the whole document into a tree, keeping line numbers.
func parseXMLTree(r io.Reader, name string) (*xmlNode, error) {
	d := xml.NewDecoder(r)
	var root *xmlNode
	var stack []*xmlNode
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			line, _ := d.InputPos()
			if len(stack) >= xmlMaxDepth {
				return nil, fmt.Errorf("%s: line %d: elements nested deeper than %d", name, line, xmlMaxDepth)
			}
			n := &xmlNode{tag: t.Name.Local, attrs: t.Attr, line: line}
			if len(stack) == 0 {
				if root != nil {
					return nil, fmt.Errorf("%s: line %d: second root element <%s>", name, line, n.tag)
				}
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			// The decoder has checked that it matches the open element.
			stack = stack[:len(stack)-1]
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%s: no XML element", name)
	}
	return root, nil
}

type xmlLoader struct {
	name  string
	fsys  fs.FS
	bsdfs map[string]Surface // top-level materials by id
	surf  map[string]int32   // index in sc.Surfaces by name
	sc    *Scene
}

// errf formats an error at n's line; %w wraps as in fmt.Errorf.
func (l *xmlLoader) errf(n *xmlNode, format string, args ...any) error {
	return fmt.Errorf("%s: line %d: "+format, append([]any{l.name, n.line}, args...)...)
}

// bsdf reads a material; name is its id, or for an anonymous nested bsdf the name to give it.
func (l *xmlLoader) bsdf(n *xmlNode, name string) (Surface, error) {
	typ := n.attr("type")
	thickness, err := l.floatParam(n, "thickness", defaultThickness)
	if err != nil {
		return Surface{}, err
	}
	if thickness < 0 {
		return Surface{}, l.errf(n, "bsdf %q: negative thickness %g", name, thickness)
	}
	s := Surface{Name: name}
	s.Thickness = thickness
	switch typ {
	case "itu-radio-material":
		itu, ok := l.param(n, "string", "type")
		if !ok {
			return Surface{}, l.errf(n, "bsdf %q: itu-radio-material without <string name=\"type\">", name)
		}
		m, err := material.Lookup(itu.attr("value"))
		if err != nil {
			return Surface{}, l.errf(itu, "bsdf %q: %w", name, err)
		}
		s.Material = m
	case "radio-material":
		eps, err := l.floatParam(n, "relative_permittivity", 1)
		if err != nil {
			return Surface{}, err
		}
		sigma, err := l.floatParam(n, "conductivity", 0)
		if err != nil {
			return Surface{}, err
		}
		if eps < 1 || sigma < 0 {
			return Surface{}, l.errf(n, "bsdf %q: relative_permittivity %g must be >= 1 and conductivity %g >= 0", name, eps, sigma)
		}
		s.Material = material.Constant(name, eps, sigma)
	default:
		// Legacy Sionna scenes carry the radio material only in the id of a visual bsdf.
		itu, ok := strings.CutPrefix(strings.TrimPrefix(name, "mat-"), "itu_")
		if !ok {
			return Surface{}, l.errf(n, "bsdf %q (type %q) is not a radio material: want type \"itu-radio-material\" or \"radio-material\", or an id \"mat-itu_<material>\"", name, typ)
		}
		m, err := material.Lookup(itu)
		if err != nil {
			return Surface{}, l.errf(n, "bsdf %q: %w", name, err)
		}
		s.Material = m
	}
	return s, nil
}

// param returns the direct child <kind name="key" ...> of n.
func (l *xmlLoader) param(n *xmlNode, kind, key string) (*xmlNode, bool) {
	for _, c := range n.children {
		if c.tag == kind && c.attr("name") == key {
			return c, true
		}
	}
	return nil, false
}

// floatParam returns the value of n's <float name="key">, or def when there is none.
func (l *xmlLoader) floatParam(n *xmlNode, key string, def float64) (float64, error) {
	c, ok := l.param(n, "float", key)
	if !ok {
		return def, nil
	}
	x, err := parseFinite(c.attr("value"))
	if err != nil {
		return 0, l.errf(c, "float %q: %w", key, err)
	}
	return x, nil
}

// parseFinite parses a finite float; Mitsuba writes forms like "1." that strconv accepts.
func parseFinite(s string) (float64, error) {
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("%q is not a finite number", s)
	}
	return x, nil
}

// shape loads one <shape> and appends its triangles to the scene.
func (l *xmlLoader) shape(n *xmlNode) error {
	id := n.attr("id")
	label := strconv.Quote(id)
	if id == "" {
		label = "(no id)"
	}
	if typ := n.attr("type"); typ != "ply" {
		return l.errf(n, "shape %s: type %q is not supported (only \"ply\")", label, typ)
	}
	var (
		file    *xmlNode
		surf    *Surface
		toWorld = identityAffine()
		haveXfm bool
		flip    bool
		setSurf = func(c *xmlNode, s Surface) error {
			if surf != nil {
				return l.errf(c, "shape %s has more than one bsdf", label)
			}
			surf = &s
			return nil
		}
	)
	for _, c := range n.children {
		key := c.attr("name")
		switch {
		case c.tag == "string" && key == "filename":
			if file != nil {
				return l.errf(c, "shape %s has two filenames", label)
			}
			file = c
		case c.tag == "ref" && (key == "bsdf" || key == ""):
			s, ok := l.bsdfs[c.attr("id")]
			if !ok {
				return l.errf(c, "shape %s: unknown bsdf id %q", label, c.attr("id"))
			}
			if err := setSurf(c, s); err != nil {
				return err
			}
		case c.tag == "bsdf":
			bname := c.attr("id")
			if bname == "" {
				bname = id
			}
			if bname == "" {
				return l.errf(c, "shape (no id): nested bsdf has no id either, so the material has no name")
			}
			s, err := l.bsdf(c, bname)
			if err != nil {
				return err
			}
			if err := setSurf(c, s); err != nil {
				return err
			}
		case c.tag == "boolean" && (key == "face_normals" || key == "flip_tex_coords"):
			// Shading only.
		case c.tag == "boolean" && key == "flip_normals":
			v, err := strconv.ParseBool(c.attr("value"))
			if err != nil {
				return l.errf(c, "shape %s: flip_normals: %q is not a boolean", label, c.attr("value"))
			}
			flip = v
		case c.tag == "transform" && key == "to_world":
			if haveXfm {
				return l.errf(c, "shape %s has two to_world transforms", label)
			}
			m, err := l.transform(c, label)
			if err != nil {
				return err
			}
			toWorld, haveXfm = m, true
		case c.tag == "emitter":
			// An area light changes no geometry.
		default:
			return l.errf(c, "shape %s: unsupported <%s name=%q>", label, c.tag, key)
		}
	}
	if file == nil {
		return l.errf(n, "shape %s has no <string name=\"filename\">", label)
	}
	if surf == nil {
		return l.errf(n, "shape %s has no bsdf", label)
	}
	verts, tris, err := l.mesh(file)
	if err != nil {
		return fmt.Errorf("%s: line %d: shape %s: %w", l.name, file.line, label, err)
	}
	if haveXfm {
		for i, v := range verts {
			verts[i] = toWorld.apply(v)
			if s := verts[i].X + verts[i].Y + verts[i].Z; math.IsNaN(s) || math.IsInf(s, 0) {
				return l.errf(n, "shape %s: vertex %d is not finite after to_world", label, i)
			}
		}
	}
	if flip {
		for i := range tris {
			tris[i][1], tris[i][2] = tris[i][2], tris[i][1]
		}
	}
	if len(l.sc.Vertices)+len(verts) > math.MaxInt32 {
		return l.errf(n, "shape %s: the scene would exceed %d vertices", label, math.MaxInt32)
	}
	k, err := l.surface(n, *surf)
	if err != nil {
		return err
	}
	l.sc.AddMesh(verts, tris, k)
	return nil
}

// surface returns the scene's index of s, adding it when new; two different materials may not share
// a name, since Surface.Name identifies the material.
func (l *xmlLoader) surface(n *xmlNode, s Surface) (int32, error) {
	if k, ok := l.surf[s.Name]; ok {
		if l.sc.Surfaces[k] != s {
			return 0, l.errf(n, "two different materials are named %q", s.Name)
		}
		return k, nil
	}
	l.sc.Surfaces = append(l.sc.Surfaces, s)
	k := int32(len(l.sc.Surfaces) - 1)
	l.surf[s.Name] = k
	return k, nil
}

// mesh reads the PLY file named by a <string name="filename"> element.
func (l *xmlLoader) mesh(file *xmlNode) ([]geom.Vec3, [][3]int32, error) {
	raw := file.attr("value")
	p := path.Clean(strings.ReplaceAll(raw, `\`, "/"))
	if !fs.ValidPath(p) || p == "." {
		return nil, nil, fmt.Errorf("mesh filename %q must be a relative path inside the scene's directory", raw)
	}
	f, err := l.fsys.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("open mesh: %w", err)
	}
	defer f.Close()
	return readPLYMesh(f, filepath.Join(filepath.Dir(l.name), filepath.FromSlash(p)), remainingSize(f))
}

// affine is the map p -> A p + t stored as rows [A | t].
type affine [3][4]float64

func identityAffine() affine {
	return affine{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}}
}

// then returns the map "m, then n": (n ∘ m)(p) = n(m(p)).
func (m affine) then(n affine) affine {
	var out affine
	for i := range 3 {
		for j := range 4 {
			var s float64
			for k := range 3 {
				s += n[i][k] * m[k][j]
			}
			if j == 3 {
				s += n[i][3]
			}
			out[i][j] = s
		}
	}
	return out
}

func (m affine) apply(v geom.Vec3) geom.Vec3 {
	return geom.Vec3{
		X: m[0][0]*v.X + m[0][1]*v.Y + m[0][2]*v.Z + m[0][3],
		Y: m[1][0]*v.X + m[1][1]*v.Y + m[1][2]*v.Z + m[1][3],
		Z: m[2][0]*v.X + m[2][1]*v.Y + m[2][2]*v.Z + m[2][3],
	}
}

// transform reads a Mitsuba <transform>: each step is applied after the ones before it, i.e. the
// matrix is M = T_last ··· T_first.
//
//	<translate x=".." y=".." z=".."/> or value="x y z"       p + t
//	<scale value="s"/>, value="x y z" or x/y/z attributes      diag(s) p
//	<rotate x/y/z=axis or value="ax ay az" angle="deg"/>      Rodrigues: R = I + sin a K + (1 - cos a) K^2
//	<matrix value="16 numbers, row-major"/> (affine, last row 0 0 0 1) or 9 numbers (3x3)
//
// label names the shape in errors.
func (l *xmlLoader) transform(n *xmlNode, label string) (affine, error) {
	m := identityAffine()
	errf := func(c *xmlNode, format string, args ...any) error {
		return l.errf(c, "shape %s: to_world: "+format, append([]any{label}, args...)...)
	}
	for _, c := range n.children {
		var t affine
		switch c.tag {
		case "translate":
			v, err := l.vec3(c, 0, label)
			if err != nil {
				return m, err
			}
			t = identityAffine()
			t[0][3], t[1][3], t[2][3] = v.X, v.Y, v.Z
		case "scale":
			v, err := l.vec3(c, 1, label)
			if err != nil {
				return m, err
			}
			t = affine{{v.X, 0, 0, 0}, {0, v.Y, 0, 0}, {0, 0, v.Z, 0}}
		case "rotate":
			axis, err := l.vec3(c, 0, label)
			if err != nil {
				return m, err
			}
			deg, err := parseFinite(c.attr("angle"))
			if err != nil {
				return m, errf(c, "rotate angle: %w", err)
			}
			if axis.Norm() == 0 {
				return m, errf(c, "rotate: zero axis")
			}
			t = rotation(axis.Unit(), deg*math.Pi/180)
		case "matrix":
			x, err := l.numbers(c, c.attr("value"), label)
			if err != nil {
				return m, err
			}
			switch len(x) {
			case 9:
				t = affine{{x[0], x[1], x[2], 0}, {x[3], x[4], x[5], 0}, {x[6], x[7], x[8], 0}}
			case 16:
				if x[12] != 0 || x[13] != 0 || x[14] != 0 || x[15] != 1 {
					return m, errf(c, "matrix: last row %v is not 0 0 0 1 (projective transforms are not supported)", x[12:])
				}
				t = affine{[4]float64(x[0:4]), [4]float64(x[4:8]), [4]float64(x[8:12])}
			default:
				return m, errf(c, "matrix has %d values, want 16 or 9", len(x))
			}
		default:
			return m, errf(c, "unsupported transform step <%s>", c.tag)
		}
		m = m.then(t)
	}
	return m, nil
}

// rotation is the rotation by angle a (radians, right-handed) about the unit axis u.
func rotation(u geom.Vec3, a float64) affine {
	s, c := math.Sincos(a)
	k := 1 - c
	return affine{
		{c + u.X*u.X*k, u.X*u.Y*k - u.Z*s, u.X*u.Z*k + u.Y*s, 0},
		{u.Y*u.X*k + u.Z*s, c + u.Y*u.Y*k, u.Y*u.Z*k - u.X*s, 0},
		{u.Z*u.X*k - u.Y*s, u.Z*u.Y*k + u.X*s, c + u.Z*u.Z*k, 0},
	}
}

// vec3 reads a step's vector from value="x y z" (for scale also a single uniform value) or from
// x, y, z attributes, missing ones being def.
func (l *xmlLoader) vec3(c *xmlNode, def float64, label string) (geom.Vec3, error) {
	if s, ok := c.lookup("value"); ok {
		x, err := l.numbers(c, s, label)
		if err != nil {
			return geom.Vec3{}, err
		}
		switch {
		case len(x) == 3:
			return geom.V(x[0], x[1], x[2]), nil
		case len(x) == 1 && c.tag == "scale":
			return geom.V(x[0], x[0], x[0]), nil
		}
		return geom.Vec3{}, l.errf(c, "shape %s: to_world: %s value %q: want 3 numbers", label, c.tag, s)
	}
	var out [3]float64
	for k, key := range [3]string{"x", "y", "z"} {
		out[k] = def
		if s, ok := c.lookup(key); ok {
			x, err := parseFinite(s)
			if err != nil {
				return geom.Vec3{}, l.errf(c, "shape %s: to_world: %s %s: %w", label, c.tag, key, err)
			}
			out[k] = x
		}
	}
	return geom.V(out[0], out[1], out[2]), nil
}

// numbers parses a list separated by spaces and/or commas, as Mitsuba writes them.
func (l *xmlLoader) numbers(c *xmlNode, s, label string) ([]float64, error) {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(f) > 16 {
		return nil, l.errf(c, "shape %s: to_world: %s: %d values, at most 16 expected", label, c.tag, len(f))
	}
	out := make([]float64, len(f))
	for i, w := range f {
		x, err := parseFinite(w)
		if err != nil {
			return nil, l.errf(c, "shape %s: to_world: %s: %w", label, c.tag, err)
		}
		out[i] = x
	}
	return out, nil
}
