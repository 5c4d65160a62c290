package logs

import "unicode/utf8"

// Entity is PutLogEvents' entity: the service or resource the events come
// from (CloudWatch "related telemetry"). flowwatch checks it as AWS does
// and keeps nothing of it, since nothing here reads entities back.
type Entity struct {
	KeyAttributes map[string]string
	Attributes    map[string]string
}

// RejectedEntityInfo says why PutLogEvents did not associate its entity
// with the events (which were stored all the same).
type RejectedEntityInfo struct {
	ErrorType string `json:"errorType"`
}

// entityKeys are the key attributes an entity may have (model doc of
// Entity.keyAttributes).
var entityKeys = map[string]bool{"Type": true, "ResourceType": true, "Identifier": true, "Name": true, "Environment": true}

// rejection returns the EntityRejectionErrorType of e, or "" when it is
// valid. The model's shapes bound the maps (keyAttributes 2..4 entries,
// keys 1..32 and values 1..512 characters; attributes 0..10 entries, keys
// 1..256 and values 1..512); the user guide ("How to add related
// information to telemetry") names the Type values and what each needs:
// Service needs Name and Environment, AWS::Resource needs ResourceType and
// Identifier.
func (e *Entity) rejection() string {
	ka := e.KeyAttributes
	if len(ka) == 0 {
		return "MissingRequiredFields"
	}
	if len(ka) < 2 || len(ka) > 4 {
		return "InvalidKeyAttributes"
	}
	for k, v := range ka {
		if !entityKeys[k] || !runes(v, 1, 512) {
			return "InvalidKeyAttributes"
		}
	}
	if len(e.Attributes) > 10 {
		return "InvalidAttributes"
	}
	for k, v := range e.Attributes {
		if !runes(k, 1, 256) || !runes(v, 1, 512) {
			return "InvalidAttributes"
		}
	}
	var needs []string
	switch t, ok := ka["Type"]; {
	case !ok:
		return "MissingRequiredFields"
	case t == "Service":
		needs = []string{"Name", "Environment"}
	case t == "AWS::Resource":
		needs = []string{"ResourceType", "Identifier"}
	default:
		return "InvalidTypeValue"
	}
	for _, k := range needs {
		if _, ok := ka[k]; !ok {
			return "MissingRequiredFields"
		}
	}
	return ""
}

// runes reports whether s has min..max characters.
func runes(s string, min, max int) bool {
	n := utf8.RuneCountInString(s)
	return n >= min && n <= max
}
