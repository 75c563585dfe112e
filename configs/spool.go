package configs

import "github.com/cctrack/cctrack/internal/telemetry"

// TelemetrySpool is the telemetry.spool section: the InfluxDB sink's queue on disk.
type TelemetrySpool struct {
	Dir      string `mapstructure:"dir"`
	MaxBytes int64  `mapstructure:"max_bytes"`
	Policy   string `mapstructure:"policy"`
	Sync     string `mapstructure:"sync"`
}

// SpoolConfig is the telemetry.spool section; Dir "" means no spool (the InfluxDB sink queues in memory).
// Like telemetry.file.dir, a relative dir is relative to the working directory.
func (c Config) SpoolConfig() telemetry.SpoolConfig {
	s := c.Telemetry.Spool
	return telemetry.SpoolConfig{Dir: s.Dir, MaxBytes: s.MaxBytes, Policy: telemetry.SpoolPolicy(s.Policy), Sync: telemetry.SpoolSync(s.Sync)}
}

// validateSpool checks telemetry.spool when it is enabled.
func (c Config) validateSpool(v *validator) {
	if c.Telemetry.Spool.Dir == "" {
		return
	}
	if err := c.SpoolConfig().Validate(); err != nil {
		v.errs = append(v.errs, err) // names its telemetry.spool key
	}
}
