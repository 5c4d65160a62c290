package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// rawCall sends a hand-made, correctly signed request, for the bad inputs
// no SDK would send.
func rawCall(t *testing.T, url, op, body string, at time.Time, secret string) (int, string, string, http.Header) {
	t.Helper()
	resp, b := signedPost(t, url, "logs", "eu-north-1", "application/x-amz-json-1.1", "Logs_20140328."+op, body, at, secret)
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if resp.StatusCode != 200 {
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("error body %q: %v", b, err)
		}
	}
	return resp.StatusCode, e.Type, e.Message, resp.Header
}

func TestBadInput(t *testing.T) {
	srv := startServer(t, "")
	now := time.Now()
	ok := func(op, body string) {
		t.Helper()
		if code, typ, msg, _ := rawCall(t, srv.URL, op, body, now, secretKey); code != 200 {
			t.Fatalf("%s: %d %s %s", op, code, typ, msg)
		}
	}
	ok("CreateLogGroup", `{"logGroupName":"g"}`)
	ok("CreateLogStream", `{"logGroupName":"g","logStreamName":"s"}`)
	ts := now.UnixMilli()
	cases := []struct {
		name, op, body string
		at             time.Time
		secret         string
		status         int
		typ, msg       string
	}{
		{"malformed json", "CreateLogGroup", `{"logGroupName":"x"`, now, secretKey, 400, "SerializationException", "Malformed JSON"},
		{"wrong type", "CreateLogGroup", `{"logGroupName":["x"]}`, now, secretKey, 400, "SerializationException", "member 'logGroupName': expected a string"},
		{"wrong type put", "PutLogEvents", `{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":"now","message":"m"}]}`, now, secretKey, 400, "SerializationException", "member 'timestamp': expected a number"},
		{"invalid name", "CreateLogGroup", `{"logGroupName":"a:b"}`, now, secretKey, 400, "InvalidParameterException", "Value 'a:b' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"},
		{"missing member", "CreateLogStream", `{"logGroupName":"g"}`, now, secretKey, 400, "InvalidParameterException", "Value null at 'logStreamName' failed to satisfy constraint: Member must not be null"},
		{"out of order", "PutLogEvents", `{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":` + itoa(ts) + `,"message":"b"},{"timestamp":` + itoa(ts-1) + `,"message":"a"}]}`, now, secretKey, 400, "InvalidParameterException", "Log events in a single PutLogEvents request must be in chronological order."},
		{"upload too large", "PutLogEvents", `{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":` + itoa(ts) + `,"message":"` + strings.Repeat("a", 600000) + `"},{"timestamp":` + itoa(ts) + `,"message":"` + strings.Repeat("b", 600000) + `"}]}`, now, secretKey, 400, "InvalidParameterException", "Upload too large: 1200052 bytes exceeds limit of 1048576"},
		{"oversized body", "PutLogEvents", `{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":` + itoa(ts) + `,"message":"` + strings.Repeat("c", 7<<20) + `"}]}`, now, secretKey, 413, "RequestEntityTooLargeException", "exceeds the limit"},
		{"unknown operation", "StartLiveTail", `{}`, now, secretKey, 400, "UnknownOperationException", "Logs_20140328.StartLiveTail"},
		{"bad signature", "DescribeLogGroups", `{}`, now, "wrong", 400, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided."},
		{"skew", "DescribeLogGroups", `{}`, now.Add(-20 * time.Minute), secretKey, 400, "InvalidSignatureException", "Signature expired: "},
		{"future", "DescribeLogGroups", `{}`, now.Add(20 * time.Minute), secretKey, 400, "InvalidSignatureException", "Signature not yet current: "},
		{"bad token", "DescribeLogGroups", `{"nextToken":"abc"}`, now, secretKey, 400, "InvalidParameterException", "The specified nextToken is invalid."},
	}
	for _, c := range cases {
		code, typ, msg, hdr := rawCall(t, srv.URL, c.op, c.body, c.at, c.secret)
		if code != c.status || typ != c.typ || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: got %d %s %q; want %d %s %q", c.name, code, typ, msg, c.status, c.typ, c.msg)
		}
		if hdr.Get("x-amzn-RequestId") == "" {
			t.Errorf("%s: no x-amzn-RequestId", c.name)
		}
	}
	// Nothing above changed anything: one group, one empty stream.
	code, _, _, _ := rawCall(t, srv.URL, "DescribeLogGroups", `{}`, now, secretKey)
	if code != 200 {
		t.Fatal(code)
	}
	resp := describe(t, srv.URL)
	if !strings.Contains(resp, `"logGroupName":"g"`) || strings.Count(resp, "logGroupName") != 1 || !strings.Contains(resp, `"storedBytes":0`) {
		t.Fatalf("state changed: %s", resp)
	}
	// Unsigned requests are refused; /health is not.
	r, err := http.Post(srv.URL+"/", "application/x-amz-json-1.1", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 400 || !strings.Contains(string(b), "MissingAuthenticationTokenException") {
		t.Fatalf("unsigned: %d %s", r.StatusCode, b)
	}
	h, err := http.Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(h.Body)
	h.Body.Close()
	if h.StatusCode != 200 || string(b) != `{"status":"ok"}` {
		t.Fatalf("health: %d %s", h.StatusCode, b)
	}
}

// describe lists the log groups of eu-north-1, the region rawCall signs for.
func describe(t *testing.T, url string) string {
	_, b := signedPost(t, url, "logs", "eu-north-1", "application/x-amz-json-1.1", "Logs_20140328.DescribeLogGroups", `{}`, time.Now(), secretKey)
	return string(b)
}

// signedPost POSTs body to url signed with the test key (secret its
// secret) for service in signRegion at time at, with contentType and, when
// not empty, X-Amz-Target, and returns the response (its body closed) and
// its body.
func signedPost(t *testing.T, url, service, signRegion, contentType, target, body string, at time.Time, secret string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", contentType)
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), service, signRegion, at); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
