package awsapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

type echoIn struct {
	Name  *string  `json:"name"`
	Limit *int64   `json:"limit"`
	Flag  *bool    `json:"flag"`
	List  []string `json:"list"`
}

type echoOut struct {
	Name string `json:"name"`
}

func testRouter(t *testing.T) *Router {
	rt := NewRouter(Config{AccountID: "000000000000", Verifier: testVerifier(), MaxBodyBytes: 1 << 10})
	rt.HandleJSON("Logs_20140328", "logs", map[string]Handler{
		"DescribeLogGroups": Op(func(ctx context.Context, in *echoIn) (*echoOut, error) {
			if Info(ctx).Region != "eu-west-1" || Info(ctx).RequestID == "" {
				t.Errorf("request info %+v", Info(ctx))
			}
			if in.Name == nil {
				return nil, nil // no output: empty body
			}
			var v Validator
			v.String("name", *in.Name, 1, 3, MustPattern(`[a-z]+`))
			if err := v.Err(); err != nil {
				return nil, err
			}
			return &echoOut{Name: *in.Name}, nil
		}),
	})
	return rt
}

type reply struct {
	status int
	hdr    http.Header
	body   string
	typ    string
	msg    string
}

func call(t *testing.T, rt http.Handler, body string, mutate func(*http.Request)) reply {
	t.Helper()
	r := signed(t, body, testKey, testSecret, "eu-west-1", testNow)
	if mutate != nil {
		mutate(r)
	}
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, r)
	rep := reply{status: w.Code, hdr: w.Header(), body: w.Body.String()}
	if w.Code != 200 {
		var e map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("error body %q: %v", w.Body.String(), err)
		}
		rep.typ, rep.msg = e["__type"], e["message"]
	}
	return rep
}

func TestProtocolSuccess(t *testing.T) {
	rt := testRouter(t)
	rep := call(t, rt, `{"name":"abc","unknownMember":[1,{"x":null}]}`, nil)
	if rep.status != 200 || rep.body != `{"name":"abc"}` {
		t.Fatalf("%d %q", rep.status, rep.body)
	}
	if rep.hdr.Get("Content-Type") != "application/x-amz-json-1.1" || len(rep.hdr.Get("x-amzn-RequestId")) != 36 {
		t.Fatalf("headers %v", rep.hdr)
	}
	rep = call(t, rt, `{}`, nil)
	if rep.status != 200 || rep.body != "" || rep.hdr.Get("Content-Length") != "0" {
		t.Fatalf("no-output op: %d %q", rep.status, rep.body)
	}
	// Member names match exactly, as in AWS: a differently cased one is an
	// unknown member, ignored.
	rep = call(t, rt, `{"NAME":"abc"}`, nil)
	if rep.status != 200 || rep.body != "" {
		t.Fatalf("case-folded member: %d %q", rep.status, rep.body)
	}
	rep = call(t, rt, `{"Name":"xyz","name":"abc"}`, nil)
	if rep.status != 200 || rep.body != `{"name":"abc"}` {
		t.Fatalf("both spellings: %d %q", rep.status, rep.body)
	}
	rep = call(t, rt, ``, nil)
	if rep.status != 200 {
		t.Fatalf("empty body: %d %q", rep.status, rep.body)
	}
}

