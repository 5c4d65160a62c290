package awsapi

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// The AWS Query protocol (IAM, STS, and with a flat response shape EC2):
// form-encoded parameters Action=Op&Version=…&Name=value, lists as
// Name.member.N (EC2: Name.N), structures as Name.member.N.Field, and XML
// responses. A QueryService is registered with Router.HandleProtocol under
// its signing name.

// QueryParams are the decoded parameters of one Query request.
type QueryParams url.Values

// Get returns the parameter name and whether it was sent.
func (p QueryParams) Get(name string) (string, bool) {
	v, ok := p[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// Value returns the parameter name, or "" when it was not sent.
func (p QueryParams) Value(name string) string {
	v, _ := p.Get(name)
	return v
}

// Ptr returns the parameter name, or nil when it was not sent.
func (p QueryParams) Ptr(name string) *string {
	if v, ok := p.Get(name); ok {
		return &v
	}
	return nil
}

// Int returns the integer parameter name; ok=false when absent, and an
// error in AWS's words when it is not an integer.
func (p QueryParams) Int(name string) (n int64, ok bool, err error) {
	v, ok := p.Get(name)
	if !ok {
		return 0, false, nil
	}
	n, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if perr != nil {
		return 0, true, &Error{Code: "MalformedInput", Message: fmt.Sprintf("Value '%s' for parameter %s is not a valid integer.", v, name), Status: http.StatusBadRequest}
	}
	return n, true, nil
}

// indexed returns, in index order, the sub-parameters of the list name in
// either encoding: name.member.N[.rest] (Query) or name.N[.rest] (EC2). The
// value of an element without a rest is under "".
func (p QueryParams) indexed(name string) []QueryParams {
	byIndex := map[int]QueryParams{}
	for k, vals := range p {
		rest, ok := strings.CutPrefix(k, name+".")
		if !ok {
			continue
		}
		rest = strings.TrimPrefix(rest, "member.")
		idx, sub, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(idx)
		if err != nil || n < 1 {
			continue
		}
		m := byIndex[n]
		if m == nil {
			m = QueryParams{}
			byIndex[n] = m
		}
		m[sub] = vals
	}
	idx := make([]int, 0, len(byIndex))
	for n := range byIndex {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	out := make([]QueryParams, len(idx))
	for i, n := range idx {
		out[i] = byIndex[n]
	}
	return out
}

// List returns the string list name (name.member.N or name.N), in index
// order; nil when absent. An empty list sent as "name=" is empty, not nil.
func (p QueryParams) List(name string) []string {
	items := p.indexed(name)
	if len(items) == 0 {
		if _, ok := p[name]; ok {
			return []string{}
		}
		return nil
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		if v, ok := it.Get(""); ok {
			out = append(out, v)
		}
	}
	return out
}

// Structs returns the structure list name: each element's fields keyed by
// field name (Tags.member.1.Key → [{"Key": …}]).
func (p QueryParams) Structs(name string) []QueryParams { return p.indexed(name) }

// QueryHandler runs one Query operation and returns its result: a value
// encoding/xml marshals into the result element (nil: no result element).
type QueryHandler func(ctx context.Context, p QueryParams) (any, error)

// ResponseStyle is the shape of a successful Query response.
type ResponseStyle int

const (
	// Wrapped (IAM, STS): <OpResponse xmlns><OpResult>…</OpResult>
	// <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></OpResponse>.
	Wrapped ResponseStyle = iota
	// Flat (EC2): <OpResponse xmlns><requestId>…</requestId>…</OpResponse>.
	Flat
)

// ErrorFormat writes an error of a Query service: status, headers, body.
type ErrorFormat func(w http.ResponseWriter, e *Error, namespace, requestID string)

// QueryService is a Query protocol service: its operations, XML namespace
// and response and error shapes. It implements Protocol and ActionNamer.
type QueryService struct {
	// SigningName prefixes IAM action names: "iam" → iam:CreateRole.
	SigningName string
	Namespace   string // e.g. https://iam.amazonaws.com/doc/2010-05-08/
	Version     string // e.g. 2010-05-08
	Ops         map[string]QueryHandler
	Style       ResponseStyle
	// Errors writes errors; nil: QueryErrors (the IAM/STS shape).
	Errors ErrorFormat
	// Resource returns the resource ARN an operation acts on, for
	// authorization; nil or "": "*".
	Resource func(ctx context.Context, action string, p QueryParams) string
	// NoAuth lists operations every authenticated caller may perform
	// without a policy allowing them (sts:GetCallerIdentity).
	NoAuth map[string]bool
}

// parse decodes the form body and any query string parameters.
func (q *QueryService) parse(r *http.Request, body []byte) (QueryParams, error) {
	p := QueryParams{}
	for k, v := range r.URL.Query() {
		p[k] = v
	}
	if len(body) > 0 {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, &Error{Code: "MalformedQueryString", Message: "The request body is not a valid form-encoded Query request: " + err.Error(), Status: http.StatusBadRequest}
		}
		for k, v := range vals {
			p[k] = append(p[k], v...)
		}
	}
	return p, nil
}

func (q *QueryService) op(p QueryParams) (string, QueryHandler, error) {
	action := p.Value("Action")
	h := q.Ops[action]
	if h == nil {
		return action, nil, &Error{Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %s for version %s", action, q.Version), Status: http.StatusBadRequest}
	}
	return action, h, nil
}

// Action names the IAM action and resource of a request so the Router can
// authorize it before it runs.
func (q *QueryService) Action(r *http.Request, body []byte, info RequestInfo) (string, func() string, error) {
	p, err := q.parse(r, body)
	if err != nil {
		return "", nil, err
	}
	action, _, err := q.op(p)
	if err != nil {
		return "", nil, err
	}
	if q.NoAuth[action] {
		return "", nil, nil
	}
	return q.SigningName + ":" + action, func() string {
		if q.Resource == nil {
			return "*"
		}
		if res := q.Resource(WithInfo(r.Context(), info), action, p); res != "" {
			return res
		}
		return "*"
	}, nil
}

// Serve runs the operation and writes its XML response.
func (q *QueryService) Serve(w http.ResponseWriter, r *http.Request, body []byte, info RequestInfo) error {
	p, err := q.parse(r, body)
	if err != nil {
		return err
	}
	action, h, err := q.op(p)
	if err != nil {
		return err
	}
	info.Operation = action
	out, err := h(WithInfo(r.Context(), info), p)
	if err != nil {
		return err
	}
	b, err := q.encode(action, out, info.RequestID)
	if err != nil {
		return fmt.Errorf("encode %s output: %w", action, err)
	}
	writeXML(w, http.StatusOK, b)
	return nil
}

func (q *QueryService) encode(action string, out any, requestID string) ([]byte, error) {
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	ns := []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: q.Namespace}}
	root := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: ns}
	if q.Style == Flat {
		if out == nil {
			out = struct{}{}
		}
		if err := enc.EncodeElement(out, root); err != nil {
			return nil, err
		}
		if err := enc.Flush(); err != nil {
			return nil, err
		}
		// encoding/xml cannot add a member to a value's fields, so the
		// requestId goes in right after the root start tag (whose
		// attributes hold no '>').
		b := buf.Bytes()
		i := bytes.IndexByte(b, '>') + 1
		var rid bytes.Buffer
		rid.WriteString("<requestId>")
		_ = xml.EscapeText(&rid, []byte(requestID))
		rid.WriteString("</requestId>")
		return append(b[:i:i], append(rid.Bytes(), b[i:]...)...), nil
	}
	if err := enc.EncodeToken(root); err != nil {
		return nil, err
	}
	if out != nil {
		if err := enc.EncodeElement(out, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			return nil, err
		}
	}
	meta := struct {
		RequestID string `xml:"RequestId"`
	}{requestID}
	if err := enc.EncodeElement(meta, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}); err != nil {
		return nil, err
	}
	if err := enc.EncodeToken(root.End()); err != nil {
		return nil, err
	}
	if err := enc.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteError writes e in the service's error format.
