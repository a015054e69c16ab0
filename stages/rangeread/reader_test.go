package rangeread

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgpull/pgpull/pipeline"
)

// memStore serves one object from memory, each range after a random short delay so that ranges
// finish out of order, and fails every read from failFrom on when it is set.
type memStore struct {
	data     []byte
	failFrom int64 // -1: never
	reads    atomic.Int64
}

var errStopped = errors.New("the store stopped")

func (m *memStore) Stat(context.Context, string) (int64, string, error) {
	return int64(len(m.data)), "v1", nil
}

func (m *memStore) ReadRange(ctx context.Context, _, version string, off int64, p []byte) error {
	m.reads.Add(1)
	if version != "v1" {
		return errors.New("version not passed on")
	}
	if m.failFrom >= 0 && off >= m.failFrom {
		return errStopped
	}
	select {
	case <-time.After(time.Duration(rand.IntN(2000)) * time.Microsecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	copy(p, m.data[off:])
	return nil
}

func (m *memStore) Names(context.Context) ([]string, error) { return []string{"base.tar"}, nil }

// TestReader: the object comes out whole and in order whatever the order ranges finish in, the
// bytes held never pass the budget, and a failed range ends the stream with its error and
// gives every byte back.
func TestReader(t *testing.T) {
	data := make([]byte, 5<<20+123)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	tests := []struct {
		name      string
		jobs      int
		rangeSize int64
		budget    int64
		failFrom  int64
	}{
		{"one job", 1, 64 << 10, 256 << 10, -1},
		{"four jobs, budget of four ranges", 4, 64 << 10, 256 << 10, -1},
		{"more jobs than the budget has ranges", 8, 100 << 10, 300 << 10, -1},
		{"range larger than the budget", 2, 1 << 20, 512 << 10, -1},
		{"range larger than the object", 2, 8 << 20, 16 << 20, -1},
		{"the store stops mid-way", 4, 64 << 10, 256 << 10, 3 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &memStore{data: data, failFrom: tt.failFrom}
			budget := pipeline.NewBudget(tt.budget, int(tt.rangeSize))
			objs := &Objects{Store: st, Settings: Settings{Jobs: tt.jobs, RangeSize: tt.rangeSize, Budget: budget, Held: &Held{}}}
			r, err := objs.Open(context.Background(), "base.tar")
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			_, err = io.CopyBuffer(&got, r, make([]byte, 10000))
			r.Close()
			if tt.failFrom >= 0 {
				if !errors.Is(err, errStopped) || !errors.Is(objs.Failed(), errStopped) {
					t.Fatalf("read gave %v, Failed %v; want the store's error", err, objs.Failed())
				}
				if int64(got.Len()) > tt.failFrom || !bytes.Equal(got.Bytes(), data[:got.Len()]) {
					t.Fatalf("before the failure %d bytes passed on, not the object's first", got.Len())
				}
			} else if err != nil || !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("read %d bytes (%v), want the %d of the object in order", got.Len(), err, len(data))
			}
			if peak := objs.Settings.Held.Peak(); peak > budget.Total() && tt.rangeSize <= tt.budget {
				t.Errorf("held %d bytes at once, over the budget of %d", peak, budget.Total())
			}
			if n := objs.Settings.Held.now.Load(); n != 0 {
				t.Errorf("%d bytes still held after Close", n)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := budget.Drain(ctx); err != nil {
				t.Errorf("the budget was not given back: %v", err)
			}
		})
	}
}
