package awsapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testKey    = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func testVerifier() *Verifier {
	v := NewVerifier(func(id string) (string, bool) {
		if id == testKey {
			return testSecret, true
		}
		return "", false
	})
	v.Now = func() time.Time { return testNow }
	return v
}

// signed returns a request signed like the SDKs sign a JSON 1.1 call.
func signed(t *testing.T, body, key, secret, region string, at time.Time) *http.Request {
	return sign(t, body, "Logs_20140328.DescribeLogGroups", key, secret, region, at)
}

func signedTarget(t *testing.T, body, target, region string) *http.Request {
	return sign(t, body, target, testKey, testSecret, region, testNow)
}

func sign(t *testing.T, body, target, key, secret, region string, at time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4566/", bytes.NewReader([]byte(body)))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		r.Header.Set("X-Amz-Target", target)
	}
	r.Header.Set("User-Agent", "test")
	sum := sha256.Sum256([]byte(body))
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
		r, hex.EncodeToString(sum[:]), "logs", region, at)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func wantErr(t *testing.T, err error, code, msgPart string) {
	t.Helper()
	e := AsError(err)
	if e == nil {
		t.Fatalf("got %v, want %s", err, code)
	}
	if e.Code != code || !strings.Contains(e.Message, msgPart) {
		t.Fatalf("got %s %q, want %s containing %q", e.Code, e.Message, code, msgPart)
	}
	if e.Status != 400 {
		t.Fatalf("status %d, want 400", e.Status)
	}
}

func TestVerifyGood(t *testing.T) {
	v := testVerifier()
	for _, region := range []string{"us-east-1", "eu-central-1", "ap-southeast-2"} {
		body := `{"limit":5}`
		r := signed(t, body, testKey, testSecret, region, testNow.Add(-14*time.Minute))
		id, err := v.Verify(r, []byte(body))
		if err != nil {
			t.Fatalf("%s: %v", region, err)
		}
		if id.Region != region || id.AccessKeyID != testKey || id.Service != "logs" {
			t.Fatalf("identity %+v", id)
		}
	}
}

