package iam

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

// stateFile is the IAM state inside the data dir.
const stateFile = "iam.json"

// Quotas IAM enforces (IAM and STS quotas page).
const (
	maxRoles             = 1000
	maxUsers             = 5000
	maxKeysPerUser       = 2
	maxRolePolicyBytes   = 10240 // aggregate inline policy size per role
	maxUserPolicyBytes   = 2048  // aggregate inline policy size per user
	maxTrustPolicyBytes  = 2048  // ACLSizePerRole
	defaultSessionLength = 3600
)

// Config configures a Service.
type Config struct {
	// DataDir holds iam.json; "" keeps the state in memory only (tests).
	DataDir   string
	AccountID string
	Logger    *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Service holds the IAM state and implements the IAM and STS operations.
type Service struct {
	mu      sync.RWMutex
	st      *state
	keys    map[string]string // access key id -> lower(user name)
	path    string
	account string
	log     *slog.Logger
	now     func() time.Time
	parsed  sync.Map // policyKey -> *Policy: documents are parsed once
}

type policyKey struct {
	kind PolicyKind
	doc  string
}

type state struct {
	Users    map[string]*User          `json:"users"` // by lower-case name: IAM names are unique ignoring case
	Roles    map[string]*Role          `json:"roles"`
	Policies map[string]*ManagedPolicy `json:"policies,omitempty"` // customer managed, by lower-case name
}

// User is an IAM user.
type User struct {
	UserName   string            `json:"userName"`
	Path       string            `json:"path"`
	UserID     string            `json:"userId"`
	Arn        string            `json:"arn"`
	CreateDate time.Time         `json:"createDate"`
	Tags       []Tag             `json:"tags,omitempty"`
	Policies   map[string]string `json:"policies,omitempty"` // inline: name -> document as sent
	AccessKeys []*AccessKey      `json:"accessKeys,omitempty"`
	Attached   []string          `json:"attached,omitempty"` // managed policy ARNs
	Boundary   string            `json:"boundary,omitempty"` // permissions boundary policy ARN
}

// AccessKey is a user's key pair.
type AccessKey struct {
	AccessKeyID     string    `json:"accessKeyId"`
	SecretAccessKey string    `json:"secretAccessKey"`
	Status          string    `json:"status"`
	CreateDate      time.Time `json:"createDate"`
}

// Role is an IAM role.
type Role struct {
	RoleName                 string            `json:"roleName"`
	Path                     string            `json:"path"`
	RoleID                   string            `json:"roleId"`
	Arn                      string            `json:"arn"`
	CreateDate               time.Time         `json:"createDate"`
	AssumeRolePolicyDocument string            `json:"assumeRolePolicyDocument"`
	Description              string            `json:"description,omitempty"`
	MaxSessionDuration       int               `json:"maxSessionDuration"`
	Tags                     []Tag             `json:"tags,omitempty"`
	Policies                 map[string]string `json:"policies,omitempty"`
	Attached                 []string          `json:"attached,omitempty"` // managed policy ARNs
	Boundary                 string            `json:"boundary,omitempty"` // permissions boundary policy ARN
}

// Tag is a key/value tag of a user or role.
type Tag struct {
	Key   string `json:"key" xml:"Key"`
	Value string `json:"value" xml:"Value"`
}

// Open loads the state from cfg.DataDir (an absent file is an empty
// state).
func Open(cfg Config) (*Service, error) {
	s := &Service{account: cfg.AccountID, log: cfg.Logger, now: cfg.Now,
		st: &state{Users: map[string]*User{}, Roles: map[string]*Role{}}}
	if s.account == "" {
		s.account = "000000000000"
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.DataDir != "" {
		s.path = filepath.Join(cfg.DataDir, stateFile)
		b, err := os.ReadFile(s.path)
		switch {
		case err == nil:
			if err := json.Unmarshal(b, s.st); err != nil {
				return nil, fmt.Errorf("iam: %s is damaged: %w", s.path, err)
			}
			if s.st.Users == nil {
				s.st.Users = map[string]*User{}
			}
			if s.st.Roles == nil {
				s.st.Roles = map[string]*Role{}
			}
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("iam: %w", err)
		}
	}
	s.indexKeys()
	return s, nil
}

func (s *Service) indexKeys() {
	s.keys = map[string]string{}
	for k, u := range s.st.Users {
		for _, ak := range u.AccessKeys {
			s.keys[ak.AccessKeyID] = k
		}
	}
}

// AccountID is the account the service's ARNs name.
func (s *Service) AccountID() string { return s.account }

// mutate applies fn to a copy of the state, persists the copy and only then
// makes it current, so a failed write leaves both disk and memory as they
// were.
func (s *Service) mutate(fn func(st *state) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(s.st)
	if err != nil {
		return fmt.Errorf("iam: copy state: %w", err)
	}
	next := &state{}
	if err := json.Unmarshal(b, next); err != nil {
		return fmt.Errorf("iam: copy state: %w", err)
	}
	if err := fn(next); err != nil {
		return err
	}
	if err := s.save(next); err != nil {
		return err
	}
	s.st = next
	s.indexKeys()
	// Drop parsed forms of documents that may no longer be stored, so the
	// cache holds at most what the state holds.
	s.parsed.Clear()
	return nil
}

// save writes st to iam.json atomically: a temporary file, fsync, rename,
// fsync of the directory. Mode 0600: the file holds secret keys.
func (s *Service) save(st *state) error {
	if s.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return fmt.Errorf("iam: encode state: %w", err)
	}
	dir := filepath.Dir(s.path)
	f, err := os.CreateTemp(dir, ".iam-*.tmp")
	if err != nil {
		return fmt.Errorf("iam: save state: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("iam: save state: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(b); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("iam: save state: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("iam: save state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("iam: save state: sync dir: %w", err)
		}
	}
	return nil
}

// policy returns the parsed form of a stored document (validated when it
// was stored).
func (s *Service) policy(doc string, kind PolicyKind) *Policy {
	k := policyKey{kind, doc}
	if p, ok := s.parsed.Load(k); ok {
		return p.(*Policy)
	}
	p, err := ParsePolicy(doc, kind)
	if err != nil {
		return nil
	}
	s.parsed.Store(k, p)
	return p
}

// Errors in IAM's codes, statuses and words.
func noSuchEntity(format string, args ...any) *awsapi.Error {
	return awsapi.QueryError(http.StatusNotFound, "NoSuchEntity", format, args...)
}

func alreadyExists(format string, args ...any) *awsapi.Error {
	return awsapi.QueryError(http.StatusConflict, "EntityAlreadyExists", format, args...)
}

func limitExceeded(format string, args ...any) *awsapi.Error {
	return awsapi.QueryError(http.StatusConflict, "LimitExceeded", format, args...)
}

func deleteConflict(format string, args ...any) *awsapi.Error {
	return awsapi.QueryError(http.StatusConflict, "DeleteConflict", format, args...)
}

func malformedDoc(err error) error {
	var m *MalformedError
	if errors.As(err, &m) {
		return awsapi.QueryError(http.StatusBadRequest, "MalformedPolicyDocument", "%s", m.Message)
	}
	return err
}

func validationError(format string, args ...any) *awsapi.Error {
	return awsapi.QueryError(http.StatusBadRequest, "ValidationError", format, args...)
}

// newID returns prefix + n characters of IAM's unique-id alphabet.
func newID(prefix string, n int) string {
	return prefix + randomString(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// policySize is the size IAM counts against quotas: white space is free.
func policySize(doc string) int {
	n := 0
	for _, r := range doc {
		if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
			n++
		}
	}
	return n
}

func (s *Service) arn(kind, path, name string) string {
	return "arn:aws:iam::" + s.account + ":" + kind + path + name
}

func sortedNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ---- roles ----

// CreateRoleInput is CreateRole's input, validated by the wire layer.
type CreateRoleInput struct {
	RoleName, Path, AssumeRolePolicyDocument, Description string
	PermissionsBoundary                                   string // managed policy ARN, "" for none
	MaxSessionDuration                                    int
	Tags                                                  []Tag
}

// CreateRole creates a role.
func (s *Service) CreateRole(in CreateRoleInput) (Role, error) {
	if _, err := ParsePolicy(in.AssumeRolePolicyDocument, TrustPolicy); err != nil {
		return Role{}, malformedDoc(err)
	}
	if policySize(in.AssumeRolePolicyDocument) > maxTrustPolicyBytes {
		return Role{}, limitExceeded("Cannot exceed quota for ACLSizePerRole: %d", maxTrustPolicyBytes)
	}
	if in.Path == "" {
		in.Path = "/"
	}
	if in.MaxSessionDuration == 0 {
		in.MaxSessionDuration = defaultSessionLength
	}
	r := Role{RoleName: in.RoleName, Path: in.Path, RoleID: newID("AROA", 17), Arn: s.arn("role", in.Path, in.RoleName),
		CreateDate: s.now().UTC().Truncate(time.Second), AssumeRolePolicyDocument: in.AssumeRolePolicyDocument,
		Description: in.Description, MaxSessionDuration: in.MaxSessionDuration, Tags: in.Tags, Boundary: in.PermissionsBoundary}
	err := s.mutate(func(st *state) error {
		k := strings.ToLower(in.RoleName)
		if st.Roles[k] != nil {
			return alreadyExists("Role with name %s already exists.", in.RoleName)
		}
		if r.Boundary != "" && policyByArn(st, r.Boundary) == nil {
			return boundaryNotFound(r.Boundary)
		}
		if len(st.Roles) >= maxRoles {
			return limitExceeded("Cannot exceed quota for RolesPerAccount: %d", maxRoles)
		}
		rc := r
		st.Roles[k] = &rc
		return nil
	})
	if err != nil {
		return Role{}, err
	}
	s.log.Info("role created", "role", r.Arn)
	return r, nil
}

func roleNotFound(name string) *awsapi.Error {
	return noSuchEntity("The role with name %s cannot be found.", name)
}

// GetRole returns a copy of the role named name.
func (s *Service) GetRole(name string) (Role, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.st.Roles[strings.ToLower(name)]
	if r == nil {
		return Role{}, roleNotFound(name)
	}
	c := *r
	c.Policies = nil
	return c, nil
}

// ListRoles returns the roles whose path starts with pathPrefix, sorted by
// name.
func (s *Service) ListRoles(pathPrefix string) []Role {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Role
	for _, r := range s.st.Roles {
		if strings.HasPrefix(r.Path, pathPrefix) {
			c := *r
			c.Policies = nil
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RoleName < out[j].RoleName })
	return out
}

// DeleteRole deletes a role without inline policies.
func (s *Service) DeleteRole(name string) error {
	return s.mutate(func(st *state) error {
		k := strings.ToLower(name)
		r := st.Roles[k]
		if r == nil {
			return roleNotFound(name)
		}
		if len(r.Policies) > 0 {
			return deleteConflict("Cannot delete entity, must delete policies first.")
		}
		if len(r.Attached) > 0 {
			return deleteConflict("Cannot delete entity, must detach all policies first.")
		}
		delete(st.Roles, k)
		return nil
	})
}

// UpdateAssumeRolePolicy replaces a role's trust policy.
func (s *Service) UpdateAssumeRolePolicy(name, doc string) error {
	if _, err := ParsePolicy(doc, TrustPolicy); err != nil {
		return malformedDoc(err)
	}
	if policySize(doc) > maxTrustPolicyBytes {
		return limitExceeded("Cannot exceed quota for ACLSizePerRole: %d", maxTrustPolicyBytes)
	}
	return s.mutate(func(st *state) error {
		r := st.Roles[strings.ToLower(name)]
		if r == nil {
			return roleNotFound(name)
		}
		r.AssumeRolePolicyDocument = doc
		return nil
	})
}

// PutRolePolicy adds or replaces an inline policy of a role.
func (s *Service) PutRolePolicy(role, policyName, doc string) error {
	if _, err := ParsePolicy(doc, IdentityPolicy); err != nil {
		return malformedDoc(err)
	}
	return s.mutate(func(st *state) error {
		r := st.Roles[strings.ToLower(role)]
		if r == nil {
			return roleNotFound(role)
		}
		if r.Policies == nil {
			r.Policies = map[string]string{}
		}
		r.Policies[policyName] = doc
		total := 0
		for _, d := range r.Policies {
			total += policySize(d)
		}
		if total > maxRolePolicyBytes {
			return limitExceeded("Maximum policy size of %d bytes exceeded for role %s", maxRolePolicyBytes, r.RoleName)
		}
		return nil
	})
}

// GetRolePolicy returns a role's inline policy document as stored.
func (s *Service) GetRolePolicy(role, policyName string) (string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.st.Roles[strings.ToLower(role)]
	if r == nil {
		return "", roleNotFound(role)
	}
	doc, ok := r.Policies[policyName]
	if !ok {
		return "", noSuchEntity("The role policy with name %s cannot be found.", policyName)
	}
	return doc, nil
}

// ListRolePolicies returns the names of a role's inline policies, sorted.
func (s *Service) ListRolePolicies(role string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.st.Roles[strings.ToLower(role)]
	if r == nil {
		return nil, roleNotFound(role)
	}
	return sortedNames(r.Policies), nil
}

// DeleteRolePolicy removes a role's inline policy.
func (s *Service) DeleteRolePolicy(role, policyName string) error {
	return s.mutate(func(st *state) error {
		r := st.Roles[strings.ToLower(role)]
		if r == nil {
			return roleNotFound(role)
		}
		if _, ok := r.Policies[policyName]; !ok {
			return noSuchEntity("The role policy with name %s cannot be found.", policyName)
		}
		delete(r.Policies, policyName)
		return nil
	})
}

// ---- users ----

func userNotFound(name string) *awsapi.Error {
	return noSuchEntity("The user with name %s cannot be found.", name)
}

// CreateUser creates a user.
func (s *Service) CreateUser(name, path string, tags []Tag, boundary string) (User, error) {
	if path == "" {
		path = "/"
	}
	u := User{UserName: name, Path: path, UserID: newID("AIDA", 17), Arn: s.arn("user", path, name),
		CreateDate: s.now().UTC().Truncate(time.Second), Tags: tags, Boundary: boundary}
	err := s.mutate(func(st *state) error {
		k := strings.ToLower(name)
		if st.Users[k] != nil {
			return alreadyExists("User with name %s already exists.", name)
		}
		if boundary != "" && policyByArn(st, boundary) == nil {
			return boundaryNotFound(boundary)
		}
		if len(st.Users) >= maxUsers {
			return limitExceeded("Cannot exceed quota for UsersPerAccount: %d", maxUsers)
		}
		uc := u
		st.Users[k] = &uc
		return nil
	})
	if err != nil {
		return User{}, err
	}
	s.log.Info("user created", "user", u.Arn)
	return u, nil
}

// GetUser returns a copy of a user without secrets.
func (s *Service) GetUser(name string) (User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.st.Users[strings.ToLower(name)]
	if u == nil {
		return User{}, userNotFound(name)
	}
	return publicUser(u), nil
}

func publicUser(u *User) User {
	c := *u
	c.Policies, c.AccessKeys = nil, nil
	return c
}

// ListUsers returns the users whose path starts with pathPrefix, sorted by
// name.
func (s *Service) ListUsers(pathPrefix string) []User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []User
	for _, u := range s.st.Users {
		if strings.HasPrefix(u.Path, pathPrefix) {
			out = append(out, publicUser(u))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserName < out[j].UserName })
	return out
}

// DeleteUser deletes a user without access keys or inline policies.
func (s *Service) DeleteUser(name string) error {
	return s.mutate(func(st *state) error {
		k := strings.ToLower(name)
		u := st.Users[k]
		switch {
		case u == nil:
			return userNotFound(name)
		case len(u.AccessKeys) > 0:
			return deleteConflict("Cannot delete entity, must delete access keys first.")
		case len(u.Policies) > 0:
			return deleteConflict("Cannot delete entity, must delete policies first.")
		case len(u.Attached) > 0:
			return deleteConflict("Cannot delete entity, must detach all policies first.")
		}
		delete(st.Users, k)
		return nil
	})
}

// CreateAccessKey creates an active key pair for a user; the secret is in
// the result and nowhere else outside the state file.
func (s *Service) CreateAccessKey(user string) (AccessKey, string, error) {
	ak := AccessKey{AccessKeyID: "AKIA" + randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
		SecretAccessKey: randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
		Status:          "Active", CreateDate: s.now().UTC().Truncate(time.Second)}
	var userName string
	err := s.mutate(func(st *state) error {
		u := st.Users[strings.ToLower(user)]
		if u == nil {
			return userNotFound(user)
		}
		if len(u.AccessKeys) >= maxKeysPerUser {
			return limitExceeded("Cannot exceed quota for AccessKeysPerUser: %d", maxKeysPerUser)
		}
		userName = u.UserName
		c := ak
		u.AccessKeys = append(u.AccessKeys, &c)
		return nil
	})
	if err != nil {
		return AccessKey{}, "", err
	}
	s.log.Info("access key created", "user", userName, "access_key_id", ak.AccessKeyID)
	return ak, userName, nil
}

// ListAccessKeys returns a user's keys without their secrets.
func (s *Service) ListAccessKeys(user string) (string, []AccessKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.st.Users[strings.ToLower(user)]
	if u == nil {
		return "", nil, userNotFound(user)
	}
	out := make([]AccessKey, len(u.AccessKeys))
	for i, ak := range u.AccessKeys {
		out[i] = *ak
		out[i].SecretAccessKey = ""
	}
	return u.UserName, out, nil
}

// DeleteAccessKey deletes a user's key; requests signed with it fail from
// then on.
func (s *Service) DeleteAccessKey(user, keyID string) error {
	return s.mutate(func(st *state) error {
		u := st.Users[strings.ToLower(user)]
		if u == nil {
			return userNotFound(user)
		}
		for i, ak := range u.AccessKeys {
			if ak.AccessKeyID == keyID {
				u.AccessKeys = append(u.AccessKeys[:i], u.AccessKeys[i+1:]...)
				return nil
			}
		}
		return noSuchEntity("The Access Key with id %s cannot be found.", keyID)
	})
}

// PutUserPolicy adds or replaces an inline policy of a user.
func (s *Service) PutUserPolicy(user, policyName, doc string) error {
	if _, err := ParsePolicy(doc, IdentityPolicy); err != nil {
		return malformedDoc(err)
	}
	return s.mutate(func(st *state) error {
		u := st.Users[strings.ToLower(user)]
		if u == nil {
			return userNotFound(user)
		}
		if u.Policies == nil {
			u.Policies = map[string]string{}
		}
		u.Policies[policyName] = doc
		total := 0
		for _, d := range u.Policies {
			total += policySize(d)
		}
		if total > maxUserPolicyBytes {
			return limitExceeded("Maximum policy size of %d bytes exceeded for user %s", maxUserPolicyBytes, u.UserName)
		}
		return nil
	})
}

// GetUserPolicy returns a user's inline policy document as stored.
func (s *Service) GetUserPolicy(user, policyName string) (string, string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.st.Users[strings.ToLower(user)]
	if u == nil {
		return "", "", userNotFound(user)
	}
	doc, ok := u.Policies[policyName]
	if !ok {
		return "", "", noSuchEntity("The user policy with name %s cannot be found.", policyName)
	}
	return u.UserName, doc, nil
}

// ListUserPolicies returns the names of a user's inline policies, sorted.
func (s *Service) ListUserPolicies(user string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.st.Users[strings.ToLower(user)]
	if u == nil {
		return nil, userNotFound(user)
	}
	return sortedNames(u.Policies), nil
}

// DeleteUserPolicy removes a user's inline policy.
func (s *Service) DeleteUserPolicy(user, policyName string) error {
	return s.mutate(func(st *state) error {
		u := st.Users[strings.ToLower(user)]
		if u == nil {
			return userNotFound(user)
		}
		if _, ok := u.Policies[policyName]; !ok {
			return noSuchEntity("The user policy with name %s cannot be found.", policyName)
		}
		delete(u.Policies, policyName)
		return nil
	})
}

// ---- credentials ----

// Secret returns the secret of an active IAM user access key, for the
// SigV4 verifier.
func (s *Service) Secret(accessKeyID string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.st.Users[s.keys[accessKeyID]]
	if u == nil {
		return "", false
	}
	for _, ak := range u.AccessKeys {
		if ak.AccessKeyID == accessKeyID && ak.Status == "Active" {
			return ak.SecretAccessKey, true
		}
	}
	return "", false
}

// userByKey returns a copy of the user owning accessKeyID, its parsed
// identity policies (inline and attached) and its boundary (nil: none).
func (s *Service) userByKey(accessKeyID string) (User, []*Policy, *Policy, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.st.Users[s.keys[accessKeyID]]
	if u == nil {
		return User{}, nil, nil, false
	}
	return publicUser(u), append(s.policies(u.Policies), s.attachedDocs(u.Attached)...), s.boundary(u.Boundary), true
}

func (s *Service) policies(docs map[string]string) []*Policy {
	out := make([]*Policy, 0, len(docs))
	for _, name := range sortedNames(docs) {
		out = append(out, s.policy(docs[name], IdentityPolicy))
	}
	return out
}
