package ec2

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/flowwatch/flowwatch/internal/awsapi"
)

// ec2Error is an error in EC2's vocabulary (codes without "Exception").
func ec2Error(status int, code, format string, args ...any) *awsapi.Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &awsapi.Error{Code: code, Message: msg, Status: status}
}

func invalidParameter(format string, args ...any) *awsapi.Error {
	return ec2Error(http.StatusBadRequest, "InvalidParameter", format, args...)
}

func invalidValue(format string, args ...any) *awsapi.Error {
	return ec2Error(http.StatusBadRequest, "InvalidParameterValue", format, args...)
}

func missingParameter(name string) *awsapi.Error {
	return ec2Error(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter %s", name)
}

func errMalformedQuery(err error) *awsapi.Error {
	return ec2Error(http.StatusBadRequest, "InvalidParameterValue", "The request body is not a valid form encoding: %v", err)
}

func dryRun() *awsapi.Error {
	return ec2Error(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
}

func invalidFilter(name string) *awsapi.Error {
	return invalidValue("The filter '%s' is invalid", name)
}

func invalidToken() *awsapi.Error {
	return ec2Error(http.StatusBadRequest, "InvalidNextToken", "The specified NextToken is not valid.")
}

// notFound is the error for ids that do not exist, in EC2's words: "The
// vpc ID 'vpc-1' does not exist" or "The vpc IDs 'vpc-1, vpc-2' do not
// exist". kind is the code's middle ("Vpc"), noun the message's ("vpc").
func notFound(kind, noun string, ids ...string) *awsapi.Error {
	code := "Invalid" + kind + "ID.NotFound"
	if len(ids) == 1 {
		return ec2Error(http.StatusBadRequest, code, "The %s ID '%s' does not exist", noun, ids[0])
	}
	return ec2Error(http.StatusBadRequest, code, "The %s IDs '%s' do not exist", noun, strings.Join(ids, ", "))
}

// wireError translates the errors the Router raises before a request
// reaches EC2 (authentication, body size, internal faults) and the
// cross-service ones into the codes EC2 uses for them.
func wireError(e *awsapi.Error) *awsapi.Error {
	switch e.Code {
	case "UnrecognizedClientException":
		return ec2Error(http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
	case "InvalidSignatureException":
		return ec2Error(http.StatusForbidden, "SignatureDoesNotMatch", "%s", e.Message)
	case "IncompleteSignatureException":
		return ec2Error(http.StatusBadRequest, "IncompleteSignature", "%s", e.Message)
	case "MissingAuthenticationTokenException":
		return ec2Error(http.StatusUnauthorized, "MissingAuthenticationToken", "The request must contain either a valid (registered) AWS access key ID or X.509 certificate.")
	case "AccessDeniedException":
		// EC2 prefixes IAM's sentence ("User: … is not authorized to
		// perform: … on resource: …") with its own.
		return ec2Error(http.StatusForbidden, "UnauthorizedOperation", "You are not authorized to perform this operation. %s", e.Message)
	case "ServiceUnavailableException", "InternalFailure", "InternalServerException":
		return ec2Error(http.StatusInternalServerError, "InternalError", "An internal error has occurred")
	case "SerializationException":
		return ec2Error(http.StatusBadRequest, "InvalidParameterValue", "%s", e.Message)
	}
	return e
}
