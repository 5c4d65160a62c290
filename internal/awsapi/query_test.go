package awsapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func TestQueryParams(t *testing.T) {
	v, _ := url.ParseQuery("Action=CreateRole&RoleName=r&Tags.member.2.Key=k2&Tags.member.1.Key=k1&Tags.member.1.Value=v1" +
		"&Names.member.10=ten&Names.member.2=two&ResourceId.1=eni-1&ResourceId.2=eni-2&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-a&Filter.1.Value.2=vpc-b&Empty=&MaxItems=x")
	p := QueryParams(v)
	if got, ok := p.Get("RoleName"); !ok || got != "r" {
		t.Fatalf("Get: %q %v", got, ok)
	}
	if p.Ptr("Nope") != nil || *p.Ptr("Empty") != "" {
		t.Fatal("Ptr")
	}
	if got := p.List("Names"); !reflect.DeepEqual(got, []string{"two", "ten"}) {
		t.Fatalf("List orders by index, not text: %v", got)
	}
	if got := p.List("ResourceId"); !reflect.DeepEqual(got, []string{"eni-1", "eni-2"}) {
		t.Fatalf("EC2 list: %v", got)
	}
	if got := p.List("Empty"); got == nil || len(got) != 0 {
		t.Fatalf("empty list: %#v", got)
	}
	if p.List("Absent") != nil {
		t.Fatal("absent list must be nil")
	}
	tags := p.Structs("Tags")
	if len(tags) != 2 || tags[0].Value("Key") != "k1" || tags[0].Value("Value") != "v1" || tags[1].Value("Key") != "k2" {
		t.Fatalf("Structs: %v", tags)
	}
	f := p.Structs("Filter")
	if len(f) != 1 || f[0].Value("Name") != "vpc-id" || !reflect.DeepEqual(f[0].List("Value"), []string{"vpc-a", "vpc-b"}) {
		t.Fatalf("EC2 filters: %v", f)
	}
	if _, ok, err := p.Int("MaxItems"); !ok || err == nil {
		t.Fatal("Int must reject a non-number")
	}
}

type roleOut struct {
	Role struct {
		RoleName string `xml:"RoleName"`
		Tags     []string
	} `xml:"Role"`
}

// fakeAuthz restricts testKey and allows only the actions in allow.
type fakeAuthz struct {
	allow map[string]bool
	seen  []string
}

func (a *fakeAuthz) Restricted(key string) bool { return key == testKey }
func (a *fakeAuthz) Authorize(info RequestInfo, action, resource string) error {
	a.seen = append(a.seen, action+" "+resource)
	if a.allow[action] || a.allow[action+" "+resource] {
		return nil
	}
	return NewError("AccessDeniedException", "User: u is not authorized to perform: %s on resource: %s", action, resource)
}

func querySvc(ran *[]string) *QueryService {
	return &QueryService{SigningName: "iam", Namespace: "https://iam.amazonaws.com/doc/2010-05-08/", Version: "2010-05-08",
		Ops: map[string]QueryHandler{
			"GetRole": func(ctx context.Context, p QueryParams) (any, error) {
				*ran = append(*ran, "GetRole")
				if Info(ctx).Operation != "GetRole" || Info(ctx).Region != "us-east-1" {
					return nil, NewError("Wrong", "info %+v", Info(ctx))
				}
				var o roleOut
				o.Role.RoleName = p.Value("RoleName")
				if o.Role.RoleName == "nope" {
					return nil, QueryError(404, "NoSuchEntity", "The role with name nope cannot be found.")
				}
				return o, nil
			},
			"DeleteRole": func(ctx context.Context, p QueryParams) (any, error) {
				*ran = append(*ran, "DeleteRole")
				return nil, nil
			},
		},
		Resource: func(ctx context.Context, action string, p QueryParams) string {
			return "arn:aws:iam::" + Info(ctx).AccountID + ":role/" + p.Value("RoleName")
		},
		NoAuth: map[string]bool{"GetRole": true},
	}
}

func signService(t *testing.T, body, service, secret string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4566/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: secret},
		r, hex.EncodeToString(sum[:]), service, "us-east-1", testNow); err != nil {
		t.Fatal(err)
	}
	return r
}

func serve(rt http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, r)
	return w
}

