package iam

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

// The IAM operations on the Query protocol: parameter decoding and
// validation, and results as the 2010-05-08 model names their members.

// IAM's wire identity.
const (
	SigningName = "iam"
	Namespace   = "https://iam.amazonaws.com/doc/2010-05-08/"
	Version     = "2010-05-08"
)

// QueryService returns the IAM Query service, for
// Router.HandleProtocol(SigningName, …).
func (s *Service) QueryService() *awsapi.QueryService {
	ops := map[string]awsapi.QueryHandler{
		"CreateRole": s.opCreateRole, "GetRole": s.opGetRole, "ListRoles": s.opListRoles, "DeleteRole": s.opDeleteRole,
		"UpdateAssumeRolePolicy": s.opUpdateAssumeRolePolicy,
		"PutRolePolicy":          s.opPutRolePolicy, "GetRolePolicy": s.opGetRolePolicy,
		"ListRolePolicies": s.opListRolePolicies, "DeleteRolePolicy": s.opDeleteRolePolicy,
		"CreateUser": s.opCreateUser, "GetUser": s.opGetUser, "ListUsers": s.opListUsers, "DeleteUser": s.opDeleteUser,
		"CreateAccessKey": s.opCreateAccessKey, "ListAccessKeys": s.opListAccessKeys, "DeleteAccessKey": s.opDeleteAccessKey,
		"PutUserPolicy": s.opPutUserPolicy, "GetUserPolicy": s.opGetUserPolicy,
		"ListUserPolicies": s.opListUserPolicies, "DeleteUserPolicy": s.opDeleteUserPolicy,
		"CreatePolicy": s.opCreatePolicy, "GetPolicy": s.opGetPolicy, "GetPolicyVersion": s.opGetPolicyVersion,
		"ListPolicies": s.opListPolicies, "DeletePolicy": s.opDeletePolicy,
		"AttachRolePolicy": s.attachOp(true, false), "DetachRolePolicy": s.attachOp(true, true),
		"AttachUserPolicy": s.attachOp(false, false), "DetachUserPolicy": s.attachOp(false, true),
		"ListAttachedRolePolicies": s.listAttachedOp(true), "ListAttachedUserPolicies": s.listAttachedOp(false),
		"UpdateAccessKey": s.opUpdateAccessKey, "UpdateRole": s.opUpdateRole,
		"TagRole": s.tagOp(true, false), "UntagRole": s.tagOp(true, true), "ListRoleTags": s.listTagsOp(true),
		"TagUser": s.tagOp(false, false), "UntagUser": s.tagOp(false, true), "ListUserTags": s.listTagsOp(false),
		"ListInstanceProfilesForRole": s.opListInstanceProfilesForRole,
		"PutRolePermissionsBoundary":  s.boundaryOp(true, false), "DeleteRolePermissionsBoundary": s.boundaryOp(true, true),
		"PutUserPermissionsBoundary": s.boundaryOp(false, false), "DeleteUserPermissionsBoundary": s.boundaryOp(false, true),
	}
	q := &awsapi.QueryService{SigningName: SigningName, Namespace: Namespace, Version: Version, Ops: ops, Resource: s.iamResource}
	return q
}

// Model patterns and bounds of the 2010-05-08 API.
var (
	namePattern   = awsapi.MustPattern(`[\w+=,.@-]+`)
	pathPattern   = awsapi.MustPattern(`(\x{002F})|(\x{002F}[\x{0021}-\x{007E}]+\x{002F})`)
	docPattern    = awsapi.MustPattern(`[\x{0009}\x{000A}\x{000D}\x{0020}-\x{00FF}]+`)
	descPattern   = awsapi.MustPattern(`[\x{0009}\x{000A}\x{000D}\x{0020}-\x{007E}\x{00A1}-\x{00FF}]*`)
	prefixPattern = awsapi.MustPattern(`\x{002F}[\x{0021}-\x{007F}]*`)
	keyIDPattern  = awsapi.MustPattern(`[\w]+`)
	markerPattern = awsapi.MustPattern(`[\x{0020}-\x{00FF}]+`)
)

// params reads and validates parameters, collecting every violation into
// one ValidationError as IAM does.
type params struct {
	p awsapi.QueryParams
	v awsapi.Validator
}