func TestVerifyWrongSecret(t *testing.T) {
	r := signed(t, `{}`, testKey, "not-the-secret", "us-east-1", testNow)
	_, err := testVerifier().Verify(r, []byte(`{}`))
	wantErr(t, err, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
}

func TestVerifyUnknownKey(t *testing.T) {
	r := signed(t, `{}`, "AKIANOTKNOWN00000000", testSecret, "us-east-1", testNow)
	_, err := testVerifier().Verify(r, []byte(`{}`))
	wantErr(t, err, "UnrecognizedClientException", "The security token included in the request is invalid.")
}

func TestVerifySessionToken(t *testing.T) {
	r := signed(t, `{}`, testKey, testSecret, "us-east-1", testNow)
	r.Header.Set("X-Amz-Security-Token", "FwoGZXIvYXdzEXAMPLE")
	_, err := testVerifier().Verify(r, []byte(`{}`))
	wantErr(t, err, "UnrecognizedClientException", "The security token included in the request is invalid.")
}

func TestVerifyClockSkew(t *testing.T) {
	r := signed(t, `{}`, testKey, testSecret, "us-east-1", testNow.Add(-16*time.Minute))
	_, err := testVerifier().Verify(r, []byte(`{}`))
	wantErr(t, err, "InvalidSignatureException", "Signature expired: 20261123T114400Z is now earlier than 20261123T114500Z (20261123T120000Z - 15 min.)")

	r = signed(t, `{}`, testKey, testSecret, "us-east-1", testNow.Add(16*time.Minute))
	_, err = testVerifier().Verify(r, []byte(`{}`))
	wantErr(t, err, "InvalidSignatureException", "Signature not yet current: 20261123T121600Z is still later than 20261123T121500Z (20261123T120000Z + 15 min.)")
}

func TestVerifyTampered(t *testing.T) {
	v := testVerifier()
	r := signed(t, `{"limit":5}`, testKey, testSecret, "us-east-1", testNow)
	_, err := v.Verify(r, []byte(`{"limit":6}`))
	wantErr(t, err, "InvalidSignatureException", "does not match")

	r = signed(t, `{}`, testKey, testSecret, "us-east-1", testNow)
	r.Header.Set("X-Amz-Target", "Logs_20140328.DeleteLogGroup")
	_, err = v.Verify(r, []byte(`{}`))
	wantErr(t, err, "InvalidSignatureException", "does not match")

	// An unsigned header may change: it is not part of the signature.
	r = signed(t, `{}`, testKey, testSecret, "us-east-1", testNow)
	r.Header.Set("User-Agent", "other")
	r.Header.Set("X-Extra", "1")
	if _, err := v.Verify(r, []byte(`{}`)); err != nil {
		t.Fatalf("unsigned header change: %v", err)
	}

	// A target added after signing would choose another operation under a
	// valid signature: it must be signed.
	r = sign(t, `{}`, "", testKey, testSecret, "us-east-1", testNow)
	r.Header.Set("X-Amz-Target", "Logs_20140328.DeleteLogGroup")
	_, err = v.Verify(r, []byte(`{}`))
	wantErr(t, err, "InvalidSignatureException", "not signed: x-amz-target")

	// Dropping a header from SignedHeaders changes what was signed.
	r = signed(t, `{}`, testKey, testSecret, "us-east-1", testNow)
	r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-amz-target", "", 1))
	_, err = v.Verify(r, []byte(`{}`))
	wantErr(t, err, "InvalidSignatureException", "does not match")
}

func TestVerifyMalformedAuthorization(t *testing.T) {
	v := testVerifier()
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	_, err := v.Verify(r, nil)
	wantErr(t, err, "MissingAuthenticationTokenException", "Missing Authentication Token")

	r.Header.Set("Authorization", "Bearer abc")
	_, err = v.Verify(r, nil)
	wantErr(t, err, "IncompleteSignatureException", "Authorization header requires 'Credential' parameter.")

	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIA/20261123/us-east-1/logs/aws4_request, SignedHeaders=host")
	r.Header.Set("X-Amz-Date", "20261123T120000Z")
	_, err = v.Verify(r, nil)
	wantErr(t, err, "IncompleteSignatureException", "Authorization header requires 'Signature' parameter.")

	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential AKIA, SignedHeaders=host, Signature=00")
	_, err = v.Verify(r, nil)
	wantErr(t, err, "IncompleteSignatureException", "not a valid key=value pair (missing equal-sign)")

	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testKey+"/20261123/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=00")
	r.Header.Set("X-Amz-Date", "yesterday")
	_, err = v.Verify(r, nil)
	wantErr(t, err, "IncompleteSignatureException", "Date must be in ISO-8601 'basic format'")

	r.Header.Del("X-Amz-Date")
	_, err = v.Verify(r, nil)
	wantErr(t, err, "IncompleteSignatureException", "requires existence of either a 'X-Amz-Date' or a 'Date' header")
}

func BenchmarkVerify(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1<<20)
	t := &testing.T{}
	r := signed(t, string(body), testKey, testSecret, "us-east-1", testNow)
	v := testVerifier()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := v.Verify(r, body); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifyRegionShape: a scope region that cannot be a region name
// (it would carry ':' into ARNs and store keys) is refused, signed or not.
func TestVerifyRegionShape(t *testing.T) {
	v := testVerifier()
	for _, region := range []string{"eu:west", "US-EAST-1", "a b"} {
		r := signed(t, "{}", testKey, testSecret, region, testNow)
		_, err := v.Verify(r, []byte("{}"))
		wantErr(t, err, "IncompleteSignatureException", "Credential should be scoped to a valid region, not '"+region+"'.")
	}
}

// presign returns a request presigned by aws-sdk-go-v2's signer, as its
// presign clients do: the signature and its parameters in the query
// string, X-Amz-* headers hoisted into it.
func presign(t *testing.T, method, rawURL, body, target, expires, region string, at time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, rawURL, bytes.NewReader([]byte(body)))
	if target != "" {
		r.Header.Set("X-Amz-Target", target)
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	}
	if expires != "" {
		q := r.URL.Query()
		q.Set("X-Amz-Expires", expires)
		r.URL.RawQuery = q.Encode()
	}
	sum := sha256.Sum256([]byte(body))
	uri, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret},
		r, hex.EncodeToString(sum[:]), "logs", region, at)
	if err != nil {
		t.Fatal(err)
	}
	out := httptest.NewRequest(method, uri, bytes.NewReader([]byte(body)))
	for k, v := range hdr {
		if k != "Host" {
			out.Header[k] = v
		}
	}
	return out
}

