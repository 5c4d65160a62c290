package collector

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// TestServeLoopback sends a v9 template and data to a collector on
// loopback and checks the records flushed on shutdown.
func TestServeLoopback(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var recs []flowlog.Record
	c := New(Config{Aggregator: AggregatorConfig{Interval: 60, Emit: func(r *flowlog.Record) {
		mu.Lock()
		recs = append(recs, *r)
		mu.Unlock()
	}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Serve(ctx, conn) }()
	out, err := net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	out.Write(v9Template())
	out.Write(v9Data(2, v9Rec{src: "10.0.1.5", dst: "10.0.2.9", sport: 1, dport: 2, proto: 17, pkts: 3, bytes: 300, in: 4}))
	deadline := time.Now().Add(5 * time.Second)
	for c.Stats().Flows < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s := c.Stats()
	if s.Datagrams != 2 || s.Flows != 1 || s.Errors != 0 || s.Records != 1 {
		t.Fatalf("stats %+v", s)
	}
	if len(recs) != 1 || recs[0].Packets != 3 || recs[0].Bytes != 300 || recs[0].InterfaceID != InterfaceID(out.LocalAddr().(*net.UDPAddr).AddrPort().Addr(), 4) {
		t.Fatalf("records %+v", recs)
	}
}
