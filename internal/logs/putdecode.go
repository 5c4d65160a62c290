package logs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

// DecodeAWSJSON decodes a PutLogEvents body without reflection: one pass,
// one allocation per message. It accepts exactly what encoding/json would
// for the same struct (unknown members skipped, null as absent) except that
// member names are matched case-sensitively, as AWS does.
func (in *PutLogEventsInput) DecodeAWSJSON(body []byte) error {
	// Messages alias the body instead of being copied one by one, which
	// saves an allocation per event and most of the GC work of a batch.
	d := bodyDec(body)
	return d.top(func(key string) error {
		switch key {
		case "logGroupName":
			return d.optString(&in.LogGroupName, key)
		case "logStreamName":
			return d.optString(&in.LogStreamName, key)
		case "sequenceToken":
			return d.optString(&in.SequenceToken, key)
		case "entity":
			if d.lit("null") {
				return nil
			}
			in.Entity = &Entity{}
			return d.entity(in.Entity)
		case "logEvents":
			if d.lit("null") {
				return nil
			}
			in.HasLogEvents = true
			return d.events(in)
		}
		return d.skip()
	})
}

// entity reads PutLogEvents' entity: two maps of strings, other members
// skipped like any unknown member.
func (d *jdec) entity(e *Entity) error {
	if d.b[d.i] != '{' {
		return d.typeErr("entity", "an object")
	}
	return d.object(func(key string) error {
		var err error
		switch key {
		case "keyAttributes":
			if !d.lit("null") {
				e.KeyAttributes, err = d.strMap("entity.keyAttributes")
			}
			return err
		case "attributes":
			if !d.lit("null") {
				e.Attributes, err = d.strMap("entity.attributes")
			}
			return err
		}
		return d.skip()
	})
}

// strMap reads an object of strings (a null value counts as absent).
func (d *jdec) strMap(member string) (map[string]string, error) {
	if d.b[d.i] != '{' {
		return nil, d.typeErr(member, "a map")
	}
	m := map[string]string{}
	err := d.object(func(key string) error {
		if d.lit("null") {
			return nil
		}
		v, err := d.str(member)
		m[key] = v
		return err
	})
	return m, err
}

func (d *jdec) events(in *PutLogEventsInput) error {
	if d.i >= len(d.b) || d.b[d.i] != '[' {
		return d.typeErr("logEvents", "a list")
	}
	// The number of "message" keys bounds the number of events: one scan
	// instead of growing the slice a dozen times.
	in.LogEvents = make([]logstore.Event, 0, bytes.Count(d.b[d.i:], []byte(`"message"`)))
	return d.array("logEvents", func() error {
		idx := len(in.LogEvents)
		var e logstore.Event
		var hasTs, hasMsg bool
		if !d.lit("null") { // a null event lacks both required members
			if d.b[d.i] != '{' {
				return d.typeErr("logEvents", "a list of objects")
			}
			err := d.object(func(key string) error {
				switch key {
				case "timestamp":
					if d.lit("null") {
						return nil
					}
					n, err := d.int64("timestamp")
					e.Timestamp, hasTs = n, true
					return err
				case "message":
					if d.lit("null") {
						return nil
					}
					s, err := d.str("message")
					e.Message, hasMsg = s, true
					return err
				}
				return d.skip()
			})
			if err != nil {
				return err
			}
		}
		if !hasTs {
			in.absent = append(in.absent, idx<<1)
		}
		if !hasMsg {
			in.absent = append(in.absent, idx<<1|1)
		}
		in.LogEvents = append(in.LogEvents, e)
		return nil
	})
}

// jdec is a minimal JSON reader for the hot request shapes: PutLogEvents'
// body and the members Resources reads from every body.
type jdec struct {
	b []byte
	s string // b as a string, when strings may alias it
	i int
}

// bodyDec reads a request body whose strings alias it (the body is never
// written again: see awsapi.RawDecoder), so what outlives the request must
// be copied.
func bodyDec(body []byte) jdec {
	d := jdec{b: body}
	if len(body) > 0 {
		d.s = unsafe.String(&body[0], len(body))
	}
	return d
}

// top reads the whole body as one object, calling member as object does.
// An empty body and null are an object without members, as encoding/json
// leaves its value untouched for them.
func (d *jdec) top(member func(key string) error) error {
	d.ws()
	if d.i == len(d.b) {
		return nil
	}
	if d.lit("null") {
		return d.end()
	}
	if d.b[d.i] != '{' {
		return d.typeErr("", "an object")
	}
	if err := d.object(member); err != nil {
		return err
	}
	return d.end()
}

func (d *jdec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jdec) end() error {
	d.ws()
	if d.i != len(d.b) {
		return d.syntax("unexpected data after the top-level object")
	}
	return nil
}

func (d *jdec) syntax(what string) error {
	return awsapi.Serialization("Malformed JSON request body at offset %d: %s.", d.i, what)
}

func (d *jdec) eof() error {
	return awsapi.Serialization("Malformed JSON request body: unexpected end of input.")
}

func (d *jdec) typeErr(member, want string) error {
	got := "value"
	if d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			got = "string"
		case c == '{':
			got = "object"
		case c == '[':
			got = "array"
		case c == 't' || c == 'f':
			got = "bool"
		case c == 'n':
			got = "null"
		default:
			got = "number"
		}
	}
	if member == "" {
		return awsapi.Serialization("Unexpected JSON %s where an object was expected.", got)
	}
	return awsapi.Serialization("Unexpected JSON %s for member '%s': expected %s.", got, member, want)
}

