package catalogtest

import (
	"errors"
	"testing"
	"time"

	"ferry/internal/catalog"
)

func testPolicies(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	created := time.Unix(1_700_000_000, 0)
	p := catalog.Policy{Name: "home", Source: "/srv/home", Tape: "ndmp://local/tape1", Pool: "daily",
		Full: "0 2 * * sun", Incremental: "0 2 * * mon-sat", Keep: "30d", Created: created}
	must(t, c.AddPolicy(x, p))
	must(t, c.AddPolicy(x, catalog.Policy{Name: "etc", Source: "/etc", Full: "@daily", Keep: "3"}))
	if err := c.AddPolicy(x, p); !errors.Is(err, catalog.ErrPolicyExists) {
		t.Fatalf("add twice: %v", err)
	}
	ps, err := c.Policies(x)
	must(t, err)
	if len(ps) != 2 || ps[0].Name != "etc" || ps[0].Created.IsZero() || !ps[0].FullDue.Equal(ps[0].Created) {
		t.Fatalf("Policies = %+v", ps)
	}
	got, err := c.Policy(x, "home")
	must(t, err)
	p.FullDue, p.IncrDue = created, created // no due time before the policy existed
	if !got.Created.Equal(created) || !got.FullDue.Equal(created) || !got.IncrDue.Equal(created) {
		t.Fatalf("Policy times = %+v", got)
	}
	got.Created, got.FullDue, got.IncrDue = p.Created, p.FullDue, p.IncrDue
	if got != p {
		t.Fatalf("Policy = %+v, want %+v", got, p)
	}

	// A due time is claimed once: the second claim from the same
	// previous time loses.
	due := created.Add(time.Hour)
	ok, err := c.ClaimDue(x, "home", catalog.PolicyFull, created, due)
	must(t, err)
	if !ok {
		t.Fatal("first claim lost")
	}
	if ok, err := c.ClaimDue(x, "home", catalog.PolicyFull, created, due); err != nil || ok {
		t.Fatalf("second claim = %v, %v; want lost", ok, err)
	}
	if ok, err := c.ClaimDue(x, "home", catalog.PolicyIncremental, created, due); err != nil || !ok {
		t.Fatalf("the incremental schedule claims apart: %v, %v", ok, err)
	}
	if ok, err := c.ClaimDue(x, "nosuch", catalog.PolicyFull, time.Time{}, due); err != nil || ok {
		t.Fatalf("claim on a missing policy = %v, %v", ok, err)
	}
	if got, _ := c.Policy(x, "home"); !got.FullDue.Equal(due) || !got.IncrDue.Equal(due) {
		t.Fatalf("after claims: %+v", got)
	}

	r1 := catalog.PolicyRun{Policy: "home", Kind: catalog.PolicyFull, Cause: catalog.CauseSchedule, Due: due, Attempt: 1, Started: due}
	_, err = c.StartPolicyRun(x, &r1)
	must(t, err)
	r1.State, r1.Ended, r1.Error, r1.JobID = catalog.RunFailed, due.Add(time.Minute), "no tape", 7
	must(t, c.FinishPolicyRun(x, r1))
	r2 := catalog.PolicyRun{Policy: "home", Kind: catalog.PolicyFull, Cause: catalog.CauseRetry, Due: due, Attempt: 2, Started: due.Add(2 * time.Minute)}
	_, err = c.StartPolicyRun(x, &r2)
	must(t, err)
	runs, err := c.PolicyRuns(x, "home", 0)
	must(t, err)
	if len(runs) != 2 || runs[0].ID != r2.ID || runs[0].State != catalog.RunRunning || runs[1] != r1 {
		t.Fatalf("PolicyRuns = %+v\nwant [%+v %+v]", runs, r2, r1)
	}
	if runs, _ := c.PolicyRuns(x, "home", 1); len(runs) != 1 || runs[0].ID != r2.ID {
		t.Fatalf("PolicyRuns limit 1 = %+v", runs)
	}

	must(t, c.DeletePolicy(x, "home"))
	if _, err := c.Policy(x, "home"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("deleted policy: %v", err)
	}
	if runs, _ := c.PolicyRuns(x, "home", 0); len(runs) != 0 {
		t.Fatalf("runs of a deleted policy: %+v", runs)
	}
	if err := c.DeletePolicy(x, "home"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}
