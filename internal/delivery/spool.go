package delivery

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// The spool is the write-ahead stage between capture and the destinations:
// a closed window is acknowledged to capture only once it is a file here,
// and a file is deleted only once every flow log has delivered what it
// needed from it, so a crash or restart loses no closed window.
//
// One file per Deliver call, named <arrival unix ns, 20 digits>-<8 hex>.spool
// so that names sort in arrival order and the arrival time (which decides
// whether a flow log created meanwhile takes the window) survives restarts.
// A file is written to a temporary name, fsynced and renamed, so a reader
// never sees a torn file.
//
// Contents (text, so a spool can be read when debugging):
//
//	flowwatch-spool 1
//	<field names of the spool format, space-separated>
//	<one record line per record, in that format>
//	end <record count>
const (
	spoolMagic  = "flowwatch-spool 1"
	spoolSuffix = ".spool"
	inboxDir    = "inbox"
)

// spoolFormat lists every catalogued field but ${version} (which encoders
// compute from the destination's format), so a record round-trips whole.
var spoolFormat = func() *flowlog.Format {
	var b strings.Builder
	for _, fs := range flowlog.Catalogue {
		if fs.ID == flowlog.FieldVersion {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("${" + fs.Name + "}")
	}
	f, err := flowlog.ParseFormatOptions(b.String(), flowlog.ParseOptions{TransitGateway: true, Unverified: true})
	if err != nil {
		panic("delivery: spool format: " + err.Error())
	}
	return f
}()

// spoolFile is one spooled batch, parsed.
type spoolFile struct {
	name    string
	arrival time.Time
	records []flowlog.Record
}

// spool is the directory of spooled batches.
type spool struct {
	dir string

	mu   sync.Mutex
	last int64 // highest arrival ns used, so names stay strictly increasing
}

func openSpool(dir string) (*spool, error) {
	if err := os.MkdirAll(filepath.Join(dir, inboxDir), 0o700); err != nil {
		return nil, fmt.Errorf("delivery: spool: %w", err)
	}
	s := &spool{dir: dir}
	// Temporary files of writes a crash interrupted were never
	// acknowledged; only this process writes the spool directory itself.
	if tmps, err := filepath.Glob(filepath.Join(dir, ".tmp-*")); err == nil {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	names, err := s.list()
	if err != nil {
		return nil, err
	}
	if n := len(names); n > 0 {
		s.last, _ = arrivalOf(names[n-1])
	}
	return s, nil
}

// nextName returns a fresh file name later than every earlier one.
func (s *spool) nextName(now time.Time) string {
	s.mu.Lock()
	ns := now.UnixNano()
	if ns <= s.last {
		ns = s.last + 1
	}
	s.last = ns
	s.mu.Unlock()
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%020d-%s%s", ns, hex.EncodeToString(r[:]), spoolSuffix)
}

func arrivalOf(name string) (int64, bool) {
	digits, _, ok := strings.Cut(name, "-")
	if !ok || len(digits) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil
}

// write makes records durable as a new spool file and returns its name.
func (s *spool) write(now time.Time, records []flowlog.Record) (string, error) {
	name := s.nextName(now)
	if err := writeAtomic(filepath.Join(s.dir, name), encodeSpool(records), 0o600); err != nil {
		return "", fmt.Errorf("delivery: spool: %w", err)
	}
	return name, nil
}

func encodeSpool(records []flowlog.Record) []byte {
	var b bytes.Buffer
	b.WriteString(spoolMagic + "\n")
	b.WriteString(spoolFormat.Header() + "\n")
	var line []byte
	for i := range records {
		line = flowlog.AppendText(line[:0], &records[i], spoolFormat)
		b.Write(line)
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "end %d\n", len(records))
	return b.Bytes()
}

// WriteInbox spools records from outside the server process (flowwatch
// inject, tests): the file lands in dataDir's spool inbox, and the running
// server adopts it at its next pass as if capture had delivered it then.
func WriteInbox(dataDir string, records []flowlog.Record) (string, error) {
	dir := filepath.Join(SpoolDir(dataDir), inboxDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	var r [8]byte
	_, _ = rand.Read(r[:])
	name := fmt.Sprintf("%020d-%s%s", time.Now().UnixNano(), hex.EncodeToString(r[:]), spoolSuffix)
	return name, writeAtomic(filepath.Join(dir, name), encodeSpool(records), 0o600)
}

// adoptInbox moves files dropped into the inbox into the spool under fresh
// names, so that they sort after everything already spooled.
func (s *spool) adoptInbox(now time.Time) (int, error) {
	in := filepath.Join(s.dir, inboxDir)
	ents, err := os.ReadDir(in)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), spoolSuffix) {
			continue // temporary files of writers still at work
		}
		if err := os.Rename(filepath.Join(in, e.Name()), filepath.Join(s.dir, s.nextName(now))); err != nil {
			return n, err
		}
		n++
	}
	if n > 0 {
		return n, syncDir(s.dir)
	}
	return 0, nil
}

// list returns the spooled file names in arrival order.
func (s *spool) list() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("delivery: spool: %w", err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), spoolSuffix) {
			if _, ok := arrivalOf(e.Name()); ok {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

var errSpoolCorrupt = errors.New("corrupt spool file")

func (s *spool) read(name string) (*spoolFile, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		return nil, err
	}
	ns, _ := arrivalOf(name)
	f := &spoolFile{name: name, arrival: time.Unix(0, ns)}
	f.records, err = decodeSpool(b)
	if err != nil {
		return nil, fmt.Errorf("delivery: spool file %s: %w", name, err)
	}
	return f, nil
}

func decodeSpool(b []byte) ([]flowlog.Record, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	if !sc.Scan() || sc.Text() != spoolMagic {
		return nil, fmt.Errorf("%w: no %q line", errSpoolCorrupt, spoolMagic)
	}
	if !sc.Scan() {
		return nil, fmt.Errorf("%w: no header", errSpoolCorrupt)
	}
	// The header names the fields, so files written by an older build
	// (fewer fields) still decode.
	var ft strings.Builder
	for i, name := range strings.Fields(sc.Text()) {
		if i > 0 {
			ft.WriteByte(' ')
		}
		ft.WriteString("${" + name + "}")
	}
	format, err := flowlog.ParseFormatOptions(ft.String(), flowlog.ParseOptions{TransitGateway: true, Unverified: true})
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", errSpoolCorrupt, err)
	}
	var out []flowlog.Record
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "end "); ok {
			if want, err := strconv.Atoi(n); err != nil || want != len(out) {
				return nil, fmt.Errorf("%w: %d records, trailer says %s", errSpoolCorrupt, len(out), n)
			}
			return out, nil
		}
		// Copy: decoded strings alias the line, which the scanner reuses.
		r, err := flowlog.ParseLine(strings.Clone(line), format)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errSpoolCorrupt, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: no trailer", errSpoolCorrupt)
}

func (s *spool) remove(name string) error {
	err := os.Remove(filepath.Join(s.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// writeAtomic writes a file so that after a crash either nothing or the
// whole file is at path.
func writeAtomic(path string, b []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