// str reads a string parameter; member is the model's camelCase name used
// in messages.
func (c *params) str(name, member string, required bool, min, max int, pat *awsapi.Pattern) string {
	s, ok := c.p.Get(name)
	if !ok {
		if required {
			c.v.Required(member, false)
		}
		return ""
	}
	c.v.String(member, s, min, max, pat)
	return s
}

func (c *params) err() error {
	if !c.v.Failed() {
		return nil
	}
	e := awsapi.AsError(c.v.ErrCode("ValidationError"))
	e.Status = http.StatusBadRequest
	return e
}

func (c *params) tags() []Tag {
	var tags []Tag
	for i, m := range c.p.Structs("Tags") {
		k, v := m.Value("Key"), m.Value("Value")
		c.v.String("tags."+strconv.Itoa(i+1)+".member.key", k, 1, 128, nil)
		c.v.String("tags."+strconv.Itoa(i+1)+".member.value", v, 0, 256, nil)
		tags = append(tags, Tag{Key: k, Value: v})
	}
	if len(tags) > 50 {
		c.v.Errorf(strconv.Itoa(len(tags)), "tags", "Member must have length less than or equal to 50")
	}
	return tags
}

// page reads Marker and MaxItems (1–1000, default 100).
func (c *params) page() (marker string, max int) {
	marker = c.str("Marker", "marker", false, 1, 320, markerPattern)
	max = 100
	if n, ok, err := c.p.Int("MaxItems"); err != nil {
		c.v.Errorf(c.p.Value("MaxItems"), "maxItems", "Member must be a number")
	} else if ok {
		if n < 1 || n > 1000 {
			c.v.Range("maxItems", n, 1, 1000)
		}
		max = int(n)
	}
	return marker, max
}

// paginate returns the names after marker, at most max, and the next
// marker ("" when done).
func paginate(kind string, names []string, marker string, max int) (start, end int, next string, err error) {
	if marker != "" {
		f, ok := awsapi.DecodeToken(marker, kind)
		if !ok || len(f) != 1 {
			return 0, 0, "", validationError("Invalid Marker.")
		}
		for start < len(names) && names[start] <= f[0] {
			start++
		}
	}
	end = min(start+max, len(names))
	if end < len(names) {
		next = awsapi.EncodeToken(kind, names[end-1])
	}
	return start, end, next, nil
}

