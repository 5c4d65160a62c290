// Package logstore is flowwatch's embedded, durable, columnar log store.
//
// It owns log groups, log streams and their events: a write-ahead log with
// group commit makes every acknowledged Append survive a crash; events are
// kept in compressed columnar parts per log group and time partition, merged
// in the background; space-delimited messages (VPC flow logs in any format)
// are also kept as typed positional token columns so that queries filter and
// aggregate them without re-parsing text.
//
// The store knows nothing of AWS wire formats or validation rules: the logs
// service validates names and batches, the store persists what it is given.
//
// This file is the contract other packages program against (logs, insights,
// import). Implementation files may add to it; changing a signature here
// means changing its callers in the same commit.
package logstore

import (
	"context"
	"errors"
	"math"
	"net/netip"
)

// Errors callers branch on.
var (
	ErrGroupExists    = errors.New("log group already exists")
	ErrGroupNotFound  = errors.New("log group does not exist")
	ErrStreamExists   = errors.New("log stream already exists")
	ErrStreamNotFound = errors.New("log stream does not exist")
	ErrClosed         = errors.New("log store is closed")
)

// Event is one log event as a client wrote it.
type Event struct {
	Timestamp int64 // epoch milliseconds
	Message   string
}

// StoredEvent is an event as the store returns it.
type StoredEvent struct {
	Stream        string
	Timestamp     int64 // epoch ms, as written
	IngestionTime int64 // epoch ms, stamped by the store's caller on Append
	// Seq orders events of one log group by ingestion: unique within the
	// group, increasing with every Append, never reused (not even after
	// deletes or restarts). (Timestamp, Seq) is an event's position.
	Seq     uint64
	Message string
}

// Cursor is a position in the (Timestamp, Seq) order of a log group.
type Cursor struct {
	Timestamp int64
	Seq       uint64
}

// Less reports whether c sorts before d.
func (c Cursor) Less(d Cursor) bool {
	return c.Timestamp < d.Timestamp || (c.Timestamp == d.Timestamp && c.Seq < d.Seq)
}

// GroupMeta is what the store persists about a log group besides its data.
type GroupMeta struct {
	CreationTime       int64 // epoch ms
	RetentionDays      int   // 0: never expire
	KmsKeyID           string
	Class              string // STANDARD, INFREQUENT_ACCESS, DELIVERY
	DeletionProtection bool
	Tags               map[string]string
}

// Group describes a log group.
type Group struct {
	Name string
	GroupMeta
	StoredBytes int64 // Σ len(message) of the events currently held
}

// Stream describes a log stream.
type Stream struct {
	Name                string
	CreationTime        int64
	HasEvents           bool // when false the three times below are meaningless
	FirstEventTimestamp int64
	LastEventTimestamp  int64
	LastIngestionTime   int64
	StoredBytes         int64
}

// Metadata operations. All are durable on return.
type Metadata interface {
	CreateGroup(name string, meta GroupMeta) error // ErrGroupExists
	DeleteGroup(name string) error                 // ErrGroupNotFound; removes streams and data
	// UpdateGroup applies fn to a copy of the group's metadata and persists
	// the result if fn returns nil (retention, tags, ...).
	UpdateGroup(name string, fn func(*GroupMeta) error) error
	Group(name string) (Group, error)
	Groups() []Group // sorted by name (byte order)

	CreateStream(group, stream string, creationTime int64) error // ErrGroupNotFound, ErrStreamExists
	DeleteStream(group, stream string) error                     // ErrGroupNotFound, ErrStreamNotFound
	Streams(group string) ([]Stream, error)                      // sorted by name
}

// Writer appends events. Append returns only after the events are durable
// (fsynced to the WAL, group-committed with concurrent appends). Events need
// not be sorted; the store assigns Seq in slice order.
type Writer interface {
	Append(group, stream string, ingestionTime int64, events []Event) error
}

// EventQuery selects events in (Timestamp, Seq) order, for GetLogEvents and
// FilterLogEvents.
type EventQuery struct {
	Group        string
	Streams      []string // nil: every stream
	StreamPrefix string   // "" : no prefix restriction
	Start, End   int64    // Timestamp in [Start, End); use MinTime/MaxTime for open ends
	// After, when set, starts strictly after this position (forward), or
	// Before strictly before it (backward: events are still returned in
	// ascending order, the Limit newest ones before Before).
	After, Before *Cursor
	Backward      bool // with no cursor: take the Limit newest events of the range
	Limit         int  // 0: no limit
	// Match, when set, keeps only events for which it returns true; Limit
	// counts matched events.
	Match func(message string) bool
	// MaxScanned bounds the events examined (matched or not) so a sparse
	// filter cannot run unbounded; 0: no bound. When hit, Events returns the
	// matches so far and more=true.
	MaxScanned int
}

