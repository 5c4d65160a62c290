package iam

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

// Customer managed policies: created once, attached to roles and users, and
// evaluated with their inline policies. Only the first version exists
// (CreatePolicyVersion is not served); AWS managed policies
// (arn:aws:iam::aws:policy/…) do not exist here.

const (
	maxManagedPolicyBytes = 6144 // PolicySize
	maxAttachedPerEntity  = 10   // PolicyAttachmentsPerRole / PerUser
)

// ManagedPolicy is a customer managed policy.
type ManagedPolicy struct {
	PolicyName  string    `json:"policyName"`
	PolicyID    string    `json:"policyId"`
	Arn         string    `json:"arn"`
	Path        string    `json:"path"`
	Description string    `json:"description,omitempty"`
	Document    string    `json:"document"` // version v1, as sent
	CreateDate  time.Time `json:"createDate"`
	Tags        []Tag     `json:"tags,omitempty"`
}

func policyNotFound(arn string) *awsapi.Error {
	return noSuchEntity("Policy %s was not found.", arn)
}

func policyNotAttachable(arn string) *awsapi.Error {
	return noSuchEntity("Policy %s does not exist or is not attachable.", arn)
}

// policyByArn finds a managed policy of st by ARN.
func policyByArn(st *state, arn string) *ManagedPolicy {
	name := arn[strings.LastIndexByte(arn, '/')+1:]
	if p := st.Policies[strings.ToLower(name)]; p != nil && p.Arn == arn {
		return p
	}
	return nil
}

// CreatePolicy creates a customer managed policy.
func (s *Service) CreatePolicy(name, path, description, doc string, tags []Tag) (ManagedPolicy, error) {
	if _, err := ParsePolicy(doc, IdentityPolicy); err != nil {
		return ManagedPolicy{}, malformedDoc(err)
	}
	if policySize(doc) > maxManagedPolicyBytes {
		return ManagedPolicy{}, limitExceeded("Cannot exceed quota for PolicySize: %d", maxManagedPolicyBytes)
	}
	if path == "" {
		path = "/"
	}
	p := ManagedPolicy{PolicyName: name, PolicyID: newID("ANPA", 17), Arn: s.arn("policy", path, name), Path: path,
		Description: description, Document: doc, CreateDate: s.now().UTC().Truncate(time.Second), Tags: tags}
	err := s.mutate(func(st *state) error {
		k := strings.ToLower(name)
		if st.Policies[k] != nil {
			return alreadyExists("A policy called %s already exists. Duplicate names are not allowed.", name)
		}
		if st.Policies == nil {
			st.Policies = map[string]*ManagedPolicy{}
		}
		c := p
		st.Policies[k] = &c
		return nil
	})
	return p, err
}

// GetPolicy returns a managed policy and how many roles and users it is
// attached to, and is the boundary of.
func (s *Service) GetPolicy(arn string) (mp ManagedPolicy, attached, boundaries int, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := policyByArn(s.st, arn)
	if p == nil {
		return ManagedPolicy{}, 0, 0, policyNotFound(arn)
	}
	return *p, attachments(s.st, arn), boundaryUses(s.st, arn), nil
}

func attachments(st *state, arn string) int {
	n := 0
	for _, r := range st.Roles {
		for _, a := range r.Attached {
			if a == arn {
				n++
			}
		}
	}
	for _, u := range st.Users {
		for _, a := range u.Attached {
			if a == arn {
				n++
			}
		}
	}
	return n
}

// ListPolicies returns the managed policies under pathPrefix, sorted by
// name, with their attachment counts.
func (s *Service) ListPolicies(pathPrefix string, onlyAttached bool) ([]ManagedPolicy, []int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []ManagedPolicy
	for _, p := range s.st.Policies {
		if strings.HasPrefix(p.Path, pathPrefix) && (!onlyAttached || attachments(s.st, p.Arn) > 0) {
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PolicyName < out[j].PolicyName })
	counts := make([]int, len(out))
	for i, p := range out {
		counts[i] = attachments(s.st, p.Arn)
	}
	return out, counts
}

// DeletePolicy deletes a managed policy attached to nothing.
func (s *Service) DeletePolicy(arn string) error {
	return s.mutate(func(st *state) error {
		p := policyByArn(st, arn)
		if p == nil {
			return policyNotFound(arn)
		}
		if attachments(st, arn) > 0 || boundaryUses(st, arn) > 0 {
			return deleteConflict("Cannot delete a policy attached to entities.")
		}
		delete(st.Policies, strings.ToLower(p.PolicyName))
		return nil
	})
}

