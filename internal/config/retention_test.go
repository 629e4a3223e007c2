package config

import (
	"strings"
	"testing"
	"time"
)

func TestBarRetention(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"": 400 * 24 * time.Hour, "90": 90 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "720h": 30 * 24 * time.Hour,
	} {
		c, err := FromEnv(env(map[string]string{"BAR_RETENTION": v}))
		if err != nil || c.BarRetention != want {
			t.Errorf("BAR_RETENTION=%q: %v, %v; want %v", v, c.BarRetention, err, want)
		}
	}
	for v, want := range map[string]string{
		"forever":           `BAR_RETENTION: "forever" is not a number of days (400, 400d) or a duration (9600h)`,
		"0":                 `BAR_RETENTION: "0" out of range 1-36500 days`,
		"-3d":               `BAR_RETENTION: "-3d" out of range 1-36500 days`,
		"12h":               `BAR_RETENTION: "12h" out of range 1-36500 days`,
		"99999999999999999": `BAR_RETENTION: "99999999999999999" out of range 1-36500 days`,
	} {
		_, err := FromEnv(env(map[string]string{"BAR_RETENTION": v}))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("BAR_RETENTION=%q: error %v, want %q", v, err, want)
		}
	}
}
