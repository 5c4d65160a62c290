package awsapi

import (
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
)

// Pagination tokens are opaque to clients. A token carries a kind (so a
// DescribeLogStreams token is not accepted by DescribeLogGroups) and the
// fields a service needs to resume (a position, not a page number, so that
// pages stay correct while resources come and go), plus a checksum so that
// a truncated or edited token is rejected instead of misread.

// EncodeToken returns an opaque token for kind and fields.
func EncodeToken(kind string, fields ...string) string {
	b := make([]byte, 0, 64)
	b = appendField(b, kind)
	for _, f := range fields {
		b = appendField(b, f)
	}
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	return base64.RawURLEncoding.EncodeToString(b)
}

func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// DecodeToken returns the fields of a token of kind, or ok=false when the
// token is not one we issued for kind.
func DecodeToken(token, kind string) (fields []string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 4 {
		return nil, false
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, false
	}
	var all []string
	for len(body) > 0 {
		n, w := binary.Uvarint(body)
		if w <= 0 || uint64(len(body)-w) < n {
			return nil, false
		}
		all = append(all, string(body[w:w+int(n)]))
		body = body[w+int(n):]
	}
	if len(all) == 0 || all[0] != kind {
		return nil, false
	}
	return all[1:], true
}

// InvalidToken is the error for a nextToken we cannot resume from.
func InvalidToken() *Error {
	return InvalidParameter("The specified nextToken is invalid.")
}
