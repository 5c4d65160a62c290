package logs

import (
	"github.com/flowwatch/flowwatch/internal/awsapi"
)

// Model constraints of the shapes the operations share (botocore
// logs/2014-03-28 service-2.json).
var (
	groupNamePattern    = awsapi.MustPattern(`[\.\-_/#A-Za-z0-9]+`)
	groupNameSubPattern = awsapi.MustPattern(`[\.\-_/#A-Za-z0-9]*`)
	streamNamePattern   = awsapi.MustPattern(`[^:*]*`)
	identifierPattern   = awsapi.MustPattern(`[\w#+=/:,.@-]*`)
	arnPattern          = awsapi.MustPattern(`[\w+=/:,.@-]*`)
	tagKeyPattern       = awsapi.MustPattern(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$`)
	tagValuePattern     = awsapi.MustPattern(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)
	accountIDPattern    = awsapi.MustPattern(`^\d{12}$`)
)

var logGroupClasses = []string{"STANDARD", "INFREQUENT_ACCESS", "DELIVERY"}

// retentionDays are the only values PutRetentionPolicy accepts.
var retentionDays = []int64{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// checker adds the shared shapes to awsapi.Validator.
type checker struct{ awsapi.Validator }

func (c *checker) groupName(path string, p *string, required bool) {
	if p == nil {
		if required {
			c.Required(path, false)
		}
		return
	}
	c.String(path, *p, 1, 512, groupNamePattern)
}

// CheckGroupName returns the API's InvalidParameterException for a log
// group name the API would refuse, for commands that write the store
// directly (import): a name with ':' would read as another region's key.
func CheckGroupName(name string) error {
	var c checker
	c.groupName("logGroupName", &name, true)
	return c.Err()
}

func (c *checker) streamName(path string, p *string, required bool) {
	if p == nil {
		if required {
			c.Required(path, false)
		}
		return
	}
	c.String(path, *p, 1, 512, streamNamePattern)
}

func (c *checker) identifier(path string, p *string) {
	if p != nil {
		c.String(path, *p, 1, 2048, identifierPattern)
	}
}

func (c *checker) nextToken(p *string) {
	if p != nil {
		c.String("nextToken", *p, 1, -1, nil)
	}
}

func (c *checker) limit(p *int64, max int64) {
	if p != nil {
		c.Range("limit", *p, 1, max)
	}
}

func (c *checker) timestamp(path string, p *int64) {
	if p != nil {
		c.Min(path, *p, 0)
	}
}

var (
	tagKeyShape    = awsapi.StringShape{Min: 1, Max: 128, Pattern: tagKeyPattern}
	tagValueShape  = awsapi.StringShape{Min: 0, Max: 256, Pattern: tagValuePattern}
	streamShape    = awsapi.StringShape{Min: 1, Max: 512, Pattern: streamNamePattern}
	identShape     = awsapi.StringShape{Min: 1, Max: 2048, Pattern: identifierPattern}
	accountIDShape = awsapi.StringShape{Min: 12, Max: 12, Pattern: accountIDPattern}
)

func (c *checker) tags(path string, tags map[string]string, present bool) {
	if !present {
		return
	}
	c.Count(path, len(tags), 1, 50, awsapi.ShowMap(tags))
	c.MapEntries(path, tags, tagKeyShape, tagValueShape)
}

// list checks a list of strings: its length, then its members.
func (c *checker) list(path string, items []string, min, max int, shape awsapi.StringShape) {
	c.Count(path, len(items), min, max, awsapi.ShowList(items))
	c.Members(path, items, shape)
}