func TestVerifyPresigned(t *testing.T) {
	v := testVerifier()
	const u = "http://127.0.0.1:4566/"
	// Valid: JSON with the target hoisted, a GET, X-Amz-Expires honoured
	// past the 15 minutes of a signed header.
	for _, r := range []*http.Request{
		presign(t, http.MethodPost, u, `{"limit":5}`, "Logs_20140328.DescribeLogGroups", "300", "eu-west-1", testNow.Add(-4*time.Minute)),
		presign(t, http.MethodGet, u+"?Action=GetCallerIdentity&Version=2011-06-15", "", "", "", "eu-west-1", testNow.Add(-14*time.Minute)),
		presign(t, http.MethodGet, u+"?Action=DescribeVpcs", "", "", "86400", "eu-west-1", testNow.Add(-23*time.Hour)),
		presign(t, http.MethodGet, u, "", "", "60", "eu-west-1", testNow.Add(10*time.Minute)),
	} {
		body, _ := io.ReadAll(r.Body)
		id, err := v.Verify(r, body)
		if err != nil || id.AccessKeyID != testKey || id.Region != "eu-west-1" || id.Service != "logs" {
			t.Fatalf("%s %s: %+v %v", r.Method, r.URL, id, err)
		}
	}
	verify := func(r *http.Request, body string) error {
		_, err := v.Verify(r, []byte(body))
		return err
	}
	wantErr(t, verify(presign(t, http.MethodGet, u, "", "", "300", "us-east-1", testNow.Add(-6*time.Minute)), ""),
		"InvalidSignatureException", "Signature expired: 20261123T115400Z is now earlier than 20261123T115500Z (20261123T120000Z - 300 sec.)")
	wantErr(t, verify(presign(t, http.MethodGet, u, "", "", "", "us-east-1", testNow.Add(-16*time.Minute)), ""),
		"InvalidSignatureException", "Signature expired: 20261123T114400Z is now earlier than")
	wantErr(t, verify(presign(t, http.MethodGet, u, "", "", "", "us-east-1", testNow.Add(16*time.Minute)), ""),
		"InvalidSignatureException", "Signature not yet current")
	wantErr(t, verify(presign(t, http.MethodGet, u, "", "", "604801", "us-east-1", testNow), ""),
		"IncompleteSignatureException", "X-Amz-Expires must be a whole number of seconds from 1 to 604800")
	// Tampering with the query or the body breaks the signature.
	r := presign(t, http.MethodGet, u+"?Action=DescribeVpcs", "", "", "60", "us-east-1", testNow)
	r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "DescribeVpcs", "DeleteVpc", 1)
	wantErr(t, verify(r, ""), "InvalidSignatureException", "The request signature we calculated does not match")
	wantErr(t, verify(presign(t, http.MethodPost, u, `{"limit":5}`, "Logs_20140328.DescribeLogGroups", "60", "us-east-1", testNow), `{"limit":6}`),
		"InvalidSignatureException", "The request signature we calculated does not match")
	// Missing parameters and an unknown key.
	r = httptest.NewRequest(http.MethodGet, u+"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261123T120000Z", nil)
	wantErr(t, verify(r, ""), "IncompleteSignatureException",
		"AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. Re-examine the query-string parameters.")
	r = presign(t, http.MethodGet, u, "", "", "60", "us-east-1", testNow)
	r.URL.RawQuery = strings.Replace(r.URL.RawQuery, testKey, "AKIAUNKNOWN000000000", 1)
	wantErr(t, verify(r, ""), "UnrecognizedClientException", "The security token included in the request is invalid.")
}

// BenchmarkVerifyPresigned: a presigned GET (the EKS-token shape), to
// compare with a signed header on an empty body.
func BenchmarkVerifyPresigned(b *testing.B) {
	t := &testing.T{}
	for _, c := range []struct {
		name string
		r    *http.Request
	}{
		{"query", presign(t, http.MethodGet, "http://127.0.0.1:4566/?Action=GetCallerIdentity&Version=2011-06-15", "", "", "60", "us-east-1", testNow)},
		{"header", signed(t, "", testKey, testSecret, "us-east-1", testNow)},
	} {
		b.Run(c.name, func(b *testing.B) {
			v := testVerifier()
			for b.Loop() {
				if _, err := v.Verify(c.r, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
