package awsapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Config configures a Router.
type Config struct {
	AccountID string
	Verifier  *Verifier
	Logger    *slog.Logger
	// MaxBodyBytes bounds a request body; larger requests are refused before
	// they are read whole. 0: DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Authorizer, when set, decides every authenticated request before it
	// runs (see authz.go); nil: every known key may do everything.
	Authorizer Authorizer
}

// DefaultMaxBodyBytes admits the largest legal PutLogEvents batch however
// it is escaped: 1 MiB of message bytes, each at worst a 6-byte \u00XX
// escape, plus ~60 bytes of JSON per event for 10,000 events.
const DefaultMaxBodyBytes = 7 << 20

// Router authenticates requests and dispatches them to the operations that
// services registered. It is the one place that turns errors into AWS error
// bodies.
type Router struct {
	cfg Config
	log *slog.Logger
	// json maps an X-Amz-Target prefix (e.g. "Logs_20140328") to the
	// service's operations.
	json map[string]map[string]Handler
	// signingName is the SigV4 service name each target prefix must be
	// signed for.
	signingName map[string]string
	// protocols maps a SigV4 signing name (e.g. "ec2", "iam") to the
	// protocol serving it, for requests without X-Amz-Target.
	protocols map[string]Protocol
	// resources names the resource of JSON operations per target prefix,
	// for the Authorizer.
	resources map[string]ResourceFunc
}

// Protocol is a wire protocol other than AWS JSON 1.1, such as the Query
// protocol with XML responses that EC2 and IAM speak. The Router still
// reads the body and verifies the signature; the protocol decodes, runs
// and encodes, and formats errors (including authentication errors) its way.
type Protocol interface {
	// Serve handles an authenticated request and writes the response, or
	// returns an error for the Router to write with WriteError.
	Serve(w http.ResponseWriter, r *http.Request, body []byte, info RequestInfo) error
	// WriteError writes e in the protocol's error format.
	WriteError(w http.ResponseWriter, e *Error, requestID string)
}

// HandleProtocol routes requests signed for signingName that carry no
// X-Amz-Target to p.
func (rt *Router) HandleProtocol(signingName string, p Protocol) {
	rt.protocols[signingName] = p
}

// protocolFor picks the protocol of a request before it is authenticated,
// so that even an authentication error comes back in the client's format:
// X-Amz-Target means JSON 1.1; otherwise the credential scope's service
// names it.
func (rt *Router) protocolFor(r *http.Request) Protocol {
	if target(r) != "" || len(rt.protocols) == 0 {
		return nil
	}
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if ok {
		cred, _, _ = strings.Cut(cred, ",")
	} else if cred = r.URL.Query().Get("X-Amz-Credential"); cred == "" { // presigned
		return nil
	}
	if scope := strings.Split(cred, "/"); len(scope) == 5 {
		return rt.protocols[scope[3]]
	}
	return nil
}

// NewRouter returns a Router with no services.
func NewRouter(cfg Config) *Router {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Router{cfg: cfg, log: cfg.Logger, json: map[string]map[string]Handler{}, signingName: map[string]string{}, protocols: map[string]Protocol{}}
}

// HandleJSON registers the operations of an AWS JSON 1.1 service under its
// target prefix (e.g. "Logs_20140328"), to be signed for signingName (e.g.
// "logs"). Registering the same prefix again adds operations to it, so
// operations may come from several places.
func (rt *Router) HandleJSON(targetPrefix, signingName string, ops map[string]Handler) {
	rt.signingName[targetPrefix] = signingName
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
	proto := rt.protocolFor(r)
	status, err := rt.serveRecover(w, r, &info, proto)
	code := ""
	if err != nil {
		ae := AsError(err)
		if ae == nil {
			rt.log.Error("request failed", "request_id", info.RequestID, "op", info.Operation, "err", err)
			ae = Internal()
		}
		status, code = ae.Status, ae.Code
		if proto != nil {
			proto.WriteError(w, ae, info.RequestID)
		} else {
			writeError(w, ae)
		}
	}
	rt.log.Debug("request", "request_id", info.RequestID, "op", info.Operation, "status", status, "error", code,
		"region", info.Region, "bytes_in", r.ContentLength, "dur", time.Since(start))
}

// serveRecover turns a panic in an operation into a logged 500 for that
// request, instead of a dropped connection the client cannot interpret.
func (rt *Router) serveRecover(w http.ResponseWriter, r *http.Request, info *RequestInfo, proto Protocol) (status int, err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return rt.serve(w, r, info, proto)
}

func (rt *Router) serve(w http.ResponseWriter, r *http.Request, info *RequestInfo, proto Protocol) (int, error) {
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
	if proto != nil {
		if err := rt.authorizeProto(r, body, *info, id.Service, proto); err != nil {
			return 0, err
		}
		return http.StatusOK, proto.Serve(w, r, body, *info)
	}

	target := target(r)
	prefix, opName, _ := strings.Cut(target, ".")
	ops := rt.json[prefix]
	h := ops[opName]
	if r.Method != http.MethodPost || h == nil {
		if target == "" {
			return 0, NewError("UnknownOperationException", "Missing X-Amz-Target header: this endpoint serves AWS JSON 1.1 requests (POST / with X-Amz-Target: Service.Operation).")
		}
		return 0, NewError("UnknownOperationException", "Operation %s is not supported by this endpoint.", target)
	}
	if want := rt.signingName[prefix]; id.Service != want {
		return 0, NewError("InvalidSignatureException", "Credential should be scoped to correct service: '%s'. ", want)
	}
	info.Operation = opName
	if err := rt.authorizeJSON(prefix, id.Service, opName, body, *info); err != nil {
		return 0, err
	}
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

// target is a JSON request's X-Amz-Target: a header, or a query parameter
// in a presigned request (the SDK signers hoist X-Amz-* headers into the
// query string when they presign).
func target(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return t
	}
	if r.URL.RawQuery == "" {
		return ""
	}
	return r.URL.Query().Get("X-Amz-Target")
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
