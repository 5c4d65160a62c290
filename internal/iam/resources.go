package iam

import (
	"context"
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
