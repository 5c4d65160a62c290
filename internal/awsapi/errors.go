// Package awsapi is flowwatch's AWS wire front end: SigV4 verification, the
// AWS JSON 1.1 protocol, AWS error bodies and statuses, validation messages
// in AWS's words and opaque pagination tokens. Services (logs, later ec2 and
// iam) register their operations with a Router; they never see HTTP.
package awsapi

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an AWS error as a client sees it: the exception shape name
// (without namespace), a message, the HTTP status and any extra members the
// exception shape carries (e.g. TooManyTagsException.resourceName).
type Error struct {
	Code    string
	Message string
	Status  int
	Fields  map[string]any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// NewError returns an Error with the status AWS uses for code: 500 for the
// server faults, 400 for everything else (CloudWatch Logs answers client
// errors with 400, see spec §1.4).
func NewError(code, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Message: msg, Status: statusFor(code)}
}

func statusFor(code string) int {
	switch code {
	case "ServiceUnavailableException", "InternalServerException", "InternalFailure":
		return http.StatusInternalServerError
	case "RequestEntityTooLargeException":
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// With returns a copy of e carrying an extra member in the error body.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Fields = make(map[string]any, len(e.Fields)+1)
	for k, v := range e.Fields {
		c.Fields[k] = v
	}
	c.Fields[key] = value
	return &c
}

// Common errors shared by every service.
func InvalidParameter(format string, args ...any) *Error {
	return NewError("InvalidParameterException", format, args...)
}

func ResourceNotFound(format string, args ...any) *Error {
	return NewError("ResourceNotFoundException", format, args...)
}

func ResourceAlreadyExists(format string, args ...any) *Error {
	return NewError("ResourceAlreadyExistsException", format, args...)
}

func Serialization(format string, args ...any) *Error {
	return NewError("SerializationException", format, args...)
}

// Internal is the error a client sees for a failure that is ours, not
// theirs; the cause is logged, never sent.
func Internal() *Error {
	return NewError("ServiceUnavailableException", "The service cannot complete the request.")
}

// AsError returns err as an *Error if it is one (or wraps one), else nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