func TestQueryServiceWrapped(t *testing.T) {
	var ran []string
	rt := testRouter(t)
	rt.HandleProtocol("iam", querySvc(&ran))

	w := serve(rt, signService(t, "Action=GetRole&Version=2010-05-08&RoleName=r%2B1", "iam", testSecret))
	want := `<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult><Role><RoleName>r+1</RoleName></Role></GetRoleResult><ResponseMetadata><RequestId>`
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), want) || w.Header().Get("Content-Type") != "text/xml" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var doc struct {
		XMLName xml.Name
		Meta    struct {
			RequestID string `xml:"RequestId"`
		} `xml:"ResponseMetadata"`
	}
	if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc.Meta.RequestID != w.Header().Get("x-amzn-RequestId") {
		t.Fatalf("request id %q vs header %q: %v", doc.Meta.RequestID, w.Header().Get("x-amzn-RequestId"), err)
	}

	// No output: no Result element, only the metadata.
	w = serve(rt, signService(t, "Action=DeleteRole&Version=2010-05-08&RoleName=r", "iam", testSecret))
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), `<DeleteRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}

	// Errors in IAM's shape, with the status the service chose.
	w = serve(rt, signService(t, "Action=GetRole&Version=2010-05-08&RoleName=nope", "iam", testSecret))
	if w.Code != 404 || !strings.HasPrefix(w.Body.String(), `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name nope cannot be found.</Message></Error><RequestId>`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	w = serve(rt, signService(t, "Action=Frobnicate&Version=2010-05-08", "iam", testSecret))
	if w.Code != 400 || !strings.Contains(w.Body.String(), `<Code>InvalidAction</Code><Message>Could not find operation Frobnicate for version 2010-05-08</Message>`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// Authentication errors get the Query protocol's codes.
	w = serve(rt, signService(t, "Action=GetRole&Version=2010-05-08&RoleName=r", "iam", "wrong"))
	if w.Code != 403 || !strings.Contains(w.Body.String(), `<Code>SignatureDoesNotMatch</Code>`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if len(ran) != 3 {
		t.Fatalf("operations run: %v", ran)
	}
}

func TestQueryServiceFlatEC2(t *testing.T) {
	rt := testRouter(t)
	type vpcs struct {
		Set []string `xml:"vpcSet>item>vpcId"`
	}
	rt.HandleProtocol("ec2", &QueryService{SigningName: "ec2", Namespace: "http://ec2.amazonaws.com/doc/2016-11-15/", Version: "2016-11-15",
		Style: Flat, Errors: EC2Errors,
		Ops: map[string]QueryHandler{"DescribeVpcs": func(ctx context.Context, p QueryParams) (any, error) {
			if ids := p.List("VpcId"); len(ids) > 0 {
				return nil, QueryError(400, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", ids[0])
			}
			return vpcs{Set: []string{"vpc-1"}}, nil
		}}})
	w := serve(rt, signService(t, "Action=DescribeVpcs&Version=2016-11-15", "ec2", testSecret))
	rid := w.Header().Get("x-amzn-RequestId")
	want := `<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>` + rid + `</requestId><vpcSet><item><vpcId>vpc-1</vpcId></item></vpcSet></DescribeVpcsResponse>`
	if w.Code != 200 || w.Body.String() != want {
		t.Fatalf("%d\n%s\nwant\n%s", w.Code, w.Body, want)
	}
	w = serve(rt, signService(t, "Action=DescribeVpcs&Version=2016-11-15&VpcId.1=vpc-x", "ec2", testSecret))
	if w.Code != 400 || !strings.Contains(w.Body.String(), `<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code><Message>The vpc ID &#39;vpc-x&#39; does not exist</Message></Error></Errors><RequestID>`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	w = serve(rt, signService(t, "Action=DescribeVpcs&Version=2016-11-15", "ec2", "wrong"))
	if w.Code != 401 || !strings.Contains(w.Body.String(), `<Code>AuthFailure</Code>`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

func TestRouterAuthorizes(t *testing.T) {
	var ran []string
	az := &fakeAuthz{allow: map[string]bool{"logs:DescribeLogGroups": true}}
	rt := NewRouter(Config{AccountID: "000000000000", Verifier: testVerifier(), Authorizer: az})
	rt.HandleProtocol("iam", querySvc(&ran))
	rt.HandleJSON("Logs_20140328", "logs", map[string]Handler{
		"CreateLogGroup": func(ctx context.Context, body []byte) (any, error) {
			ran = append(ran, "CreateLogGroup")
			return nil, nil
		},
		"DescribeLogGroups": func(ctx context.Context, body []byte) (any, error) {
			ran = append(ran, "DescribeLogGroups")
			return nil, nil
		},
	})
	rt.HandleResources("Logs_20140328", func(op string, info RequestInfo, body []byte) []string {
		var arns []string
		for _, g := range strings.Split(string(body), ",") {
			arns = append(arns, "arn:aws:logs:"+info.Region+":"+info.AccountID+":log-group:"+g)
		}
		return arns
	})

	w := serve(rt, signedTarget(t, "g1", "Logs_20140328.CreateLogGroup", "eu-west-1"))
	var e map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != 400 || e["__type"] != "AccessDeniedException" ||
		e["message"] != "User: u is not authorized to perform: logs:CreateLogGroup on resource: arn:aws:logs:eu-west-1:000000000000:log-group:g1" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if w := serve(rt, signedTarget(t, "g1", "Logs_20140328.DescribeLogGroups", "eu-west-1")); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// Query: GetRole needs no authorization (NoAuth); DeleteRole is denied
	// before it runs, in the Query error shape.
	if w := serve(rt, signService(t, "Action=GetRole&RoleName=r", "iam", testSecret)); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	w = serve(rt, signService(t, "Action=DeleteRole&RoleName=r", "iam", testSecret))
	if w.Code != 403 || !strings.Contains(w.Body.String(), "<Code>AccessDenied</Code><Message>User: u is not authorized to perform: iam:DeleteRole on resource: arn:aws:iam::000000000000:role/r</Message>") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// A protocol that cannot name its actions is authorized by its
	// Action parameter.
	fq := &fakeQuery{}
	rt.HandleProtocol("ec2", fq)
	w = serve(rt, signService(t, "Action=DescribeVpcs&Version=2016-11-15", "ec2", testSecret))
	if w.Code != 400 || !strings.Contains(w.Body.String(), "<Code>AccessDeniedException</Code>") || len(fq.served) != 0 {
		t.Fatalf("%d %s %v", w.Code, w.Body, fq.served)
	}
	az.allow["ec2:DescribeVpcs"] = true
	if w = serve(rt, signService(t, "Action=DescribeVpcs&Version=2016-11-15", "ec2", testSecret)); w.Code != 200 || len(fq.served) != 1 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if !reflect.DeepEqual(ran, []string{"DescribeLogGroups", "GetRole"}) {
		t.Fatalf("denied requests must not run: %v", ran)
	}
	if len(az.seen) != 5 || az.seen[3] != "ec2:DescribeVpcs *" {
		t.Fatalf("authorizer asked %v", az.seen)
	}
}

// TestRouterAuthorizesEveryResource: an operation on several resources
// (a query of several log groups) runs only when each one is allowed.
func TestRouterAuthorizesEveryResource(t *testing.T) {
	ran := 0
	az := &fakeAuthz{allow: map[string]bool{"logs:StartQuery arn:aws:logs:eu-west-1:000000000000:log-group:a": true}}
	rt := NewRouter(Config{AccountID: "000000000000", Verifier: testVerifier(), Authorizer: az})
	rt.HandleJSON("Logs_20140328", "logs", map[string]Handler{
		"StartQuery": func(ctx context.Context, body []byte) (any, error) { ran++; return nil, nil },
	})
	rt.HandleResources("Logs_20140328", func(op string, info RequestInfo, body []byte) []string {
		var arns []string
		for _, g := range strings.Split(string(body), ",") {
			arns = append(arns, "arn:aws:logs:"+info.Region+":"+info.AccountID+":log-group:"+g)
		}
		return arns
	})
	if w := serve(rt, signedTarget(t, "a", "Logs_20140328.StartQuery", "eu-west-1")); w.Code != 200 || ran != 1 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	w := serve(rt, signedTarget(t, "a,b", "Logs_20140328.StartQuery", "eu-west-1"))
	if w.Code != 400 || !strings.Contains(w.Body.String(), "on resource: arn:aws:logs:eu-west-1:000000000000:log-group:b") || ran != 1 {
		t.Fatalf("%d %s (ran %d)", w.Code, w.Body, ran)
	}
}
