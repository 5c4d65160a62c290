package logs

import (
	"context"
	"strings"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

func init() {
	register("CreateLogGroup", (*Service).CreateLogGroup)
	register("DeleteLogGroup", (*Service).DeleteLogGroup)
	register("DescribeLogGroups", (*Service).DescribeLogGroups)
	register("PutRetentionPolicy", (*Service).PutRetentionPolicy)
	register("DeleteRetentionPolicy", (*Service).DeleteRetentionPolicy)
}

// NoOutput is the output of operations that answer with an empty body.
type NoOutput struct{}

type CreateLogGroupInput struct {
	LogGroupName              *string           `json:"logGroupName"`
	KmsKeyID                  *string           `json:"kmsKeyId"`
	Tags                      map[string]string `json:"tags"`
	LogGroupClass             *string           `json:"logGroupClass"`
	DeletionProtectionEnabled *bool             `json:"deletionProtectionEnabled"`
}

func (s *Service) CreateLogGroup(ctx context.Context, in *CreateLogGroupInput) (*NoOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, true)
	if in.KmsKeyID != nil {
		c.String("kmsKeyId", *in.KmsKeyID, 0, 256, nil)
	}
	c.tags("tags", in.Tags, in.Tags != nil)
	if in.LogGroupClass != nil {
		c.Enum("logGroupClass", *in.LogGroupClass, logGroupClasses...)
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	if strings.HasPrefix(*in.LogGroupName, "aws/") {
		return nil, awsapi.InvalidParameter("Log group names can't start with the string 'aws/' (it is reserved for AWS services; '/aws/...' is allowed).")
	}
	meta := logstore.GroupMeta{
		CreationTime:       s.nowMs(),
		KmsKeyID:           str(in.KmsKeyID),
		Class:              "STANDARD",
		DeletionProtection: in.DeletionProtectionEnabled != nil && *in.DeletionProtectionEnabled,
		Tags:               in.Tags,
	}
	if in.LogGroupClass != nil {
		meta.Class = *in.LogGroupClass
	}
	return nil, storeErr(s.store.CreateGroup(groupKey(ctx, *in.LogGroupName), meta))
}

type DeleteLogGroupInput struct {
	LogGroupName *string `json:"logGroupName"`
}

func (s *Service) DeleteLogGroup(ctx context.Context, in *DeleteLogGroupInput) (*NoOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, true)
	if err := c.Err(); err != nil {
		return nil, err
	}
	k := groupKey(ctx, *in.LogGroupName)
	g, err := s.store.Group(k)
	if err != nil {
		return nil, storeErr(err)
	}
	if g.DeletionProtection {
		return nil, awsapi.NewError("ValidationException", "Log group %s has deletion protection enabled; disable it before deleting the log group.", *in.LogGroupName)
	}
	return nil, storeErr(s.store.DeleteGroup(k))
}

type DescribeLogGroupsInput struct {
	AccountIdentifiers    []string `json:"accountIdentifiers"`
	LogGroupNamePrefix    *string  `json:"logGroupNamePrefix"`
	LogGroupNamePattern   *string  `json:"logGroupNamePattern"`
	NextToken             *string  `json:"nextToken"`
	Limit                 *int64   `json:"limit"`
	IncludeLinkedAccounts *bool    `json:"includeLinkedAccounts"`
	LogGroupClass         *string  `json:"logGroupClass"`
	LogGroupIdentifiers   []string `json:"logGroupIdentifiers"`
}

// LogGroup is a log group as DescribeLogGroups shows it; optional members
// without a value are omitted, as AWS does.
type LogGroup struct {
	LogGroupName              string `json:"logGroupName"`
	CreationTime              int64  `json:"creationTime"`
	RetentionInDays           *int   `json:"retentionInDays,omitempty"`
	MetricFilterCount         *int   `json:"metricFilterCount,omitempty"`
	Arn                       string `json:"arn"`
	StoredBytes               *int64 `json:"storedBytes,omitempty"`
	KmsKeyID                  string `json:"kmsKeyId,omitempty"`
	LogGroupClass             string `json:"logGroupClass,omitempty"`
	LogGroupArn               string `json:"logGroupArn,omitempty"`
	DeletionProtectionEnabled *bool  `json:"deletionProtectionEnabled,omitempty"`
}

type DescribeLogGroupsOutput struct {
	LogGroups []LogGroup `json:"logGroups"`
	NextToken string     `json:"nextToken,omitempty"`
}

const describeGroupsToken = "DescribeLogGroups"

