package compress

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/fixture"
)

// No fuzz test: the parser is a small closed table covered exhaustively below, and the codecs
// are klauspost's, fuzzed upstream; what is ours (block cutting and ordering) is covered by the
// round trips at sizes around the block boundaries.

// mixedInput is the mixed backup-shaped input of fixture.Mixed.
func mixedInput(n int) []byte { return fixture.Mixed(n) }

func specs(t testing.TB, values ...string) []Spec {
	var out []Spec
	for _, v := range values {
		s, err := ParseSpec(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    Spec
		wantErr bool
	}{
		{in: "none", want: Spec{None, 0}},
		{in: "gzip", want: Spec{Gzip, 6}},
		{in: "GZIP", want: Spec{Gzip, 6}},
		{in: "gzip:1", want: Spec{Gzip, 1}},
		{in: "gzip:9", want: Spec{Gzip, 9}},
		{in: "gzip:level=4", want: Spec{Gzip, 4}},
		{in: "zstd", want: Spec{Zstd, 3}},
		{in: "zstd:1", want: Spec{Zstd, 1}},
		{in: "zstd:22", want: Spec{Zstd, 22}},
		{in: "zstd:level=19", want: Spec{Zstd, 19}},
		{in: "", wantErr: true},
		{in: "gz", wantErr: true},
		{in: "lz4", wantErr: true},
		{in: "none:1", wantErr: true},
		{in: "gzip:", wantErr: true},
		{in: "gzip:0", wantErr: true},
		{in: "gzip:10", wantErr: true},
		{in: "gzip:-1", wantErr: true},
		{in: "gzip:fast", wantErr: true},
		{in: "gzip:1:2", wantErr: true},
		{in: "zstd:0", wantErr: true},
		{in: "zstd:23", wantErr: true},
		{in: "zstd:level=", wantErr: true},
		{in: "zstd:long", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSpec(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseSpec(%q) = %v, want error", tt.in, got)
				}
				msg := err.Error()
				if !strings.Contains(msg, fmt.Sprintf("%q", tt.in)) || !strings.Contains(msg, acceptedForms) || strings.Contains(msg, "\n") {
					t.Errorf("error %q should be one line naming %q and the accepted forms", msg, tt.in)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSpec(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			// String gives back a value ParseSpec reads as the same Spec.
			again, err := ParseSpec(got.String())
			if err != nil || again != got {
				t.Errorf("ParseSpec(%q) = %v, %v; want %v", got.String(), again, err, got)
			}
		})
	}
}

func TestSpecStringExt(t *testing.T) {
	tests := []struct {
		spec      Spec
		str, ext  string
		algString string
	}{
		{Spec{None, 0}, "none", "", "none"},
		{Spec{Gzip, 0}, "gzip:6", ".gz", "gzip"},
		{Spec{Gzip, 1}, "gzip:1", ".gz", "gzip"},
		{Spec{Zstd, 0}, "zstd:3", ".zst", "zstd"},
		{Spec{Zstd, 19}, "zstd:19", ".zst", "zstd"},
	}
	for _, tt := range tests {
		if got := tt.spec.String(); got != tt.str {
			t.Errorf("%#v.String() = %q, want %q", tt.spec, got, tt.str)
		}
		if got := tt.spec.Ext(); got != tt.ext {
			t.Errorf("%#v.Ext() = %q, want %q", tt.spec, got, tt.ext)
		}
		if got := tt.spec.Algorithm.String(); got != tt.algString {
			t.Errorf("Algorithm.String() = %q, want %q", got, tt.algString)
		}
	}
}

func TestNewWriterRejects(t *testing.T) {
	for _, s := range []Spec{{Gzip, 10}, {Gzip, -1}, {Zstd, 23}, {Algorithm(7), 1}} {
		if w, err := NewWriter(io.Discard, s, 2); err == nil {
			w.Close()
			t.Errorf("NewWriter(%#v) succeeded, want error", s)
		}
	}
}

// compressAll writes data through NewWriter in chunks of chunk bytes.
func compressAll(t testing.TB, data []byte, s Spec, concurrency, chunk int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, s, concurrency)
	if err != nil {
		t.Fatal(err)
	}
	for p := data; len(p) > 0; {
		k := min(chunk, len(p))
		n, err := w.Write(p[:k])
		if err != nil || n != k {
			t.Fatalf("Write = %d, %v; want %d", n, err, k)
		}
		p = p[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	// Sizes around the 1 MiB block boundaries, where block cutting could drop or repeat bytes.
	roundTripSizes := []int{0, 1, 4095, 1<<20 - 1, 1 << 20, 1<<20 + 1, 3<<20 + 12345}
	data := mixedInput(roundTripSizes[len(roundTripSizes)-1])
	for _, s := range specs(t, "none", "gzip:1", "gzip", "gzip:9", "zstd:1", "zstd", "zstd:7", "zstd:19") {
		for _, conc := range []int{1, 2, 5} {
			for _, size := range roundTripSizes {
				for _, chunk := range []int{7919, 1 << 20} {
					name := fmt.Sprintf("%v/c%d/n%d/w%d", s, conc, size, chunk)
					t.Run(name, func(t *testing.T) {
						if testing.Short() && (s.Level >= 19 || chunk != 7919) {
							t.Skip("slow")
						}
						z := compressAll(t, data[:size], s, conc, chunk)
						if s.Algorithm == None && !bytes.Equal(z, data[:size]) {
							t.Fatal("none changed the bytes")
						}
						r, alg, err := NewReader(bytes.NewReader(z))
						if err != nil {
							t.Fatal(err)
						}
						if want := s.Algorithm; alg != want && !(size == 0 && want == None) {
							t.Errorf("NewReader found %v, want %v", alg, want)
						}
						got, err := io.ReadAll(r)
						if err != nil {
							t.Fatal(err)
						}
						if err := r.Close(); err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(got, data[:size]) {
							t.Fatalf("round trip: got %d bytes, want %d (or contents differ)", len(got), size)
						}
					})
				}
			}
		}
	}
}

func TestNewReaderPlain(t *testing.T) {
	for _, in := range []string{"", "\x1f", "\x28\xb5\x2f", "plain tar bytes", "\x28\xb5\x2f\xfc rest"} {
		r, alg, err := NewReader(strings.NewReader(in))
		if err != nil || alg != None {
			t.Fatalf("NewReader(%q) = %v, %v; want none", in, alg, err)
		}
		got, _ := io.ReadAll(r)
		if string(got) != in {
			t.Errorf("NewReader(%q) read %q", in, got)
		}
	}
}

func TestNewReaderCorrupt(t *testing.T) {
	for _, s := range specs(t, "gzip:1", "zstd:1") {
		z := compressAll(t, mixedInput(300<<10), s, 2, 1<<20)
		z = z[:len(z)/2] // truncated, as a backup cut off by a dropped ssh connection
		r, _, err := NewReader(bytes.NewReader(z))
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if err == nil {
			t.Errorf("%v: truncated stream read without error", s)
		}
	}
}

// needTool finds a stock tool the test checks pgpull's output with; without it the test fails,
// as a skip would let CI pass without the check.
func needTool(t *testing.T, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is not installed: apt-get install %s (.ci/run installs it)", tool, tool)
	}
	return path
}

// stockDecompress pipes z through a stock tool's decompressor.
func stockDecompress(t *testing.T, z []byte, tool string, args ...string) []byte {
	t.Helper()
	path := needTool(t, tool)
	cmd := exec.Command(path, args...)
	cmd.Stdin = bytes.NewReader(z)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", tool, args, err, stderr.String())
	}
	return out
}

func TestStockToolsDecompress(t *testing.T) {
	data := mixedInput(5<<20 + 777)
	tools := map[Algorithm][]string{Gzip: {"gzip", "-dc"}, Zstd: {"zstd", "-dc"}}
	for _, s := range specs(t, "gzip:1", "gzip", "zstd:1", "zstd", "zstd:19") {
		for _, size := range []int{0, 1, 1 << 20, len(data)} {
			t.Run(fmt.Sprintf("%v/n%d", s, size), func(t *testing.T) {
				z := compressAll(t, data[:size], s, 2, 65536)
				tool := tools[s.Algorithm]
				got := stockDecompress(t, z, tool[0], tool[1:]...)
				if !bytes.Equal(got, data[:size]) {
					t.Fatalf("%s: got %d bytes, want %d (or contents differ)", tool[0], len(got), size)
				}
			})
		}
	}
}

func TestStockTarExtracts(t *testing.T) {
	files := map[string][]byte{
		"backup_label":   []byte("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"),
		"base/1/1259":    mixedInput(1<<20 + 8192),
		"global/pg_ctl":  mixedInput(8192),
		"PG_VERSION":     []byte("17\n"),
		"base/5/empty_f": nil,
	}
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	for _, name := range []string{"PG_VERSION", "backup_label", "base/1/1259", "base/5/empty_f", "global/pg_ctl"} {
		body := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	needTool(t, "tar")
	for _, tc := range []struct {
		spec string
		flag string
		tool string
	}{{"gzip:1", "-z", "gzip"}, {"zstd:1", "--zstd", "zstd"}, {"zstd", "--zstd", "zstd"}} {
		t.Run(tc.spec, func(t *testing.T) {
			needTool(t, tc.tool)
			s := specs(t, tc.spec)[0]
			z := compressAll(t, plain.Bytes(), s, 2, 10000)
			dir := t.TempDir()
			cmd := exec.Command("tar", "-x", tc.flag, "-f", "-", "-C", dir)
			cmd.Stdin = bytes.NewReader(z)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("tar %s -x: %v: %s", tc.flag, err, out)
			}
			for name, want := range files {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s: extracted %d bytes, want %d (or contents differ)", name, len(got), len(want))
				}
			}
		})
	}
}