// EncodePolicy percent-encodes a policy document as IAM returns it (RFC
// 3986: everything but unreserved characters), which botocore decodes.
func EncodePolicy(doc string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// ---- result shapes ----

type roleXML struct {
	Path                     string       `xml:"Path"`
	RoleName                 string       `xml:"RoleName"`
	RoleID                   string       `xml:"RoleId"`
	Arn                      string       `xml:"Arn"`
	CreateDate               string       `xml:"CreateDate"`
	AssumeRolePolicyDocument string       `xml:"AssumeRolePolicyDocument,omitempty"`
	Description              string       `xml:"Description,omitempty"`
	MaxSessionDuration       int          `xml:"MaxSessionDuration,omitempty"`
	PermissionsBoundary      *boundaryXML `xml:"PermissionsBoundary,omitempty"`
	Tags                     *tagList     `xml:"Tags,omitempty"`
	RoleLastUsed             *struct{}    `xml:"RoleLastUsed,omitempty"`
}

func toRoleXML(r Role) roleXML {
	return roleXML{Path: r.Path, RoleName: r.RoleName, RoleID: r.RoleID, Arn: r.Arn, CreateDate: isoTime(r.CreateDate),
		AssumeRolePolicyDocument: EncodePolicy(r.AssumeRolePolicyDocument), Description: r.Description,
		MaxSessionDuration: r.MaxSessionDuration, PermissionsBoundary: toBoundaryXML(r.Boundary), Tags: tagsXML(r.Tags)}
}

type userXML struct {
	Path                string       `xml:"Path,omitempty"`
	UserName            string       `xml:"UserName,omitempty"`
	UserID              string       `xml:"UserId"`
	Arn                 string       `xml:"Arn"`
	CreateDate          string       `xml:"CreateDate"`
	PermissionsBoundary *boundaryXML `xml:"PermissionsBoundary,omitempty"`
	Tags                *tagList     `xml:"Tags,omitempty"`
}

func toUserXML(u User) userXML {
	return userXML{Path: u.Path, UserName: u.UserName, UserID: u.UserID, Arn: u.Arn, CreateDate: isoTime(u.CreateDate), PermissionsBoundary: toBoundaryXML(u.Boundary), Tags: tagsXML(u.Tags)}
}

// tagList is Tags as <member> elements; absent when there are none
// (encoding/xml would write an empty <Tags> for a nil "Tags>member").
type tagList struct {
	Member []Tag `xml:"member"`
}

func tagsXML(tags []Tag) *tagList {
	if len(tags) == 0 {
		return nil
	}
	return &tagList{tags}
}

// names is a list of strings as <member> elements; always present, even
// empty, as IAM sends it.
type names struct {
	Member []string `xml:"member"`
}

// ---- roles ----

func (s *Service) opCreateRole(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	in := CreateRoleInput{
		RoleName:                 c.str("RoleName", "roleName", true, 1, 64, namePattern),
		Path:                     c.str("Path", "path", false, 1, 512, pathPattern),
		AssumeRolePolicyDocument: c.str("AssumeRolePolicyDocument", "assumeRolePolicyDocument", true, 1, 131072, docPattern),
		Description:              c.str("Description", "description", false, 0, 1000, descPattern),
		PermissionsBoundary:      c.str("PermissionsBoundary", "permissionsBoundary", false, 20, 2048, nil),
	}
	if n, ok, err := p.Int("MaxSessionDuration"); err != nil {
		return nil, err
	} else if ok {
		if n < 3600 || n > 43200 {
			c.v.Range("maxSessionDuration", n, 3600, 43200)
		}
		in.MaxSessionDuration = int(n)
	}
	in.Tags = c.tags()
	if err := c.err(); err != nil {
		return nil, err
	}
	r, err := s.CreateRole(in)
	if err != nil {
		return nil, err
	}
	return struct {
		Role roleXML `xml:"Role"`
	}{toRoleXML(r)}, nil
}

func (s *Service) opGetRole(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	name := c.str("RoleName", "roleName", true, 1, 64, namePattern)
	if err := c.err(); err != nil {
		return nil, err
	}
	r, err := s.GetRole(name)
	if err != nil {
		return nil, err
	}
	x := toRoleXML(r)
	x.RoleLastUsed = &struct{}{}
	return struct {
		Role roleXML `xml:"Role"`
	}{x}, nil
}

func (s *Service) opListRoles(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	prefix := c.str("PathPrefix", "pathPrefix", false, 1, 512, prefixPattern)
	marker, max := c.page()
	if err := c.err(); err != nil {
		return nil, err
	}
	roles := s.ListRoles(prefix)
	keys := make([]string, len(roles))
	for i, r := range roles {
		keys[i] = r.RoleName
	}
	start, end, next, err := paginate("ListRoles", keys, marker, max)
	if err != nil {
		return nil, err
	}
	out := struct {
		Roles struct {
			Member []roleXML `xml:"member"`
		} `xml:"Roles"`
		IsTruncated bool   `xml:"IsTruncated"`
		Marker      string `xml:"Marker,omitempty"`
	}{IsTruncated: next != "", Marker: next}
	for _, r := range roles[start:end] {
		x := toRoleXML(r)
		x.Tags = nil // ListRoles leaves tags out
		out.Roles.Member = append(out.Roles.Member, x)
	}
	return out, nil
}

func (s *Service) opDeleteRole(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	name := c.str("RoleName", "roleName", true, 1, 64, namePattern)
	if err := c.err(); err != nil {
		return nil, err
	}
	return nil, s.DeleteRole(name)
}

func (s *Service) opUpdateAssumeRolePolicy(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	name := c.str("RoleName", "roleName", true, 1, 64, namePattern)
	doc := c.str("PolicyDocument", "policyDocument", true, 1, 131072, docPattern)
	if err := c.err(); err != nil {
		return nil, err
	}
	return nil, s.UpdateAssumeRolePolicy(name, doc)
}

func (s *Service) opPutRolePolicy(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	role := c.str("RoleName", "roleName", true, 1, 64, namePattern)
	name := c.str("PolicyName", "policyName", true, 1, 128, namePattern)
	doc := c.str("PolicyDocument", "policyDocument", true, 1, 131072, docPattern)
	if err := c.err(); err != nil {
		return nil, err
	}
	return nil, s.PutRolePolicy(role, name, doc)
}

func (s *Service) opGetRolePolicy(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	role := c.str("RoleName", "roleName", true, 1, 64, namePattern)
	name := c.str("PolicyName", "policyName", true, 1, 128, namePattern)
	if err := c.err(); err != nil {
		return nil, err
	}
	doc, err := s.GetRolePolicy(role, name)
	if err != nil {
		return nil, err
	}
	r, err := s.GetRole(role)
	if err != nil {
		return nil, err
	}
	return struct {
		RoleName       string `xml:"RoleName"`
		PolicyName     string `xml:"PolicyName"`
		PolicyDocument string `xml:"PolicyDocument"`
	}{r.RoleName, name, EncodePolicy(doc)}, nil
}

func (s *Service) listPolicies(p awsapi.QueryParams, entity, member string, list func(string) ([]string, error)) (any, error) {
	c := &params{p: p}
	name := c.str(entity, member, true, 1, 64, namePattern)
	marker, max := c.page()
	if err := c.err(); err != nil {
		return nil, err
	}
	all, err := list(name)
	if err != nil {
		return nil, err
	}
	start, end, next, err := paginate("List"+entity+"Policies", all, marker, max)
	if err != nil {
		return nil, err
	}
	return struct {
		PolicyNames names  `xml:"PolicyNames"`
		IsTruncated bool   `xml:"IsTruncated"`
		Marker      string `xml:"Marker,omitempty"`
	}{names{all[start:end]}, next != "", next}, nil
}

func (s *Service) opListRolePolicies(ctx context.Context, p awsapi.QueryParams) (any, error) {
	return s.listPolicies(p, "RoleName", "roleName", s.ListRolePolicies)
}

func (s *Service) opDeleteRolePolicy(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	role := c.str("RoleName", "roleName", true, 1, 64, namePattern)
	name := c.str("PolicyName", "policyName", true, 1, 128, namePattern)
	if err := c.err(); err != nil {
		return nil, err
	}
	return nil, s.DeleteRolePolicy(role, name)
}

// ---- users ----

// caller returns the user name a request without UserName acts on: the
// signing user's; root has none.
func (s *Service) caller(ctx context.Context) (User, bool) {
	u, _, _, ok := s.userByKey(awsapi.Info(ctx).AccessKeyID)
	return u, ok
}

func (s *Service) userParam(ctx context.Context, c *params) (string, error) {
	name := c.str("UserName", "userName", false, 1, 64, namePattern)
	if err := c.err(); err != nil {
		return "", err
	}
	if _, sent := c.p.Get("UserName"); sent {
		return name, nil
	}
	if u, ok := s.caller(ctx); ok {
		return u.UserName, nil
	}
	return "", validationError("Must specify userName when calling with non-User credentials")
}

func (s *Service) opCreateUser(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	name := c.str("UserName", "userName", true, 1, 64, namePattern)
	path := c.str("Path", "path", false, 1, 512, pathPattern)
	boundary := c.str("PermissionsBoundary", "permissionsBoundary", false, 20, 2048, nil)
	tags := c.tags()
	if err := c.err(); err != nil {
		return nil, err
	}
	u, err := s.CreateUser(name, path, tags, boundary)
	if err != nil {
		return nil, err
	}
	return struct {
		User userXML `xml:"User"`
	}{toUserXML(u)}, nil
}

func (s *Service) opGetUser(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	name := c.str("UserName", "userName", false, 1, 128, namePattern)
	if err := c.err(); err != nil {
		return nil, err
	}
	var u User
	var err error
	switch _, sent := p.Get("UserName"); {
	case sent:
		u, err = s.GetUser(name)
	default:
		var ok bool
		if u, ok = s.caller(ctx); !ok {
			// Root: IAM answers with the account itself.
			u = User{UserID: s.account, Arn: "arn:aws:iam::" + s.account + ":root", CreateDate: time.Unix(0, 0)}
		}
	}
	if err != nil {
		return nil, err
	}
	return struct {
		User userXML `xml:"User"`
	}{toUserXML(u)}, nil
}

func (s *Service) opListUsers(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	prefix := c.str("PathPrefix", "pathPrefix", false, 1, 512, prefixPattern)
	marker, max := c.page()
	if err := c.err(); err != nil {
		return nil, err
	}
	users := s.ListUsers(prefix)
	keys := make([]string, len(users))
	for i, u := range users {
		keys[i] = u.UserName
	}
	start, end, next, err := paginate("ListUsers", keys, marker, max)
	if err != nil {
		return nil, err
	}
	out := struct {
		Users struct {
			Member []userXML `xml:"member"`
		} `xml:"Users"`
		IsTruncated bool   `xml:"IsTruncated"`
		Marker      string `xml:"Marker,omitempty"`
	}{IsTruncated: next != "", Marker: next}
	for _, u := range users[start:end] {
		x := toUserXML(u)
		x.Tags = nil
		out.Users.Member = append(out.Users.Member, x)
	}
	return out, nil
}

func (s *Service) opDeleteUser(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	name := c.str("UserName", "userName", true, 1, 64, namePattern)
	if err := c.err(); err != nil {
		return nil, err
	}
	return nil, s.DeleteUser(name)
}

type accessKeyXML struct {
	UserName        string `xml:"UserName"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey,omitempty"`
	CreateDate      string `xml:"CreateDate"`
}

func (s *Service) opCreateAccessKey(ctx context.Context, p awsapi.QueryParams) (any, error) {
	name, err := s.userParam(ctx, &params{p: p})
	if err != nil {
		return nil, err
	}
	ak, userName, err := s.CreateAccessKey(name)
	if err != nil {
		return nil, err
	}
	return struct {
		AccessKey accessKeyXML `xml:"AccessKey"`
	}{accessKeyXML{userName, ak.AccessKeyID, ak.Status, ak.SecretAccessKey, isoTime(ak.CreateDate)}}, nil
}

func (s *Service) opListAccessKeys(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	marker, max := c.page()
	name, err := s.userParam(ctx, c)
	if err != nil {
		return nil, err
	}
	userName, keys, err := s.ListAccessKeys(name)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.AccessKeyID
	}
	start, end, next, err := paginate("ListAccessKeys", ids, marker, max)
	if err != nil {
		return nil, err
	}
	out := struct {
		AccessKeyMetadata struct {
			Member []accessKeyXML `xml:"member"`
		} `xml:"AccessKeyMetadata"`
		IsTruncated bool   `xml:"IsTruncated"`
		Marker      string `xml:"Marker,omitempty"`
	}{IsTruncated: next != "", Marker: next}
	for _, k := range keys[start:end] {
		out.AccessKeyMetadata.Member = append(out.AccessKeyMetadata.Member, accessKeyXML{userName, k.AccessKeyID, k.Status, "", isoTime(k.CreateDate)})
	}
	return out, nil
}

