package awsapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// amzDateFormat is SigV4's ISO-8601 basic format.
const amzDateFormat = "20060102T150405Z"

// MaxClockSkew is how far a request's X-Amz-Date may be from the server's
// clock in either direction, as in AWS.
const MaxClockSkew = 15 * time.Minute

// Identity is who signed a request and for what scope.
type Identity struct {
	AccessKeyID string
	Region      string // from the credential scope: any region is served
	Service     string // signing name from the credential scope
	Time        time.Time
}

// Verifier checks SigV4 Authorization headers by recomputing the signature
// with aws-sdk-go-v2's signer over exactly the headers the client signed, so
// canonicalisation is the SDK's and not ours.
type Verifier struct {
	// Secret returns the secret key for an access key id.
	Secret func(accessKeyID string) (secret string, ok bool)
	// Now is the server clock (time.Now when nil); tests move it.
	Now    func() time.Time
	signer *v4.Signer
}

// NewVerifier returns a Verifier looking secrets up with secret.
func NewVerifier(secret func(accessKeyID string) (string, bool)) *Verifier {
	return &Verifier{Secret: secret, signer: v4.NewSigner()}
}

const signatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

func incomplete(format string, args ...any) *Error {
	return NewError("IncompleteSignatureException", format, args...)
}

func badSignature(format string, args ...any) *Error {
	return NewError("InvalidSignatureException", format, args...)
}

// Verify checks r's signature over body (the whole request body, already
// read). It returns the signer's identity or an *Error with AWS's code and
// words.
func (v *Verifier) Verify(r *http.Request, body []byte) (Identity, error) {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		if q := r.URL.Query(); q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Signature") || q.Has("X-Amz-Credential") {
			return v.verifyPresigned(r, body, q)
		}
		return Identity{}, NewError("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	const algorithm = "AWS4-HMAC-SHA256"
	rest, ok := strings.CutPrefix(authz, algorithm+" ")
	if !ok {
		if alg, _, _ := strings.Cut(authz, " "); strings.HasPrefix(alg, "AWS4-") {
			return Identity{}, incomplete("Unsupported AWS 'algorithm': '%s'", alg)
		}
		return Identity{}, incomplete("Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=%s", authz)
	}
	var credential, signedHeaders, signature string
	var haveCred, haveSH, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return Identity{}, incomplete("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", part, authz)
		}
		switch k {
		case "Credential":
			credential, haveCred = val, true
		case "SignedHeaders":
			signedHeaders, haveSH = val, true
		case "Signature":
			signature, haveSig = val, true
		}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	var missing strings.Builder
	if !haveCred {
		missing.WriteString("Authorization header requires 'Credential' parameter. ")
	}
	if !haveSig {
		missing.WriteString("Authorization header requires 'Signature' parameter. ")
	}
	if !haveSH {
		missing.WriteString("Authorization header requires 'SignedHeaders' parameter. ")
	}
	if amzDate == "" {
		missing.WriteString("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
	}
	if missing.Len() > 0 {
		return Identity{}, incomplete("%sAuthorization=%s", missing.String(), authz)
	}

	id, secret, err := v.identify(credential, amzDate, r.Header.Get("X-Amz-Security-Token"))
	if err != nil {
		return Identity{}, err
	}
	if err := v.current(id.Time, amzDate); err != nil {
		return Identity{}, err
	}

	c := signedOnly(r, r.URL.RawQuery, signedHeaders, body)
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: id.AccessKeyID, SecretAccessKey: secret}
	if err := v.signer.SignHTTP(context.Background(), creds, c, hex.EncodeToString(sum[:]), id.Service, id.Region, id.Time); err != nil {
		return Identity{}, badSignature(signatureMismatch)
	}
	_, want, _ := strings.Cut(c.Header.Get("Authorization"), "Signature=")
	_, wantSH, _ := strings.Cut(c.Header.Get("Authorization"), "SignedHeaders=")
	wantSH, _, _ = strings.Cut(wantSH, ",")
	// A client that signed a header the SDK signer never signs (user-agent,
	// expect, ...) cannot be verified this way; it fails as a mismatch.
	if wantSH != signedHeaders || subtle.ConstantTimeCompare([]byte(want), []byte(signature)) != 1 {
		return Identity{}, badSignature(signatureMismatch)
	}
	// X-Amz-Target chooses the operation, so a signature that leaves it out
	// would let anyone holding the request replay it as another operation.
	// Every SDK signs it; the words are S3's for unsigned x-amz-* headers.
	if r.Header.Get("X-Amz-Target") != "" && !listHas(signedHeaders, "x-amz-target") {
		return Identity{}, badSignature("There were headers present in the request which were not signed: x-amz-target")
	}
	return id, nil
}

