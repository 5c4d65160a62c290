package insights

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// Queries from the spec and AWS documentation that must parse, print in
// canonical form and print the same after re-parsing.
var roundTripQueries = []string{
	`fields @timestamp, @message | sort @timestamp desc | limit 25`,
	`filter @message like /Exception/ | stats count(*) as exceptionCount by bin(1h) | sort exceptionCount desc`,
	`fields @message | filter @message not like /Exception/`,
	"fields `foo-bar`, action, abs(f3-f4)",
	`fields concat(Operation, '-', StatusCode) as opStatus`,
	`filter (duration>2000)`,
	`filter Type not in ["foo","bar",1]`,
	`filter requestParameters.instancesSet.items.0.instanceId="i-abcde123"`,
	`filter statusCode like /2\d\d/`,
	`filter @message like /(?i)exception/`,
	`filter range > 3000 and accountId = 123456789012`,
	`filter @type = "REPORT"
    | stats max(@memorySize / 1000 / 1000) as provisonedMemoryMB,
        min(@maxMemoryUsed / 1000 / 1000) as smallestMemoryRequestMB,
        avg(@maxMemoryUsed / 1000 / 1000) as avgMemoryUsedMB,
        max(@maxMemoryUsed / 1000 / 1000) as maxMemoryUsedMB,
        provisonedMemoryMB - maxMemoryUsedMB as overProvisionedMB`,
	`FIELDS @message
    | PARSE @message "* [*] *" as loggingTime, loggingType, loggingMessage
    | FILTER loggingType IN ["ERROR", "INFO"]
    | DISPLAY loggingMessage, loggingType = "ERROR" as isError`,
	`fields @timestamp, server, severity, message | sort @timestamp desc | dedup server, severity`,
	`fields jsonParse(@message) as js | unnest js.accounts into account | filter account.type = "internal"`,
	`filter @message like /ERROR/ | pattern @message | sort @sampleCount desc`,
	`SOURCE logGroups(namePrefix: ['namePrefix1', 'namePrefix2']) | filter @message like "x"`,
	`SOURCE logGroups(accountIdentifiers:['111122223333'], namePrefix: ['namePrefix1']) | fields @message`,
	`sort by @billedDuration desc`,
	`filter toMillis(@timestamp) >= (now() * 1000 - 7200000)`,
	`fields 2 ^ 3 ^ 2 as p, -x + 1, not (a = 1) as n, a % 3`,
	`stats count(*) by bin(5m) as @t | stats max(n) by dateceil(@t, 10m)`,
	`fields obj.` + "`special.field`" + `, "tab\there" as t, 'single "quoted"' as s`,
	`limit any 50`,
	`unmask | head 5`,
	`parse @message /(?<NetworkInterface>eni-.*?) / | display NetworkInterface, @message`,
	`filter dstAddr =~ /^10\./ and srcAddr like '10.0.'`,
	"# a comment line\nfields @message # trailing\n| limit 3",
}

func TestRoundTrip(t *testing.T) {
	for _, s := range roundTripQueries {
		q, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		checkRoundTrip(t, q)
	}
}

func TestCanonicalString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`FILTER x=1 AND y   like 'a' | SORT BY t | LIMIT 5`, `filter x = 1 and y like "a" | sort by t | limit 5`},
		{"fields `a-b` as `c d`", "fields `a-b` as `c d`"},
		{`stats count(*) as n BY bin(1m)`, `stats count(*) as n by bin(1m)`},
		{`filter a not in [1, "x"] or b =~ /y/`, `filter a not in [1, "x"] or b =~ /y/`},
		{`fields x[0].y`, `fields x.0.y`},
		{`parse "a=*" as a`, `parse "a=*" as a`},
	} {
		q, err := Parse(c.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.in, err)
		}
		if got := q.String(); got != c.want {
			t.Errorf("String(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Column names are the source text of unaliased expressions.
func TestColumnNames(t *testing.T) {
	q, err := Parse(`stats count(*), avg(f1), sum(bytes)/1024 by bin(1m), srcAddr`)
	if err != nil {
		t.Fatal(err)
	}
	s := q.Commands[0].(*StatsCmd)
	var got []string
	for _, p := range append(s.By, s.Aggs...) {
		got = append(got, p.Name())
	}
	if want := "bin(1m) srcAddr count(*) avg(f1) sum(bytes)/1024"; strings.Join(got, " ") != want {
		t.Errorf("names %q, want %q", strings.Join(got, " "), want)
	}
}

func TestParseErrorPositions(t *testing.T) {
	for _, c := range []struct {
		q         string
		line, col int
		msg       string
	}{
		{`fields @message | bogus`, 1, 19, `unknown command`},
		{"fields @message\n| filter a = ", 2, 14, `expected an expression`},
		{"fields a,\n\n  b |", 3, 6, `expected a command`},
		{`filter a = 1 b`, 1, 14, `expected | or end of query`},
		{`fields héllo = "x" |`, 1, 21, `expected a command`},
		{"stats count(*) by bin(5m)\n| stats count(*) by bin(1h)", 2, 21, `bin() cannot be used`},
		{`fields a | filter (a = 1`, 1, 25, `expected )`},
		{`parse @message "*" as`, 1, 22, `expected a field name`},
		{"", 1, 1, `expected a command`},
		{`fields "a`, 1, 8, `unterminated string`},
		{"fields `a", 1, 8, `unterminated backquoted name`},
		{`filter a like /x`, 1, 15, `unterminated regular expression`},
		{`fields a ~ b`, 1, 10, `unexpected character`},
		{`filter a = 1 bogus`, 1, 14, `expected | or end of query`},
	} {
		_, err := Parse(c.q)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want a ParseError", c.q, err)
			continue
		}
		if pe.End < pe.Offset || pe.End > len(c.q) {
			t.Errorf("Parse(%q): span %d..%d", c.q, pe.Offset, pe.End)
		}
		if pe.Line != c.line || pe.Column != c.col || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("Parse(%q) = %d:%d %q, want %d:%d containing %q", c.q, pe.Line, pe.Column, pe.Msg, c.line, c.col, c.msg)
		}
	}
}

func TestQueryTooLong(t *testing.T) {
	if _, err := Parse("fields " + strings.Repeat("a", MaxQueryLength)); err == nil {
		t.Fatal("accepted a query over 10000 characters")
	}
}

// FuzzParse: no input panics the parser, and whatever parses prints to
// text that parses to the same text.
func FuzzParse(f *testing.F) {
	for _, s := range roundTripQueries {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		q, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Column < 1 {
				t.Fatalf("Parse(%q): error without position: %v", s, err)
			}
			return
		}
		out := q.String()
		q2, err := Parse(out)
		if err != nil {
			t.Fatalf("String() of %q = %q does not parse: %v", s, out, err)
		}
		if out2 := q2.String(); out2 != out {
			t.Fatalf("round trip of %q: %q != %q", s, out, out2)
		}
	})
}

func TestParseErrorSpan(t *testing.T) {
	_, err := Parse(`filter a = 1 bogus | limit 2`)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Offset != 13 || pe.End != 18 {
		t.Fatalf("span of %v: %+v", err, pe)
	}
}