// Open range ends for EventQuery and Scan.
const (
	MinTime = math.MinInt64
	MaxTime = math.MaxInt64
)

// Reader reads events back.
type Reader interface {
	// Events returns matching events in ascending (Timestamp, Seq) order.
	// more reports whether further events may exist past the last returned
	// one in the direction of reading.
	Events(ctx context.Context, q EventQuery) (events []StoredEvent, more bool, err error)
	// Scan streams column blocks of a log group to fn for the query engine.
	// fn may be called from several goroutines at once, with blocks in no
	// particular order; a Block is valid only during the call. Returning an
	// error from fn stops the scan and Scan returns that error.
	Scan(ctx context.Context, q ScanQuery, fn func(*Block) error) error
}

// Store is the whole embedded store.
type Store interface {
	Metadata
	Writer
	Reader
	Close() error // flushes everything; Append after Close returns ErrClosed
}

// ScanQuery selects blocks for the query engine.
type ScanQuery struct {
	Group        string
	Streams      []string // nil: every stream
	StreamPrefix string
	Start, End   int64 // Timestamp in [Start, End)
	// Need says which columns the engine will read; the store may leave the
	// others empty (it may also fill more than asked). A block without
	// Timestamps holds only rows in [Start, End) of selected streams (the
	// store decodes timestamps itself where a block straddles the range),
	// so an engine that asks for neither ColTimestamps nor ColSeq can count
	// rows without decoding anything; sources that fill Timestamps may
	// leave rows outside the range for the engine to drop.
	Need Columns
	// Preds are conjunctive predicates on token columns. The store uses them
	// only to skip whole blocks (min/max, bloom filters) that cannot match;
	// the engine still evaluates its filter on every row it receives.
	Preds []TokenPred
	// TokenCols projects token columns per block shape: for blocks whose
	// rows have k tokens and k is a key, only the zero-based positions
	// TokenCols[k] are decoded (positions ≥ k are ignored). Block.Tokens
	// still has k columns; the others have Kind == KindSkipped and no
	// values, until Block.DecodeTokens fills them. Blocks of shapes that
	// are not keys, and every block when TokenCols is nil or Need has
	// ColMessage, get all their columns. A store may decode more than
	// asked (NewMemory and memtable rows decode everything); it never
	// decodes less. MessageBytes is unaffected.
	TokenCols map[int][]int
	// DictCols lists per block shape token columns, left out by TokenCols,
	// of which only the distinct values are read (the engine recognises
	// flow-log blocks by their interface ids): the store may hand a text
	// column over as KindSkipped with Dict holding its block's distinct
	// values (all rows', also where rows are filtered out), without
	// decoding the rows' codes. Columns of other kinds, and stores that do
	// not do this, leave Dict nil. DecodeTokens decodes them fully.
	DictCols map[int][]int
}

// Columns is a bit set of block columns.
type Columns uint16

const (
	ColMessage Columns = 1 << iota
	ColIngestion
	ColStream
	ColTokens
	// ColMessageIfNoTokens: fill Block.Messages only for blocks that carry
	// no token columns (Block.Tokens == nil: raw-text rows, or rows of
	// mixed shapes); blocks with token columns leave Messages nil and are
	// not rebuilt into text. It implies ColTokens: the engine reads tokens
	// where there are some and text elsewhere. ColMessage overrides it.
	ColMessageIfNoTokens
	// ColMessageBytes: fill Block.MessageBytes even when neither messages
	// nor tokens are asked for (the store then decodes what it needs to
	// count them). With ColMessage, ColMessageIfNoTokens or ColTokens,
	// MessageBytes is filled anyway, at no extra cost.
	ColMessageBytes
	// ColIP: the engine understands KindIP columns. Without it the store
	// hands a KindIP column over as KindIPv4 when the block's rows hold no
	// IPv6 address, and as KindString otherwise, so engines that predate
	// KindIP see what they saw before it.
	ColIP
	// ColTimestamps, ColSeq: fill Block.Timestamps, Block.Seq.
	ColTimestamps
	ColSeq
)

// TokenPred is "token column Col compares Op to value". Value is an int for
// int columns, an IPv4 for address columns, a string otherwise; the store
// decides per block which of Int, IP or Str applies and never skips a block
// it cannot decide about. For KindIP columns only OpEq skips blocks, with
// Str an IPv4 or canonical IPv6 address (min/max and bloom filter) or "-".
type TokenPred struct {
	Count int // token count of the rows this applies to (blocks of another shape are skipped only if RequireShape)
	Col   int // zero-based token position
	Op    PredOp
	Str   string
	// RequireShape: rows with another token count cannot match (e.g. the
	// query's parse pattern needs exactly Count tokens).
	RequireShape bool
}