// attach adds or removes arn on the entity list *list.
func attach(st *state, list *[]string, arn, quota string, detach bool) error {
	for i, a := range *list {
		if a == arn {
			if detach {
				*list = append((*list)[:i], (*list)[i+1:]...)
			}
			return nil // attaching twice is a no-op, as in IAM
		}
	}
	if detach {
		return policyNotFound(arn)
	}
	if policyByArn(st, arn) == nil {
		return policyNotAttachable(arn)
	}
	if len(*list) >= maxAttachedPerEntity {
		return limitExceeded("Cannot exceed quota for %s: %d", quota, maxAttachedPerEntity)
	}
	*list = append(*list, arn)
	return nil
}

// AttachRolePolicy attaches (detach=false) or detaches a managed policy.
func (s *Service) AttachRolePolicy(role, arn string, detach bool) error {
	return s.mutate(func(st *state) error {
		r := st.Roles[strings.ToLower(role)]
		if r == nil {
			return roleNotFound(role)
		}
		return attach(st, &r.Attached, arn, "PolicyAttachmentsPerRole", detach)
	})
}

// AttachUserPolicy attaches (detach=false) or detaches a managed policy.
func (s *Service) AttachUserPolicy(user, arn string, detach bool) error {
	return s.mutate(func(st *state) error {
		u := st.Users[strings.ToLower(user)]
		if u == nil {
			return userNotFound(user)
		}
		return attach(st, &u.Attached, arn, "PolicyAttachmentsPerUser", detach)
	})
}

// AttachedPolicies returns the managed policies attached to a role
// (role=true) or user, as (name, ARN) pairs.
func (s *Service) AttachedPolicies(name string, role bool) ([][2]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var list []string
	if role {
		r := s.st.Roles[strings.ToLower(name)]
		if r == nil {
			return nil, roleNotFound(name)
		}
		list = r.Attached
	} else {
		u := s.st.Users[strings.ToLower(name)]
		if u == nil {
			return nil, userNotFound(name)
		}
		list = u.Attached
	}
	out := make([][2]string, 0, len(list))
	for _, arn := range list {
		if p := policyByArn(s.st, arn); p != nil {
			out = append(out, [2]string{p.PolicyName, arn})
		}
	}
	return out, nil
}

// attachedDocs returns the documents of the managed policies in arns;
// the caller holds s.mu.
func (s *Service) attachedDocs(arns []string) []*Policy {
	out := make([]*Policy, 0, len(arns))
	for _, arn := range arns {
		if p := policyByArn(s.st, arn); p != nil {
			out = append(out, s.policy(p.Document, IdentityPolicy))
		}
	}
	return out
}

// ---- wire ----