func (q *QueryService) WriteError(w http.ResponseWriter, e *Error, requestID string) {
	f := q.Errors
	if f == nil {
		f = QueryErrors
	}
	f(w, e, q.Namespace, requestID)
}

// queryAuthCodes renames the errors the Router raises in JSON 1.1 terms
// to what Query services answer with.
var queryAuthCodes = map[string]struct {
	code   string
	status int
}{
	"UnrecognizedClientException":         {"InvalidClientTokenId", http.StatusForbidden},
	"InvalidSignatureException":           {"SignatureDoesNotMatch", http.StatusForbidden},
	"IncompleteSignatureException":        {"IncompleteSignature", http.StatusBadRequest},
	"MissingAuthenticationTokenException": {"MissingAuthenticationToken", http.StatusForbidden},
	"AccessDeniedException":               {"AccessDenied", http.StatusForbidden},
	"RequestEntityTooLargeException":      {"RequestEntityTooLarge", http.StatusRequestEntityTooLarge},
	"SerializationException":              {"MalformedInput", http.StatusBadRequest},
	"ServiceUnavailableException":         {"ServiceFailure", http.StatusInternalServerError},
}

// QueryErrors is the IAM/STS error shape:
// <ErrorResponse xmlns><Error><Type>Sender</Type><Code/><Message/></Error><RequestId/></ErrorResponse>.
func QueryErrors(w http.ResponseWriter, e *Error, namespace, requestID string) {
	code, status := e.Code, e.Status
	if m, ok := queryAuthCodes[code]; ok {
		code, status = m.code, m.status
	}
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	var b bytes.Buffer
	b.WriteString(`<ErrorResponse xmlns="`)
	_ = xml.EscapeText(&b, []byte(namespace))
	b.WriteString(`"><Error><Type>` + typ + `</Type><Code>`)
	_ = xml.EscapeText(&b, []byte(code))
	b.WriteString(`</Code><Message>`)
	_ = xml.EscapeText(&b, []byte(e.Message))
	b.WriteString(`</Message></Error><RequestId>`)
	_ = xml.EscapeText(&b, []byte(requestID))
	b.WriteString(`</RequestId></ErrorResponse>`)
	writeXML(w, status, b.Bytes())
}

