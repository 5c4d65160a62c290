package integration

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/google/gopacket/layers"

	"github.com/flowwatch/flowwatch/internal/capture"
	"github.com/flowwatch/flowwatch/internal/capture/pcaptest"
	"github.com/flowwatch/flowwatch/internal/inventory"
	"github.com/flowwatch/flowwatch/internal/testserve"
)

// TestAgentSpoolsWhileServerAway runs `flowwatch agent` on one end of a
// veth pair whose other end is in a network namespace the test creates,
// sending to a real `flowwatch serve` on loopback. Pings across the pair
// must arrive as records in one stream per interface; with the server
// stopped the agent spools, and after the restart the spooled records
// arrive exactly once.
func TestAgentSpoolsWhileServerAway(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace and a veth pair (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed")
	}
	id := os.Getpid() % 10000
	ns := fmt.Sprintf("fwagent%d", id)
	vethA, vethB := fmt.Sprintf("fwaga%d", id), fmt.Sprintf("fwagb%d", id)
	// 10.213.0.0/16 is not routed anywhere here; the /30 lives only on
	// the pair.
	a, b := fmt.Sprintf("10.213.%d.1", id%250), fmt.Sprintf("10.213.%d.2", id%250)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", vethA).Run()
		exec.Command("ip", "netns", "del", ns).Run()
	})
	run("ip", "link", "add", vethA, "type", "veth", "peer", "name", vethB, "netns", ns)
	// No IPv6 on the pair: its link-local chatter would add records the
	// test does not count.
	os.WriteFile("/proc/sys/net/ipv6/conf/"+vethA+"/disable_ipv6", []byte("1"), 0o644)
	run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf."+vethB+".disable_ipv6=1")
	run("ip", "addr", "add", a+"/30", "dev", vethA)
	run("ip", "link", "set", vethA, "up")
	run("ip", "netns", "exec", ns, "ip", "addr", "add", b+"/30", "dev", vethB)
	run("ip", "netns", "exec", ns, "ip", "link", "set", vethB, "up")
	run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
	ifi, err := net.InterfaceByName(vethA)
	if err != nil {
		t.Fatal(err)
	}
	const instance = "i-0a9b8c7d6e5f40312"
	eni := inventory.InterfaceID(instance, vethA, ifi.HardwareAddr.String())
	stream := eni + "-all"
	group := "agent-test"

	dataDir := t.TempDir()
	srv := startServer(t, dataDir)
	addr := strings.TrimPrefix(srv.URL, "http://")
	spool := t.TempDir()
	var agentErr testserve.Buffer
	ag := exec.Command(binary, "agent", "--endpoint", srv.URL, "--interface", vethA, "--log-group", group,
		"--spool-dir", spool, "--interval", "2", "--instance-id", instance)
	ag.Env = append(os.Environ(), "FLOWWATCH_TEST_INTERVALS=1", "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey,
		"FLOWWATCH_ACCESS_KEY_ID=", "FLOWWATCH_SECRET_ACCESS_KEY=")
	ag.Stderr = &agentErr
	if err := ag.Start(); err != nil {
		t.Fatal(err)
	}
	agentDone := make(chan struct{})
	go func() { ag.Wait(); close(agentDone) }()
	t.Cleanup(func() {
		if t.Failed() {
			ents, _ := os.ReadDir(spool)
			t.Logf("spool: %v", ents)
			ag.Process.Signal(syscall.SIGQUIT)
			time.Sleep(time.Second)
		}
		ag.Process.Signal(syscall.SIGKILL)
		<-agentDone
		if t.Failed() {
			t.Logf("agent stderr:\n%s", agentErr.String())
		}
	})
	waitFor(t, 10*time.Second, "agent capturing", func() bool { return strings.Contains(agentErr.String(), "msg=capturing") })

	// send sends n UDP datagrams from a to b:9999 across the pair (the
	// kernel in the namespace answers with ICMP, which is not counted).
	send := func(n int) {
		t.Helper()
		// Unconnected, so the ICMP port-unreachable answers do not fail
		// the next write (ECONNREFUSED) and every datagram leaves.
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(a)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		to := &net.UDPAddr{IP: net.ParseIP(b), Port: 9999}
		for i := 0; i < n; i++ {
			if _, err := c.WriteToUDP([]byte("flowwatch agent test"), to); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// udp sums the packets of UDP records to port 9999 in the group and
	// reports duplicate lines (every record is unique: its window is in
	// start/end).
	udp := func(url string) (packets int, dups int, streams []string) {
		c := sdkClient(url, accessKey, secretKey)
		ctx := context.Background()
		ds, err := c.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: aws.String(group)})
		if err != nil {
			return -1, 0, nil
		}
		seen := map[string]bool{}
		for _, s := range ds.LogStreams {
			streams = append(streams, aws.ToString(s.LogStreamName))
			var token *string
			for {
				out, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: s.LogStreamName,
					StartFromHead: aws.Bool(true), NextToken: token})
				if err != nil {
					return -1, 0, nil
				}
				for _, e := range out.Events {
					msg := aws.ToString(e.Message)
					if seen[msg] {
						dups++
					}
					seen[msg] = true
					f := strings.Fields(msg)
					if len(f) == 14 && f[7] == "17" && f[6] == "9999" {
						n, _ := strconv.Atoi(f[8])
						packets += n
					}
				}
				if aws.ToString(out.NextForwardToken) == aws.ToString(token) || len(out.Events) == 0 {
					break
				}
				token = out.NextForwardToken
			}
		}
		return packets, dups, streams
	}

	// Phase 1: the server is up.
	send(10)
	waitFor(t, 20*time.Second, "10 UDP packets in the stream", func() bool { p, _, _ := udp(srv.URL); return p == 10 })
	if _, _, streams := udp(srv.URL); len(streams) != 1 || streams[0] != stream {
		t.Fatalf("streams %v, want [%s]", streams, stream)
	}
	// The host registered itself: its interface is listed by EC2.
	if d := describeENIs(t, srv.URL); !strings.Contains(d, eni) {
		t.Errorf("describe-network-interfaces does not list %s:\n%s", eni, d)
	}

	// Phase 2: the server stops; the agent keeps capturing and spools.
	srv.stop(t)
	send(10)
	waitFor(t, 20*time.Second, "batches spooled while the server is away", func() bool {
		ents, _ := filepath.Glob(filepath.Join(spool, "*.batch"))
		return len(ents) > 0 && strings.Contains(agentErr.String(), "sending to the server failed")
	})
	time.Sleep(3 * time.Second) // the last window of the datagrams closes and is spooled too

	// Phase 3: the server is back on the same address and data: the
	// spooled records arrive, each once.
	srv2 := startServerOn(t, addr, dataDir, nil, nil)
	waitFor(t, 30*time.Second, "20 UDP packets in the stream", func() bool { p, _, _ := udp(srv2.URL); return p >= 20 })
	time.Sleep(2 * time.Second) // a duplicate would arrive by now
	p, dups, streams := udp(srv2.URL)
	if p != 20 || dups != 0 || len(streams) != 1 {
		t.Fatalf("after replay: %d UDP packets (want 20), %d duplicate records, streams %v\nagent:\n%s", p, dups, streams, agentErr.String())
	}
	waitFor(t, 10*time.Second, "spool emptied", func() bool {
		ents, _ := filepath.Glob(filepath.Join(spool, "*.batch"))
		return len(ents) == 0
	})
	ag.Process.Signal(syscall.SIGTERM)
	select {
	case <-agentDone:
	case <-time.After(15 * time.Second):
		t.Fatal("agent did not stop on SIGTERM")
	}
	if !strings.Contains(agentErr.String(), "dropped=0") {
		t.Errorf("agent dropped batches:\n%s", agentErr.String())
	}
}

