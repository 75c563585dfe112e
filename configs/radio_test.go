package configs

import (
	"strings"
	"testing"
)

func TestRadioBackendsNameTheKey(t *testing.T) {
	const sdr = "radio:\n  backend: sdr\n  sdr:\n    bs: {port: /dev/a}\n    ue: {port: /dev/b}\n"
	for _, tc := range []struct{ yaml, want string }{
		{"radio:\n  backend: usrp\n", "radio.backend: must be sim, sdr, replay"},
		{"radio:\n  backend: sdr\n", "radio.sdr.bs.port: must not be empty"},
		{sdr + "    iq: udp://h:1\n", "radio.sdr.iq: \"udp://h:1\": want tcp://HOST:PORT"},
		{sdr + "    iq: tcp://nohost\n", "radio.sdr.iq"},
		{sdr + "    iq: /nonexistent/t.sigmf-meta\n", "radio.sdr.iq: stat /nonexistent/t.sigmf-meta"},
		{sdr + "    frame: {preamble_len: 63}\n", "radio.sdr.frame: pilot: frame needs an even PreambleLen"},
		{sdr + "    margin: -1\n", "radio.sdr.margin: must be >= 0"},
		{sdr + "    sample_rate: 0\n", "radio.sdr.sample_rate: must be > 0"},
		{"radio:\n  backend: sdr\n  sdr:\n    bs: {port: /dev/a, timeout: 0s}\n    ue: {port: /dev/a}\n", "radio.sdr.bs.timeout: must be > 0"},
		{"radio:\n  backend: sdr\n  sdr:\n    bs: {port: /dev/a}\n    ue: {port: /dev/a}\n", "radio.sdr.ue.port: is radio.sdr.bs.port too"},
		{"radio:\n  backend: replay\n", "radio.replay.path: must not be empty"},
		{"radio:\n  backend: replay\n  replay: {path: /nonexistent/t.sigmf-meta}\n", "radio.replay.path: stat /nonexistent"},
	} {
		_, err := Parse([]byte(tc.yaml), "test.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want error containing %q", tc.yaml, err, tc.want)
		}
	}
	// The sdr and replay sections are only checked when selected.
	if _, err := Parse([]byte("radio:\n  sdr: {margin: -1}\n"), "test.yaml"); err != nil {
		t.Errorf("an unused sdr section was checked: %v", err)
	}
}

func TestSDRParams(t *testing.T) {
	cfg, err := Load("ota-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.SDRParams("x")
	if err != nil {
		t.Fatal(err)
	}
	if p.BS.N() != 16 || p.UE.N() != 2 || p.BSBoard.Name != "bs" || p.UEBoard.Port != "/tmp/cctrack-psemu-ue" ||
		p.IQ.Kind != "tcp" || p.IQ.Addr != "127.0.0.1:7355" || p.Frame.PilotLen != 64 || p.Margin != 256 || p.IQ.Frequency != 3.5e9 {
		t.Errorf("params %+v", p)
	}
}