func (s *Service) opDeleteAccessKey(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	id := c.str("AccessKeyId", "accessKeyId", true, 16, 128, keyIDPattern)
	name, err := s.userParam(ctx, c)
	if err != nil {
		return nil, err
	}
	return nil, s.DeleteAccessKey(name, id)
}

func (s *Service) opPutUserPolicy(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	user := c.str("UserName", "userName", true, 1, 128, namePattern)
	name := c.str("PolicyName", "policyName", true, 1, 128, namePattern)
	doc := c.str("PolicyDocument", "policyDocument", true, 1, 131072, docPattern)
	if err := c.err(); err != nil {
		return nil, err
	}
	return nil, s.PutUserPolicy(user, name, doc)
}

func (s *Service) opGetUserPolicy(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	user := c.str("UserName", "userName", true, 1, 128, namePattern)
	name := c.str("PolicyName", "policyName", true, 1, 128, namePattern)
	if err := c.err(); err != nil {
		return nil, err
	}
	userName, doc, err := s.GetUserPolicy(user, name)
	if err != nil {
		return nil, err
	}
	return struct {
		UserName       string `xml:"UserName"`
		PolicyName     string `xml:"PolicyName"`
		PolicyDocument string `xml:"PolicyDocument"`
	}{userName, name, EncodePolicy(doc)}, nil
}

func (s *Service) opListUserPolicies(ctx context.Context, p awsapi.QueryParams) (any, error) {
	return s.listPolicies(p, "UserName", "userName", s.ListUserPolicies)
}

func (s *Service) opDeleteUserPolicy(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	user := c.str("UserName", "userName", true, 1, 128, namePattern)
	name := c.str("PolicyName", "policyName", true, 1, 128, namePattern)
	if err := c.err(); err != nil {
		return nil, err
	}
	return nil, s.DeleteUserPolicy(user, name)
}
