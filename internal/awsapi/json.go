package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
)

// RequestInfo is what a service learns about the request besides its input.
type RequestInfo struct {
	RequestID   string
	Operation   string
	Region      string // from the SigV4 scope: resources are named per region
	AccountID   string
	AccessKeyID string
}

type infoKey struct{}

// WithInfo returns ctx carrying info (the Router does this; tests of
// services call it directly).
func WithInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// Info returns the RequestInfo of ctx (zero when there is none).
func Info(ctx context.Context) RequestInfo {
	info, _ := ctx.Value(infoKey{}).(RequestInfo)
	return info
}

// Handler runs one operation on a JSON request body and returns the output
// value (nil: an empty body, as AWS sends for operations without output).
type Handler func(ctx context.Context, body []byte) (any, error)

// RawDecoder is implemented by inputs that decode themselves faster than
// encoding/json (the PutLogEvents hot path). It must report type and syntax
// problems as SerializationException. The Router allocates every body
// afresh and never writes to it after reading, so a decoder may keep
// strings that alias it instead of copying each one.
type RawDecoder interface {
	DecodeAWSJSON(body []byte) error
}

// Op adapts a typed operation to a Handler: the body is decoded into In
// (SerializationException when it is not a JSON object with members of the
// right JSON types; unknown members are ignored, as AWS does), and a nil
// *Out becomes an empty body.
func Op[In, Out any](fn func(context.Context, *In) (*Out, error)) Handler {
	return func(ctx context.Context, body []byte) (any, error) {
		in := new(In)
		if err := DecodeJSON(body, in); err != nil {
			return nil, err
		}
		out, err := fn(ctx, in)
		if err != nil || out == nil {
			return nil, err
		}
		return out, nil
	}
}

// DecodeJSON decodes an AWS JSON request body into v.
func DecodeJSON(body []byte, v any) error {
	if rd, ok := v.(RawDecoder); ok {
		return rd.DecodeAWSJSON(body)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == "null" {
		return nil // no members: the SDKs send {} but an empty body means the same
	}
	if body[0] != '{' {
		return Serialization("The request body must be a JSON object, not %s.", jsonKind(body[0]))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return serializationError(err)
	}
	return dropFoldedMembers(body, v)
}

// dropFoldedMembers undoes encoding/json's case-insensitive matching of
// member names: AWS matches them exactly, so {"LogGroupName": …} does not
// set logGroupName (and a required member is then reported missing). Only
// top-level members are checked: the inputs decoded here have no nested
// structures (PutLogEvents decodes itself, exactly).
func dropFoldedMembers(body []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil
	}
	names := memberNames(rv.Elem().Type())
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil
	}
	folded := false
	for k := range raw {
		if names[k] {
			continue
		}
		for name := range names {
			if strings.EqualFold(k, name) {
				delete(raw, k)
				folded = true
				break
			}
		}
	}
	if !folded {
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return serializationError(err)
	}
	rv.Elem().SetZero()
	if err := json.Unmarshal(b, v); err != nil {
		return serializationError(err)
	}
	return nil
}

var memberCache sync.Map // reflect.Type → map[string]bool

// memberNames returns the JSON member names of a struct type.
func memberNames(t reflect.Type) map[string]bool {
	if m, ok := memberCache.Load(t); ok {
		return m.(map[string]bool)
	}
	m := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = true
	}
	memberCache.Store(t, m)
	return m
}

func jsonKind(c byte) string {
	switch {
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return "malformed JSON"
}

func serializationError(err error) *Error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field == "" {
			return Serialization("Unexpected JSON %s where an object was expected.", te.Value)
		}
		return Serialization("Unexpected JSON %s for member '%s': expected %s.", te.Value, te.Field, wireType(te.Type.String()))
	case errors.As(err, &se):
		return Serialization("Malformed JSON request body at offset %d: %s.", se.Offset, se.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Serialization("Malformed JSON request body: unexpected end of input.")
	}
	return Serialization("Malformed JSON request body: %s.", err.Error())
}

// wireType names a Go type as the JSON type the member expects.
func wireType(goType string) string {
	t := strings.TrimLeft(goType, "*")
	switch {
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint") || strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a map"
	}
	return "an object"
}
