package server

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Credentials are the root access key pair every request is signed with.
type Credentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// credentialsFile holds generated root credentials inside the data dir.
const credentialsFile = "credentials.json"

// LoadCredentials returns the root credentials: from FLOWWATCH_ACCESS_KEY_ID
// and FLOWWATCH_SECRET_ACCESS_KEY when set, else from the data dir, else
// freshly generated and stored there with mode 0600 (generated=true: the
// caller shows them once).
func LoadCredentials(dataDir string, getenv func(string) string) (c Credentials, generated bool, err error) {
	id, secret := getenv("FLOWWATCH_ACCESS_KEY_ID"), getenv("FLOWWATCH_SECRET_ACCESS_KEY")
	switch {
	case id != "" && secret != "":
		return Credentials{id, secret}, false, nil
	case id != "" || secret != "":
		return c, false, errors.New("credentials: set both FLOWWATCH_ACCESS_KEY_ID and FLOWWATCH_SECRET_ACCESS_KEY, or neither")
	}
	path := filepath.Join(dataDir, credentialsFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(b, &c); err != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return c, false, fmt.Errorf("credentials: %s is damaged; remove it to generate new credentials", path)
		}
		return c, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return c, false, fmt.Errorf("credentials: %w", err)
	}
	c = Credentials{AccessKeyID: "AKIA" + randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
		SecretAccessKey: randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
	b, _ = json.MarshalIndent(c, "", "  ")
	// O_EXCL: two servers starting on one fresh data dir must not hand out
	// different keys.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return c, false, fmt.Errorf("credentials: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return c, false, fmt.Errorf("credentials: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return c, false, fmt.Errorf("credentials: %w", err)
	}
	if err := f.Close(); err != nil {
		return c, false, fmt.Errorf("credentials: %w", err)
	}
	return c, true, nil
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
