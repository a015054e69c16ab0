package main

import (
	"strings"
	"testing"
)

// TestConnString: -d, -h, -p and -U make the connection string as libpq's tools make it, the flags
// over what the DSN says, in keyword/value strings and URIs alike.
func TestConnString(t *testing.T) {
	tests := []struct {
		name  string
		flags connFlags
		dsn   string
		want  string
	}{
		{"DSN alone", connFlags{}, "host=db1 user=backup", "host=db1 user=backup"},
		{"flags alone", connFlags{host: "/run/pg", port: "5433", username: "bk"}, "", "host=/run/pg port=5433 user=bk"},
		{"flags over the DSN", connFlags{host: "db2"}, "host=db1 user=backup", "host=db1 user=backup host=db2"},
		{"-d a connection string", connFlags{dbname: "host=db1 dbname=app", username: "bk"}, "", "host=db1 dbname=app user=bk"},
		{"-d a database name", connFlags{dbname: "my app", host: "db1"}, "", "dbname='my app' host=db1"},
		{"-d a URI", connFlags{dbname: "postgres://db1/app"}, "", "postgres://db1/app"},
		{"flags over a URI", connFlags{port: "6432", username: "bk"}, "postgres://db1/app?sslmode=disable", "postgres://db1/app?sslmode=disable&port=6432&user=bk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.flags.connString(tt.dsn); got != tt.want {
				t.Errorf("connString(%q) = %q; want %q", tt.dsn, got, tt.want)
			}
			if _, err := parseDSN(tt.flags.connString(tt.dsn)); err != nil {
				t.Errorf("pgx cannot read it: %v", err)
			}
		})
	}
}

// TestConnCheck: flags that cannot make a connection are refused before any server is touched.
func TestConnCheck(t *testing.T) {
	tests := []struct {
		name  string
		flags connFlags
		dsn   string
		err   string
	}{
		{"fine", connFlags{host: "db1", port: "5432"}, "dbname=x", ""},
		{"twice", connFlags{dbname: "host=db1"}, "host=db2", "given twice"},
		{"password in the DSN not shown", connFlags{dbname: "host=db1"}, "password=s3cret", "(as given)"},
		{"-w and -W", connFlags{noPassword: true, askPassword: true}, "", "exclude each other"},
		{"-h a DSN", connFlags{host: "host=db1 user=x"}, "", "not a connection string"},
		{"-p not a number", connFlags{port: "pg"}, "", "no TCP port"},
		{"-p out of range", connFlags{port: "70000"}, "", "no TCP port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.flags.check(tt.dsn)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("check: %v; want %q", err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
