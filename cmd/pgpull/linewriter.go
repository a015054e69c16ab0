package main

import (
	"io"
	"sync"
)

// lineWriter serialises writes to w: the stages log from many goroutines, and a line must reach
// stderr whole, whatever writer stderr is.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
