package delivery

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/ec2"
	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// fakeS3 is an S3-compatible endpoint that keeps PUT objects by path and
// refuses the bucket "denied".
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string][]byte
	auth    []string
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	if r.Method != http.MethodPut {
		http.Error(w, "only PUT", http.StatusMethodNotAllowed)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/denied/") {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
		return
	}
	f.objects[r.URL.Path] = body
	w.Header().Set("ETag", `"0"`)
}

func TestS3CompatibleEndpoint(t *testing.T) {
	fake := &fakeS3{objects: map[string][]byte{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	e := newEnv(t)
	m, err := New(Config{DataDir: e.dir, FlowLogs: e.fls, Roles: e.iam, Logs: e.logs, Groups: e.store, Now: e.clock.Now,
		S3: S3Endpoint{URL: srv.URL, AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	e.s3FlowLog("fl-00000000000000001", eniA, "arn:aws:s3:::remote/flows/", "", 60, ec2.DestinationOptions{})
	e.s3FlowLog("fl-00000000000000002", eniA, "arn:aws:s3:::denied", "", 60, ec2.DestinationOptions{})
	s := t0.Unix()
	e.deliver(t0.Add(60*time.Second), flow(eniA, "10.0.1.20", "10.0.1.10", 1, 2, flowlog.ActionAccept, 1, 40, s))
	e.pass(t0.Add(63 * time.Second))

	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.objects) != 1 {
		t.Fatalf("objects %v", fake.objects)
	}
	for path, body := range fake.objects {
		if !strings.HasPrefix(path, "/remote/flows/AWSLogs/"+acct+"/vpcflowlogs/"+region+"/2024/06/10/"+acct+"_vpcflowlogs_"+region+"_fl-00000000000000001_20240610T1000Z_") {
			t.Errorf("path-style object path %s", path)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(zr)
		if !strings.HasPrefix(string(text), flowlog.DefaultFormat.Header()+"\n2 "+acct+" "+eniA+" 10.0.1.20 ") {
			t.Errorf("object text %q", text)
		}
	}
	for _, a := range fake.auth {
		if !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(a, "/s3/aws4_request") {
			t.Errorf("request not SigV4-signed for s3: %q", a)
		}
	}
	if fl := e.fls.get("fl-00000000000000002"); fl.DeliverLogsStatus != ec2.StatusFailed || fl.DeliverLogsErrorMessage != ec2.ErrAccess {
		t.Errorf("denied bucket: status %q %q, want FAILED Access error", fl.DeliverLogsStatus, fl.DeliverLogsErrorMessage)
	}
	if fl := e.fls.get("fl-00000000000000001"); fl.DeliverLogsStatus != ec2.StatusSuccess {
		t.Errorf("status %q", fl.DeliverLogsStatus)
	}
}
