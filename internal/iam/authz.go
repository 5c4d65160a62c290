package iam

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

// Errors of the evaluation API, for callers that branch on them.
var (
	// ErrNoSuchEntity: the role or user an ARN names does not exist.
	ErrNoSuchEntity = errors.New("iam: no such entity")
	// ErrNotAssumable: the role's trust policy does not let the principal
	// assume it.
	ErrNotAssumable = errors.New("iam: role cannot be assumed")
)

// AssumableBy checks a role's current trust policy: nil when it allows
// sts:AssumeRole to the service principal (e.g.
// "vpc-flow-logs.amazonaws.com") with aws:SourceAccount and aws:SourceArn
// (either may be "" when unknown) as request context. Errors wrap
// ErrNoSuchEntity or ErrNotAssumable.
func (s *Service) AssumableBy(roleArn, servicePrincipal, sourceAccount, sourceArn string) error {
	s.mu.RLock()
	r := s.roleByArn(roleArn)
	var doc string
	if r != nil {
		doc = r.AssumeRolePolicyDocument
	}
	s.mu.RUnlock()
	if r == nil {
		return fmt.Errorf("%w: role %s", ErrNoSuchEntity, roleArn)
	}
	ctx := map[string]string{}
	if sourceAccount != "" {
		ctx["aws:SourceAccount"] = sourceAccount
	}
	if sourceArn != "" {
		ctx["aws:SourceArn"] = sourceArn
	}
	req := Request{Action: "sts:AssumeRole", Resource: roleArn, PrincipalType: "Service", Principal: servicePrincipal, Context: ctx}
	if Evaluate(req, s.policy(doc, TrustPolicy)) != Allowed {
		return fmt.Errorf("%w: %s by %s", ErrNotAssumable, roleArn, servicePrincipal)
	}
	return nil
}

// Authorize evaluates the identity-based policies (inline and attached
// managed) of the user or role principalArn for action on resource with condition context ctx
// (may be nil). When denied, reason is IAM's sentence ("User: … is not
// authorized to perform: … because …"). Policies are read at each call, so
// a policy change applies to the next call.
func (s *Service) Authorize(principalArn, action, resource string, ctx map[string]string) (allowed bool, reason string) {
	s.mu.RLock()
	var docs map[string]string
	var attached []string
	var boundary string
	kind := ""
	if r := s.roleByArn(principalArn); r != nil {
		docs, attached, boundary, kind = r.Policies, r.Attached, r.Boundary, "Role"
	} else if u := s.userByArn(principalArn); u != nil {
		docs, attached, boundary, kind = u.Policies, u.Attached, u.Boundary, "User"
	}
	pols := append(s.policies(docs), s.attachedDocs(attached)...)
	bound := s.boundary(boundary)
	s.mu.RUnlock()
	if kind == "" {
		return false, fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because the principal does not exist", principalArn, action, resource)
	}
	full := map[string]string{"aws:PrincipalArn": principalArn, "aws:PrincipalAccount": s.account, "aws:PrincipalType": kind}
	for k, v := range ctx {
		full[k] = v
	}
	d, by := decide(Request{Action: action, Resource: resource, Context: full}, pols, bound)
	if d == Allowed {
		return true, ""
	}
	return false, denial("User", principalArn, action, resource, d, by)
}

// decide combines identity policies with a permissions boundary (nil:
// none): allowed only when both allow, and an explicit deny in either
// wins. by names the kind of policy that refused.
func decide(req Request, identity []*Policy, boundary *Policy) (d Decision, by string) {
	d = Evaluate(req, identity...)
	if boundary == nil || d == ExplicitDeny {
		return d, "identity-based policy"
	}
	b := Evaluate(req, boundary)
	switch {
	case b == ExplicitDeny:
		return b, "permissions boundary"
	case d != Allowed:
		return d, "identity-based policy"
	case b != Allowed:
		return b, "permissions boundary"
	}
	return Allowed, ""
}

// denial is IAM's AccessDenied sentence.
func denial(kind, principal, action, resource string, d Decision, by string) string {
	msg := kind + ": " + principal + " is not authorized to perform: " + action + " on resource: " + resource
	if d == ExplicitDeny {
		article := "a "
		if by == "identity-based policy" {
			article = "an "
		}
		return msg + " with an explicit deny in " + article + by
	}
	return msg + " because no " + by + " allows the " + action + " action"
}

func (s *Service) roleByArn(arn string) *Role {
	name, ok := s.nameFromArn(arn, "role/")
	if !ok {
		return nil
	}
	if r := s.st.Roles[strings.ToLower(name)]; r != nil && r.Arn == arn {
		return r
	}
	return nil
}

func (s *Service) userByArn(arn string) *User {
	name, ok := s.nameFromArn(arn, "user/")
	if !ok {
		return nil
	}
	if u := s.st.Users[strings.ToLower(name)]; u != nil && u.Arn == arn {
		return u
	}
	return nil
}

// nameFromArn returns the last path element of an IAM ARN of this account
// whose resource starts with kind ("role/", "user/").
func (s *Service) nameFromArn(arn, kind string) (string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::"+s.account+":"+kind)
	if !ok || rest == "" {
		return "", false
	}
	return rest[strings.LastIndexByte(rest, '/')+1:], true
}

// RequestAuthorizer returns the awsapi.Authorizer that applies IAM users'
// policies to the API requests signed with their keys. Keys it does not
// know (the root credentials) are not restricted.
func (s *Service) RequestAuthorizer() awsapi.Authorizer { return requestAuthorizer{s} }

type requestAuthorizer struct{ s *Service }

func (a requestAuthorizer) Restricted(accessKeyID string) bool {
	a.s.mu.RLock()
	defer a.s.mu.RUnlock()
	_, ok := a.s.keys[accessKeyID]
	return ok
}

func (a requestAuthorizer) Authorize(info awsapi.RequestInfo, action, resource string) error {
	u, pols, bound, ok := a.s.userByKey(info.AccessKeyID)
	if !ok {
		// The key was deleted after the signature was checked.
		return awsapi.NewError("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	now := a.s.now().UTC()
	ctx := map[string]string{
		"aws:username": u.UserName, "aws:userid": u.UserID, "aws:PrincipalArn": u.Arn,
		"aws:PrincipalAccount": a.s.account, "aws:PrincipalType": "User", "aws:RequestedRegion": info.Region,
		"aws:CurrentTime": now.Format(time.RFC3339), "aws:EpochTime": strconv.FormatInt(now.Unix(), 10),
		"aws:SecureTransport": "false",
	}
	d, by := decide(Request{Action: action, Resource: resource, Context: ctx}, pols, bound)
	if d == Allowed {
		return nil
	}
	a.s.log.Info("request denied", "principal", u.Arn, "action", action, "resource", resource, "decision", d.String())
	return awsapi.NewError("AccessDeniedException", "%s", denial("User", u.Arn, action, resource, d, by))
}

// AuthorizeCaller applies the policies of the IAM user who signed a
// request to an action the operation needs beyond its own, such as
// iam:PassRole on the role CreateFlowLogs names. Root (any key IAM does
// not know) is allowed. The error is an AccessDeniedException
// *awsapi.Error; a service with its own code (EC2: UnauthorizedOperation)
// renames it.
func (s *Service) AuthorizeCaller(info awsapi.RequestInfo, action, resource string) error {
	a := requestAuthorizer{s}
	if !a.Restricted(info.AccessKeyID) {
		return nil
	}
	return a.Authorize(info, action, resource)
}
