package flowlog

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// AppendText appends rec as one record line in format f (values joined by
// single spaces, "-" for absent values, no newline) and returns the extended
// buffer. It allocates nothing beyond growing dst. ${version} is written as
// f.Version(), whatever rec.Version holds. String values are written as
// they are; they must not contain spaces or newlines.
func AppendText(dst []byte, rec *Record, f *Format) []byte {
	for i, id := range f.fields {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = appendField(dst, rec, id, f)
	}
	return dst
}

// AppendField appends the text of one field of rec.
func AppendField(dst []byte, rec *Record, id FieldID) []byte {
	if id == FieldVersion {
		return appendInt(dst, int64(rec.Version))
	}
	return appendField(dst, rec, id, nil)
}

func appendField(dst []byte, r *Record, id FieldID, f *Format) []byte {
	// The default-format fields come first so the common case is a short
	// jump table without pointer helpers.
	switch id {
	case FieldVersion:
		return appendUint(dst, uint64(f.version))
	case FieldAccountID:
		return appendStr(dst, r.AccountID)
	case FieldInterfaceID:
		return appendStr(dst, r.InterfaceID)
	case FieldSrcAddr:
		return appendAddr(dst, r.SrcAddr)
	case FieldDstAddr:
		return appendAddr(dst, r.DstAddr)
	case FieldSrcPort:
		return appendInt(dst, int64(r.SrcPort))
	case FieldDstPort:
		return appendInt(dst, int64(r.DstPort))
	case FieldProtocol:
		return appendInt(dst, int64(r.Protocol))
	case FieldPackets:
		return appendInt(dst, r.Packets)
	case FieldBytes:
		return appendInt(dst, r.Bytes)
	case FieldStart:
		return appendInt(dst, r.Start)
	case FieldEnd:
		return appendInt(dst, r.End)
	case FieldAction:
		return append(dst, r.Action.String()...)
	case FieldLogStatus:
		return append(dst, r.LogStatus.String()...)
	case FieldType:
		return append(dst, r.Type.String()...)
	case FieldFlowDirection:
		return append(dst, r.FlowDirection.String()...)
	}
	if p := r.strPtr(id); p != nil {
		return appendStr(dst, *p)
	}
	if p := r.addrPtr(id); p != nil {
		return appendAddr(dst, *p)
	}
	if p := r.intPtr32(id); p != nil {
		return appendInt(dst, int64(*p))
	}
	if p := r.intPtr64(id); p != nil {
		return appendInt(dst, *p)
	}
	return append(dst, '-')
}

func appendStr(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '-')
	}
	return append(dst, s...)
}

func appendInt(dst []byte, v int64) []byte {
	if v < 0 {
		return append(dst, '-')
	}
	return appendUint(dst, uint64(v))
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

// appendUint is strconv.AppendUint for base 10 without the call overhead,
// which shows in profiles: a record line is mostly small integers.
func appendUint(dst []byte, v uint64) []byte {
	if v < 10 {
		return append(dst, byte('0'+v))
	}
	var b [20]byte
	i := len(b)
	for v >= 100 {
		q := v / 100
		d := (v - q*100) * 2
		i -= 2
		b[i], b[i+1] = digitPairs[d], digitPairs[d+1]
		v = q
	}
	if v >= 10 {
		i -= 2
		b[i], b[i+1] = digitPairs[v*2], digitPairs[v*2+1]
	} else {
		i--
		b[i] = byte('0' + v)
	}
	return append(dst, b[i:]...)
}

func appendAddr(dst []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(dst, '-')
	}
	return a.AppendTo(dst)
}

// ErrFieldCount is wrapped by ParseLine when a line does not have one value
// per format field.
var ErrFieldCount = errors.New("wrong number of fields")

// LineError is a line ParseLine could not decode.
type LineError struct {
	Field FieldID // the field whose value was bad; meaningless for ErrFieldCount
	Pos   int     // 0-based position in the format, or -1
	Value string
	Err   error
}

