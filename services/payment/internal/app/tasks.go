package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// errRetry asks the runner to run the task again at the given time without counting it as a failure.
type retryAt struct{ at time.Time }

func (r retryAt) Error() string { return "again at " + r.at.Format(time.RFC3339Nano) }

// RunTasks executes durable tasks until ctx is done: mark-order-paid, poll-trade and refund
// rows are the only memory of unfinished work, so a restart simply resumes them.
func (a *App) RunTasks(ctx context.Context, workers int) error {
	if workers <= 0 {
		workers = 4
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		due, err := a.tasks.DueTasks(ctx, a.now(), 50)
		if err != nil && ctx.Err() == nil {
			a.log.Error("load due tasks", "err", err)
		}
		for _, t := range due {
			lease := a.now().Add(time.Minute).Truncate(time.Microsecond) // the column's precision
			ok, err := a.tasks.ClaimTask(ctx, t, lease)
			if err != nil || !ok {
				continue
			}
			t.Attempt++
			t.NextRunAt = lease
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			wg.Add(1)
			go func(t DueTask) {
				defer wg.Done()
				defer func() { <-sem }()
				a.runTask(context.WithoutCancel(ctx), t)
			}(t)
		}
		if len(due) == 50 {
			continue // more waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-a.wake:
		}
	}
}

func (a *App) runTask(ctx context.Context, t DueTask) {
	ctx, cancel := context.WithTimeout(ctx, 50*time.Second) // inside the one-minute lease
	defer cancel()
	var err error
	switch t.Kind {
	case TaskMarkOrderPaid:
		err = a.markOrderPaid(ctx, t.RefID)
	case TaskPollTrade:
		err = a.pollTrade(ctx, t.RefID, t.Attempt)
	case TaskRefund:
		err = a.advanceRefund(ctx, t.RefID)
	default:
		err = fmt.Errorf("unknown task kind %q", t.Kind)
	}
	var again retryAt
	switch {
	case err == nil:
		if derr := a.tasks.DeleteTask(ctx, t); derr != nil {
			a.log.Error("delete finished task", "kind", t.Kind, "ref", t.RefID, "err", derr)
		}
	case errors.As(err, &again):
		if rerr := a.tasks.RetryTask(ctx, t, again.at, ""); rerr != nil {
			a.log.Error("reschedule task", "kind", t.Kind, "ref", t.RefID, "err", rerr)
		}
	default:
		next := a.now().Add(a.backoff(t.Attempt))
		a.log.Warn("task failed; will retry", "kind", t.Kind, "ref", t.RefID, "attempt", t.Attempt, "retry_at", next, "err", err)
		if rerr := a.tasks.RetryTask(ctx, t, next, err.Error()); rerr != nil {
			a.log.Error("reschedule task", "kind", t.Kind, "ref", t.RefID, "err", rerr)
		}
	}
}

// backoff for failed tasks: 200ms doubling, capped.
func (a *App) backoff(attempt int) time.Duration {
	d := 200 * time.Millisecond
	for i := 1; i < attempt && d < a.cfg.TaskRetryMax; i++ {
		d *= 2
	}
	return min(d, a.cfg.TaskRetryMax)
}

// pollDelay is the provider query backoff after prepay (5s, 10s, 30s, 1m, 2m, then 5m),
// multiplied by PAYMENT_POLL_SCALE.
func (a *App) pollDelay(n int) time.Duration {
	schedule := [...]time.Duration{5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute}
	d := schedule[min(n, len(schedule)-1)]
	return time.Duration(float64(d) * a.cfg.PollScale)
}
