package consumers

import "context"

// With Options.CaughtUp set, a backlog's last offsets are committed when they are
// stored, not at the next commit interval: once a mark leaves every partition the
// member owns marked up to the end of what it fetched, the member has caught up,
// and its commit loop commits at once. Lag reads 0 and a restart replays nothing as soon as the
// backlog is stored. While records keep arriving some partition always holds
// unmarked ones, so a steady stream commits at the interval as before.

// markedTo is called after a worker marked the record at off of the partition
// whose history is h: when that leaves the member caught up (markedAll), the commit
// loop commits now.
func (g *Group) markedTo(h *partHist, off int64) {
	if g.o.CaughtUp != nil && off+1 >= h.high.Load() && g.markedAll() {
		select {
		case g.commitNow <- struct{}{}:
		default: // a commit is pending already; it commits this mark too
		}
	}
}

// markedAll reports whether every partition the member owns has its worker's
// marks at the end of what was fetched of it (the high watermark of its latest
// fetch with records): nothing fetched waits to be stored.
func (g *Group) markedAll() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.parts {
		if high := p.hist.high.Load(); high >= 0 && p.hist.marked.Load()+1 < high {
			return false
		}
	}
	return true
}

// commitCaughtUp commits the marked offsets each time markedTo finds the member
// caught up, until ctx is done. A failed commit is left to the next interval's.
func (g *Group) commitCaughtUp(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.commitNow:
			err := g.cl.CommitMarkedOffsets(ctx)
			switch {
			case err == nil:
				g.o.CaughtUp()
			case err != nil && ctx.Err() == nil:
				g.log.Debug("commit after catching up failed; the next interval's commit retries", "err", err)
			}
		}
	}
}
