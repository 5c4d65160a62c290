package flowlog

import (
	"fmt"
	"strings"
)

// DefaultFormatString is the literal AWS returns in DescribeFlowLogs'
// LogFormat when a flow log was created without one.
const DefaultFormatString = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

// DefaultFormat is the parsed default format (version 2).
var DefaultFormat = MustParseFormat(DefaultFormatString)

// KnowledgeCenterFormatString is the 27-field custom format of AWS's Logs
// Insights knowledge-center article; it has no ${version}.
const KnowledgeCenterFormatString = "${account-id} ${vpc-id} ${subnet-id} ${interface-id} ${instance-id} ${srcaddr} ${srcport} ${dstaddr} ${dstport} ${protocol} ${packets} ${bytes} ${action} ${log-status} ${start} ${end} ${flow-direction} ${traffic-path} ${tcp-flags} ${pkt-srcaddr} ${pkt-src-aws-service} ${pkt-dstaddr} ${pkt-dst-aws-service} ${region} ${az-id} ${sublocation-type} ${sublocation-id}"

// Format is a parsed LogFormat: the fields in order and the version number
// records in it carry. A Format is immutable and safe for concurrent use.
type Format struct {
	text    string
	fields  []FieldID
	version int
	pos     [NumFields]int16 // first position of each field, -1 if absent
}

// String returns the LogFormat exactly as it was accepted.
func (f *Format) String() string { return f.text }

// Fields returns the fields in format order; callers must not modify it.
func (f *Format) Fields() []FieldID { return f.fields }

// Len is the number of space-separated values in a record line.
func (f *Format) Len() int { return len(f.fields) }

// Version is the value written for ${version}: the highest introduction
// version among the listed fields (2 for the default format). It is
// computed from the format, never per record.
func (f *Format) Version() int { return f.version }

// Has reports whether the format lists id.
func (f *Format) Has(id FieldID) bool { return f.pos[id] >= 0 }

// Index returns the first position of id in the format, or -1.
func (f *Format) Index(id FieldID) int { return int(f.pos[id]) }

// IsDefault reports whether f lists exactly the default fields in order,
// which is what Logs Insights needs to auto-discover fields.
func (f *Format) IsDefault() bool {
	if len(f.fields) != len(DefaultFormat.fields) {
		return false
	}
	for i, id := range f.fields {
		if id != DefaultFormat.fields[i] {
			return false
		}
	}
	return true
}

// Header returns the header line of S3 text files: field names separated
// by single spaces, without "${}" and without a newline.
func (f *Format) Header() string {
	var b strings.Builder
	for i, id := range f.fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Catalogue[id].Name)
	}
	return b.String()
}

// FormatError is a rejected LogFormat. Error() is the text AWS returns
// (code InvalidParameterValue, HTTP 400): AWS uses one message for every
// LogFormat defect, so the specific defect is in Reason for logs and tests.
type FormatError struct {
	Format string
	Reason string
}

// Code is the EC2 error code for the rejection.
func (e *FormatError) Code() string { return "InvalidParameterValue" }

func (e *FormatError) Error() string {
	return "1 validation error detected: Value '" + e.Format + "' at 'logFormat' has an invalid format"
}

// ParseOptions selects which parts of the catalogue a format may use.
type ParseOptions struct {
	// TransitGateway allows the v6 fields, which only Transit Gateway flow
	// logs carry; VPC, subnet and interface flow logs reject them.
	TransitGateway bool
	// Unverified allows the v11 fields known only from third-party material.
	Unverified bool
}

// ParseFormat parses a LogFormat for a VPC, subnet or network-interface flow
// log: "${field} ${field} …" separated by exactly one space, every name in
// the catalogue, no TGW-only or unverified fields. Duplicated fields are
// accepted (AWS's behaviour is unverified; the spec recommends accepting).
func ParseFormat(s string) (*Format, error) { return ParseFormatOptions(s, ParseOptions{}) }

// MustParseFormat is ParseFormat for formats known at compile time.
func MustParseFormat(s string) *Format {
	f, err := ParseFormat(s)
	if err != nil {
		panic(fmt.Sprintf("flowlog: %q: %s", s, err.(*FormatError).Reason))
	}
	return f
}

// ParseFormatOptions is ParseFormat with a choice of allowed fields.
func ParseFormatOptions(s string, opt ParseOptions) (*Format, error) {
	bad := func(reason string, a ...any) error {
		return &FormatError{Format: s, Reason: fmt.Sprintf(reason, a...)}
	}
	if s == "" {
		return nil, bad("empty format")
	}
	f := &Format{text: s, version: 2}
	for i := range f.pos {
		f.pos[i] = -1
	}
	rest := s
	for {
		if !strings.HasPrefix(rest, "${") {
			if rest == "" {
				return nil, bad("trailing space")
			}
			if rest[0] == ' ' {
				return nil, bad("fields must be separated by exactly one space")
			}
			return nil, bad("expected ${field} at %q", cut(rest))
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, bad("missing closing brace at %q", cut(rest))
		}
		name := rest[2:end]
		if !validName(name) {
			return nil, bad("invalid field name %q", name)
		}
		id, ok := byName[name]
		if !ok {
			return nil, bad("unknown field %q", name)
		}
		spec := &Catalogue[id]
		if spec.TransitGateway && !opt.TransitGateway {
			return nil, bad("field %q is only valid for transit gateway flow logs", name)
		}
		if spec.Unverified && !opt.Unverified {
			return nil, bad("field %q is not supported", name)
		}
		if f.pos[id] < 0 {
			f.pos[id] = int16(len(f.fields))
		}
		f.fields = append(f.fields, id)
		if spec.Version > f.version {
			f.version = spec.Version
		}
		rest = rest[end+1:]
		if rest == "" {
			break
		}
		if rest[0] != ' ' {
			return nil, bad("fields must be separated by a space at %q", cut(rest))
		}
		rest = rest[1:]
	}
	if len(f.fields) > 1<<14 {
		return nil, bad("too many fields")
	}
	return f, nil
}

// validName is AWS's pattern [a-z0-9-]+ for the text between the braces.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func cut(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// FormatFromHeader builds the format of an S3 text file from its header
// line ("version account-id …"), which lists the field names without ${}.
func FormatFromHeader(header string, opt ParseOptions) (*Format, error) {
	names := strings.Split(strings.TrimRight(header, "\r\n"), " ")
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("${")
		b.WriteString(n)
		b.WriteByte('}')
	}
	return ParseFormatOptions(b.String(), opt)
}