// ec2AuthCodes are EC2's names for authentication and authorization
// failures.
var ec2AuthCodes = map[string]struct {
	code   string
	status int
}{
	"UnrecognizedClientException":         {"AuthFailure", http.StatusUnauthorized},
	"InvalidSignatureException":           {"AuthFailure", http.StatusUnauthorized},
	"IncompleteSignatureException":        {"IncompleteSignature", http.StatusBadRequest},
	"MissingAuthenticationTokenException": {"MissingParameter", http.StatusUnauthorized},
	"AccessDeniedException":               {"UnauthorizedOperation", http.StatusForbidden},
	"RequestEntityTooLargeException":      {"RequestLimitExceeded", http.StatusRequestEntityTooLarge},
	"SerializationException":              {"InvalidParameterValue", http.StatusBadRequest},
	"ServiceUnavailableException":         {"InternalError", http.StatusInternalServerError},
}

// EC2Errors is EC2's error shape:
// <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>.
func EC2Errors(w http.ResponseWriter, e *Error, _ string, requestID string) {
	code, status := e.Code, e.Status
	if m, ok := ec2AuthCodes[code]; ok {
		code, status = m.code, m.status
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Response><Errors><Error><Code>`)
	_ = xml.EscapeText(&b, []byte(code))
	b.WriteString(`</Code><Message>`)
	_ = xml.EscapeText(&b, []byte(e.Message))
	b.WriteString(`</Message></Error></Errors><RequestID>`)
	_ = xml.EscapeText(&b, []byte(requestID))
	b.WriteString(`</RequestID></Response>`)
	writeXML(w, status, b.Bytes())
}

func writeXML(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// QueryError returns an Error with an explicit HTTP status, as Query
// services set one per code (IAM: NoSuchEntity 404, EntityAlreadyExists
// 409, …).
func QueryError(status int, code, format string, args ...any) *Error {
	e := NewError(code, format, args...)
	e.Status = status
	return e
}
