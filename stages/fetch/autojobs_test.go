package fetch

import "testing"

func TestAutoJobsNext(t *testing.T) {
	a := AutoJobs{Start: 2, Max: 16, Margin: 0.1, Linear: 0.8, Spare: 3}
	tests := []struct {
		name     string
		jobs     int
		rate     float64
		prevJobs int
		prevRate float64
		free     int
		want     int
		settled  bool
	}{
		{"first window doubles", 2, 20e6, 0, 0, 50, 4, false},
		{"rising in proportion doubles", 4, 40e6, 2, 20e6, 50, 8, false},
		{"rising at 80% of proportion doubles", 4, 36e6, 2, 20e6, 50, 8, false},
		{"rising less than in proportion grows by half", 4, 35e6, 2, 20e6, 50, 6, false},
		{"rising grows by half", 4, 36e6, 3, 30e6, 50, 6, false},
		{"rise within the margin drops back", 6, 42e6, 4, 40e6, 50, 4, true},
		{"flat drops back", 6, 40e6, 4, 40e6, 50, 4, true},
		{"falling drops back", 6, 30e6, 4, 40e6, 50, 4, true},
		{"a rise beyond the margin grows", 6, 45e6, 4, 40e6, 50, 9, false},
		{"nothing fetched twice drops back", 3, 0, 2, 0, 50, 2, true},
		{"rising stops at the maximum", 16, 160e6, 12, 120e6, 50, 16, true},
		{"rising is capped by the maximum", 12, 120e6, 8, 80e6, 50, 16, false},
		{"no free connections beyond the spare", 4, 40e6, 3, 30e6, 3, 4, true},
		{"few free connections cap the step", 4, 40e6, 3, 30e6, 4, 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := a.Next(tt.jobs, tt.rate, tt.prevJobs, tt.prevRate, tt.free)
			if s.Jobs != tt.want || s.Settled != tt.settled || s.Why == "" {
				t.Errorf("Next(%d, %g, %d, %g, %d) = %+v; want %d jobs, settled %v, with a reason",
					tt.jobs, tt.rate, tt.prevJobs, tt.prevRate, tt.free, s, tt.want, tt.settled)
			}
		})
	}
}
