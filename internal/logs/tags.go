package logs

import (
	"context"
	"maps"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

func init() {
	register("TagResource", (*Service).TagResource)
	register("UntagResource", (*Service).UntagResource)
	register("ListTagsForResource", (*Service).ListTagsForResource)
	register("TagLogGroup", (*Service).TagLogGroup)
	register("UntagLogGroup", (*Service).UntagLogGroup)
	register("ListTagsLogGroup", (*Service).ListTagsLogGroup)
}

const maxTags = 50

type TagResourceInput struct {
	ResourceArn *string           `json:"resourceArn"`
	Tags        map[string]string `json:"tags"`
}

type UntagResourceInput struct {
	ResourceArn *string  `json:"resourceArn"`
	TagKeys     []string `json:"tagKeys"`
}

type ListTagsForResourceInput struct {
	ResourceArn *string `json:"resourceArn"`
}

type TagsOutput struct {
	Tags map[string]string `json:"tags"`
}

type TagLogGroupInput struct {
	LogGroupName *string           `json:"logGroupName"`
	Tags         map[string]string `json:"tags"`
}

type UntagLogGroupInput struct {
	LogGroupName *string  `json:"logGroupName"`
	Tags         []string `json:"tags"` // keys, despite the name
}

type ListTagsLogGroupInput struct {
	LogGroupName *string `json:"logGroupName"`
}

func (c *checker) arn(p *string) {
	if c.Required("resourceArn", p != nil) {
		c.String("resourceArn", *p, 1, 1011, arnPattern)
	}
}

// arnGroup returns the store key of the log group a tagging ARN names;
// an ARN of another region names no group of the request's region.
func (s *Service) arnGroup(ctx context.Context, arn string) (string, error) {
	g, r, ok := s.groupFromARN(arn)
	if !ok {
		return "", awsapi.ResourceNotFound("The specified resource does not exist: %s is not the ARN of a log group of account %s (arn:aws:logs:REGION:%s:log-group:NAME).", arn, s.account, s.account)
	}
	if r != region(ctx) {
		return "", awsapi.ResourceNotFound("The specified resource does not exist: %s is in region %s, and this request was signed for %s.", arn, r, region(ctx))
	}
	return groupKey(ctx, g), nil
}

func (s *Service) TagResource(ctx context.Context, in *TagResourceInput) (*NoOutput, error) {
	var c checker
	c.arn(in.ResourceArn)
	if c.Required("tags", in.Tags != nil) {
		c.tags("tags", in.Tags, true)
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	g, err := s.arnGroup(ctx, *in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return nil, s.addTags(g, *in.ResourceArn, in.Tags)
}

func (s *Service) addTags(group, resource string, tags map[string]string) error {
	return storeErr(s.store.UpdateGroup(group, func(m *logstore.GroupMeta) error {
		merged := maps.Clone(m.Tags)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, tags)
		if len(merged) > maxTags {
			return awsapi.NewError("TooManyTagsException", "A resource can have no more than %d tags; this request would leave %d.", maxTags, len(merged)).With("resourceName", resource)
		}
		m.Tags = merged
		return nil
	}))
}

func (s *Service) removeTags(group string, keys []string) error {
	return storeErr(s.store.UpdateGroup(group, func(m *logstore.GroupMeta) error {
		t := maps.Clone(m.Tags)
		for _, k := range keys {
			delete(t, k)
		}
		m.Tags = t
		return nil
	}))
}

func (s *Service) listTags(group string) (*TagsOutput, error) {
	g, err := s.store.Group(group)
	if err != nil {
		return nil, storeErr(err)
	}
	t := maps.Clone(g.Tags)
	if t == nil {
		t = map[string]string{}
	}
	return &TagsOutput{Tags: t}, nil
}

func (s *Service) UntagResource(ctx context.Context, in *UntagResourceInput) (*NoOutput, error) {
	var c checker
	c.arn(in.ResourceArn)
	if c.Required("tagKeys", in.TagKeys != nil) {
		c.list("tagKeys", in.TagKeys, 0, maxTags, tagKeyShape)
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	g, err := s.arnGroup(ctx, *in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return nil, s.removeTags(g, in.TagKeys)
}

func (s *Service) ListTagsForResource(ctx context.Context, in *ListTagsForResourceInput) (*TagsOutput, error) {
	var c checker
	c.arn(in.ResourceArn)
	if err := c.Err(); err != nil {
		return nil, err
	}
	g, err := s.arnGroup(ctx, *in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return s.listTags(g)
}

func (s *Service) TagLogGroup(ctx context.Context, in *TagLogGroupInput) (*NoOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, true)
	if c.Required("tags", in.Tags != nil) {
		c.tags("tags", in.Tags, true)
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	_, resource := s.groupARN(ctx, *in.LogGroupName)
	return nil, s.addTags(groupKey(ctx, *in.LogGroupName), resource, in.Tags)
}

func (s *Service) UntagLogGroup(ctx context.Context, in *UntagLogGroupInput) (*NoOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, true)
	if c.Required("tags", in.Tags != nil) {
		c.list("tags", in.Tags, 1, -1, tagKeyShape)
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	return nil, s.removeTags(groupKey(ctx, *in.LogGroupName), in.Tags)
}

func (s *Service) ListTagsLogGroup(ctx context.Context, in *ListTagsLogGroupInput) (*TagsOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, true)
	if err := c.Err(); err != nil {
		return nil, err
	}
	return s.listTags(groupKey(ctx, *in.LogGroupName))
}
