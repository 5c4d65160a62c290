package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	c, gen, err := LoadCredentials(dir, env(map[string]string{"FLOWWATCH_ACCESS_KEY_ID": "AKIAX", "FLOWWATCH_SECRET_ACCESS_KEY": "s"}))
	if err != nil || gen || c.AccessKeyID != "AKIAX" || c.SecretAccessKey != "s" {
		t.Fatalf("from env: %+v %v %v", c, gen, err)
	}
	if _, err := os.Stat(filepath.Join(dir, credentialsFile)); err == nil {
		t.Fatal("env credentials were written to disk")
	}
	if _, _, err := LoadCredentials(dir, env(map[string]string{"FLOWWATCH_ACCESS_KEY_ID": "AKIAX"})); err == nil {
		t.Fatal("half-set env accepted")
	}
	c, gen, err = LoadCredentials(dir, env(nil))
	if err != nil || !gen || len(c.AccessKeyID) != 20 || !strings.HasPrefix(c.AccessKeyID, "AKIA") || len(c.SecretAccessKey) != 40 {
		t.Fatalf("generated: %+v %v %v", c, gen, err)
	}
	fi, err := os.Stat(filepath.Join(dir, credentialsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v %v", fi.Mode(), err)
	}
	again, gen, err := LoadCredentials(dir, env(nil))
	if err != nil || gen || again != c {
		t.Fatalf("reload: %+v %v %v", again, gen, err)
	}
	os.WriteFile(filepath.Join(dir, credentialsFile), []byte("{"), 0o600)
	if _, _, err := LoadCredentials(dir, env(nil)); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged file: %v", err)
	}
}

func TestHealth(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := Handler(api)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/health", nil))
	if w.Code != 200 || w.Body.String() != `{"status":"ok"}` {
		t.Fatalf("%d %q", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
	if w.Code != http.StatusTeapot {
		t.Fatal("API requests must go to the API handler")
	}
}

// TestRunLifecycle: Run serves, prints generated credentials once to
// Stdout only, and returns cleanly when its context ends.
func TestRunLifecycle(t *testing.T) {
	dir := t.TempDir()
	var stdout, logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Listen: "127.0.0.1:0", DataDir: dir, Capture: true, Stdout: &stdout,
			Logger: newTextLogger(&logs), Getenv: env(nil), Ready: func(a string) { ready <- a }})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	resp, err := http.Get("http://" + addr + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "export AWS_SECRET_ACCESS_KEY=") || !strings.Contains(stdout.String(), "export AWS_ENDPOINT_URL=http://"+addr+"\n") {
		t.Fatalf("stdout: %q", stdout.String())
	}
	c, _, _ := LoadCredentials(dir, env(nil))
	if strings.Contains(logs.String(), c.SecretAccessKey) {
		t.Fatal("secret logged")
	}
	// Capture either runs (root) or says why it cannot; serving goes on.
	if !strings.Contains(logs.String(), "msg=capturing") && !strings.Contains(logs.String(), "capture needs root") &&
		!strings.Contains(logs.String(), "capture could not start") {
		t.Fatalf("no capture notice in logs: %s", logs.String())
	}
}

func newTextLogger(w *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
