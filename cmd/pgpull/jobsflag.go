package main

import (
	"errors"
	"strconv"
)

// jobsFlag is -j: a number of fetch connections, or auto.
type jobsFlag struct {
	n    int
	auto bool
}

func (j *jobsFlag) Set(s string) error {
	if s == "auto" {
		*j = jobsFlag{auto: true}
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("not a number nor auto")
	}
	*j = jobsFlag{n: n}
	return nil
}

func (j *jobsFlag) String() string {
	if j.auto {
		return "auto"
	}
	return strconv.Itoa(j.n)
}

func (j *jobsFlag) Type() string { return "jobs" }
