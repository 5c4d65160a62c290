package main

import (
	"testing"
	"time"
)

func TestParseStart(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 500, time.UTC)
	for in, want := range map[string]time.Time{
		"now":                  now.Truncate(time.Second),
		"now-2h":               now.Add(-2 * time.Hour).Truncate(time.Second),
		"1718013600":           time.Unix(1718013600, 0).UTC(),
		"2026-01-02T03:04:05Z": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	} {
		got, err := parseStart(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "now-x", "2026-01-02"} {
		if _, err := parseStart(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
