// Package weed runs SeaweedFS's weed as a single-node S3 store on loopback for tests and the
// bench: telemetry off, every port free, and ready once the S3 port's /healthz answers 200.
// The binary is built by .ci/weed/build, outside pgpull's module.
package weed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/pgpull/pgpull/internal/testcluster"
)

// BuildCommand builds weed and prints its path.
const BuildCommand = ".ci/weed/build"

// DefaultBinary is where BuildCommand puts weed unless PGPULL_WEED_CACHE says otherwise.
const DefaultBinary = "/var/cache/pgpull/weed/weed"

// Binary finds weed: PGPULL_WEED, else the build cache.
func Binary() (string, error) {
	bin := os.Getenv("PGPULL_WEED")
	if bin == "" {
		dir := os.Getenv("PGPULL_WEED_CACHE")
		if dir == "" {
			dir = filepath.Dir(DefaultBinary)
		}
		bin = filepath.Join(dir, "weed")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("SeaweedFS's weed not found at %s: build it with %s (about 5 minutes; it prints the path), or set PGPULL_WEED", bin, BuildCommand)
	}
	return bin, nil
}

// Options configure a Server.
type Options struct {
	Bucket    string // created at start
	AccessKey string // with SecretKey, turns on authentication
	SecretKey string
}

// Server is one running weed mini.
type Server struct {
	bin    string
	dir    string
	opts   Options
	ports  []int // master, volume, filer, s3, admin, then their gRPC ports in the same order
	cmd    *exec.Cmd
	exited chan struct{}
	log    *os.File
}

// Start runs weed mini with its data in dir and waits until it serves S3. Its ports were free
// a moment before; should another process (a test beside it) have taken one since, weed exits
// saying so, and it starts again on other ports, in a directory of its own, twice at most.
func Start(ctx context.Context, dir string, opts Options) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(10)
		if err != nil {
			return nil, err
		}
		s := &Server{bin: bin, dir: dir, opts: opts, ports: ports}
		err = s.Start(ctx)
		if err == nil || attempt == 3 || !errors.Is(err, errExited) || !s.portTaken() {
			return s, err
		}
		if dir = filepath.Join(s.dir, "again"); os.Mkdir(dir, 0o700) != nil {
			return s, err
		}
	}
}

// errExited is weed's exit before it served S3.
var errExited = errors.New("weed exited before it served S3")

// portTaken reports whether weed's log says a port it was to listen on was taken.
func (s *Server) portTaken() bool {
	log, err := os.ReadFile(filepath.Join(s.dir, "weed.log"))
	return err == nil && strings.Contains(string(log), "address already in use")
}

// Endpoint is the S3 URL.
func (s *Server) Endpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", s.ports[3]) }

// Start (re)starts the stopped server on the same ports and data.
func (s *Server) Start(ctx context.Context) error {
	p := s.ports
	args := []string{"mini", "-dir=" + s.dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
		"-webdav=false", "-admin.ui=false", "-admin.port.legacy=0", "-s3.port.iceberg=0", "-s3.port.lance=0",
		"-master.port=" + strconv.Itoa(p[0]), "-volume.port=" + strconv.Itoa(p[1]), "-filer.port=" + strconv.Itoa(p[2]),
		"-s3.port=" + strconv.Itoa(p[3]), "-admin.port=" + strconv.Itoa(p[4]),
		"-master.port.grpc=" + strconv.Itoa(p[5]), "-volume.port.grpc=" + strconv.Itoa(p[6]), "-filer.port.grpc=" + strconv.Itoa(p[7]),
		"-s3.port.grpc=" + strconv.Itoa(p[8]), "-admin.port.grpc=" + strconv.Itoa(p[9])}
	if s.opts.Bucket != "" {
		args = append(args, "-bucket="+s.opts.Bucket)
	}
	log, err := os.OpenFile(filepath.Join(s.dir, "weed.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = log, log
	// Only the key weed should accept: no SENTRY_DSN, no AWS settings of the caller's.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.dir}
	if s.opts.AccessKey != "" {
		cmd.Env = append(cmd.Env, "AWS_ACCESS_KEY_ID="+s.opts.AccessKey, "AWS_SECRET_ACCESS_KEY="+s.opts.SecretKey)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting weed: %w", err)
	}
	s.cmd, s.log, s.exited = cmd, log, make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return fmt.Errorf("%w; see %s", err, log.Name())
	}
	return nil
}

// waitReady polls /healthz on the S3 port, and the bucket when one is asked for, for up to two
// minutes: weed starts master, volume, filer and S3 in turn, slowly on a loaded machine.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	url := s.Endpoint() + "/healthz"
	// weed creates -bucket after /healthz answers; with a client of the server's own key, the
	// bucket's presence is the last sign.
	client, err := minio.New(strings.TrimPrefix(s.Endpoint(), "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(s.opts.AccessKey, s.opts.SecretKey, ""), Region: "us-east-1"})
	if err != nil {
		return err
	}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if s.opts.Bucket == "" {
					return nil
				}
				if ok, err := client.BucketExists(ctx, s.opts.Bucket); err == nil && ok {
					return nil
				}
			}
		}
		select {
		case <-s.exited:
			return errExited
		case <-ctx.Done():
			return fmt.Errorf("weed did not answer %s with 200 in time", url)
		case <-tick.C:
		}
	}
}

// Stop kills weed (as a store that goes away would) and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
	s.log.Close()
	s.cmd = nil
}

// ForTest starts a server for t, stopped at its end; a missing binary fails t with the command
// that builds it.
func ForTest(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(context.Background(), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// freePorts finds n distinct ports that were free a moment ago, in PGPULL_TEST_PORTS when it is set:
// each of weed's services binds one, and its gRPC service another, named explicitly.
func freePorts(n int) ([]int, error) {
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("no free ports for weed")
		}
		p, err := testcluster.FreePort()
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports, nil
}
