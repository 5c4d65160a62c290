package iam

import (
	"context"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

// STS's wire identity.
const (
	STSSigningName = "sts"
	STSNamespace   = "https://sts.amazonaws.com/doc/2011-06-15/"
	STSVersion     = "2011-06-15"
)

// STSService returns the STS Query service (GetCallerIdentity), for
// Router.HandleProtocol(STSSigningName, …).
func (s *Service) STSService() *awsapi.QueryService {
	return &awsapi.QueryService{SigningName: STSSigningName, Namespace: STSNamespace, Version: STSVersion,
		Ops: map[string]awsapi.QueryHandler{"GetCallerIdentity": s.opGetCallerIdentity},
		// AWS: no permission is needed to ask who you are.
		NoAuth: map[string]bool{"GetCallerIdentity": true}}
}

type callerIdentity struct {
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
}

func (s *Service) opGetCallerIdentity(ctx context.Context, _ awsapi.QueryParams) (any, error) {
	if u, ok := s.caller(ctx); ok {
		return callerIdentity{UserID: u.UserID, Account: s.account, Arn: u.Arn}, nil
	}
	return callerIdentity{UserID: s.account, Account: s.account, Arn: "arn:aws:iam::" + s.account + ":root"}, nil
}
