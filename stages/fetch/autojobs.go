package fetch

import "fmt"

// AutoJobs is -j auto's rule: start a few workers, add more (twice as many while each added one
// pays its way, else half as many again) while the fetch stage's throughput rises by more than
// Margin from one count to the next, go back to the count before when it does
// not, and stop at Max or when the server would have fewer than Spare free connections left for
// its other clients. It only decides; Pool measures and acts.
type AutoJobs struct {
	Start, Max int
	Margin     float64 // a rise of less than this share is no rise: 0.1 for 10%
	// Linear is the share of a proportional rise (twice the jobs, twice the bytes) that counts
	// as one: then the count doubles, else it grows by half.
	Linear float64
	Spare  int // free connections always left to the server's other clients
}

// Step is one decision: the workers to run from now on, whether the count is final, and why.
type Step struct {
	Jobs    int
	Settled bool
	Why     string
}

// Next decides after a window in which jobs workers fetched rate bytes per second. prevJobs and
// prevRate are the count before and what it fetched (prevJobs 0 after the first window); free
// is how many connections the server can still accept.
//
// When the last increase did not raise the throughput by Margin, the count goes back to prevJobs:
// the extra connections bought nothing and hold a slot on the server and a share of the memory
// budget each.
func (a AutoJobs) Next(jobs int, rate float64, prevJobs int, prevRate float64, free int) Step {
	// Not "rate < ...": a window that fetched nothing after one that fetched nothing is no rise.
	if prevJobs > 0 && !(rate > prevRate*(1+a.Margin)) {
		return Step{Jobs: prevJobs, Settled: true, Why: fmt.Sprintf("%d jobs fetched %s, %d fetched %s: no more than %.0f%% more, so back to %d",
			jobs, mbps(rate), prevJobs, mbps(prevRate), a.Margin*100, prevJobs)}
	}
	if jobs >= a.Max {
		return Step{Jobs: jobs, Settled: true, Why: fmt.Sprintf("%d jobs (%s) is the most -j auto runs", jobs, mbps(rate))}
	}
	room := free - a.Spare
	if room <= 0 {
		return Step{Jobs: jobs, Settled: true, Why: fmt.Sprintf("%d jobs (%s): the server has %d free connections and %d are left to others",
			jobs, mbps(rate), free, a.Spare)}
	}
	// Each count costs a window and a half, so a link that holds each connection back (latency,
	// a TCP window) must get its many connections in few steps: double while the last step paid
	// about in proportion, and after the first window, when there is nothing to compare with;
	// half as many again once the gains shrink.
	step := max(1, jobs/2)
	if prevJobs == 0 || rate >= prevRate*(1+a.Linear*float64(jobs-prevJobs)/float64(prevJobs)) {
		step = jobs
	}
	next := min(jobs+step, a.Max, jobs+room)
	why := fmt.Sprintf("%d jobs fetched %s", jobs, mbps(rate))
	if prevJobs > 0 {
		why += fmt.Sprintf(", %d fetched %s", prevJobs, mbps(prevRate))
	}
	return Step{Jobs: next, Why: why + fmt.Sprintf("; trying %d", next)}
}

func mbps(rate float64) string { return fmt.Sprintf("%.1f MB/s", rate/1e6) }
