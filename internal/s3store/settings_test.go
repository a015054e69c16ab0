package s3store

import (
	"os"
	"path/filepath"
	"testing"
)

// TestResolve: the AWS tools' order, variable over file, credentials file over config file,
// the command line over both, with testdata/aws's config and credentials as ~/.aws.
func TestResolve(t *testing.T) {
	home := t.TempDir()
	aws, err := filepath.Abs(filepath.Join("testdata", "aws"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(aws, filepath.Join(home, ".aws")); err != nil {
		t.Fatal(err)
	}
	onlyConfig := filepath.Join(home, "none")
	tests := []struct {
		name string
		cfg  Config
		env  map[string]string
		// want
		key, token, region, endpoint string
		pathStyle                    bool
	}{
		{name: "nothing set: default profile of both files",
			key: "CREDS_DEFAULT_KEY", region: "eu-west-1", endpoint: defaultEndpoint},
		{name: "variables beat the files",
			env: map[string]string{"AWS_ACCESS_KEY_ID": "ENV_KEY", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "env-token",
				"AWS_REGION": "us-east-2", "AWS_ENDPOINT_URL": "http://env.example"},
			key: "ENV_KEY", token: "env-token", region: "us-east-2", endpoint: "http://env.example"},
		{name: "a key without its secret is not used",
			env: map[string]string{"AWS_ACCESS_KEY_ID": "ENV_KEY"},
			key: "CREDS_DEFAULT_KEY", region: "eu-west-1", endpoint: defaultEndpoint},
		{name: "AWS_REGION beats AWS_DEFAULT_REGION",
			env: map[string]string{"AWS_REGION": "r1", "AWS_DEFAULT_REGION": "r2"},
			key: "CREDS_DEFAULT_KEY", region: "r1", endpoint: defaultEndpoint},
		{name: "AWS_DEFAULT_REGION beats the config file",
			env: map[string]string{"AWS_DEFAULT_REGION": "r2"},
			key: "CREDS_DEFAULT_KEY", region: "r2", endpoint: defaultEndpoint},
		{name: "profile: credentials file's keys, config's region and endpoint_url",
			env: map[string]string{"AWS_PROFILE": "work"},
			key: "CREDS_WORK_KEY", token: "creds-work-token", region: "ap-south-1", endpoint: "https://work.example:9000"},
		{name: "profile only in the config file, its s3 section's endpoint and path style",
			env: map[string]string{"AWS_PROFILE": "lab"},
			key: "CONFIG_LAB_KEY", region: "us-west-2", endpoint: "http://s3.lab.example:8333", pathStyle: true},
		{name: "AWS_SHARED_CREDENTIALS_FILE elsewhere: the config file's keys",
			env: map[string]string{"AWS_SHARED_CREDENTIALS_FILE": onlyConfig},
			key: "CONFIG_DEFAULT_KEY", region: "eu-west-1", endpoint: defaultEndpoint},
		{name: "AWS_CONFIG_FILE elsewhere: no region, credentials file still read",
			env: map[string]string{"AWS_CONFIG_FILE": onlyConfig},
			key: "CREDS_DEFAULT_KEY", region: "", endpoint: defaultEndpoint},
		{name: "AWS_ENDPOINT_URL_S3 beats AWS_ENDPOINT_URL and the profile",
			env: map[string]string{"AWS_PROFILE": "lab", "AWS_ENDPOINT_URL_S3": "http://s3only", "AWS_ENDPOINT_URL": "http://any"},
			key: "CONFIG_LAB_KEY", region: "us-west-2", endpoint: "http://s3only", pathStyle: true},
		{name: "the command line beats everything",
			cfg: Config{Endpoint: "http://flag.example", PathStyle: true},
			env: map[string]string{"AWS_ENDPOINT_URL_S3": "http://s3only"},
			key: "CREDS_DEFAULT_KEY", region: "eu-west-1", endpoint: "http://flag.example", pathStyle: true},
		{name: "unknown profile: nothing from the files",
			env: map[string]string{"AWS_PROFILE": "nobody"},
			key: "", region: "", endpoint: defaultEndpoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOME": home}
			for k, v := range tt.env {
				env[k] = v
			}
			s, err := Resolve(tt.cfg, func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			v, err := s.Creds.GetWithContext(nil)
			if err != nil {
				t.Fatal(err)
			}
			if v.AccessKeyID != tt.key || v.SessionToken != tt.token || s.Region != tt.region || s.Endpoint != tt.endpoint || s.PathStyle != tt.pathStyle {
				t.Errorf("key %q token %q region %q endpoint %q path-style %v; want %q %q %q %q %v",
					v.AccessKeyID, v.SessionToken, s.Region, s.Endpoint, s.PathStyle, tt.key, tt.token, tt.region, tt.endpoint, tt.pathStyle)
			}
		})
	}
}

// TestResolveBadConfigFile: a config file that cannot be read is named, not skipped, as the AWS
// tools do; taking keys from a lower source would sign as someone else.
func TestResolveBadConfigFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(bad, []byte("[profile x\nregion = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Resolve(Config{}, func(k string) string { return map[string]string{"AWS_CONFIG_FILE": bad}[k] })
	if err == nil {
		t.Fatal("an unreadable config file was ignored")
	}
	t.Log(err)
}
