package main

import (
	"net"
	"strings"
)

// defaultJobs is -j's default for a server on another machine, and the most localJobs gives;
// bench/RESULTS.md has the measurements behind both.
const defaultJobs = 4

// farJobs is -j's default for a server whose round trip says it is far (backup.Options.FarJobs),
// whatever its address: on the bench's 20 ms link -j 8 took 2.82 s against -j 4's 4.60 s.
const farJobs = 8

// localJobs is -j's default when the server runs on this machine: as many as its CPUs, from 2 to
// defaultJobs. There the server's fetch backends and pgpull share the CPUs, each connection a
// backend reading and sending while pgpull checks and writes what it sent, so connections past the
// CPUs only contend. On the 2-core bench machine, locally, -j 2 took 0.67 s on pgbench scale 20
// and 1.91 s on scale 100, -j 4 0.77 s and 2.17 s (bench/RESULTS.md, 2026-12-07).
func localJobs(cpus int) int { return min(max(cpus, 2), defaultJobs) }

// onThisMachine says whether host, as a connection string gives it, is this machine: a Unix
// socket's directory, localhost or a loopback address. A proxy listening on a loopback address
// for a server elsewhere looks local too: give -j there.
func onThisMachine(host string) bool {
	if strings.HasPrefix(host, "/") || strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
