package e2e

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestInjectStreamsBatches: behind a pipe (flowwatch capture | flowwatch
// inject), every burst of lines is handed over when the writer pauses,
// not at the end of the input.
func TestInjectStreamsBatches(t *testing.T) {
	t.Parallel() // the seed workflow mostly waits for windows to close
	data := t.TempDir()
	cmd := exec.Command(flowwatchBinary(t), "inject", "--data-dir", data)
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inbox := filepath.Join(data, "delivery", "spool", "inbox")
	files := func() int { ents, _ := os.ReadDir(inbox); return len(ents) }
	io.WriteString(w, "2 000000000000 eni-0123456789abcdef0 10.0.0.2 10.0.0.1 40000 443 6 3 180 1718013600 1718013660 ACCEPT OK\n"+
		"2 000000000000 eni-0123456789abcdef0 10.0.0.1 10.0.0.2 443 40000 6 3 180 1718013600 1718013660 ACCEPT OK\n")
	deadline := time.Now().Add(10 * time.Second)
	for files() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("first burst not handed over while the pipe stays open (%d files)", files())
		}
		time.Sleep(20 * time.Millisecond)
	}
	io.WriteString(w, "2 000000000000 eni-0123456789abcdef0 - - - - - - - 1718013660 1718013720 - NODATA\n")
	w.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := files(); n != 2 {
		t.Errorf("%d spool files, want 2 (one per burst)", n)
	}
}
