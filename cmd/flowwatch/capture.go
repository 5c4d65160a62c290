package main

import (
	"bufio"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flowwatch/flowwatch/internal/capture"
	"github.com/flowwatch/flowwatch/internal/capture/pcaptest"
	"github.com/flowwatch/flowwatch/internal/flowlog"
)

func init() {
	register("capture", "capture packets (interfaces or a pcap file) and print flow log records", runCapture)
}

func runCapture(args []string) int {
	fs := flag.NewFlagSet("capture", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: flowwatch capture --interface IF[,IF…] | --pcap FILE [flags]

Prints VPC flow log records to stdout as aggregation windows close; open
windows are flushed at the end of a file and on SIGINT/SIGTERM.

flags:`)
		fs.PrintDefaults()
	}
	ifaces := fs.String("interface", "", "interfaces to capture on, comma-separated, or 'all' for every non-loopback interface that is up, followed as interfaces come and go (needs CAP_NET_RAW)")
	pcap := fs.String("pcap", "", "read packets from a pcap or pcapng file instead")
	interval := fs.Int("interval", 600, "aggregation interval in seconds: 60 or 600")
	format := fs.String("format", "default", "LogFormat ('${version} ${srcaddr} …'), or 'default'")
	startEnd := fs.String("start-end", "packets", "start/end fields: 'packets' (first/last packet, as AWS documents) or 'window' (window bounds, as AWS examples show)")
	local := fs.String("local", "", "pcap only: the capturing host's addresses (CIDR, comma-separated); inferred when empty")
	maxFlows := fs.Int("max-flows", 1<<20, "flows held before the oldest is emitted early")
	account := fs.String("account-id", "", "account id (default 000000000000)")
	region := fs.String("region", "", "region (default us-east-1)")
	az := fs.String("az-id", "", "availability zone id (default use1-az1)")
	vpc := fs.String("vpc-id", "", "VPC id (default derived from the machine id)")
	instance := fs.String("instance-id", "", "instance id (default derived from the machine id)")
	nflog := fs.Uint("nflog-group", 0, "record packets the firewall drops as REJECT, read from this nflog group (nftables: add 'log group N' before 'drop' in your rules)")
	trafficType := fs.String("traffic-type", "ALL", "ALL, ACCEPT or REJECT: which records to keep (NODATA and SKIPDATA are always written)")
	stats := fs.Bool("stats", false, "print counters to stderr at the end")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file (for benchmarks)")
	synth := fs.String("write-synthetic-pcap", "", "write a synthetic capture to this file and exit (for benchmarks)")
	synthPackets := fs.Int("packets", 10_000_000, "with --write-synthetic-pcap: number of packets")
	synthFlows := fs.Int("flows", 10000, "with --write-synthetic-pcap: number of flows")
	synthSeed := fs.Uint64("seed", 1, "with --write-synthetic-pcap: random seed")
	synthSnap := fs.Int("snaplen", 128, "with --write-synthetic-pcap: bytes kept of each frame, as flow capture tools use (0: whole frames)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "flowwatch capture:", err)
		return 1
	}
	if *synth != "" {
		fh, err := os.Create(*synth)
		if err != nil {
			return fail(err)
		}
		if err := pcaptest.WriteSynth(fh, pcaptest.SynthConfig{Seed: *synthSeed, Packets: *synthPackets, Flows: *synthFlows, Snaplen: *synthSnap}); err != nil {
			fh.Close()
			return fail(err)
		}
		if err := fh.Close(); err != nil {
			return fail(err)
		}
		return 0
	}
	if *cpuProfile != "" {
		fh, err := os.Create(*cpuProfile)
		if err != nil {
			return fail(err)
		}
		if err := pprof.StartCPUProfile(fh); err != nil {
			return fail(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			fh.Close()
		}()
	}
	if (*ifaces == "") == (*pcap == "") {
		fs.Usage()
		return 2
	}
	if *nflog > 65535 {
		return fail(fmt.Errorf("--nflog-group must be 1..65535"))
	}
	if *interval != 60 && *interval != 600 {
		return fail(fmt.Errorf("--interval must be 60 or 600"))
	}
	if *startEnd != "packets" && *startEnd != "window" {
		return fail(fmt.Errorf("--start-end must be 'packets' or 'window'"))
	}
	var keep func(flowlog.Action) bool
	switch strings.ToUpper(*trafficType) {
	case "ALL":
		keep = func(flowlog.Action) bool { return true }
	case "ACCEPT":
		keep = func(a flowlog.Action) bool { return a != flowlog.ActionReject }
	case "REJECT":
		keep = func(a flowlog.Action) bool { return a != flowlog.ActionAccept }
	default:
		return fail(fmt.Errorf("--traffic-type must be ALL, ACCEPT or REJECT"))
	}
	f, err := formatFlag(*format)
	if err != nil {
		return fail(err)
	}
	id := capture.Identity{AccountID: *account, Region: *region, AZID: *az, VPCID: *vpc, InstanceID: *instance}

	out := bufio.NewWriterSize(os.Stdout, 256<<10)
	var outMu sync.Mutex
	var line []byte
	tcfg := capture.TableConfig{Interval: *interval, MaxFlows: *maxFlows, WindowBounds: *startEnd == "window",
		Emit: func(r *flowlog.Record) {
			if !keep(r.Action) {
				return
			}
			line = flowlog.AppendText(line[:0], r, f)
			line = append(line, '\n')
			outMu.Lock()
			out.Write(line)
			outMu.Unlock()
		}}

	if *pcap != "" {
		var locals []netip.Prefix
		for _, s := range strings.Split(*local, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			p, err := netip.ParsePrefix(s)
			if err != nil {
				a, err2 := netip.ParseAddr(s)
				if err2 != nil {
					return fail(fmt.Errorf("--local: %w", err))
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			locals = append(locals, p)
		}
		res, err := capture.ProcessPcap(*pcap, capture.PcapOptions{Identity: id, Table: tcfg, Local: locals})
		if ferr := out.Flush(); err == nil {
			err = ferr
		}
		if err != nil {
			return fail(err)
		}
		if *stats {
			fmt.Fprintf(os.Stderr, "frames %d packets %d bytes %d records %d nodata %d evicted %d excluded %d late %d truncated %d malformed %d non-ip %d\n",
				res.Frames, res.Packets, res.Bytes, res.Records, res.NoData, res.Evicted, res.Excluded, res.Late, res.Truncated, res.Malformed, res.NotIP)
		}
		return 0
	}

	// Live capture: records are flushed to stdout as each window closes,
	// so a reader sees them without waiting for exit.
	flushOut := func() {
		outMu.Lock()
		out.Flush()
		outMu.Unlock()
	}
	stop := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sig; close(stop) }()
	ready := make(chan struct{})
	opt := capture.LiveOptions{Identity: id, Table: tcfg, WindowDone: flushOut, Ready: ready, NFLOGGroup: uint16(*nflog)}
	var res capture.LiveStats
	if *ifaces == "all" {
		// Interfaces that come up later are captured too, and those that
		// go away released: each is named on stderr as it starts.
		opt.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
		go func() {
			<-ready
			fmt.Fprintln(os.Stderr, "flowwatch capture: capturing on every interface that is up")
		}()
		res, err = capture.RunLiveAll(stop, opt, 5*time.Second)
	} else {
		names := strings.Split(*ifaces, ",")
		go func() {
			<-ready
			fmt.Fprintf(os.Stderr, "flowwatch capture: capturing on %s\n", strings.Join(names, ","))
		}()
		res, err = capture.RunLive(stop, names, opt)
	}
	flushOut()
	if err != nil {
		return fail(err)
	}
	if *stats {
		fmt.Fprintf(os.Stderr, "frames %d packets %d bytes %d records %d nodata %d skipdata %d kernel-drops %d undecodable %d excluded %d firewall-drops %d\n",
			res.Frames, res.Packets, res.Bytes, res.Records, res.NoData, res.SkipData, res.KernelDrops, res.Undecodable, res.Excluded, res.Rejects)
	}
	return 0
}
