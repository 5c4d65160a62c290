package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// ObjectStore receives the S3 objects of flow logs.
type ObjectStore interface {
	PutObject(ctx context.Context, bucket, key string, body []byte, contentType string) error
}

// localObjects keeps buckets as directories: <root>/<bucket>/<key>. An
// object appears whole or not at all (temporary file, fsync, rename).
type localObjects struct{ root string }

func (l localObjects) PutObject(_ context.Context, bucket, key string, body []byte, _ string) error {
	path := filepath.Join(l.root, bucket, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeAtomic(path, body, 0o644)
}

// S3Endpoint configures delivery to an S3-compatible service instead of
// local bucket directories. The zero value means local directories.
type S3Endpoint struct {
	URL                          string // e.g. http://127.0.0.1:9000
	Region                       string // default us-east-1
	AccessKeyID, SecretAccessKey string
	// VirtualHosted addresses buckets as bucket.host; the default is
	// path-style (host/bucket), which every S3-compatible server serves.
	VirtualHosted bool
}

// S3EndpointFromEnv reads FLOWWATCH_S3_ENDPOINT, FLOWWATCH_S3_REGION,
// FLOWWATCH_S3_ACCESS_KEY_ID and FLOWWATCH_S3_SECRET_ACCESS_KEY.
func S3EndpointFromEnv(getenv func(string) string) S3Endpoint {
	return S3Endpoint{
		URL: getenv("FLOWWATCH_S3_ENDPOINT"), Region: getenv("FLOWWATCH_S3_REGION"),
		AccessKeyID: getenv("FLOWWATCH_S3_ACCESS_KEY_ID"), SecretAccessKey: getenv("FLOWWATCH_S3_SECRET_ACCESS_KEY"),
	}
}

type s3Objects struct{ c *s3.Client }

func newS3Objects(e S3Endpoint) (*s3Objects, error) {
	if e.AccessKeyID == "" || e.SecretAccessKey == "" {
		return nil, errors.New("delivery: an S3 endpoint needs FLOWWATCH_S3_ACCESS_KEY_ID and FLOWWATCH_S3_SECRET_ACCESS_KEY")
	}
	if e.Region == "" {
		e.Region = "us-east-1"
	}
	c := s3.New(s3.Options{
		BaseEndpoint: aws.String(e.URL),
		Region:       e.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(e.AccessKeyID, e.SecretAccessKey, ""),
		UsePathStyle: !e.VirtualHosted,
		// Checksums only where S3 requires them: many S3-compatible servers
		// do not take the streaming checksum trailers the SDK adds
		// otherwise.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	return &s3Objects{c: c}, nil
}

func (o *s3Objects) PutObject(ctx context.Context, bucket, key string, body []byte, contentType string) error {
	_, err := o.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: &contentType,
	})
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled", "InvalidBucketName":
			return &accessError{reason: fmt.Sprintf("s3://%s/%s: %v", bucket, key, err)}
		}
	}
	return err
}
