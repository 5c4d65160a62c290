package logs

import (
	"encoding/json"
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
	var in struct {
		LogGroupName        string   `json:"logGroupName"`
		LogGroupNames       []string `json:"logGroupNames"`
		LogGroupIdentifier  string   `json:"logGroupIdentifier"`
		LogGroupIdentifiers []string `json:"logGroupIdentifiers"`
		LogStreamName       string   `json:"logStreamName"`
		ResourceArn         string   `json:"resourceArn"`
		LogRecordPointer    string   `json:"logRecordPointer"`
	}
	// A body that does not decode is refused by the operation itself; it
	// is authorized against all of the region's log groups.
	_ = json.Unmarshal(body, &in)
	r := info.Region
	if r == "" {
		r = DefaultRegion
	}
	prefix := "arn:aws:logs:" + r + ":" + info.AccountID + ":log-group:"
	// groupARN is the IAM form of a group name or identifier.
	groupARN := func(id string) string {
		if strings.HasPrefix(id, "arn:") {
			return strings.TrimSuffix(id, ":*") + ":*"
		}
		return prefix + id + ":*"
	}
	switch {
	case in.ResourceArn != "":
		return []string{in.ResourceArn}
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

// streamOp reports whether op acts on one log stream.
func streamOp(op string) bool {
	switch op {
	case "CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents":
		return true
	}
	return false
}
