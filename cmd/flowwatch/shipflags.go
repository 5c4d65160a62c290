package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/flowwatch/flowwatch/internal/flowlog"
)

// Helpers the commands that write or send records (capture, gen, agent,
// collect) share, so their flags mean the same everywhere.

// formatFlag is the LogFormat a --format flag names: "default" (or empty)
// is AWS's default format.
func formatFlag(s string) (*flowlog.Format, error) {
	if s == "default" || s == "" {
		return flowlog.DefaultFormat, nil
	}
	f, err := flowlog.ParseFormat(s)
	if err != nil {
		return nil, fmt.Errorf("--format: %w (%s)", err, err.(*flowlog.FormatError).Reason)
	}
	return f, nil
}

// senderCredentials are the credentials records are sent to a server
// with: FLOWWATCH_ACCESS_KEY_ID/FLOWWATCH_SECRET_ACCESS_KEY (the lines
// serve prints), else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
func senderCredentials() (aws.CredentialsProvider, error) {
	key, secret := os.Getenv("FLOWWATCH_ACCESS_KEY_ID"), os.Getenv("FLOWWATCH_SECRET_ACCESS_KEY")
	if key == "" {
		key, secret = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	if key == "" || secret == "" {
		return nil, errors.New("no credentials: set FLOWWATCH_ACCESS_KEY_ID/FLOWWATCH_SECRET_ACCESS_KEY or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
	}
	return aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(key, secret, os.Getenv("AWS_SESSION_TOKEN"))), nil
}

// defaultSpoolDir is $XDG_STATE_HOME/flowwatch/name, or
// ~/.local/state/flowwatch/name.
func defaultSpoolDir(name string) string {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "flowwatch", name)
}
