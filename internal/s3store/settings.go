package s3store

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7/pkg/credentials"
	"gopkg.in/ini.v1"
)

// defaultEndpoint is AWS S3's global endpoint, used when nothing names another.
const defaultEndpoint = "https://s3.amazonaws.com"

// Settings are where the store is and how to sign for it, resolved as the AWS CLI and SDKs
// resolve them, so that a machine set up for `aws s3` needs nothing more for pgpull.
type Settings struct {
	Endpoint  string
	Region    string // "" lets the client ask the bucket's location
	PathStyle bool
	Profile   string
	Creds     *credentials.Credentials
}

// Resolve reads cfg's flags, the environment (through getenv) and the shared files:
//   - credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else the
//     profile's keys (or its credential_process or SSO login) in AWS_SHARED_CREDENTIALS_FILE
//     (~/.aws/credentials), else in AWS_CONFIG_FILE (~/.aws/config);
//   - the profile: AWS_PROFILE, else "default";
//   - region: AWS_REGION, AWS_DEFAULT_REGION, else the profile's region in the config file;
//   - endpoint: --s3-endpoint, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else the profile's
//     endpoint_url (its s3 section's first), else AWS S3;
//   - path-style addressing: --s3-path-style, or the profile's s3 addressing_style = path.
func Resolve(cfg Config, getenv func(string) string) (Settings, error) {
	s := Settings{Profile: getenv("AWS_PROFILE"), PathStyle: cfg.PathStyle}
	if s.Profile == "" {
		s.Profile = "default"
	}
	home := getenv("HOME")
	configFile := getenv("AWS_CONFIG_FILE")
	if configFile == "" && home != "" {
		configFile = filepath.Join(home, ".aws", "config")
	}
	profile, err := configProfile(configFile, s.Profile)
	if err != nil {
		return s, err
	}
	nested := func(section, key string) string {
		if profile == nil || !profile.HasKey(section) {
			return ""
		}
		for _, kv := range profile.Key(section).NestedValues() {
			k, v, _ := strings.Cut(kv, "=")
			if strings.TrimSpace(k) == key {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	value := func(key string) string {
		if profile == nil {
			return ""
		}
		return profile.Key(key).String()
	}

	s.Region = first(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"), value("region"))
	s.Endpoint = first(cfg.Endpoint, getenv("AWS_ENDPOINT_URL_S3"), getenv("AWS_ENDPOINT_URL"),
		nested("s3", "endpoint_url"), value("endpoint_url"), defaultEndpoint)
	if nested("s3", "addressing_style") == "path" {
		s.PathStyle = true
	}

	credsFile := getenv("AWS_SHARED_CREDENTIALS_FILE")
	if credsFile == "" && home != "" {
		credsFile = filepath.Join(home, ".aws", "credentials")
	}
	s.Creds = credentials.NewChainCredentials([]credentials.Provider{
		&envCredentials{getenv: getenv},
		&credentials.FileAWSCredentials{Filename: credsFile, Profile: s.Profile},
		&credentials.FileAWSCredentials{Filename: configFile, Profile: s.Profile}, // [profile NAME] or [default]
	})
	return s, nil
}

// configProfile is the [profile NAME] section of the config file ([default] for "default"), or
// nil when the file or the section is missing.
func configProfile(path, name string) (*ini.Section, error) {
	if path == "" {
		return nil, nil
	}
	f, err := ini.LoadSources(ini.LoadOptions{AllowNestedValues: true}, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the AWS config file %s: %w", path, err)
	}
	for _, section := range []string{"profile " + name, name} {
		if name != "default" && section == name {
			continue // only [default] goes without "profile "
		}
		if f.HasSection(section) {
			return f.Section(section), nil
		}
	}
	return nil, nil
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// envCredentials are AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN read through
// getenv (minio-go's EnvAWS reads os.Getenv, and also older names the AWS tools ignore).
type envCredentials struct {
	credentials.Expiry
	getenv func(string) string
}

func (e *envCredentials) Retrieve() (credentials.Value, error) {
	return e.RetrieveWithCredContext(nil)
}

func (e *envCredentials) RetrieveWithCredContext(*credentials.CredContext) (credentials.Value, error) {
	id, secret := e.getenv("AWS_ACCESS_KEY_ID"), e.getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return credentials.Value{}, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set")
	}
	return credentials.Value{AccessKeyID: id, SecretAccessKey: secret, SessionToken: e.getenv("AWS_SESSION_TOKEN"),
		SignerType: credentials.SignatureV4}, nil
}

func (e *envCredentials) IsExpired() bool { return false }
