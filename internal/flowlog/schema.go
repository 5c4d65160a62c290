package flowlog

import "strings"

// Column is one column of the Parquet / Athena form of a format.
type Column struct {
	Field   FieldID
	Name    string      // Parquet / Athena name: "pkt_src_aws_service"
	Parquet ParquetType // INT_32, INT_64 or STRING
	Athena  string      // Athena DDL type
	// Optional is true for integer columns: Parquet integers cannot hold
	// "-", so an absent value is null. String columns carry "-" as text so
	// queries written for the text files (action = '-') work on both.
	Optional bool
}

// Columns returns the Parquet columns of f in format order; a duplicated
// field appears once.
func (f *Format) Columns() []Column {
	cols := make([]Column, 0, len(f.fields))
	for i, id := range f.fields {
		if f.Index(id) != i {
			continue
		}
		fs := &Catalogue[id]
		cols = append(cols, Column{Field: id, Name: fs.Column, Parquet: fs.Parquet, Athena: fs.Athena,
			Optional: fs.Kind == KindInt})
	}
	return cols
}

// AthenaColumns is the column list of a CREATE EXTERNAL TABLE statement
// for text files in format f, in order, with reserved words backticked as
// AWS's sample DDL does.
func (f *Format) AthenaColumns() string {
	var b strings.Builder
	for i, c := range f.Columns() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("`" + c.Name + "` " + c.Athena)
	}
	return b.String()
}
