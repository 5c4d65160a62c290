package logs

import (
	"strings"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/insights"
)

// Resources names the resources of a CloudWatch Logs request for IAM,
// from its JSON body, for awsapi.Router.HandleResources(TargetPrefix, …).
// Every resource returned must be allowed:
//
//   - log-group operations act on arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*
//     (the form AWS names in its AccessDenied messages and that policies
//     grant), one per group: a StartQuery of three groups needs all three;
//   - stream operations (CreateLogStream, DeleteLogStream, PutLogEvents,
//     GetLogEvents) act on …:log-group:NAME:log-stream:STREAM;
//   - TagResource, UntagResource and ListTagsForResource act on their
//     resourceArn as given, without ":*" (the model's LogGroup.arn doc: "The
//     permissions for those three actions require the ARN version that
//     doesn't include a trailing :*"); GetLogRecord on the group its
//     pointer names;
//   - operations on no log group in particular (DescribeLogGroups without
//     identifiers, a SOURCE query) on …:log-group:*;
//   - GetQueryResults, StopQuery, DescribeQueries and TestMetricFilter,
//     which have no resource type in the Service Authorization Reference,
//     on "*": only statements whose Resource is "*" grant them.
//
// An ARN identifier keeps its own region and account, so a request for
// another region's group is refused (or not found) by that group's ARN.
func Resources(op string, info awsapi.RequestInfo, body []byte) []string {
	switch op {
	case "GetQueryResults", "StopQuery", "DescribeQueries", "TestMetricFilter":
		return []string{"*"}
	}
	in, err := resourceMembers(body)
	if err != nil {
		// A body that does not decode is refused by the operation itself;
		// it is authorized against all of the region's log groups.
		in = resourceInput{}
	}
	prefix := "arn:aws:logs:" + infoRegion(info) + ":" + info.AccountID + ":log-group:"
	// groupARN is the IAM form of a group name or identifier.
	groupARN := func(id string) string {
		if strings.HasPrefix(id, "arn:") {
			return strings.TrimSuffix(id, ":*") + ":*"
		}
		return prefix + id + ":*"
	}
	switch {
	case in.ResourceArn != "":
		return []string{strings.Clone(in.ResourceArn)}
	case op == "GetLogRecord":
		if key, _, _, err := insights.DecodePtr(in.LogRecordPointer); err == nil {
			kr, name := SplitStoreKey(key)
			return []string{"arn:aws:logs:" + kr + ":" + info.AccountID + ":log-group:" + name + ":*"}
		}
		return []string{prefix + "*"}
	}
	var groups []string
	if in.LogGroupName != "" {
		groups = append(groups, in.LogGroupName)
	}
	if in.LogGroupIdentifier != "" {
		groups = append(groups, in.LogGroupIdentifier)
	}
	if op == "StartQuery" {
		groups = append(groups, in.LogGroupNames...)
		groups = append(groups, in.LogGroupIdentifiers...)
	}
	if len(groups) == 0 {
		return []string{prefix + "*"}
	}
	if in.LogStreamName != "" && streamOp(op) {
		return []string{strings.TrimSuffix(groupARN(groups[0]), "*") + "log-stream:" + in.LogStreamName}
	}
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		out = append(out, groupARN(g))
	}
	return out
}

// resourceInput holds the members that name a request's resources.
type resourceInput struct {
	LogGroupName        string
	LogGroupNames       []string
	LogGroupIdentifier  string
	LogGroupIdentifiers []string
	LogStreamName       string
	ResourceArn         string
	LogRecordPointer    string
}

// resourceMembers reads the members that name resources with the
// operations' rules: names matched exactly (awsapi.DecodeJSON drops
// case-folded members, PutLogEvents' decoder never matches them), the last
// of duplicates kept, null as absent. encoding/json alone would let
// {"logGroupName":"a","LogGroupName":"b"} be authorized on b while the
// operation acts on a.
func resourceMembers(body []byte) (resourceInput, error) {
	var in resourceInput
	// Skipped strings (every event's message) alias the body instead of
	// being copied; what Resources returns is built anew (or cloned).
	d := bodyDec(body)
	str := func(p *string, key string) error {
		if d.lit("null") {
			*p = ""
			return nil
		}
		s, err := d.str(key)
		*p = s
		return err
	}
	list := func(p *[]string, key string) error {
		*p = nil
		if d.lit("null") {
			return nil
		}
		if d.b[d.i] != '[' {
			return d.typeErr(key, "a list")
		}
		*p = []string{}
		return d.array("a list", func() error {
			var s string
			if !d.lit("null") {
				var err error
				if s, err = d.str(key); err != nil {
					return err
				}
			}
			*p = append(*p, s)
			return nil
		})
	}
	err := d.top(func(key string) error {
		switch key {
		case "logGroupName":
			return str(&in.LogGroupName, key)
		case "logGroupNames":
			return list(&in.LogGroupNames, key)
		case "logGroupIdentifier":
			return str(&in.LogGroupIdentifier, key)
		case "logGroupIdentifiers":
			return list(&in.LogGroupIdentifiers, key)
		case "logStreamName":
			return str(&in.LogStreamName, key)
		case "resourceArn":
			return str(&in.ResourceArn, key)
		case "logRecordPointer":
			return str(&in.LogRecordPointer, key)
		}
		return d.skip()
	})
	return in, err
}

// streamOp reports whether op acts on one log stream.
func streamOp(op string) bool {
	switch op {
	case "CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents":
		return true
	}
	return false
}