// describeENIs is a signed EC2 DescribeNetworkInterfaces.
func describeENIs(t *testing.T, url string) string {
	_, b := signedPost(t, url, "ec2", "us-east-1", "application/x-www-form-urlencoded; charset=utf-8", "",
		"Action=DescribeNetworkInterfaces&Version=2016-11-15", time.Now(), secretKey)
	return string(b)
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestCollectSoftflowd feeds `flowwatch collect` with a real exporter:
// softflowd (Debian) reads a pcap and exports NetFlow v9, then IPFIX, to
// a collector in a network namespace the test creates, over that
// namespace's loopback. The records' packet and byte totals must equal
// the pcap's.
func TestCollectSoftflowd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace (CI runs as root)")
	}
	if _, err := exec.LookPath("softflowd"); err != nil {
		t.Skip("softflowd not installed (apt-get install -y softflowd)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed")
	}
	// Every IP packet is at least 46 bytes: softflowd counts the bytes
	// after the Ethernet header, so a shorter packet would be counted
	// with the frame's padding while AWS (and flowwatch) count the IP
	// length.
	dir := t.TempDir()
	pcapPath := filepath.Join(dir, "flows.pcap")
	fh, err := os.Create(pcapPath)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcaptest.NewWriter(fh)
	if err != nil {
		t.Fatal(err)
	}
	host := func(i int) pcaptest.Host {
		return pcaptest.Host{MAC: net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}, Addr: netip.AddrFrom4([4]byte{10, 77, 0, byte(i)})}
	}
	ts := time.Now().Add(-time.Minute).Truncate(time.Second)
	var wantPackets, wantBytes int
	var pkt capture.Packet
	for i := 0; i < 3000; i++ {
		c, s := host(1+i%5), host(100+i%7)
		sp := pcaptest.Spec{Src: c, Dst: s, SrcPort: uint16(30000 + i%50), DstPort: 443, Proto: layers.IPProtocolTCP, Flags: 0x18, Payload: 6 + (i*37)%1400}
		switch i % 10 {
		case 7:
			sp = pcaptest.Spec{Src: s, Dst: c, SrcPort: 53, DstPort: uint16(40000 + i%30), Proto: layers.IPProtocolUDP, Payload: 18 + i%300}
		case 9:
			sp = pcaptest.Spec{Src: c, Dst: s, Proto: layers.IPProtocolICMPv4, Payload: 56}
		}
		frame := pcaptest.Frame(sp)
		if err := capture.Decode(layers.LinkTypeEthernet, frame, &pkt); err != nil {
			t.Fatal(err)
		}
		wantPackets++
		wantBytes += int(pkt.Length)
		if err := w.Write(ts.Add(time.Duration(i)*3*time.Millisecond), frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}

	ns := fmt.Sprintf("fwcollect%d", os.Getpid()%10000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v\n%s", err, out)
	}
	for _, v := range []string{"9", "10"} {
		t.Run("v"+v, func(t *testing.T) {
			var out, errb testserve.Buffer
			col := exec.Command("ip", "netns", "exec", ns, binary, "collect", "--listen", "127.0.0.1:2055", "--interval", "60", "--stats")
			col.Stdout, col.Stderr = &out, &errb
			if err := col.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { col.Wait(); close(done) }()
			defer func() {
				col.Process.Signal(syscall.SIGKILL)
				<-done
			}()
			waitFor(t, 10*time.Second, "collector listening", func() bool { return strings.Contains(errb.String(), "listening") })
			sf := exec.Command("ip", "netns", "exec", ns, "softflowd", "-d", "-r", pcapPath, "-n", "127.0.0.1:2055", "-v", v,
				"-c", "none", "-p", filepath.Join(dir, "softflowd.pid"))
			if b, err := sf.CombinedOutput(); err != nil {
				t.Fatalf("softflowd: %v\n%s", err, b)
			}
			time.Sleep(500 * time.Millisecond) // the last datagrams cross loopback
			col.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("collector did not stop on SIGTERM")
			}
			var packets, bytes, records int
			for _, l := range strings.Split(out.String(), "\n") {
				f := strings.Fields(l)
				if len(f) != 14 || f[13] != "OK" {
					continue
				}
				p, _ := strconv.Atoi(f[8])
				b, _ := strconv.Atoi(f[9])
				packets += p
				bytes += b
				records++
			}
			if packets != wantPackets || bytes != wantBytes {
				t.Fatalf("NetFlow v%s: %d records with %d packets, %d bytes; the pcap has %d packets, %d bytes\ncollector: %s",
					v, records, packets, bytes, wantPackets, wantBytes, errb.String())
			}
			if !strings.Contains(errb.String(), "errors 0 no-template 0") {
				t.Errorf("collector reported errors: %s", errb.String())
			}
			t.Logf("v%s: %d records, %d packets, %d bytes (= pcap)", v, records, packets, bytes)
		})
	}
}
