package testdovecot

import "syscall"

// procAttr puts Dovecot in a process group of its own (so that stop can
// kill the master and all its children at once), and makes the master get
// SIGTERM when the test binary dies, so that a crashed test leaves no
// server behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// killGroup kills every process of the group led by pid.
func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }
