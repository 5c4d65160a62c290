package iam

import (
	"context"
	"sort"
	"strings"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

// Operations beyond the seed workflow that tools such as Terraform call
// around roles and users: key status, role updates, tags, and the (always
// empty) instance profiles of a role.

// UpdateAccessKey sets a key's status; an Inactive key no longer
// authenticates.
func (s *Service) UpdateAccessKey(user, keyID, status string) error {
	return s.mutate(func(st *state) error {
		u := st.Users[strings.ToLower(user)]
		if u == nil {
			return userNotFound(user)
		}
		for _, ak := range u.AccessKeys {
			if ak.AccessKeyID == keyID {
				ak.Status = status
				return nil
			}
		}
		return noSuchEntity("The Access Key with id %s cannot be found.", keyID)
	})
}

// UpdateRole changes a role's description and maximum session duration
// (nil: unchanged).
func (s *Service) UpdateRole(name string, description *string, maxSession int) error {
	return s.mutate(func(st *state) error {
		r := st.Roles[strings.ToLower(name)]
		if r == nil {
			return roleNotFound(name)
		}
		if description != nil {
			r.Description = *description
		}
		if maxSession != 0 {
			r.MaxSessionDuration = maxSession
		}
		return nil
	})
}

// maxTags is IAM's tag quota per user or role.
const maxTags = 50

// mergeTags adds or replaces tags (keys compare ignoring case, as in IAM).
func mergeTags(have, add []Tag) ([]Tag, error) {
	for _, t := range add {
		replaced := false
		for i := range have {
			if strings.EqualFold(have[i].Key, t.Key) {
				have[i], replaced = t, true
			}
		}
		if !replaced {
			have = append(have, t)
		}
	}
	if len(have) > maxTags {
		return nil, limitExceeded("The number of tags has reached the maximum limit.")
	}
	return have, nil
}

func removeTags(have []Tag, keys []string) []Tag {
	out := have[:0]
	for _, t := range have {
		drop := false
		for _, k := range keys {
			if strings.EqualFold(t.Key, k) {
				drop = true
			}
		}
		if !drop {
			out = append(out, t)
		}
	}
	return out
}

// TagEntity adds tags to the role (role=true) or user name; untag removes
// the keys of tags instead.
func (s *Service) TagEntity(name string, role bool, tags []Tag, untagKeys []string) error {
	return s.mutate(func(st *state) error {
		var list *[]Tag
		if role {
			r := st.Roles[strings.ToLower(name)]
			if r == nil {
				return roleNotFound(name)
			}
			list = &r.Tags
		} else {
			u := st.Users[strings.ToLower(name)]
			if u == nil {
				return userNotFound(name)
			}
			list = &u.Tags
		}
		if untagKeys != nil {
			*list = removeTags(*list, untagKeys)
			return nil
		}
		merged, err := mergeTags(*list, tags)
		if err != nil {
			return err
		}
		*list = merged
		return nil
	})
}

// ---- wire ----

func (s *Service) opUpdateAccessKey(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	id := c.str("AccessKeyId", "accessKeyId", true, 16, 128, keyIDPattern)
	status := c.str("Status", "status", true, 0, -1, nil)
	if _, ok := p.Get("Status"); ok {
		c.v.Enum("status", status, "Active", "Inactive")
	}
	name, err := s.userParam(ctx, c)
	if err != nil {
		return nil, err
	}
	return nil, s.UpdateAccessKey(name, id, status)
}

func (s *Service) opUpdateRole(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	name := c.str("RoleName", "roleName", true, 1, 64, namePattern)
	desc := p.Ptr("Description")
	if desc != nil {
		c.v.String("description", *desc, 0, 1000, descPattern)
	}
	var maxSession int
	if n, ok, err := p.Int("MaxSessionDuration"); err != nil {
		return nil, err
	} else if ok {
		if n < 3600 || n > 43200 {
			c.v.Range("maxSessionDuration", n, 3600, 43200)
		}
		maxSession = int(n)
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	return struct{}{}, s.UpdateRole(name, desc, maxSession)
}

func (s *Service) tagOp(role, untag bool) awsapi.QueryHandler {
	return func(ctx context.Context, p awsapi.QueryParams) (any, error) {
		c := &params{p: p}
		var name string
		if role {
			name = c.str("RoleName", "roleName", true, 1, 64, namePattern)
		} else {
			name = c.str("UserName", "userName", true, 1, 128, namePattern)
		}
		var tags []Tag
		var keys []string
		if untag {
			keys = p.List("TagKeys")
			if keys == nil {
				c.v.Required("tagKeys", false)
			}
		} else {
			tags = c.tags()
			if tags == nil {
				c.v.Required("tags", false)
			}
		}
		if err := c.err(); err != nil {
			return nil, err
		}
		return nil, s.TagEntity(name, role, tags, keys)
	}
}

func (s *Service) listTagsOp(role bool) awsapi.QueryHandler {
	return func(ctx context.Context, p awsapi.QueryParams) (any, error) {
		c := &params{p: p}
		var tags []Tag
		if role {
			name := c.str("RoleName", "roleName", true, 1, 64, namePattern)
			if err := c.err(); err != nil {
				return nil, err
			}
			r, err := s.GetRole(name)
			if err != nil {
				return nil, err
			}
			tags = r.Tags
		} else {
			name := c.str("UserName", "userName", true, 1, 128, namePattern)
			if err := c.err(); err != nil {
				return nil, err
			}
			u, err := s.GetUser(name)
			if err != nil {
				return nil, err
			}
			tags = u.Tags
		}
		sorted := append([]Tag(nil), tags...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
		return struct {
			Tags        tagList `xml:"Tags"`
			IsTruncated bool    `xml:"IsTruncated"`
		}{tagList{sorted}, false}, nil
	}
}

// opListInstanceProfilesForRole answers with no instance profiles: there
// are no EC2 instances to launch with one (Terraform asks before deleting
// a role).
func (s *Service) opListInstanceProfilesForRole(ctx context.Context, p awsapi.QueryParams) (any, error) {
	c := &params{p: p}
	name := c.str("RoleName", "roleName", true, 1, 64, namePattern)
	if err := c.err(); err != nil {
		return nil, err
	}
	if _, err := s.GetRole(name); err != nil {
		return nil, err
	}
	return struct {
		Profiles    names `xml:"InstanceProfiles"`
		IsTruncated bool  `xml:"IsTruncated"`
	}{}, nil
}