// listHas reports whether the ';'-separated list holds name.
func listHas(list, name string) bool {
	for list != "" {
		var h string
		h, list, _ = strings.Cut(list, ";")
		if h == name {
			return true
		}
	}
	return false
}

// identify reads the credential scope and the date of a request and
// finds the secret of its key.
func (v *Verifier) identify(credential, amzDate, token string) (id Identity, secret string, err error) {
	scope := strings.Split(credential, "/")
	if len(scope) != 5 {
		return id, "", incomplete("Credential should be scoped to a valid region, not '%s'. ", credential)
	}
	id = Identity{AccessKeyID: scope[0], Region: scope[2], Service: scope[3]}
	if scope[4] != "aws4_request" {
		return id, "", incomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'. ", scope[4])
	}
	if !ValidRegion(id.Region) {
		return id, "", incomplete("Credential should be scoped to a valid region, not '%s'. ", id.Region)
	}
	t, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return id, "", incomplete("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", amzDate)
	}
	id.Time = t
	if scope[1] != t.Format("20060102") {
		return id, "", badSignature("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", scope[1], t.Format("20060102"), amzDate)
	}
	secret, ok := v.Secret(id.AccessKeyID)
	// flowwatch issues no temporary credentials, so a session token (say a
	// stale AWS_SESSION_TOKEN from a real AWS login) is one we cannot
	// vouch for, as AWS answers for a token it did not issue.
	if !ok || token != "" {
		return id, "", NewError("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	return id, secret, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now().UTC()
	}
	return time.Now().UTC()
}

// current checks a signature date against the server clock, 15 minutes
// either way.
func (v *Verifier) current(t time.Time, amzDate string) error {
	n := v.now()
	if t.Before(n.Add(-MaxClockSkew)) {
		return badSignature("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, n.Add(-MaxClockSkew).Format(amzDateFormat), n.Format(amzDateFormat))
	}
	return notYetCurrent(n, t, amzDate)
}

// notYetCurrent refuses a signature dated more than 15 minutes after the
// server clock n.
func notYetCurrent(n, t time.Time, amzDate string) error {
	if t.After(n.Add(MaxClockSkew)) {
		return badSignature("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			amzDate, n.Add(MaxClockSkew).Format(amzDateFormat), n.Format(amzDateFormat))
	}
	return nil
}

// signedOnly rebuilds r from the headers the client signed, with rawQuery:
// the signer signs every header it is given (and content-length whenever
// the length is positive), so anything the client did not sign must not be
// there.
func signedOnly(r *http.Request, rawQuery, signedHeaders string, body []byte) *http.Request {
	c := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: rawQuery},
		Host:   r.Host,
		Header: make(http.Header),
	}
	for _, h := range strings.Split(signedHeaders, ";") {
		switch h {
		case "host", "":
		case "content-length":
			c.ContentLength = int64(len(body))
		default:
			if vals := r.Header.Values(h); len(vals) > 0 {
				c.Header[http.CanonicalHeaderKey(h)] = vals
			}
		}
	}
	return c
}

// MaxPresignExpires is the longest X-Amz-Expires a presigned request may
// carry (seven days, as in SigV4).
const MaxPresignExpires = 604800

