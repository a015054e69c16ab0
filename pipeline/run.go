package pipeline

import (
	"context"

	"github.com/sourcegraph/conc/pool"
)

// Go runs one stage in g and closes the stage's output when it returns, which is how the next
// stage learns that the stream has ended. The first stage to fail cancels g's context, and every
// stage returns when that context is done.
func Go[T any](g *pool.ContextPool, out chan<- T, stage func(ctx context.Context) error) {
	g.Go(func(ctx context.Context) error {
		defer close(out)
		return stage(ctx)
	})
}

// GoAll runs n copies of a stage sharing one output, closed when the last copy returns.
func GoAll[T any](g *pool.ContextPool, out chan<- T, n int, stage func(ctx context.Context) error) {
	stages := make([]func(context.Context) error, n)
	for i := range stages {
		stages[i] = stage
	}
	GoEach(g, out, stages...)
}

// GoEach runs several stages that merge into one output, closed when the last of them returns.
func GoEach[T any](g *pool.ContextPool, out chan<- T, stages ...func(ctx context.Context) error) {
	Go(g, out, func(ctx context.Context) error {
		inner := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
		for _, stage := range stages {
			inner.Go(stage)
		}
		return inner.Wait()
	})
}

// Each receives values from in until it closes, does its work on each, and sends it on to out:
// the loop of a stage whose workers pass what they are given along.
func Each[T any](ctx context.Context, in <-chan T, out chan<- T, do func(T) error) error {
	return EachUntil(ctx, nil, in, out, do)
}

// EachUntil is Each that also returns, with nil, once quit is closed: after the value in hand, never
// in the middle of one. A nil quit never closes.
func EachUntil[T any](ctx context.Context, quit <-chan struct{}, in <-chan T, out chan<- T, do func(T) error) error {
	for {
		var v T
		var ok bool
		select {
		case <-quit:
			return nil
		default:
		}
		select {
		case v, ok = <-in:
			if !ok {
				return nil
			}
		case <-quit:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := do(v); err != nil {
			return err
		}
		if err := Send(ctx, out, v); err != nil {
			return err
		}
	}
}

// Send hands v to out, or gives up with ctx's error once ctx is done: every send between stages
// goes through it, so that no stage blocks on a consumer that has already failed.
func Send[T any](ctx context.Context, out chan<- T, v T) error {
	select {
	case out <- v:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