// lit consumes the literal s if it is next.
func (d *jdec) lit(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

// object reads an object whose first byte is '{', calling member for each
// key with the reader positioned at the value.
func (d *jdec) object(member func(key string) error) error {
	d.i++ // '{'
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return nil
	}
	for {
		d.ws()
		if d.i >= len(d.b) {
			return d.eof()
		}
		if d.b[d.i] != '"' {
			return d.syntax("expected a member name")
		}
		key, err := d.str("")
		if err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return d.syntax("expected ':' after a member name")
		}
		d.i++
		d.ws()
		if d.i >= len(d.b) {
			return d.eof()
		}
		if err := member(key); err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) {
			return d.eof()
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.syntax("expected ',' or '}' in an object")
		}
	}
}

// array reads an array whose first byte is '[', calling elem for each
// element with the reader positioned at it; what names the array in a
// syntax error.
func (d *jdec) array(what string, elem func() error) error {
	d.i++ // '['
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return nil
	}
	for {
		d.ws()
		if d.i >= len(d.b) {
			return d.eof()
		}
		if err := elem(); err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) {
			return d.eof()
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.syntax("expected ',' or ']' in " + what)
		}
	}
}

func (d *jdec) optString(p **string, member string) error {
	if d.lit("null") {
		return nil
	}
	s, err := d.str(member)
	if err != nil {
		return err
	}
	*p = &s
	return nil
}

// str reads a string. The common case (no escapes, valid UTF-8) is found
// with two SIMD byte searches and a word-at-a-time control-character check,
// and aliases the body; anything else goes through encoding/json for
// identical semantics (escapes, surrogates, invalid UTF-8 → U+FFFD).
func (d *jdec) str(member string) (string, error) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return "", d.typeErr(member, "a string")
	}
	start := d.i
	rest := d.b[start+1:]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return "", d.eof()
	}
	raw := rest[:end]
	if bytes.IndexByte(raw, '\\') < 0 {
		if hasControl(raw) {
			d.i = start
			return "", d.syntax("control character in a string")
		}
		d.i = start + 1 + end + 1
		if utf8.Valid(raw) {
			if d.s != "" {
				return d.s[start+1 : start+1+end], nil
			}
			return string(raw), nil
		}
		return d.slowStr(start)
	}
	// Escapes: find the closing quote that is not escaped.
	i := start + 1
	for ; i < len(d.b); i++ {
		c := d.b[i]
		if c == '"' {
			break
		}
		if c == '\\' {
			i++
			continue
		}
		if c < 0x20 {
			d.i = i
			return "", d.syntax("control character in a string")
		}
	}
	if i >= len(d.b) {
		return "", d.eof()
	}
	d.i = i + 1
	return d.slowStr(start)
}

// slowStr decodes the string literal b[start:d.i] with encoding/json.
func (d *jdec) slowStr(start int) (string, error) {
	var s string
	if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
		d.i = start
		return "", d.syntax("invalid string")
	}
	return s, nil
}

// hasControl reports whether b has a byte below 0x20, eight bytes at a
// time: (x - 0x20…) & ^x & 0x80… is non-zero iff some byte of x is below
// 0x20 or has its high bit set, and only then are the bytes checked.
func hasControl(b []byte) bool {
	const lo, hi = 0x2020202020202020, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if (x-lo)&^x&hi != 0 {
			for _, c := range b[i : i+8] {
				if c < 0x20 {
					return true
				}
			}
		}
	}
	for _, c := range b[i:] {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// int64 reads an integer member; fractions and exponents are type errors,
// as encoding/json reports them for an int64.
func (d *jdec) int64(member string) (int64, error) {
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == digits {
		d.i = start
		return 0, d.typeErr(member, "a number")
	}
	if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i = start
		return 0, awsapi.Serialization("Unexpected JSON number for member '%s': expected an integer (epoch milliseconds).", member)
	}
	if d.i-digits <= 18 { // cannot overflow: no need for strconv
		var n int64
		for _, c := range d.b[digits:d.i] {
			n = n*10 + int64(c-'0')
		}
		if digits > start {
			n = -n
		}
		return n, nil
	}
	n, err := strconv.ParseInt(string(d.b[start:d.i]), 10, 64)
	if err != nil {
		return 0, awsapi.Serialization("Number %s for member '%s' is out of range.", d.b[start:d.i], member)
	}
	return n, nil
}

// skip skips any value, checking it is well-formed.
func (d *jdec) skip() error {
	if d.i >= len(d.b) {
		return d.eof()
	}
	switch c := d.b[d.i]; {
	case c == '"':
		_, err := d.str("")
		return err
	case c == '{':
		return d.object(func(string) error { return d.skip() })
	case c == '[':
		return d.array("an array", d.skip)
	case d.lit("true"), d.lit("false"), d.lit("null"):
		return nil
	case c == '-' || (c >= '0' && c <= '9'):
		start := d.i
		for d.i < len(d.b) && (d.b[d.i] == '-' || d.b[d.i] == '+' || d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E' || (d.b[d.i] >= '0' && d.b[d.i] <= '9')) {
			d.i++
		}
		if !json.Valid(d.b[start:d.i]) {
			return d.syntax("invalid number")
		}
		return nil
	}
	return d.syntax("unexpected character")
}