func (e *LineError) Error() string {
	if e.Pos < 0 {
		return "flow log line: " + e.Err.Error()
	}
	return fmt.Sprintf("flow log line: field %d (%s) %q: %v", e.Pos+1, e.Field, e.Value, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

var (
	errEmpty   = errors.New("empty value (fields are separated by exactly one space)")
	errNumber  = errors.New("not a non-negative integer")
	errRange   = errors.New("integer out of range")
	errEnum    = errors.New("not an allowed value")
	errControl = errors.New("control character in value")
)

// ParseLine decodes one record line in format f. A trailing "\n" or "\r\n"
// is ignored. Fields the format does not list are absent in the result.
// String fields of the result alias line.
func ParseLine(line string, f *Format) (Record, error) {
	var r Record
	err := ParseLineInto(&r, line, f)
	return r, err
}

// ParseLineInto is ParseLine into an existing record, for loops that decode
// many lines without copying a Record each time.
func ParseLineInto(r *Record, line string, f *Format) error {
	*r = blank
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	rest := line
	for i, id := range f.fields {
		var v string
		if j := strings.IndexByte(rest, ' '); j >= 0 {
			if i == len(f.fields)-1 {
				return &LineError{Pos: -1, Err: fmt.Errorf("%w: more than %d", ErrFieldCount, len(f.fields))}
			}
			v, rest = rest[:j], rest[j+1:]
		} else {
			if i != len(f.fields)-1 {
				return &LineError{Pos: -1, Err: fmt.Errorf("%w: %d, want %d", ErrFieldCount, i+1, len(f.fields))}
			}
			v, rest = rest, ""
		}
		if err := r.setField(id, v); err != nil {
			return &LineError{Field: id, Pos: i, Value: v, Err: err}
		}
	}
	return nil
}

// SetField sets one field of r from its text form ("-" for absent).
func (r *Record) SetField(id FieldID, v string) error {
	if err := r.setField(id, v); err != nil {
		return &LineError{Field: id, Pos: -1, Value: v, Err: err}
	}
	return nil
}

func (r *Record) setField(id FieldID, v string) error {
	if v == "" {
		return errEmpty
	}
	dash := v == "-"
	switch id {
	case FieldAction:
		switch v {
		case "ACCEPT":
			r.Action = ActionAccept
		case "REJECT":
			r.Action = ActionReject
		case "-":
			r.Action = ActionNone
		default:
			return errEnum
		}
		return nil
	case FieldLogStatus:
		switch v {
		case "OK":
			r.LogStatus = StatusOK
		case "NODATA":
			r.LogStatus = StatusNoData
		case "SKIPDATA":
			r.LogStatus = StatusSkipData
		case "-":
			r.LogStatus = StatusNone
		default:
			return errEnum
		}
		return nil
	case FieldType:
		switch v {
		case "IPv4":
			r.Type = TypeIPv4
		case "IPv6":
			r.Type = TypeIPv6
		case "EFA":
			r.Type = TypeEFA
		case "-":
			r.Type = TypeNone
		default:
			return errEnum
		}
		return nil
	case FieldFlowDirection:
		switch v {
		case "ingress":
			r.FlowDirection = DirIngress
		case "egress":
			r.FlowDirection = DirEgress
		case "-":
			r.FlowDirection = DirNone
		default:
			return errEnum
		}
		return nil
	}
	if p := r.intPtr64(id); p != nil {
		if dash {
			*p = NA
			return nil
		}
		n, err := parseUint(v, 1<<63-1)
		*p = n
		return err
	}
	if p := r.intPtr32(id); p != nil {
		if dash {
			*p = NA
			return nil
		}
		n, err := parseUint(v, 1<<31-1)
		*p = int32(n)
		return err
	}
	if p := r.addrPtr(id); p != nil {
		if dash {
			*p = netip.Addr{}
			return nil
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return err
		}
		*p = a
		return nil
	}
	if p := r.strPtr(id); p != nil {
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] == 0x7f {
				return errControl
			}
		}
		if dash {
			v = ""
		}
		*p = v
		return nil
	}
	return fmt.Errorf("field %d is not in the catalogue", id)
}

// parseUint accepts only ASCII digits (no sign, no spaces), as AWS writes
// numbers, so that every accepted line re-encodes to the same values.
func parseUint(s string, max uint64) (int64, error) {
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return NA, errNumber
		}
		if n > (max-uint64(c))/10 {
			return NA, errRange
		}
		n = n*10 + uint64(c)
	}
	return int64(n), nil
}
