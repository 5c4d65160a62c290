package awsapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// fakeQuery stands in for the Query/XML protocol EC2 and IAM will use.
type fakeQuery struct{ served []string }

func (q *fakeQuery) Serve(w http.ResponseWriter, r *http.Request, body []byte, info RequestInfo) error {
	q.served = append(q.served, string(body)+"@"+info.Region)
	if string(body) == "Action=Fail" {
		return NewError("InvalidParameterValue", "bad")
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprint(w, "<ok/>")
	return nil
}

func (q *fakeQuery) WriteError(w http.ResponseWriter, e *Error, requestID string) {
	w.WriteHeader(e.Status)
	fmt.Fprintf(w, "<Response><Errors><Error><Code>%s</Code></Error></Errors><RequestID>%s</RequestID></Response>", e.Code, requestID)
}

func signQuery(t *testing.T, body, secret string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4566/", bytes.NewReader([]byte(body)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: secret},
		r, hex.EncodeToString(sum[:]), "ec2", "us-west-2", testNow); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRouterProtocolHook(t *testing.T) {
	rt := testRouter(t)
	q := &fakeQuery{}
	rt.HandleProtocol("ec2", q)

	w := httptest.NewRecorder()
	rt.ServeHTTP(w, signQuery(t, "Action=DescribeVpcs", testSecret))
	if w.Code != 200 || w.Body.String() != "<ok/>" || len(q.served) != 1 || q.served[0] != "Action=DescribeVpcs@us-west-2" {
		t.Fatalf("%d %q %v", w.Code, w.Body, q.served)
	}
	w = httptest.NewRecorder()
	rt.ServeHTTP(w, signQuery(t, "Action=DescribeVpcs", "wrong"))
	if w.Code != 400 || !bytes.Contains(w.Body.Bytes(), []byte("<Code>InvalidSignatureException</Code>")) {
		t.Fatalf("auth error not in the protocol's format: %d %q", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	rt.ServeHTTP(w, signQuery(t, "Action=Fail", testSecret))
	if w.Code != 400 || !bytes.Contains(w.Body.Bytes(), []byte("<Code>InvalidParameterValue</Code>")) {
		t.Fatalf("%d %q", w.Code, w.Body)
	}
	// JSON 1.1 requests are unaffected.
	if rep := call(t, rt, `{"name":"abc"}`, nil); rep.status != 200 {
		t.Fatalf("json after protocol registration: %d", rep.status)
	}
}

func TestRouterWrongSigningService(t *testing.T) {
	rt := testRouter(t)
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4566/", bytes.NewReader([]byte(`{}`)))
	r.Header.Set("X-Amz-Target", "Logs_20140328.DescribeLogGroups")
	sum := sha256.Sum256([]byte(`{}`))
	_ = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret},
		r, hex.EncodeToString(sum[:]), "ec2", "eu-west-1", testNow)
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, r)
	if w.Code != 400 || !bytes.Contains(w.Body.Bytes(), []byte(`Credential should be scoped to correct service: 'logs'.`)) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

func TestRouterPanicIs500(t *testing.T) {
	rt := NewRouter(Config{Verifier: testVerifier()})
	rt.HandleJSON("Logs_20140328", "logs", map[string]Handler{
		"DescribeLogGroups": func(context.Context, []byte) (any, error) { panic("boom") },
	})
	rep := call(t, rt, `{}`, nil)
	if rep.status != 500 || rep.typ != "ServiceUnavailableException" {
		t.Fatalf("%d %s %s", rep.status, rep.typ, rep.msg)
	}
}

// TestRouterPresignedTargetIsSigned: a presigned JSON call carries its
// X-Amz-Target in the signed query string; an X-Amz-Target header added
// to it (signed by nobody) must not turn the call into another operation.
func TestRouterPresignedTargetIsSigned(t *testing.T) {
	rt := testRouter(t)
	deleted := false
	rt.HandleJSON("Logs_20140328", "logs", map[string]Handler{
		"DeleteLogGroup": Op(func(ctx context.Context, in *echoIn) (*echoOut, error) {
			deleted = true
			return nil, nil
		}),
	})
	for _, c := range []struct {
		what   string
		target string // in the presigned query
		header string // X-Amz-Target added unsigned
		ok     bool   // the signed DescribeLogGroups runs; else refused
	}{
		{"presigned call", "Logs_20140328.DescribeLogGroups", "", true},
		{"an unsigned X-Amz-Target header replaced the presigned one", "Logs_20140328.DescribeLogGroups", "Logs_20140328.DeleteLogGroup", false},
		// The same target sent again as a header changes nothing.
		{"presigned call with its own target as a header", "Logs_20140328.DescribeLogGroups", "Logs_20140328.DescribeLogGroups", true},
		// A presigned call whose query has no target: the header names
		// the operation only if it was signed.
		{"an unsigned X-Amz-Target header named the operation of a presigned call", "", "Logs_20140328.DeleteLogGroup", false},
	} {
		r := presign(t, http.MethodPost, "http://127.0.0.1:4566/", `{"name":"abc"}`, c.target, "300", "eu-west-1", testNow)
		if c.header != "" {
			r.Header.Set("X-Amz-Target", c.header)
		}
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, r)
		if c.ok && w.Code != 200 {
			t.Fatalf("%s: %d %s", c.what, w.Code, w.Body)
		}
		if !c.ok && (deleted || w.Code == 200) {
			t.Fatalf("%s: %d %s, deleted %v", c.what, w.Code, w.Body, deleted)
		}
	}
}