// verifyPresigned checks a presigned request: the signature and its
// parameters are in the query string (X-Amz-Algorithm, X-Amz-Credential,
// X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Signature, X-Amz-Expires), as
// botocore's generate_presigned_url and aws-sdk-go-v2's PresignHTTP
// produce them. It is valid from X-Amz-Date (15 minutes of clock skew
// allowed) for X-Amz-Expires seconds, or for 15 minutes without it.
func (v *Verifier) verifyPresigned(r *http.Request, body []byte, q url.Values) (Identity, error) {
	var missing strings.Builder
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"} {
		if q.Get(k) == "" {
			missing.WriteString("AWS query-string parameters must include '" + k + "'. ")
		}
	}
	if missing.Len() > 0 {
		return Identity{}, incomplete("%sRe-examine the query-string parameters.", missing.String())
	}
	if alg := q.Get("X-Amz-Algorithm"); alg != "AWS4-HMAC-SHA256" {
		return Identity{}, incomplete("Unsupported AWS 'algorithm': '%s'", alg)
	}
	amzDate := q.Get("X-Amz-Date")
	id, secret, err := v.identify(q.Get("X-Amz-Credential"), amzDate, q.Get("X-Amz-Security-Token")+r.Header.Get("X-Amz-Security-Token"))
	if err != nil {
		return Identity{}, err
	}
	n := v.now()
	if err := notYetCurrent(n, id.Time, amzDate); err != nil {
		return Identity{}, err
	}
	if e, ok := q["X-Amz-Expires"]; ok {
		secs, err := strconv.Atoi(e[0])
		if err != nil || secs < 1 || secs > MaxPresignExpires {
			return Identity{}, incomplete("X-Amz-Expires must be a whole number of seconds from 1 to %d (seven days), not '%s'.", MaxPresignExpires, e[0])
		}
		if end := id.Time.Add(time.Duration(secs) * time.Second); n.After(end) {
			return Identity{}, badSignature("Signature expired: %s is now earlier than %s (%s - %d sec.)",
				amzDate, n.Add(-time.Duration(secs)*time.Second).Format(amzDateFormat), n.Format(amzDateFormat), secs)
		}
	} else if err := v.current(id.Time, amzDate); err != nil {
		return Identity{}, err
	}

	// The signature covers the query string without X-Amz-Signature; the
	// signer puts back the parameters it computes itself.
	signature := q.Get("X-Amz-Signature")
	signedHeaders := q.Get("X-Amz-SignedHeaders")
	rest := url.Values{}
	for k, vals := range q {
		if k != "X-Amz-Signature" {
			rest[k] = vals
		}
	}
	c := signedOnly(r, rest.Encode(), signedHeaders, body)
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: id.AccessKeyID, SecretAccessKey: secret}
	uri, _, err := v.signer.PresignHTTP(context.Background(), creds, c, hex.EncodeToString(sum[:]), id.Service, id.Region, id.Time,
		func(o *v4.SignerOptions) { o.DisableHeaderHoisting = true })
	if err != nil {
		return Identity{}, badSignature(signatureMismatch)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return Identity{}, badSignature(signatureMismatch)
	}
	want := u.Query()
	if want.Get("X-Amz-SignedHeaders") != signedHeaders || subtle.ConstantTimeCompare([]byte(want.Get("X-Amz-Signature")), []byte(signature)) != 1 {
		return Identity{}, badSignature(signatureMismatch)
	}
	// The router reads the operation from an X-Amz-Target header before
	// the query's: a header nobody signed would let whoever holds the URL
	// run another operation on the same body (DescribeLogStreams's
	// {"logGroupName":"g"} as DeleteLogGroup).
	if h := r.Header.Values("X-Amz-Target"); len(h) > 0 && !listHas(signedHeaders, "x-amz-target") &&
		(len(h) != 1 || h[0] != q.Get("X-Amz-Target")) {
		return Identity{}, badSignature("There were headers present in the request which were not signed: x-amz-target. Sign X-Amz-Target or leave it in the presigned query string only.")
	}
	return id, nil
}

// ValidRegion reports whether r can be a region name (us-east-1,
// eu-central-2, us-gov-west-1, ...): resources are named and stored per
// region, so a region must not carry ':' or '/' into ARNs and store keys.
func ValidRegion(r string) bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
