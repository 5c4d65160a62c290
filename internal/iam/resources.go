package iam

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

// Resources of requests, as the Service Authorization Reference names
// them, so that policies' Resource elements apply to API requests.

// iamResource is the ARN an IAM operation acts on: the role or user it
// names (with its path when it exists), or the role/ or user/ prefix for
// listings.
func (s *Service) iamResource(ctx context.Context, action string, p awsapi.QueryParams) string {
	switch {
	case action == "ListPolicies":
		return s.arn("policy", "/", "")
	case action == "CreatePolicy":
		return s.arn("policy", pathOr(p.Value("Path")), p.Value("PolicyName"))
	case action == "GetPolicy", action == "GetPolicyVersion", action == "DeletePolicy":
		return p.Value("PolicyArn")
	case strings.Contains(action, "Role"):
		name := p.Value("RoleName")
		if name == "" {
			return s.arn("role", "/", "")
		}
		if r, err := s.GetRole(name); err == nil {
			return r.Arn
		}
		return s.arn("role", pathOr(p.Value("Path")), name)
	case action == "ListUsers":
		return s.arn("user", "/", "")
	case strings.Contains(action, "User"), strings.Contains(action, "AccessKey"):
		name, sent := p.Get("UserName")
		if !sent {
			if u, ok := s.caller(ctx); ok {
				return u.Arn
			}
			return "arn:aws:iam::" + s.account + ":root"
		}
		if u, err := s.GetUser(name); err == nil {
			return u.Arn
		}
		return s.arn("user", pathOr(p.Value("Path")), name)
	}
	return "*"
}

func pathOr(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// LogsResource names the resource of a CloudWatch Logs operation from its
// JSON request, for awsapi.Router.HandleResources(logs.TargetPrefix, …):
// log-group operations act on arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*,
// stream operations (CreateLogStream, PutLogEvents, …) on
// …:log-group:NAME:log-stream:STREAM, tag operations on their resourceArn,
// and operations without a group on …:log-group:*.
func LogsResource(op string, info awsapi.RequestInfo, body []byte) string {
	var in struct {
		LogGroupName       string `json:"logGroupName"`
		LogGroupIdentifier string `json:"logGroupIdentifier"`
		LogStreamName      string `json:"logStreamName"`
		ResourceArn        string `json:"resourceArn"`
	}
	// A body that does not decode is refused by the operation itself; it
	// is authorized against the account's log groups.
	_ = json.Unmarshal(body, &in)
	region := info.Region
	if region == "" {
		region = "us-east-1"
	}
	prefix := "arn:aws:logs:" + region + ":" + info.AccountID + ":log-group:"
	group := in.LogGroupName
	if group == "" && in.LogGroupIdentifier != "" {
		group = in.LogGroupIdentifier
		if strings.HasPrefix(group, "arn:") {
			// An ARN identifier names the group in its resource part.
			group = strings.TrimSuffix(strings.TrimPrefix(group[strings.Index(group, ":log-group:")+1:], "log-group:"), ":*")
		}
	}
	switch {
	case in.ResourceArn != "":
		return strings.TrimSuffix(in.ResourceArn, ":*") + ":*"
	case group == "":
		return prefix + "*"
	case in.LogStreamName != "" && streamOp(op):
		return prefix + group + ":log-stream:" + in.LogStreamName
	}
	return prefix + group + ":*"
}

// streamOp reports whether op acts on one log stream.
func streamOp(op string) bool {
	switch op {
	case "CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents":
		return true
	}
	return false
}
