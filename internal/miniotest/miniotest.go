// Package miniotest runs one real MinIO server per test binary for tests
// that need S3: versioned buckets, Object Lock, pagination and all.
//
// Use it from TestMain so the server stops with the binary:
//
//	func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }
//
// and in a test:
//
//	srv := miniotest.Start(t)
//	bucket := srv.CreateBucket(t, miniotest.Versioned())
//
// When no minio binary is found (on PATH or in $(go env GOPATH)/bin;
// scripts/install-minio.sh installs one), tests that call Start are skipped,
// or fail when LETHE_REQUIRE_TOOLS=1, as in CI.
package miniotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Region is the region the server answers for.
const Region = "us-east-1"

// Server is a running MinIO server.
type Server struct {
	// Endpoint is its base URL, such as "http://127.0.0.1:40123".
	Endpoint string
	// AccessKey and SecretKey are its root credentials.
	AccessKey, SecretKey string

	cmd    *exec.Cmd
	dir    string
	output *syncBuffer
}

// syncBuffer collects the server's output for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

var (
	once     sync.Once
	shared   *Server
	startErr error
	missing  bool
	buckets  atomic.Int64
)

// Run runs the tests and then stops the server if one was started. Call it
// from TestMain.
func Run(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	return code
}

// Start returns the binary's shared server, starting it on first use. It
// skips the test if MinIO is not installed, unless LETHE_REQUIRE_TOOLS=1.
func Start(t testing.TB) *Server {
	t.Helper()
	once.Do(func() { shared, startErr = start() })
	if missing {
		if os.Getenv("LETHE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("miniotest: %v (LETHE_REQUIRE_TOOLS=1; run scripts/install-minio.sh)", startErr)
		}
		t.Skipf("miniotest: %v; run scripts/install-minio.sh to run this test", startErr)
	}
	if startErr != nil {
		t.Fatalf("miniotest: %v", startErr)
	}
	return shared
}

// Binary returns the path of the minio binary, looking on PATH and then in
// $(go env GOPATH)/bin.
func Binary() (string, error) {
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "minio")
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
		}
	}
	return "", errors.New("minio binary not found on PATH or in $(go env GOPATH)/bin")
}

func start() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		missing = true
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lethe-minio-")
	if err != nil {
		return nil, err
	}
	s := &Server{AccessKey: "lethetest", SecretKey: "lethetest-secret", dir: dir, output: &syncBuffer{}}
	var lastErr error
	for range 3 { // another process may take the free port first
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		s.Endpoint = "http://" + addr
		if lastErr = s.launch(bin, addr); lastErr == nil {
			return s, nil
		}
	}
	_ = os.RemoveAll(dir)
	return nil, fmt.Errorf("start minio: %w", lastErr)
}

func (s *Server) launch(bin, addr string) error {
	s.output.Reset()
	cmd := exec.Command(bin, "server", filepath.Join(s.dir, "data"),
		"--address", addr, "--console-address", "127.0.0.1:0", "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_API_REQUESTS_MAX=200",
		"GOMAXPROCS=2",
	)
	cmd.Stdout, cmd.Stderr = s.output, s.output
	// Dies with the test binary even if Run is never reached.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("minio exited: %s", s.output.String())
		case <-deadline:
			s.stop()
			return fmt.Errorf("minio not ready after 60s: %s", s.output.String())
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(s.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
}

func (s *Server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	_ = os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Credentials returns the server's root credentials for an S3 client.
func (s *Server) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")
}

// Client returns a plain S3 client straight to the server (no proxy, no
// faults), for setting up and checking test data.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  s.Credentials(),
	})
}

// BucketOption changes how [Server.CreateBucket] makes a bucket.
type BucketOption func(*bucketOptions)

type bucketOptions struct{ versioned, objectLock bool }

// Versioned turns versioning on.
func Versioned() BucketOption { return func(o *bucketOptions) { o.versioned = true } }

// ObjectLock creates the bucket with Object Lock enabled (which also turns
// versioning on).
func ObjectLock() BucketOption {
	return func(o *bucketOptions) { o.objectLock, o.versioned = true, true }
}

// CreateBucket creates a bucket with a fresh name and returns the name.
func (s *Server) CreateBucket(t testing.TB, opts ...BucketOption) string {
	t.Helper()
	var o bucketOptions
	for _, opt := range opts {
		opt(&o)
	}
	name := fmt.Sprintf("test-%d-%d", os.Getpid(), buckets.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := s.Client()
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if o.objectLock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := c.CreateBucket(ctx, in); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	if o.versioned && !o.objectLock {
		_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
			Bucket:                  aws.String(name),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
		})
		if err != nil {
			t.Fatalf("enable versioning: %v", err)
		}
	}
	return name
}

// NewServer starts a MinIO server of its own, for programs that are not
// tests (go run ./bench/...); Close stops it.
func NewServer() (*Server, error) { return start() }

// Close stops a server that NewServer started.
func (s *Server) Close() { s.stop() }
