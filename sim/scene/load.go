package scene

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Load reads a scene file, choosing the loader by extension (case-insensitive): ".ply" meshes get
// surface surf on every face (LoadPLY); ".xml" Sionna / Mitsuba 3 scenes carry their own materials
// (LoadXML) and ignore surf.
func Load(path string, surf Surface) (*Scene, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".ply":
		return LoadPLY(path, surf)
	case ".xml":
		return LoadXML(path)
	default:
		return nil, fmt.Errorf("load scene %s: unsupported extension %q (want .ply or .xml)", path, ext)
	}
}
