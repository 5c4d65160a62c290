package delivery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// chunk is the part of one spool file that falls into one aggregation
// window of one flow log: the unit delivered exactly once.
type chunk struct {
	File   string `json:"file"`
	Window int64  `json:"window"` // window start, unix seconds
}

// flowLogState is how far one flow log has got through the spool.
type flowLogState struct {
	// Cursor: every spool file whose name sorts <= Cursor is fully handled
	// (delivered, dropped on an access error, or not for this flow log).
	Cursor string `json:"cursor"`
	// Done lists chunks of files after Cursor already handled: a file can
	// hold records of a window that is closed and of one still open.
	Done []chunk `json:"done,omitempty"`
	// Seen lists interfaces that have had traffic delivered, so that their
	// NODATA records are delivered too; an interface without traffic so far
	// gets no stream and no S3 lines (AWS creates streams on first traffic).
	Seen []string `json:"seen,omitempty"`
	// InFlight lists the chunks of a CloudWatch Logs window being written:
	// found after a restart, the replay skips events already stored.
	InFlight []chunk `json:"inFlight,omitempty"`
}

// inFlight reports whether any of cs was being written when the state was
// last saved.
func (st *flowLogState) inFlight(cs []chunk) bool {
	for _, c := range cs {
		if slices.Contains(st.InFlight, c) {
			return true
		}
	}
	return false
}

func (st *flowLogState) isDone(c chunk) bool { return slices.Contains(st.Done, c) }

func (st *flowLogState) seen(eni string) bool {
	_, ok := slices.BinarySearch(st.Seen, eni)
	return ok
}

func (st *flowLogState) markSeen(eni string) bool {
	i, ok := slices.BinarySearch(st.Seen, eni)
	if ok {
		return false
	}
	st.Seen = slices.Insert(st.Seen, i, eni)
	return true
}

type stateFile struct {
	Version  int                      `json:"version"`
	FlowLogs map[string]*flowLogState `json:"flowLogs"`
}

const stateName = "state.json"

func loadState(dir string) (map[string]*flowLogState, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateName))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*flowLogState{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("delivery: state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("delivery: state %s is corrupt: %w", filepath.Join(dir, stateName), err)
	}
	if f.FlowLogs == nil {
		f.FlowLogs = map[string]*flowLogState{}
	}
	return f.FlowLogs, nil
}

func saveState(dir string, m map[string]*flowLogState) error {
	b, err := json.MarshalIndent(stateFile{Version: 1, FlowLogs: m}, "", " ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, stateName), b, 0o600); err != nil {
		return fmt.Errorf("delivery: state: %w", err)
	}
	return nil
}
