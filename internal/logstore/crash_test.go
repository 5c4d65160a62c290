package logstore

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test re-executes this test binary as a writer that appends
// batches from several goroutines and prints "ack <tag> <n>" for each
// batch once Append has returned. The parent kills it with SIGKILL
// mid-ingest, reopens the store and checks that every acknowledged batch is
// present exactly once. Small memtables keep flushes and merges running
// when the kill lands.

const crashEnv = "FLOWWATCH_LOGSTORE_CRASH_WRITER"

func crashMessage(tag string, w, b, i int) string {
	return fmt.Sprintf("2 123456789012 eni-%017x 10.0.%d.%d 172.31.0.%d %d 443 6 %d %d 1700000000 1700000060 ACCEPT OK %s",
		w, b%256, i, b%200, 1024+i, b, i, tag)
}

func TestCrashWriter(t *testing.T) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		t.Skip("only runs as the crash test's subprocess")
	}
	dir, tag, _ := strings.Cut(spec, ",")
	db, err := Open(Options{Dir: dir, MemtableBytes: 64 << 10, BlockRows: 256, MergeParts: 2})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	db.CreateGroup("g", GroupMeta{})
	for w := 0; w < 4; w++ {
		db.CreateStream("g", fmt.Sprint("s", w), 1)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; ; b++ {
				evs := make([]Event, 50)
				for i := range evs {
					evs[i] = Event{Timestamp: 1_700_000_000_000 + int64(b), Message: crashMessage(tag, w, b, i)}
				}
				if err := db.Append("g", fmt.Sprint("s", w), 1, evs); err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d %d\n", w, b)
				out.Flush() // the parent must see the ack before the next batch
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writer processes")
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	for round := 0; round < 3; round++ {
		tag := fmt.Sprint("r", round)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir+","+tag)
		stdout, err := cmd.StdoutPipe()
		must(t, err)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		must(t, cmd.Start())
		sc := bufio.NewScanner(stdout)
		n := 0
		deadline := time.Now().Add(time.Duration(300+200*round) * time.Millisecond)
		for sc.Scan() {
			var w, b int
			if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &w, &b); err != nil {
				continue
			}
			for i := 0; i < 50; i++ {
				acked[crashMessage(tag, w, b, i)] = true
			}
			n++
			// Kill mid-ingest, but only once enough was acknowledged to
			// test: a loaded machine may take longer than the deadline.
			if n >= 10 && time.Now().After(deadline) {
				break
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		// Acks printed before the kill landed still count.
		for sc.Scan() {
			var w, b int
			if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &w, &b); err == nil {
				for i := 0; i < 50; i++ {
					acked[crashMessage(tag, w, b, i)] = true
				}
				n++
			}
		}
		cmd.Wait()
		if n < 10 {
			t.Fatalf("round %d: writer acknowledged only %d batches; stderr: %s", round, n, stderr.String())
		}
		db, err := Open(Options{Dir: dir, NoBackground: true, Logger: quietLogger()})
		must(t, err)
		got := allMessages(t, db, "g")
		checkExactlyOnce(t, got, acked)
		t.Logf("round %d: %d batches acknowledged, %d events stored", round, n, len(got))
		must(t, db.Close())
	}
}
