package main

import "testing"

func TestOnThisMachine(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"/var/run/postgresql", true},
		{"/tmp/pgpull-abc", true},
		{"localhost", true},
		{"LocalHost", true},
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::1", true},
		{"db1.example.com", false},
		{"10.0.0.5", false},
		{"192.168.1.10", false},
		{"2001:db8::1", false},
		{"", false},
	} {
		if got := onThisMachine(tc.host); got != tc.want {
			t.Errorf("onThisMachine(%q) = %v; want %v", tc.host, got, tc.want)
		}
	}
}

func TestLocalJobs(t *testing.T) {
	for _, tc := range []struct{ cpus, want int }{{1, 2}, {2, 2}, {3, 3}, {4, 4}, {16, 4}} {
		if got := localJobs(tc.cpus); got != tc.want {
			t.Errorf("localJobs(%d) = %d; want %d", tc.cpus, got, tc.want)
		}
	}
}
