package main

import "syscall"

// procAttr makes a server get SIGTERM if the load generator dies without stopping it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