// failWriter fails every write after the first ok bytes.
type failWriter struct{ ok int }

var errSink = errors.New("sink broke")

func (f *failWriter) Write(p []byte) (int, error) {
	if f.ok <= 0 {
		return 0, errSink
	}
	f.ok -= len(p)
	return len(p), nil
}

func TestWriterReportsSinkError(t *testing.T) {
	data := mixedInput(8 << 20)
	for _, s := range specs(t, "gzip:1", "zstd:1") {
		t.Run(s.String(), func(t *testing.T) {
			before := runtime.NumGoroutine()
			w, err := NewWriter(&failWriter{ok: 100 << 10}, s, 2)
			if err != nil {
				t.Fatal(err)
			}
			var werr error
			for p := data; len(p) > 0 && werr == nil; p = p[min(len(p), 32<<10):] {
				_, werr = w.Write(p[:min(len(p), 32<<10)])
			}
			cerr := w.Close()
			if !errors.Is(werr, errSink) && !errors.Is(cerr, errSink) {
				t.Fatalf("Write err %v, Close err %v; want %v from one of them", werr, cerr, errSink)
			}
			// No compressing goroutine outlives Close.
			deadline := time.Now().Add(2 * time.Second)
			for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := runtime.NumGoroutine(); n > before {
				t.Errorf("%d goroutines after Close, %d before", n, before)
			}
		})
	}
}

