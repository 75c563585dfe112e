package iq_test

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/cctrack/cctrack/radio/sdr/iq"
)

// A recording of one pilot sweep, annotated with its phase schedule, and its metadata file.
func ExampleCreateSigMF() {
	dir, err := os.MkdirTemp("", "sigmf")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	base := filepath.Join(dir, "trial")
	start := time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
	w, err := iq.CreateSigMF(base, iq.Meta{Datatype: iq.CI16, SampleRate: 10e6, Frequency: 3.5e9, Time: start,
		HW: "psemu", Scale: 0.01})
	if err != nil {
		log.Fatal(err)
	}
	sweep := make([]complex64, 8720)
	if err := w.Write(sweep); err != nil {
		log.Fatal(err)
	}
	if err := w.Annotate(iq.Annotation{Start: 0, Count: 8720, Label: "interval 0", Time: start,
		Schedule: json.RawMessage(`{"bs_beams":24,"ue_beams":4}`)}); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	meta, err := os.ReadFile(base + iq.MetaSuffix)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(meta))
	// Output:
	// {
	//   "global": {
	//     "core:datatype": "ci16_le",
	//     "core:sample_rate": 10000000,
	//     "core:version": "1.2.0",
	//     "core:hw": "psemu",
	//     "core:extensions": [
	//       {
	//         "name": "cctrack",
	//         "optional": true,
	//         "version": "1.0.0"
	//       }
	//     ],
	//     "cctrack:ci16_scale": 0.01,
	//     "cctrack:clipped": 0
	//   },
	//   "captures": [
	//     {
	//       "core:sample_start": 0,
	//       "core:frequency": 3500000000,
	//       "core:datetime": "2026-11-29T06:00:00Z"
	//     }
	//   ],
	//   "annotations": [
	//     {
	//       "core:sample_start": 0,
	//       "core:sample_count": 8720,
	//       "core:label": "interval 0",
	//       "cctrack:datetime": "2026-11-29T06:00:00Z",
	//       "cctrack:schedule": {
	//         "bs_beams": 24,
	//         "ue_beams": 4
	//       }
	//     }
	//   ]
	// }
}
