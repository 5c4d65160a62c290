package logs

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestPutLogEventsEntity: an entity is decoded and checked; an invalid
// one is reported in rejectedEntityInfo while the events are stored.
func TestPutLogEventsEntity(t *testing.T) {
	f := newFixture(t)
	f.group(t, "g", "s")
	svc := `"Type":"Service","Name":"checkout","Environment":"prod"`
	for i, tc := range []struct{ entity, want string }{
		{`{"keyAttributes":{` + svc + `}}`, ""},
		{`{"keyAttributes":{` + svc + `},"attributes":{"PlatformType":"Generic"},"other":[1]}`, ""},
		{`{"keyAttributes":{"Type":"AWS::Resource","ResourceType":"AWS::EC2::Instance","Identifier":"i-0123"}}`, ""},
		{`null`, ""},
		{`{}`, "MissingRequiredFields"},
		{`{"keyAttributes":{"Type":"Service"}}`, "InvalidKeyAttributes"},
		{`{"keyAttributes":{` + svc + `,"Identifier":"x","ResourceType":"y"}}`, "InvalidKeyAttributes"},
		{`{"keyAttributes":{"Type":"Service","Colour":"red"}}`, "InvalidKeyAttributes"},
		{`{"keyAttributes":{"Type":"Service","Name":""}}`, "InvalidKeyAttributes"},
		{`{"keyAttributes":{"Type":"Service","Name":"` + strings.Repeat("n", 513) + `"}}`, "InvalidKeyAttributes"},
		{`{"keyAttributes":{"Name":"a","Environment":"b"}}`, "MissingRequiredFields"},
		{`{"keyAttributes":{"Type":"Service","Name":"a"}}`, "MissingRequiredFields"},
		{`{"keyAttributes":{"Type":"AWS::Resource","Identifier":"i"}}`, "MissingRequiredFields"},
		{`{"keyAttributes":{"Type":"Lambda","Name":"a"}}`, "InvalidTypeValue"},
		{`{"keyAttributes":{` + svc + `},"attributes":{` + manyAttrs(11) + `}}`, "InvalidAttributes"},
		{`{"keyAttributes":{` + svc + `},"attributes":{"k":""}}`, "InvalidAttributes"},
	} {
		body := fmt.Sprintf(`{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":%d,"message":"e%d"}],"entity":%s}`, t0.UnixMilli(), i, tc.entity)
		out, err := f.call(t, "PutLogEvents", body)
		if err != nil {
			t.Fatalf("%s: %v", tc.entity, err)
		}
		b, _ := json.Marshal(out)
		got := ""
		if r := out.(*PutLogEventsOutput).RejectedEntityInfo; r != nil {
			got = r.ErrorType
		}
		if got != tc.want {
			t.Fatalf("%s: %s, want rejectedEntityInfo %q", tc.entity, b, tc.want)
		}
		if tc.want != "" && !strings.Contains(string(b), `"rejectedEntityInfo":{"errorType":"`+tc.want+`"}`) {
			t.Fatalf("wire form %s", b)
		}
		if n := count(t, f, "g"); n != i+1 {
			t.Fatalf("%s: %d events stored, want %d", tc.entity, n, i+1)
		}
	}
	// Wrong JSON types are a malformed request, as for any member.
	for _, e := range []string{`[]`, `{"keyAttributes":[]}`, `{"keyAttributes":{"Type":1}}`} {
		body := fmt.Sprintf(`{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":%d,"message":"x"}],"entity":%s}`, t0.UnixMilli(), e)
		_, err := f.call(t, "PutLogEvents", body)
		wantAWS(t, err, "SerializationException", "entity")
	}
}

func manyAttrs(n int) string {
	var kv []string
	for i := range n {
		kv = append(kv, fmt.Sprintf(`"a%d":"v"`, i))
	}
	return strings.Join(kv, ",")
}