// TestMemoryBounded writes 512 MiB through each writer and checks the heap in use stays under
// a bound set by concurrency and block size, not by the stream's length.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 512 MiB per algorithm")
	}
	const total = 512 << 20
	chunk := mixedInput(4 << 20)
	const concurrency = 2
	// Blocks in flight, each with its input and output, plus the block being filled, plus
	// encoder tables and runtime slack. The zstd:19 encoders keep large match tables.
	bound := func(s Spec) uint64 {
		perBlock := uint64(2 * max(gzipBlockSize, zstdBlockSize))
		fixed := uint64(32 << 20)
		if s.Algorithm == Zstd && s.level() >= 10 {
			fixed += concurrency * 48 << 20
		}
		return (blocksPerWorker*concurrency+2)*perBlock + fixed
	}
	for _, s := range specs(t, "gzip:1", "gzip", "gzip:9", "zstd:1", "zstd", "zstd:19") {
		t.Run(s.String(), func(t *testing.T) {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapInuse
			var out countWriter
			w, err := NewWriter(&out, s, concurrency)
			if err != nil {
				t.Fatal(err)
			}
			written := 0
			amount := total
			if s.level() >= 9 {
				amount = 64 << 20 // gzip:9 and zstd:19 are slow; the bound does not depend on amount
			}
			var peak uint64
			for i := 0; written < amount; i++ {
				if _, err := w.Write(chunk); err != nil {
					t.Fatal(err)
				}
				written += len(chunk)
				if i%8 == 0 {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			grew := int64(peak) - int64(base)
			t.Logf("%v: wrote %d MiB -> %d MiB, heap in use grew by at most %.1f MiB (bound %.1f MiB)",
				s, written>>20, out.n>>20, float64(grew)/(1<<20), float64(bound(s))/(1<<20))
			if grew > int64(bound(s)) {
				t.Errorf("heap in use grew by %d bytes writing %d, bound %d", grew, written, bound(s))
			}
		})
	}
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// cpuTime is the user+system CPU time this process has used.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestUsesAllCores: the writer compresses on every core. With its output stalled it must take
// in blocksPerWorker blocks per core (GOMAXPROCS), each handed to a goroutine of its own, before
// Write blocks, where a writer working for one core stops at blocksPerWorker; released, it must
// give back the input. CPU time against wall time is logged only: machines running the
// tests are shared, so a ratio would be a flaky bound.
func TestUsesAllCores(t *testing.T) {
	cores := runtime.GOMAXPROCS(0)
	if cores < 2 {
		t.Fatalf("GOMAXPROCS is %d: this test needs 2 cores or more to mean anything", cores)
	}
	input := mixedInput(3 * cores << 20)
	for _, tt := range []struct {
		spec      string
		blockSize int
	}{{"gzip:1", gzipBlockSize}, {"zstd:1", zstdBlockSize}} {
		t.Run(tt.spec, func(t *testing.T) {
			out := &stalledWriter{release: make(chan struct{})}
			w, err := NewWriter(out, specs(t, tt.spec)[0], 0)
			if err != nil {
				t.Fatal(err)
			}
			var accepted atomic.Int64
			written := make(chan error, 1)
			cpu0, wall0 := cpuTime(t), time.Now()
			go func() {
				for p := input; len(p) > 0; p = p[min(len(p), 64<<10):] {
					n, err := w.Write(p[:min(len(p), 64<<10)])
					accepted.Add(int64(n))
					if err != nil {
						written <- err
						return
					}
				}
				written <- w.Close()
			}()
			want := int64(blocksPerWorker * cores * tt.blockSize)
			for deadline := time.Now().Add(30 * time.Second); accepted.Load() < want; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					close(out.release)
					t.Fatalf("with the output stalled the writer took in %d bytes, want %d blocks of %d in flight at once",
						accepted.Load(), blocksPerWorker*cores, tt.blockSize)
				}
			}
			close(out.release)
			if err := <-written; err != nil {
				t.Fatal(err)
			}
			cpu, wall := cpuTime(t)-cpu0, time.Since(wall0)
			t.Logf("%d MiB: %v wall, %v CPU, CPU/wall %.2f on GOMAXPROCS=%d", len(input)>>20,
				wall.Round(time.Millisecond), cpu.Round(time.Millisecond), cpu.Seconds()/wall.Seconds(), cores)
			r, _, err := NewReader(bytes.NewReader(out.buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, input) {
				t.Fatalf("the stream reads back as %d bytes (%v), want the %d written", len(got), err, len(input))
			}
		})
	}
}

// stalledWriter holds every Write of compressed data until release is closed, and keeps what
// it is given. A stream header (gzip writes its 10 bytes at once) passes.
type stalledWriter struct {
	release chan struct{}
	buf     bytes.Buffer
}

func (s *stalledWriter) Write(p []byte) (int, error) {
	if len(p) > 64 {
		<-s.release
	}
	return s.buf.Write(p)
}
