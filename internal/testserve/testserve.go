// Package testserve holds what the end-to-end and integration tests share
// to run a `flowwatch serve` binary: a buffer for its output and the wait
// until it serves.
package testserve

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Buffer collects a process's (or a goroutine's) output while a test
// reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Serving counts the lines serve logs once it serves; a log that holds
// the output of earlier runs passes its count to WaitServing.
func Serving(log *Buffer) int {
	return strings.Count(log.String(), "msg=serving")
}

// ErrExited is WaitServing's error when serve exits first.
var ErrExited = errors.New("serve exited")

// WaitServing waits until serve, logging to log, says it is serving for
// the (mark+1)th time and answers GET url/health with 200. Tests run in
// parallel, so a /health answer alone could come from another test's
// server that got the port first. exited, when not nil, is closed when
// serve exits; the error then wraps ErrExited.
func WaitServing(log *Buffer, mark int, url string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if Serving(log) > mark {
			if r, err := http.Get(url + "/health"); err == nil {
				r.Body.Close()
				if r.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%w: %s", ErrExited, log)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("serve not healthy after %v: %s", timeout, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
