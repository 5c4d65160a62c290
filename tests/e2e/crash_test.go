package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestKill9LosesNoSpooledWindow: records acknowledged to their source are
// delivered after a kill -9, once, and a kill -9 after delivery does not
// deliver them again.
func TestKill9LosesNoSpooledWindow(t *testing.T) {
	t.Parallel() // the seed workflow mostly waits for windows to close
	s := startServer(t)
	eni := s.interfaceID()
	role := s.deliveryRole("crashRole")
	s.aws("ec2", "create-flow-logs", "--resource-type", "NetworkInterface", "--resource-ids", eni, "--traffic-type", "ALL",
		"--log-group-name", "crash-logs", "--deliver-logs-permission-arn", role, "--max-aggregation-interval", "60")

	// A closed window, handed over, then the server dies at once.
	s.inject(eni, 20)
	s.kill9()
	s.start()

	stream := eni + "-all"
	count := func() int { return s.events("us-east-1", "crash-logs", stream) }
	deadline := time.Now().Add(30 * time.Second)
	for {
		if count() == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("records acknowledged before kill -9 not delivered after restart; serve:\n%s", s.log.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	s.kill9()
	s.start()
	time.Sleep(3 * time.Second) // several delivery passes
	if n := count(); n != 20 {
		t.Errorf("%d events after a second kill -9, want 20 (no duplicates)", n)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.data, "delivery", "spool")); len(ents) != 1 { // the inbox directory only
		t.Errorf("spool not emptied after delivery: %d entries", len(ents))
	}
}
