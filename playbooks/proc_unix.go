//go:build unix

package playbooks

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// killGrace is how long a cancelled process group gets after SIGTERM
// before SIGKILL.
const killGrace = time.Second

// waitDelay bounds how long Wait waits for the output pipes once the
// process has exited (a descendant that escaped the group could hold them).
const waitDelay = 2 * time.Second

// runGroup starts cmd in its own process group and waits for it. When ctx
// ends, the whole group gets SIGTERM, then SIGKILL after a grace period.
// When the leader exits, whatever is left of its group is killed too, so a
// step never leaves background children behind.
//
// The group is always signalled while its leader is unreaped (observed
// with waitid(WNOWAIT)), so the leader's pid, which is the group id, can
// not have been reused by an unrelated process.
func runGroup(ctx context.Context, cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		for {
			var info unix.Siginfo
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				return
			}
		}
	}()
	var cause error
	select {
	case <-exited:
	case <-ctx.Done():
		cause = context.Cause(ctx)
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(killGrace):
		}
	}
	// The leader has exited (or is being killed) but is not reaped yet:
	// kill the rest of its group.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-exited
	err := cmd.Wait()
	if cause != nil {
		return cause
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		return errors.New("the process exited but something kept its output open; it was cut off")
	}
	return err
}
