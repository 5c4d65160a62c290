package flowgen

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/klauspost/compress/gzip"
)

// Now is the simulated time, in unix seconds, of the latest record.
func (g *Generator) Now() int64 {
	return g.startNs/1e9 + int64(float64(g.n)*g.stepNs/1e9)
}

// FlowLogID is a flow log id derived from the seed, for the S3 file names.
func (g *Generator) FlowLogID() string { return "fl-" + hex17(g.cfg.Seed^0xf10f10f10) }

// chunk is how much text is handed to the writer goroutine at a time.
const chunk = 256 << 10

// WriteText writes n records in format f to w, one per line, with the S3
// header line first when header is set. Formatting and writing (which may
// compress) run on two goroutines so a gzip writer does not halve the rate.
func WriteText(w io.Writer, g *Generator, f *flowlog.Format, n uint64, header bool) error {
	full := make(chan []byte, 4)
	free := make(chan []byte, 4)
	for range 4 {
		free <- make([]byte, 0, chunk+4096)
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		for b := range full {
			if err == nil {
				_, err = w.Write(b)
			}
			free <- b[:0]
		}
		errc <- err
	}()
	buf := <-free
	if header {
		buf = append(buf, f.Header()...)
		buf = append(buf, '\n')
	}
	var rec flowlog.Record
	for i := uint64(0); i < n; i++ {
		g.Next(&rec)
		buf = flowlog.AppendText(buf, &rec, f)
		buf = append(buf, '\n')
		if len(buf) >= chunk {
			full <- buf
			buf = <-free
		}
	}
	full <- buf
	close(full)
	return <-errc
}

// S3Options names the objects of the AWS S3 export layout.
type S3Options struct {
	FlowLogID string // default g.FlowLogID()
	// Level is the gzip level; default gzip.BestSpeed because the files are
	// for benchmarks and tests, where generation time matters more.
	Level int
	// Hive writes Hive-compatible partition names (aws-account-id=…,
	// year=…); PerHour adds an hour level, as the S3 destination options do.
	Hive    bool
	PerHour bool
}

// s3Dir is the key prefix of an object whose records end at t (spec §5.2).
func s3Dir(acct, region string, t time.Time, opt S3Options) string {
	if opt.Hive {
		p := filepath.Join("AWSLogs", "aws-account-id="+acct, "aws-service=vpcflowlogs", "aws-region="+region,
			"year="+t.Format("2006"), "month="+t.Format("01"), "day="+t.Format("02"))
		if opt.PerHour {
			p = filepath.Join(p, "hour="+t.Format("15"))
		}
		return p
	}
	p := filepath.Join("AWSLogs", acct, "vpcflowlogs", region, t.Format("2006/01/02"))
	if opt.PerHour {
		p = filepath.Join(p, t.Format("15"))
	}
	return p
}

// WriteS3 writes n records in format f under dir in the layout AWS uses for
// S3 delivery: AWSLogs/<acct>/vpcflowlogs/<region>/YYYY/MM/DD/
// <acct>_vpcflowlogs_<region>_<fl-id>_<YYYYMMDD>T<HHmm>Z_<hash>.log.gz, one
// object per 5-minute bucket of record end time, each starting with the
// header line. It returns the paths written, sorted.
func WriteS3(dir string, g *Generator, f *flowlog.Format, n uint64, opt S3Options) ([]string, error) {
	if opt.FlowLogID == "" {
		opt.FlowLogID = g.FlowLogID()
	}
	if opt.Level == 0 {
		opt.Level = gzip.BestSpeed
	}
	type object struct {
		fh *os.File
		bw *bufio.Writer
		zw *gzip.Writer
	}
	open := map[int64]*object{}
	var paths []string
	closeObj := func(o *object) error {
		if err := o.bw.Flush(); err != nil {
			return err
		}
		if err := o.zw.Close(); err != nil {
			return err
		}
		return o.fh.Close()
	}
	defer func() {
		for _, o := range open {
			o.fh.Close()
		}
	}()
	cfg := g.Config()
	slack := int64(cfg.Interval) + 300
	var rec flowlog.Record
	var line []byte
	for i := uint64(0); i < n; i++ {
		g.Next(&rec)
		bucket := rec.End - rec.End%300
		o := open[bucket]
		if o == nil {
			t := time.Unix(bucket, 0).UTC()
			name := fmt.Sprintf("%s_vpcflowlogs_%s_%s_%sZ_%08x.log.gz", cfg.AccountID, cfg.Region,
				opt.FlowLogID, timeStamp(bucket)[:13], uint32(mix(cfg.Seed^uint64(bucket))))
			p := filepath.Join(dir, s3Dir(cfg.AccountID, cfg.Region, t, opt), name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, err
			}
			fh, err := os.Create(p)
			if err != nil {
				return nil, err
			}
			zw, _ := gzip.NewWriterLevel(fh, opt.Level)
			o = &object{fh: fh, zw: zw, bw: bufio.NewWriterSize(zw, 64<<10)}
			open[bucket] = o
			paths = append(paths, p)
			o.bw.WriteString(f.Header())
			o.bw.WriteByte('\n')
		}
		line = flowlog.AppendText(line[:0], &rec, f)
		line = append(line, '\n')
		if _, err := o.bw.Write(line); err != nil {
			return nil, err
		}
		if i%4096 == 0 {
			// No later record can end in a bucket this far behind the
			// simulated clock, so its object is complete.
			now := g.Now()
			for b, o := range open {
				if b+300+slack < now {
					if err := closeObj(o); err != nil {
						return nil, err
					}
					delete(open, b)
				}
			}
		}
	}
	for b, o := range open {
		if err := closeObj(o); err != nil {
			return nil, err
		}
		delete(open, b)
	}
	sort.Strings(paths)
	return paths, nil
}

func timeStamp(bucket int64) string { return time.Unix(bucket, 0).UTC().Format("20060102T1504") }
