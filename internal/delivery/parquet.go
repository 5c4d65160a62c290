package delivery

import (
	"bytes"
	"fmt"
	"reflect"
	"sync"

	"github.com/parquet-go/parquet-go"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// parquetLayout is the row type of a format's Parquet files: one optional
// column per field, in format order, named with underscores and typed as
// AWS's field table says (INT_32, INT_64, STRING) (spec §5.3).
type parquetLayout struct {
	typ    reflect.Type
	fields []flowlog.FieldID
	schema *parquet.Schema
}

var parquetLayouts sync.Map // format text → *parquetLayout

// ParquetSchema returns the schema of the Parquet files of a format.
func ParquetSchema(f *flowlog.Format) *parquet.Schema { return layoutFor(f).schema }

func layoutFor(f *flowlog.Format) *parquetLayout {
	if l, ok := parquetLayouts.Load(f.String()); ok {
		return l.(*parquetLayout)
	}
	var sf []reflect.StructField
	var ids []flowlog.FieldID
	seen := map[flowlog.FieldID]bool{}
	for _, id := range f.Fields() {
		if seen[id] {
			continue // a column name can appear once; duplicates are the same value
		}
		seen[id] = true
		spec := id.Spec()
		var t reflect.Type
		switch spec.Parquet {
		case flowlog.ParquetInt32:
			t = reflect.TypeFor[*int32]()
		case flowlog.ParquetInt64:
			t = reflect.TypeFor[*int64]()
		default:
			t = reflect.TypeFor[*string]()
		}
		// Pointers make the columns optional: numeric fields hold null
		// where text has "-".
		sf = append(sf, reflect.StructField{
			Name: fmt.Sprintf("F%d", len(sf)),
			Type: t,
			Tag:  reflect.StructTag(`parquet:"` + spec.Column + `"`),
		})
		ids = append(ids, id)
	}
	typ := reflect.StructOf(sf)
	l := &parquetLayout{typ: typ, fields: ids, schema: parquet.SchemaOf(reflect.New(typ).Elem().Interface())}
	actual, _ := parquetLayouts.LoadOrStore(f.String(), l)
	return actual.(*parquetLayout)
}

// encodeParquet is a Parquet file (GZIP inside, no outer compression, no
// header) of recs in format f. String columns carry "-" for absent values,
// so queries written for the text files (action = '-') work on both.
func encodeParquet(recs []flowlog.Record, f *flowlog.Format) ([]byte, error) {
	l := layoutFor(f)
	var b bytes.Buffer
	w := parquet.NewWriter(&b, l.schema, parquet.Compression(&parquet.Gzip))
	row := reflect.New(l.typ).Elem()
	var text []byte
	for i := range recs {
		r := &recs[i]
		for j, id := range l.fields {
			fv := row.Field(j)
			switch id.Spec().Parquet {
			case flowlog.ParquetInt32, flowlog.ParquetInt64:
				v, ok := r.Int(id)
				if id == flowlog.FieldVersion {
					v, ok = int64(f.Version()), true
				}
				if !ok {
					fv.SetZero()
					continue
				}
				p := reflect.New(fv.Type().Elem())
				p.Elem().SetInt(v)
				fv.Set(p)
			default:
				text = flowlog.AppendField(text[:0], r, id)
				s := string(text)
				fv.Set(reflect.ValueOf(&s))
			}
		}
		if err := w.Write(row.Interface()); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