func (s *Service) DescribeLogGroups(ctx context.Context, in *DescribeLogGroupsInput) (*DescribeLogGroupsOutput, error) {
	var c checker
	if in.AccountIdentifiers != nil {
		c.list("accountIdentifiers", in.AccountIdentifiers, 0, 20, accountIDShape)
	}
	if in.LogGroupNamePrefix != nil {
		c.String("logGroupNamePrefix", *in.LogGroupNamePrefix, 1, 512, groupNamePattern)
	}
	if in.LogGroupNamePattern != nil {
		c.String("logGroupNamePattern", *in.LogGroupNamePattern, 0, 512, groupNameSubPattern)
	}
	c.nextToken(in.NextToken)
	c.limit(in.Limit, 50)
	if in.LogGroupClass != nil {
		c.Enum("logGroupClass", *in.LogGroupClass, logGroupClasses...)
	}
	if in.LogGroupIdentifiers != nil {
		c.list("logGroupIdentifiers", in.LogGroupIdentifiers, 1, 50, identShape)
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	if in.LogGroupNamePrefix != nil && in.LogGroupNamePattern != nil {
		return nil, awsapi.InvalidParameter("LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive: specify only one of them.")
	}
	if in.LogGroupIdentifiers != nil && (in.LogGroupNamePrefix != nil || in.LogGroupNamePattern != nil || in.LogGroupClass != nil || in.AccountIdentifiers != nil || in.NextToken != nil || in.Limit != nil) {
		return nil, awsapi.InvalidParameter("When logGroupIdentifiers is specified, only includeLinkedAccounts may accompany it.")
	}
	after := ""
	if in.NextToken != nil {
		f, ok := awsapi.DecodeToken(*in.NextToken, describeGroupsToken)
		if !ok || len(f) != 1 {
			return nil, awsapi.InvalidToken()
		}
		after = f[0]
	}
	var ids map[string]bool
	if in.LogGroupIdentifiers != nil {
		ids = make(map[string]bool, len(in.LogGroupIdentifiers))
		for _, id := range in.LogGroupIdentifiers {
			// Identifiers of other regions or accounts name nothing here.
			if k, err := s.identKey(ctx, id); err == nil {
				_, name := SplitStoreKey(k)
				ids[name] = true
			}
		}
	}
	limit := 50
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	out := &DescribeLogGroupsOutput{LogGroups: []LogGroup{}}
	for _, g := range s.regionGroups(ctx) { // sorted by name: ASCII order, as AWS
		if in.NextToken != nil && g.Name <= after {
			continue
		}
		switch {
		case ids != nil && !ids[g.Name],
			in.LogGroupNamePrefix != nil && !strings.HasPrefix(g.Name, *in.LogGroupNamePrefix),
			in.LogGroupNamePattern != nil && !strings.Contains(g.Name, *in.LogGroupNamePattern),
			in.LogGroupClass != nil && g.Class != *in.LogGroupClass:
			continue
		}
		if len(out.LogGroups) == limit {
			out.NextToken = awsapi.EncodeToken(describeGroupsToken, out.LogGroups[limit-1].LogGroupName)
			break
		}
		out.LogGroups = append(out.LogGroups, s.describeGroup(ctx, g, in.LogGroupNamePattern != nil))
	}
	return out, nil
}

func (s *Service) describeGroup(ctx context.Context, g logstore.Group, brief bool) LogGroup {
	arn, resource := s.groupARN(ctx, g.Name)
	lg := LogGroup{LogGroupName: g.Name, CreationTime: g.CreationTime, Arn: arn}
	if brief {
		// With logGroupNamePattern AWS returns only these three members.
		return lg
	}
	if g.RetentionDays > 0 {
		d := g.RetentionDays
		lg.RetentionInDays = &d
	}
	zero, stored, protected := 0, g.StoredBytes, g.DeletionProtection
	lg.MetricFilterCount = &zero
	lg.StoredBytes = &stored
	lg.KmsKeyID = g.KmsKeyID
	lg.LogGroupClass = g.Class
	if lg.LogGroupClass == "" {
		lg.LogGroupClass = "STANDARD"
	}
	lg.LogGroupArn = resource
	lg.DeletionProtectionEnabled = &protected
	return lg
}

type PutRetentionPolicyInput struct {
	LogGroupName    *string `json:"logGroupName"`
	RetentionInDays *int64  `json:"retentionInDays"`
}

func (s *Service) PutRetentionPolicy(ctx context.Context, in *PutRetentionPolicyInput) (*NoOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, true)
	if c.Required("retentionInDays", in.RetentionInDays != nil) {
		c.IntEnum("retentionInDays", *in.RetentionInDays, retentionDays...)
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	return nil, storeErr(s.store.UpdateGroup(groupKey(ctx, *in.LogGroupName), func(m *logstore.GroupMeta) error {
		m.RetentionDays = int(*in.RetentionInDays)
		return nil
	}))
}

type DeleteRetentionPolicyInput struct {
	LogGroupName *string `json:"logGroupName"`
}

func (s *Service) DeleteRetentionPolicy(ctx context.Context, in *DeleteRetentionPolicyInput) (*NoOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, true)
	if err := c.Err(); err != nil {
		return nil, err
	}
	return nil, storeErr(s.store.UpdateGroup(groupKey(ctx, *in.LogGroupName), func(m *logstore.GroupMeta) error {
		m.RetentionDays = 0
		return nil
	}))
}
