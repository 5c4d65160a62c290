package awsapi

import (
	"net/http"
	"net/url"
)

// Authorization: the Router asks an Authorizer about every authenticated
// request before it runs, so a refused request changes nothing. Services
// only say which resource a request acts on (ResourceFunc for JSON
// services, QueryService.Resource for Query ones); the decision is the
// Authorizer's (internal/iam).

// Authorizer decides whether the signer of a request may perform it.
type Authorizer interface {
	// Restricted reports whether requests signed with accessKeyID are
	// subject to policies (false for the root credentials), so that the
	// resource of an unrestricted request is never computed.
	Restricted(accessKeyID string) bool
	// Authorize returns nil when allowed, else an AccessDeniedException
	// *Error naming the principal, action and resource.
	Authorize(info RequestInfo, action, resource string) error
}

// ResourceFunc returns the ARNs of the resources a JSON operation acts
// on, from its request body: every one must be allowed (a query of
// several log groups needs each of them). None, or "*", when it acts on
// none in particular.
type ResourceFunc func(op string, info RequestInfo, body []byte) []string

// ActionNamer is implemented by Protocols that can name the action (e.g.
// "iam:CreateRole", "" for none to check) and resource of a request before
// serving it.
type ActionNamer interface {
	Action(r *http.Request, body []byte, info RequestInfo) (action string, resource func() string, err error)
}

// HandleResources declares how the resources of the JSON operations under
// targetPrefix are named for authorization.
func (rt *Router) HandleResources(targetPrefix string, fn ResourceFunc) {
	if rt.resources == nil {
		rt.resources = map[string]ResourceFunc{}
	}
	rt.resources[targetPrefix] = fn
}

// authorizeJSON authorizes a JSON 1.1 request for signingName:op. Root
// requests (the ingest hot path) cost one map lookup and no allocation.
func (rt *Router) authorizeJSON(prefix, signingName, op string, body []byte, info RequestInfo) error {
	a := rt.cfg.Authorizer
	if a == nil || !a.Restricted(info.AccessKeyID) {
		return nil
	}
	var resources []string
	if fn := rt.resources[prefix]; fn != nil {
		resources = fn(op, info, body)
	}
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	for _, res := range resources {
		// The first refused resource is the one the error names, as
		// AWS names one resource per AccessDenied.
		if err := a.Authorize(info, signingName+":"+op, res); err != nil {
			return err
		}
	}
	return nil
}

// authorizeProto authorizes a request of another protocol. One that
// implements ActionNamer names its action and resource; for others the
// request's form parameter Action (Query protocols, e.g. EC2) names the
// action, on resource "*", so that no request of a restricted key goes
// unchecked.
func (rt *Router) authorizeProto(r *http.Request, body []byte, info RequestInfo, signingName string, p Protocol) error {
	a := rt.cfg.Authorizer
	if a == nil || !a.Restricted(info.AccessKeyID) {
		return nil
	}
	if an, ok := p.(ActionNamer); ok {
		action, resource, err := an.Action(r, body, info)
		if err != nil || action == "" {
			return err
		}
		return a.Authorize(info, action, resource())
	}
	op := r.URL.Query().Get("Action")
	if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
		op = form.Get("Action")
	}
	return a.Authorize(info, signingName+":"+op, "*")
}