type policyXML struct {
	PolicyName                    string   `xml:"PolicyName"`
	PolicyID                      string   `xml:"PolicyId"`
	Arn                           string   `xml:"Arn"`
	Path                          string   `xml:"Path"`
	DefaultVersionID              string   `xml:"DefaultVersionId"`
	AttachmentCount               int      `xml:"AttachmentCount"`
	PermissionsBoundaryUsageCount int      `xml:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool     `xml:"IsAttachable"`
	Description                   string   `xml:"Description,omitempty"`
	CreateDate                    string   `xml:"CreateDate"`
	UpdateDate                    string   `xml:"UpdateDate"`
	Tags                          *tagList `xml:"Tags,omitempty"`
}

func toPolicyXML(p ManagedPolicy, attached, boundaries int) policyXML {
	return policyXML{PolicyName: p.PolicyName, PolicyID: p.PolicyID, Arn: p.Arn, Path: p.Path, DefaultVersionID: "v1",
		AttachmentCount: attached, PermissionsBoundaryUsageCount: boundaries, IsAttachable: true, Description: p.Description,
		CreateDate: isoTime(p.CreateDate), UpdateDate: isoTime(p.CreateDate), Tags: tagsXML(p.Tags)}
}

func (c *params) policyArn() string {
	return c.str("PolicyArn", "policyArn", true, 20, 2048, nil)
}

func (s *Service) opCreatePolicy(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	name := c.str("PolicyName", "policyName", true, 1, 128, namePattern)
	path := c.str("Path", "path", false, 1, 512, pathPattern)
	desc := c.str("Description", "description", false, 0, 1000, nil)
	doc := c.str("PolicyDocument", "policyDocument", true, 1, 131072, docPattern)
	tags := c.tags()
	if err := c.err(); err != nil {
		return nil, err
	}
	mp, err := s.CreatePolicy(name, path, desc, doc, tags)
	if err != nil {
		return nil, err
	}
	x := toPolicyXML(mp, 0, 0)
	x.Description = "" // CreatePolicy's result leaves it out
	return struct {
		Policy policyXML `xml:"Policy"`
	}{x}, nil
}

func (s *Service) opGetPolicy(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	arn := c.policyArn()
	if err := c.err(); err != nil {
		return nil, err
	}
	mp, n, b, err := s.GetPolicy(arn)
	if err != nil {
		return nil, err
	}
	return struct {
		Policy policyXML `xml:"Policy"`
	}{toPolicyXML(mp, n, b)}, nil
}

func (s *Service) opGetPolicyVersion(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	arn := c.policyArn()
	version := c.str("VersionId", "versionId", true, 0, -1, awsapi.MustPattern(`v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`))
	if err := c.err(); err != nil {
		return nil, err
	}
	mp, _, _, err := s.GetPolicy(arn)
	if err != nil {
		return nil, err
	}
	if version != "v1" {
		return nil, noSuchEntity("Policy %s version %s does not exist or is not attachable.", arn, version)
	}
	return struct {
		Version struct {
			Document         string `xml:"Document"`
			VersionID        string `xml:"VersionId"`
			IsDefaultVersion bool   `xml:"IsDefaultVersion"`
			CreateDate       string `xml:"CreateDate"`
		} `xml:"PolicyVersion"`
	}{Version: struct {
		Document         string `xml:"Document"`
		VersionID        string `xml:"VersionId"`
		IsDefaultVersion bool   `xml:"IsDefaultVersion"`
		CreateDate       string `xml:"CreateDate"`
	}{EncodePolicy(mp.Document), "v1", true, isoTime(mp.CreateDate)}}, nil
}

func (s *Service) opListPolicies(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	prefix := c.str("PathPrefix", "pathPrefix", false, 1, 512, prefixPattern)
	scope := c.str("Scope", "scope", false, 0, -1, nil)
	if scope != "" {
		c.v.Enum("scope", scope, "All", "AWS", "Local")
	}
	only := strings.EqualFold(p.Value("OnlyAttached"), "true")
	marker, max := c.page()
	if err := c.err(); err != nil {
		return nil, err
	}
	var pols []ManagedPolicy
	var counts []int
	if scope != "AWS" { // no AWS managed policies exist here
		pols, counts = s.ListPolicies(prefix, only)
	}
	keys := make([]string, len(pols))
	for i, mp := range pols {
		keys[i] = mp.PolicyName
	}
	start, end, next, err := paginate("ListPolicies", keys, marker, max)
	if err != nil {
		return nil, err
	}
	out := struct {
		Policies struct {
			Member []policyXML `xml:"member"`
		} `xml:"Policies"`
		IsTruncated bool   `xml:"IsTruncated"`
		Marker      string `xml:"Marker,omitempty"`
	}{IsTruncated: next != "", Marker: next}
	for i := start; i < end; i++ {
		x := toPolicyXML(pols[i], counts[i], 0)
		x.Description, x.Tags = "", nil
		out.Policies.Member = append(out.Policies.Member, x)
	}
	return out, nil
}

func (s *Service) opDeletePolicy(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	arn := c.policyArn()
	if err := c.err(); err != nil {
		return nil, err
	}
	return nil, s.DeletePolicy(arn)
}

func (s *Service) attachOp(role, detach bool) awsapi.QueryHandler {
	return func(ctx context.Context, p awsapi.QueryParams) (any, error) {
		c := &params{p: p}
		var name string
		if role {
			name = c.str("RoleName", "roleName", true, 1, 64, namePattern)
		} else {
			name = c.str("UserName", "userName", true, 1, 64, namePattern)
		}
		arn := c.policyArn()
		if err := c.err(); err != nil {
			return nil, err
		}
		if role {
			return nil, s.AttachRolePolicy(name, arn, detach)
		}
		return nil, s.AttachUserPolicy(name, arn, detach)
	}
}

func (s *Service) listAttachedOp(role bool) awsapi.QueryHandler {
	return func(ctx context.Context, p awsapi.QueryParams) (any, error) {
		c := &params{p: p}
		var name string
		if role {
			name = c.str("RoleName", "roleName", true, 1, 64, namePattern)
		} else {
			name = c.str("UserName", "userName", true, 1, 64, namePattern)
		}
		prefix := c.str("PathPrefix", "pathPrefix", false, 1, 512, prefixPattern)
		marker, max := c.page()
		if err := c.err(); err != nil {
			return nil, err
		}
		all, err := s.AttachedPolicies(name, role)
		if err != nil {
			return nil, err
		}
		type attached struct {
			PolicyName string `xml:"PolicyName"`
			PolicyArn  string `xml:"PolicyArn"`
		}
		var items []attached
		for _, a := range all {
			if prefix == "" || strings.HasPrefix(strings.TrimPrefix(a[1], "arn:aws:iam::"+s.account+":policy"), prefix) {
				items = append(items, attached{a[0], a[1]})
			}
		}
		sort.Slice(items, func(i, j int) bool { return items[i].PolicyName < items[j].PolicyName })
		keys := make([]string, len(items))
		for i, it := range items {
			keys[i] = it.PolicyName
		}
		start, end, next, err := paginate("ListAttached", keys, marker, max)
		if err != nil {
			return nil, err
		}
		out := struct {
			Attached struct {
				Member []attached `xml:"member"`
			} `xml:"AttachedPolicies"`
			IsTruncated bool   `xml:"IsTruncated"`
			Marker      string `xml:"Marker,omitempty"`
		}{IsTruncated: next != "", Marker: next}
		out.Attached.Member = items[start:end]
		return out, nil
	}
}

// ---- permissions boundaries ----

// boundary returns the parsed boundary policy arn (nil for ""); the
// caller holds s.mu. A boundary whose policy is gone allows nothing, as
// IAM keeps the reference.
func (s *Service) boundary(arn string) *Policy {
	if arn == "" {
		return nil
	}
	if p := policyByArn(s.st, arn); p != nil {
		return s.policy(p.Document, IdentityPolicy)
	}
	return &Policy{}
}

func boundaryNotFound(arn string) *awsapi.Error {
	return noSuchEntity("Scope ARN: %s does not exist or is not attachable.", arn)
}

// SetBoundary sets (arn != "") or removes the permissions boundary of a
// role (role=true) or user.
func (s *Service) SetBoundary(name string, role bool, arn string) error {
	return s.mutate(func(st *state) error {
		if arn != "" && policyByArn(st, arn) == nil {
			return boundaryNotFound(arn)
		}
		if role {
			r := st.Roles[strings.ToLower(name)]
			if r == nil {
				return roleNotFound(name)
			}
			r.Boundary = arn
			return nil
		}
		u := st.Users[strings.ToLower(name)]
		if u == nil {
			return userNotFound(name)
		}
		u.Boundary = arn
		return nil
	})
}

func boundaryUses(st *state, arn string) int {
	n := 0
	for _, r := range st.Roles {
		if r.Boundary == arn {
			n++
		}
	}
	for _, u := range st.Users {
		if u.Boundary == arn {
			n++
		}
	}
	return n
}

type boundaryXML struct {
	Type string `xml:"PermissionsBoundaryType"`
	Arn  string `xml:"PermissionsBoundaryArn"`
}

func toBoundaryXML(arn string) *boundaryXML {
	if arn == "" {
		return nil
	}
	return &boundaryXML{"Policy", arn}
}

func (s *Service) boundaryOp(role, remove bool) awsapi.QueryHandler {
	return func(ctx context.Context, p awsapi.QueryParams) (any, error) {
		c := &params{p: p}
		var name, arn string
		if role {
			name = c.str("RoleName", "roleName", true, 1, 64, namePattern)
		} else {
			name = c.str("UserName", "userName", true, 1, 128, namePattern)
		}
		if !remove {
			arn = c.str("PermissionsBoundary", "permissionsBoundary", true, 20, 2048, nil)
		}
		if err := c.err(); err != nil {
			return nil, err
		}
		return nil, s.SetBoundary(name, role, arn)
	}
}
