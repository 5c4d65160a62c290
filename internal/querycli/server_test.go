package querycli

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/testserve"
)

// TestServerProgress: a server query with the progress line on (as on a
// terminal) runs to its result while the line is redrawn, then prints
// the summary; run with -race.
func TestServerProgress(t *testing.T) {
	var mu sync.Mutex
	polls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch target := r.Header.Get("X-Amz-Target"); {
		case strings.HasSuffix(target, ".StartQuery"):
			io.WriteString(w, `{"queryId":"q1"}`)
		case strings.HasSuffix(target, ".GetQueryResults"):
			mu.Lock()
			polls++
			n := polls
			mu.Unlock()
			if n < 8 {
				io.WriteString(w, `{"status":"Running","results":[],"statistics":{"recordsMatched":1,"recordsScanned":2,"bytesScanned":3}}`)
				return
			}
			io.WriteString(w, `{"status":"Complete","results":[[{"field":"n","value":"7"}]],"statistics":{"recordsMatched":1,"recordsScanned":2,"bytesScanned":3}}`)
		default:
			w.WriteHeader(400)
			io.WriteString(w, `{"__type":"UnknownOperationException","message":"`+target+`"}`)
		}
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	var stderr testserve.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := Server(ctx, srv.URL, "fields n", []string{"g"}, Options{Progress: true, Poll: 100 * time.Millisecond, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || res.Rows[0][0].Value != "7" {
		t.Fatalf("rows %v", res.Rows)
	}
	if !strings.Contains(stderr.String(), "1 records matched, 2 scanned") {
		t.Fatalf("stderr %q", stderr.String())
	}
}
