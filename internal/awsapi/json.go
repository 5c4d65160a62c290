package awsapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
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
	return nil
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

// Config configures a Router.
type Config struct {
	AccountID string
	Verifier  *Verifier
	Logger    *slog.Logger
	// MaxBodyBytes bounds a request body; larger requests are refused before
	// they are read whole. 0: DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// DefaultMaxBodyBytes admits the largest legal PutLogEvents batch (1 MiB of
// messages plus 26 bytes per event) with room for JSON escaping and member
// names, and little more.
const DefaultMaxBodyBytes = 6 << 20

// Router authenticates requests and dispatches them to the operations that
// services registered. It is the one place that turns errors into AWS error
// bodies.
type Router struct {
	cfg Config
	log *slog.Logger
	// json maps an X-Amz-Target prefix (e.g. "Logs_20140328") to the
	// service's operations. The Query/XML protocol (ec2, iam) will be a
	// second table keyed by signing name.
	json map[string]map[string]Handler
}

// NewRouter returns a Router with no services.
func NewRouter(cfg Config) *Router {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Router{cfg: cfg, log: cfg.Logger, json: map[string]map[string]Handler{}}
}

// HandleJSON registers the operations of an AWS JSON 1.1 service under its
// target prefix. Registering the same prefix again adds operations to it.
func (rt *Router) HandleJSON(targetPrefix string, ops map[string]Handler) {
	m := rt.json[targetPrefix]
	if m == nil {
		m = map[string]Handler{}
		rt.json[targetPrefix] = m
	}
	for name, h := range ops {
		m[name] = h
	}
}

// NewRequestID returns a fresh request id in AWS's UUID shape.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := RequestInfo{RequestID: NewRequestID(), AccountID: rt.cfg.AccountID}
	w.Header().Set("x-amzn-RequestId", info.RequestID)
	status, err := rt.serve(w, r, &info)
	if err != nil {
		ae := AsError(err)
		if ae == nil {
			rt.log.Error("request failed", "request_id", info.RequestID, "op", info.Operation, "err", err)
			ae = Internal()
		}
		status = ae.Status
		writeError(w, ae)
	}
	rt.log.Debug("request", "request_id", info.RequestID, "op", info.Operation, "status", status,
		"region", info.Region, "bytes_in", r.ContentLength, "dur", time.Since(start))
}

func (rt *Router) serve(w http.ResponseWriter, r *http.Request, info *RequestInfo) (int, error) {
	if r.ContentLength > rt.cfg.MaxBodyBytes {
		return 0, tooLarge(rt.cfg.MaxBodyBytes)
	}
	body, err := readBody(w, r, rt.cfg.MaxBodyBytes)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return 0, tooLarge(rt.cfg.MaxBodyBytes)
		}
		return 0, Serialization("Could not read the request body: %v.", err)
	}
	id, err := rt.cfg.Verifier.Verify(r, body)
	if err != nil {
		return 0, err
	}
	info.Region, info.AccessKeyID = id.Region, id.AccessKeyID

	target := r.Header.Get("X-Amz-Target")
	prefix, opName, _ := strings.Cut(target, ".")
	ops := rt.json[prefix]
	h := ops[opName]
	if r.Method != http.MethodPost || h == nil {
		if target == "" {
			return 0, NewError("UnknownOperationException", "Missing X-Amz-Target header: this endpoint serves AWS JSON 1.1 requests (POST / with X-Amz-Target: Service.Operation).")
		}
		return 0, NewError("UnknownOperationException", "Operation %s is not supported by this endpoint.", target)
	}
	info.Operation = opName
	out, err := h(WithInfo(r.Context(), *info), body)
	if err != nil {
		return 0, err
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if out == nil {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return http.StatusOK, nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return 0, fmt.Errorf("encode %s output: %w", opName, err)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return http.StatusOK, nil
}

// readBody reads the whole body into one exactly sized buffer when the
// length is known (a 1 MB batch read with io.ReadAll is copied ~10 times).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength <= 0 {
		return io.ReadAll(body)
	}
	b := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(body, b); err != nil {
		return nil, err
	}
	return b, nil
}

func tooLarge(limit int64) *Error {
	return NewError("RequestEntityTooLargeException", "Request body exceeds the limit of %d bytes. Send fewer or smaller log events per request (PutLogEvents accepts at most 1,048,576 bytes of events).", limit)
}

func writeError(w http.ResponseWriter, e *Error) {
	m := make(map[string]any, 2+len(e.Fields))
	for k, v := range e.Fields {
		m[k] = v
	}
	m["__type"] = e.Code
	m["message"] = e.Message
	b, _ := json.Marshal(m)
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	// Tell the SDKs which error this is even before they read the body.
	h.Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}
