// Package e2e runs the seed workflow (seed-workflow.sh) against a real
// `flowwatch serve` in network namespaces, with the unmodified aws CLI, and
// checks what it leaves behind (the S3 Parquet objects) with parquet-go.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// kcColumns are the Parquet columns of the 27-field knowledge-center format
// with the types of AWS's Athena DDL (spec §5.5): int → INT32, bigint →
// INT64 (protocol is INT_32 in AWS's field table, which Athena reads as
// bigint), string → UTF-8 BYTE_ARRAY.
var kcColumns = [][2]string{
	{"account_id", "string"}, {"vpc_id", "string"}, {"subnet_id", "string"}, {"interface_id", "string"},
	{"instance_id", "string"}, {"srcaddr", "string"}, {"srcport", "int"}, {"dstaddr", "string"}, {"dstport", "int"},
	{"protocol", "bigint"}, {"packets", "bigint"}, {"bytes", "bigint"}, {"action", "string"}, {"log_status", "string"},
	{"start", "bigint"}, {"end", "bigint"}, {"flow_direction", "string"}, {"traffic_path", "int"}, {"tcp_flags", "int"},
	{"pkt_srcaddr", "string"}, {"pkt_src_aws_service", "string"}, {"pkt_dstaddr", "string"}, {"pkt_dst_aws_service", "string"},
	{"region", "string"}, {"az_id", "string"}, {"sublocation_type", "string"}, {"sublocation_id", "string"},
}

func TestSeedWorkflow(t *testing.T) {
	t.Parallel() // the seed workflow mostly waits for windows to close
	if testing.Short() {
		t.Skip("e2e: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("e2e: needs root to create network namespaces")
	}
	for _, tool := range []string{"ip", "nft", "aws", "python3", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("e2e: %s is not installed", tool)
		}
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		t.Skipf("e2e: network namespaces unavailable: %v %s", err, out)
	}
	dir := testDir()
	bin := flowwatchBinary(t)

	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(dir, "seed-workflow.sh"))
	cmd.Env = append(os.Environ(), "FLOWWATCH_BIN="+bin, "E2E_OUT="+out)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	// The script's own trap removes its namespaces; a kill on timeout
	// reaches bash first, which then runs it.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	err := cmd.Run()
	t.Logf("seed-workflow.sh:\n%s", buf.String())
	if err != nil {
		for _, f := range []string{"serve.log", "capture.log", "inject.log"} {
			if b, e := os.ReadFile(filepath.Join(out, f)); e == nil {
				t.Logf("%s (last 4000 bytes):\n%s", f, tail(b, 4000))
			}
		}
		t.Fatalf("seed-workflow.sh: %v", err)
	}
	mode, _ := os.ReadFile(filepath.Join(out, "mode"))
	switch strings.TrimSpace(string(mode)) {
	case "inject":
		t.Log("MODE=inject: no traffic; records of the same flows were injected (simulated)")
	case "pipeline":
		t.Log("MODE=pipeline: real traffic captured by `flowwatch capture`, handed to serve's delivery by `flowwatch inject` (serve does not capture itself)")
	}
	// As root with every tool present, serve must capture by itself: a
	// silent fall-back to another mode would hide a broken capture.
	if os.Getenv("MODE") == "" && strings.TrimSpace(string(mode)) != "live" {
		t.Fatalf("serve did not capture its interfaces (mode %q); see serve.log", strings.TrimSpace(string(mode)))
	}
	checkParquet(t, filepath.Join(out, "s3"))
}

// checkParquet reads every Parquet object the workflow wrote and checks its
// schema against the Athena DDL and its rows against the traffic.
func checkParquet(t *testing.T, root string) {
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".log.parquet") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatal("no Parquet objects")
	}
	type row struct {
		Interface string `parquet:"interface_id"`
		SrcAddr   string `parquet:"srcaddr"`
		DstPort   *int32 `parquet:"dstport"`
		Action    string `parquet:"action"`
		VPC       string `parquet:"vpc_id"`
	}
	rejects := 0
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		fields := f.Schema().Fields()
		if len(fields) != len(kcColumns) {
			t.Fatalf("%s: %d columns, want %d", p, len(fields), len(kcColumns))
		}
		for i, fd := range fields {
			name, athena := kcColumns[i][0], kcColumns[i][1]
			kind := fd.Type().Kind()
			var ok bool
			switch athena {
			case "int":
				ok = kind == parquet.Int32
			case "bigint":
				ok = kind == parquet.Int64 || (name == "protocol" && kind == parquet.Int32)
			case "string":
				ok = kind == parquet.ByteArray && fd.Type().LogicalType() != nil && fd.Type().LogicalType().String() == "STRING"
			}
			if fd.Name() != name || !ok || !fd.Optional() {
				t.Errorf("%s: column %d is %s %v (optional %v), want %s %s", filepath.Base(p), i, fd.Name(), fd.Type(), fd.Optional(), name, athena)
			}
		}
		rows, err := parquet.Read[row](bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if !strings.HasPrefix(r.VPC, "vpc-") {
				t.Errorf("row without vpc-id: %+v", r)
			}
			if r.Action == "REJECT" && r.SrcAddr == "10.201.1.2" && r.DstPort != nil && *r.DstPort == 22 {
				rejects++
			}
		}
	}
	if rejects == 0 {
		t.Error("the Parquet objects hold no REJECT of the SSH attempt from 10.201.1.2")
	}
}

func testDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// flowwatchBinary builds cmd/flowwatch once for the package's tests.
func flowwatchBinary(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "flowwatch-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "flowwatch")
		build := exec.Command("go", "build", "-o", binPath, "./cmd/flowwatch")
		build.Dir = filepath.Join(testDir(), "..", "..")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building flowwatch: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