// PredOp is a comparison for TokenPred.
type PredOp uint8

const (
	OpEq PredOp = iota
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
)

// Block is a batch of rows of one log group with columns. Rows are in no
// particular order unless the method producing them says otherwise.
type Block struct {
	Len           int
	Timestamps    []int64  // when Need has ColTimestamps (else may be nil)
	Seq           []uint64 // when Need has ColSeq (else may be nil)
	IngestionTime []int64  // when Need has ColIngestion
	StreamNames   []string // dictionary for StreamIdx
	StreamIdx     []uint32 // when Need has ColStream
	// Messages, when Need has ColMessage (or ColMessageIfNoTokens and the
	// block has no Tokens): the raw message of each row, byte for byte as
	// written.
	Messages []string
	// MessageBytes is Σ len(message) over the block's Len rows, whether or
	// not Messages is filled, when Need has ColMessage, ColMessageIfNoTokens,
	// ColTokens or ColMessageBytes (0 otherwise). For the engine's
	// bytesScanned.
	MessageBytes int64
	// Tokens, when Need has ColTokens and every row of the block is a
	// space-delimited message with exactly len(Tokens) tokens separated by
	// single spaces; nil otherwise. Columns left out by
	// ScanQuery.TokenCols have Kind == KindSkipped.
	Tokens []TokenColumn

	// fill decodes the KindSkipped columns (nil: there are none).
	fill func(*Block) error
}

// DecodeTokens decodes every token column that ScanQuery.TokenCols left
// out (Kind == KindSkipped), so that all of Tokens can be read, e.g. to
// rebuild a message. It does nothing when no column was skipped, and may
// be called again; like the Block, it is valid only during the Scan
// callback.
func (b *Block) DecodeTokens() error {
	if b.fill == nil {
		return nil
	}
	err := b.fill(b)
	if err == nil {
		b.fill = nil
	}
	return err
}

// TokenKind says how a token column is encoded.
type TokenKind uint8

const (
	// KindString: Dict holds the distinct values, Codes[i] indexes it.
	KindString TokenKind = iota
	// KindInt: Ints[i] is the value; a row whose token is "-" has Null[i]
	// set (Null is nil when no row is null). Only tokens in canonical
	// decimal form (no sign '+', no leading zeros) are stored as ints.
	KindInt
	// KindIPv4: IPs[i] is the address in host byte order (a.b.c.d =
	// a<<24|b<<16|c<<8|d); "-" rows have Null[i] set.
	KindIPv4
	// KindIP: an address column holding IPv4 and IPv6, so that a few IPv6
	// rows do not turn a block's address column into strings. Rows with
	// Is6 == nil or !Is6[i] are IPv4 in IPs[i] exactly as for KindIPv4;
	// rows with Is6[i] hold the IPv6 address in IP6[i] (16 bytes, network
	// order, as netip.Addr.As16; IPs[i] is 0). "-" rows have Null[i] set.
	// Only canonical text is stored this way (dotted quads without leading
	// zeros; IPv6 exactly as netip.Addr.String prints it, so lower case,
	// RFC 5952 zero compression, no zone), so String(i) gives the token
	// back byte for byte. Scan returns KindIP only when Need has ColIP;
	// min/max in the index cover the IPv4 rows, the bloom filter both.
	KindIP
	// KindSkipped: the column was not decoded (ScanQuery.TokenCols left it
	// out); it holds no values until Block.DecodeTokens (Dict may hold the
	// distinct values, see ScanQuery.DictCols). Never stored.
	KindSkipped
)

// TokenColumn is one positional token column of a Block.
type TokenColumn struct {
	Kind  TokenKind
	Dict  []string
	Codes []uint32
	Ints  []int64
	IPs   []uint32
	Null  []bool
	Is6   []bool     // KindIP: row i is IPv6 (nil when no row is)
	IP6   [][16]byte // KindIP: row i's IPv6 address when Is6[i] (nil when no row is)
}

// String returns row i's token text, exactly as it appeared in the message.
func (c *TokenColumn) String(i int) string {
	switch c.Kind {
	case KindInt:
		if c.Null != nil && c.Null[i] {
			return "-"
		}
		return itoa(c.Ints[i])
	case KindIPv4:
		if c.Null != nil && c.Null[i] {
			return "-"
		}
		return ipv4String(c.IPs[i])
	case KindIP:
		if c.Null != nil && c.Null[i] {
			return "-"
		}
		if c.Is6 != nil && c.Is6[i] {
			return netip.AddrFrom16(c.IP6[i]).String()
		}
		return ipv4String(c.IPs[i])
	case KindSkipped:
		panic("logstore: token column not decoded (left out by ScanQuery.TokenCols; call Block.DecodeTokens)")
	default:
		return c.Dict[c.Codes[i]]
	}
}
