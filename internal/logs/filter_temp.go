package logs

import (
	"strings"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

// compileFilter is a stand-in until internal/filterpattern lands: terms
// and quoted phrases that must all occur in the message. TODO: replace with
// filterpattern.Compile.
func compileFilter(pattern string) (func(string) bool, error) {
	var terms []string
	p := strings.TrimSpace(pattern)
	for p != "" {
		if p[0] == '"' {
			end := strings.IndexByte(p[1:], '"')
			if end < 0 {
				return nil, awsapi.InvalidParameter("Invalid filter pattern: unterminated quoted phrase.")
			}
			terms = append(terms, p[1:1+end])
			p = strings.TrimSpace(p[2+end:])
			continue
		}
		t, rest, _ := strings.Cut(p, " ")
		terms = append(terms, t)
		p = strings.TrimSpace(rest)
	}
	return func(m string) bool {
		for _, t := range terms {
			if !strings.Contains(m, t) {
				return false
			}
		}
		return true
	}, nil
}