func TestProtocolErrors(t *testing.T) {
	rt := testRouter(t)
	cases := []struct {
		name, body string
		mutate     func(*http.Request)
		status     int
		typ, msg   string
	}{
		{"malformed", `{"name":`, nil, 400, "SerializationException", "Malformed JSON"},
		{"not an object", `[1,2]`, nil, 400, "SerializationException", "must be a JSON object, not an array"},
		{"wrong type string", `{"name":5}`, nil, 400, "SerializationException", "Unexpected JSON number for member 'name': expected a string"},
		{"wrong type int", `{"limit":"5"}`, nil, 400, "SerializationException", "member 'limit': expected a number"},
		{"fraction", `{"limit":1.5}`, nil, 400, "SerializationException", "member 'limit'"},
		{"wrong type bool", `{"flag":"yes"}`, nil, 400, "SerializationException", "member 'flag': expected a boolean"},
		{"wrong type list", `{"list":"a"}`, nil, 400, "SerializationException", "member 'list': expected a list"},
		{"validation", `{"name":"ABCD"}`, nil, 400, "InvalidParameterException",
			"2 validation errors detected: Value 'ABCD' at 'name' failed to satisfy constraint: Member must have length less than or equal to 3; Value 'ABCD' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-z]+"},
		{"unknown op", `{}`, func(r *http.Request) {
			*r = *signedTarget(t, `{}`, "Logs_20140328.NoSuchThing", "eu-west-1")
		}, 400, "UnknownOperationException", "Logs_20140328.NoSuchThing"},
		{"unsigned", `{}`, func(r *http.Request) { r.Header.Del("Authorization") }, 400, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"oversized", `{"name":"` + strings.Repeat("a", 2000) + `"}`, nil, 413, "RequestEntityTooLargeException", "exceeds the limit of 1024 bytes"},
	}
	for _, c := range cases {
		rep := call(t, rt, c.body, c.mutate)
		if rep.status != c.status || rep.typ != c.typ || !strings.Contains(rep.msg, c.msg) {
			t.Errorf("%s: got %d %s %q, want %d %s %q", c.name, rep.status, rep.typ, rep.msg, c.status, c.typ, c.msg)
		}
		if rep.hdr.Get("x-amzn-RequestId") == "" {
			t.Errorf("%s: no request id", c.name)
		}
	}
}

func TestValidatorMessages(t *testing.T) {
	var v Validator
	v.Required("logGroupName", false)
	if got := v.Err().Error(); got != "InvalidParameterException: 1 validation error detected: Value null at 'logGroupName' failed to satisfy constraint: Member must not be null" {
		t.Fatal(got)
	}
	v = Validator{}
	v.Range("limit", 51, 1, 50)
	v.Enum("orderBy", "Name", "LogStreamName", "LastEventTime")
	v.String("logEvents.3.member.message", "", 1, -1, nil)
	want := "3 validation errors detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50; " +
		"Value 'Name' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]; " +
		"Value '' at 'logEvents.3.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1"
	if e := AsError(v.Err()); e == nil || e.Message != want || e.Code != "InvalidParameterException" {
		t.Fatalf("got %v", v.Err())
	}
	v = Validator{}
	for i := 0; i < 10000; i++ {
		v.Min("logEvents."+strconv.Itoa(i+1)+".member.timestamp", -1, 0)
	}
	if msg := AsError(v.Err()).Message; !strings.HasPrefix(msg, "10000 validation errors detected: Value '-1' at 'logEvents.1.member.timestamp'") ||
		!strings.HasSuffix(msg, "; and 9990 more") || len(msg) > 2000 {
		t.Fatalf("long list: %.300s", msg)
	}
	// Patterns match the whole value, like Java's String.matches.
	if MustPattern(`[a-z]+`).Match("abc1") || !MustPattern(`[^:*]*`).Match("") {
		t.Fatal("pattern anchoring")
	}
}

func TestTokens(t *testing.T) {
	tok := EncodeToken("DescribeLogGroups", "group/a", "", "x\x00y")
	f, ok := DecodeToken(tok, "DescribeLogGroups")
	if !ok || len(f) != 3 || f[0] != "group/a" || f[1] != "" || f[2] != "x\x00y" {
		t.Fatalf("round trip: %q %v", f, ok)
	}
	if _, ok := DecodeToken(tok, "DescribeLogStreams"); ok {
		t.Fatal("token accepted for another kind")
	}
	for _, bad := range []string{"", "x", tok[:len(tok)-1], tok[:5] + "A" + tok[6:], "f/123"} {
		if _, ok := DecodeToken(bad, "DescribeLogGroups"); ok && bad != tok {
			t.Fatalf("bad token %q accepted", bad)
		}
	}
}
