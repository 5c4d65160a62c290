package delivery

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/flowwatch/flowwatch/internal/ec2"
	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// ParseS3Destination splits arn:aws:s3:::bucket[/prefix[/]] into the bucket
// and the prefix without surrounding slashes.
func ParseS3Destination(arn string) (bucket, prefix string, ok bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:s3:::")
	if !ok || rest == "" {
		return "", "", false
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	return bucket, strings.Trim(prefix, "/"), bucket != ""
}

// S3Options are the S3 layout choices of a flow log.
type S3Options struct {
	Parquet, Hive, PerHour bool
}

func s3Options(fl *ec2.FlowLog) S3Options {
	var o S3Options
	if d := fl.DestinationOptions; d != nil {
		o.Parquet = d.FileFormat == "parquet"
		o.Hive, o.PerHour = d.HiveCompatiblePartitions, d.PerHourPartition
	}
	return o
}

// ObjectKey is the key AWS gives a flow log file (spec §5.2): t is the
// five-minute period of the records' end times, hash 8 hex digits.
func ObjectKey(prefix, account, region, flowLogID string, t time.Time, o S3Options, hash string) string {
	t = t.UTC()
	var parts []string
	if prefix != "" {
		parts = append(parts, prefix)
	}
	parts = append(parts, "AWSLogs")
	y, mo, d, h := t.Format("2006"), t.Format("01"), t.Format("02"), t.Format("15")
	if o.Hive {
		parts = append(parts, "aws-account-id="+account, "aws-service=vpcflowlogs", "aws-region="+region,
			"year="+y, "month="+mo, "day="+d)
		if o.PerHour {
			parts = append(parts, "hour="+h)
		}
	} else {
		parts = append(parts, account, "vpcflowlogs", region, y, mo, d)
		if o.PerHour {
			parts = append(parts, h)
		}
	}
	ext := ".log.gz"
	if o.Parquet {
		ext = ".log.parquet"
	}
	name := account + "_vpcflowlogs_" + region + "_" + flowLogID + "_" + t.Format("20060102T1504Z") + "_" + hash + ext
	return strings.Join(append(parts, name), "/")
}

// filePeriod is the five-minute period a file is named after.
const filePeriod = 300

// deliverS3 writes one aggregation window as objects of the flow log's
// bucket: one per five-minute period of the records' end times, holding
// every interface's records (spec §5.3).
func (m *Manager) deliverS3(ctx context.Context, fl *ec2.FlowLog, window int64, chunks []chunk, recs []flowlog.Record) error {
	bucket, prefix, ok := ParseS3Destination(fl.LogDestination)
	if !ok {
		return &accessError{reason: "bad S3 destination " + fl.LogDestination}
	}
	o := s3Options(fl)
	periods := map[int64][]flowlog.Record{}
	for _, r := range recs {
		t := r.End
		if t < 0 {
			t = window
		}
		p := t - t%filePeriod
		periods[p] = append(periods[p], r)
	}
	keys := make([]int64, 0, len(periods))
	for p := range periods {
		keys = append(keys, p)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
	for _, p := range keys {
		// The hash names what the file holds, so a replay after a crash
		// rewrites the same object instead of adding a duplicate.
		h := sha256.New()
		fmt.Fprintf(h, "%s\x00%d\x00%d", fl.ID, window, p)
		for _, c := range chunks {
			fmt.Fprintf(h, "\x00%s/%d", c.File, c.Window)
		}
		hash := hex.EncodeToString(h.Sum(nil))[:8]
		key := ObjectKey(prefix, fl.AccountID, fl.Region, fl.ID, time.Unix(p, 0), o, hash)
		var body []byte
		var err error
		if o.Parquet {
			body, err = encodeParquet(periods[p], fl.LogFormat)
		} else {
			body, err = encodeText(periods[p], fl.LogFormat)
		}
		if err != nil {
			return fmt.Errorf("encode %s: %w", key, err)
		}
		ctype := "application/gzip"
		if o.Parquet {
			ctype = "application/vnd.apache.parquet"
		}
		if err := m.objects.PutObject(ctx, bucket, key, body, ctype); err != nil {
			return err
		}
	}
	return nil
}

// encodeText is the plain-text file: gzip of the header line and one line
// per record, each ending in "\n" (spec §2.3).
func encodeText(recs []flowlog.Record, f *flowlog.Format) ([]byte, error) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	var line []byte
	line = append(line, f.Header()...)
	line = append(line, '\n')
	for i := range recs {
		line = flowlog.AppendText(line, &recs[i], f)
		line = append(line, '\n')
		if len(line) > 64<<10 {
			if _, err := zw.Write(line); err != nil {
				return nil, err
			}
			line = line[:0]
		}
	}
	if _, err := zw.Write(line); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
