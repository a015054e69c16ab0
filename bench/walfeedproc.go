package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// walFeedProcess is a running `pgpull wal`; its stderr goes to a file, readable while it runs.
type walFeedProcess struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed when the process has ended
}

// startWALFeed starts `pgpull wal args...` with its stderr in log.
func startWALFeed(ctx context.Context, bin, log string, args ...string) (*walFeedProcess, error) {
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, bin, append([]string{"wal"}, args...)...)
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting pgpull wal: %w", err)
	}
	p := &walFeedProcess{cmd: cmd, log: log, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

func (p *walFeedProcess) stderr() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// stop interrupts the feed, as a user stops it, and fails unless it exits 0 within 30 s.
func (p *walFeedProcess) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		return err
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.kill()
		return fmt.Errorf("pgpull wal did not stop within 30 s of SIGINT\n%s", p.stderr())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("pgpull wal after SIGINT: exit %d\n%s", code, p.stderr())
	}
	return nil
}

// kill ends the feed if it still runs, and waits for it.
func (p *walFeedProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}
