// Package filterpattern owns the CloudWatch Logs filter-pattern language: the syntax shared by
// FilterLogEvents, metric filters, subscription filters, TestMetricFilter and Live Tail.
//
// Compile turns a pattern into an immutable *Pattern that is safe for concurrent use; Match
// decides whether one log event message matches. Everything that can be decided at compile time
// (term lists, regular expressions, wildcard globs, numeric literals, JSON selectors) is
// precompiled, so matching a term pattern or a space-delimited pattern does not allocate.
//
// The pattern kind follows from its first non-blank character, as in AWS:
//
//	""                       every event
//	{ $.a = "x" && $.n > 5 } JSON pattern; the message must be a JSON object
//	[ip, user, ..., code=4*] space-delimited pattern; fields split on blanks, "…" and […] are one field
//	ERROR ?WARN -"no op"     term pattern: case-sensitive substrings, %regex% items
//
// The exact rules, and the decisions taken where AWS's documentation is silent, are listed in
// /work/shared/spec/filter-patterns.md and repeated next to the code that implements them.
//
// Errors returned by Compile are *SyntaxError values whose text ("Invalid filter pattern: …")
// is meant to be returned as the message of an InvalidParameterException.
package filterpattern
