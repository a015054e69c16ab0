package changes

import (
	"context"
	"errors"
)

// Fallback runs First and, when it finds the WAL summaries unusable, says so in one line through
// Log and runs Then: an incremental backup still saves what it can without the summaries.
type Fallback struct {
	First, Then Method
	Log         func(format string, args ...any)
	// Ran is the method whose answer Changes returned, once it has.
	Ran Method
}

func (f *Fallback) Name() string { return f.First.Name() + ", else " + f.Then.Name() }

func (f *Fallback) Changes(ctx context.Context, files []Listed) ([]File, error) {
	out, err := f.First.Changes(ctx, files)
	var unusable *UnusableError
	if !errors.As(err, &unusable) {
		f.Ran = f.First
		return out, err
	}
	f.Log("incremental: %v; comparing %s instead", err, f.Then.Name())
	f.Ran = f.Then
	return f.Then.Changes(ctx, files)
}
