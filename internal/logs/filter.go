package logs

import (
	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/filterpattern"
)

// compileFilter compiles a FilterLogEvents filterPattern; a bad pattern is
// the client's to fix, so its message goes back as InvalidParameterException.
func compileFilter(pattern string) (func(string) bool, error) {
	p, err := filterpattern.Compile(pattern)
	if err != nil {
		return nil, awsapi.InvalidParameter("Invalid filter pattern: %s", err.Error())
	}
	return p.Match, nil
}
