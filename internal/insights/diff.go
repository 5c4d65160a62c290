package insights

import (
	"errors"
	"math"
	"time"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// diffColumns are the fields `diff` adds to each pattern row. AWS
// documents what diff compares (CWL_QuerySyntax-Diff,
// CWL_AnalyzeLogData_Compare: "comparison queries return only patterns")
// but not the names of its output fields; these are flowwatch's:
// the comparison range's event count, the kind of change (NEW, REMOVED,
// INCREASED, DECREASED, UNCHANGED) and the change of the count in percent
// of the comparison range's (absent for NEW patterns).
var diffColumns = []string{"@previousSampleCount", "@changeType", "@changePercentage"}

// Change types of a pattern between the comparison range and the query's.
const (
	changeNew       = "NEW"
	changeRemoved   = "REMOVED"
	changeIncreased = "INCREASED"
	changeDecreased = "DECREASED"
	changeUnchanged = "UNCHANGED"
)

// setDiffFields sets the diff columns of a pattern seen cur times in the
// query's range and prev times in the comparison range.
func setDiffFields(set func(string, Value), cur, prev int) {
	set("@previousSampleCount", intVal(int64(prev)))
	var kind string
	switch {
	case prev == 0:
		kind = changeNew
	case cur == 0:
		kind = changeRemoved
	case cur > prev:
		kind = changeIncreased
	case cur < prev:
		kind = changeDecreased
	default:
		kind = changeUnchanged
	}
	set("@changeType", strVal(kind))
	if prev > 0 {
		pct := float64(cur-prev) * 100 / float64(prev)
		set("@changePercentage", numVal(math.Round(pct*100)/100))
	}
}

// errDiffRange: diff compares with a range of the same length, so the
// query needs both ends.
var errDiffRange = errors.New("insights: diff needs a query time range with a start and an end")

// comparisonRange returns diff's comparison range for the query range
// [start, end] (inclusive ms): of equal length, immediately before it
// (period ""), or one day, week or calendar month earlier (a month back
// from the 31st lands on the month's last day).
func comparisonRange(period string, start, end int64) (int64, int64, error) {
	if start <= logstore.MinTime || end >= logstore.MaxTime-1 || end < start {
		return 0, 0, errDiffRange
	}
	length := end - start // both ends inclusive
	var pstart int64
	switch period {
	case "":
		pstart = start - length - 1
	case "previousDay":
		pstart = start - 24*time.Hour.Milliseconds()
	case "previousWeek":
		pstart = start - 7*24*time.Hour.Milliseconds()
	case "previousMonth":
		t := time.UnixMilli(start).UTC()
		y, m, d := t.Date()
		first := time.Date(y, m-1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
		last := first.AddDate(0, 1, -1).Day()
		pstart = first.AddDate(0, 0, min(d, last)-1).UnixMilli()
	default:
		return 0, 0, errors.New("insights: unknown diff period " + period)
	}
	return pstart, pstart + length, nil
}

// scan is one target scanned over one range.
type scan struct {
	env *execEnv
	ti  int
	t   Target
}

// scans lists what the first segment scans, in order: every target over
// the query's range, then for diff every target over the comparison
// range (those rows carry execEnv.prev).
func (env *execEnv) scans() ([]scan, error) {
	envs := []*execEnv{env}
	if d := env.pl.diff; d != nil {
		ps, pe, err := comparisonRange(d.Period, env.start, env.end)
		if err != nil {
			return nil, err
		}
		prev := *env
		prev.start, prev.end, prev.prev = ps, pe, true
		envs = append(envs, &prev)
	}
	var out []scan
	for _, e := range envs {
		for ti, t := range e.targets {
			out = append(out, scan{env: e, ti: ti, t: t})
		}
	}
	return out, nil
}

// checkDiff: diff compares the patterns of two ranges, so it follows a
// pattern command at once, and that pattern is the query's first command
// that needs all rows (the comparison range runs the same commands up to
// it); a query has one diff.
func checkDiff(src string, before []Command, d *DiffCmd) error {
	if len(before) == 0 {
		return errAt(src, d.P, "diff compares patterns: it must follow a pattern command")
	}
	if _, ok := before[len(before)-1].(*PatternCmd); !ok {
		return errAt(src, d.P, "diff compares patterns: it must follow a pattern command")
	}
	for _, c := range before[:len(before)-1] {
		switch c.(type) {
		case *StatsCmd, *SortCmd, *LimitCmd, *DedupCmd, *PatternCmd:
			return errAt(src, c.Pos(), "the pattern that diff compares must come before any stats, sort, limit, dedup or other pattern")
		case *DiffCmd:
			return errAt(src, d.P, "a query can have only one diff")
		}
	}
	return nil
}
