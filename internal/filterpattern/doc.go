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
//	ERROR -"no op" %5\d\d%   term pattern: case-sensitive substrings, %regex% items
//
// The rules follow /work/shared/spec/filter-patterns.md. Where AWS's documentation is silent
// the package decides as follows (each decision is also commented where it is implemented):
//
//   - Terms match as case-sensitive substrings. Unquoted punctuation splits a token into AND-ed
//     terms and a '-' inside a token starts an exclusion: ORDER-ITEM-1 is ORDER -ITEM -1.
//   - ?terms mixed with plain or -terms are ignored (AWS's "Optional terms" note); only a
//     pattern made purely of ?terms is an OR.
//   - In quoted strings a backslash escapes a double quote or a backslash; any other
//     backslash is literal.
//   - Regexes (RE2 syntax) may use only AWS's listed characters (':' accepted; no blanks, no
//     parentheses, no multi-byte characters); at most 2 per pattern; patterns ≤ 1024 characters.
//   - Relational operators need an unquoted number. An unquoted number compares numerically
//     with a JSON number or with text that is a number; against other text only != holds
//     (so bytes >= 400 fails and dstport != 22 holds on NODATA flow records).
//   - Quoted and other unquoted values compare as text, '*' matching any run of characters,
//     against a JSON string or a JSON number's text as written (12.0 != "12").
//   - JSON objects, arrays, true, false and null never satisfy =, != or a relational operator;
//     a missing field fails every condition but NOT EXISTS. Wildcard selectors hold if any
//     value they reach does; NOT EXISTS if none is reached. Duplicate keys: the last wins.
//   - Space-delimited events split on runs of blanks; "…" and […] are one field (quotes
//     stripped). Without "...", the last entry takes the rest of the event; with it, the
//     ellipsis takes the surplus. One "..." per pattern.
//
// Errors returned by Compile are *SyntaxError values whose text ("Invalid filter pattern: …")
// is meant to be returned as the message of an InvalidParameterException.
package filterpattern
