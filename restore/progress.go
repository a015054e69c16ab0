package restore

import (
	"context"
	"time"
)

// Progress is how far a restore has come.
type Progress struct {
	Source  string
	Files   int64 // files written (or compared, in a delta restore)
	Bytes   int64 // bytes written
	Total   int64 // the bytes the backup's manifest lists, once known; 0 before
	Elapsed time.Duration
}

// progressInterval is how often Observe hears of a restore.
const progressInterval = time.Second

// observe reports the job's progress about every second until the returned stop is called,
// which reports once more and waits for the reporter to end.
func (j *job) observe(ctx context.Context) (stop func()) {
	if j.opts.Observe == nil {
		return func() {}
	}
	began := j.opts.Now()
	report := func() {
		p := Progress{Source: j.src.Name, Files: j.x.tally.files.Load(), Bytes: j.x.tally.bytes.Load(), Elapsed: j.opts.Now().Sub(began)}
		j.x.mu.Lock()
		if j.x.parsed != nil {
			for _, f := range j.x.parsed.Files {
				p.Total += f.Size
			}
		}
		j.x.mu.Unlock()
		j.opts.Observe(p)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				report()
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		cancel()
		<-done
		report()
	}
}
