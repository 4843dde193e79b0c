package consumers

// BacklogSetter is implemented by a Worker that batches differently while its
// partition is catching up. Before Run, the group calls SetBacklog with a function
// returning how many fetched slices of the partition are queued for the worker
// beyond the one being handed to it (0 when the worker keeps up); the function is a
// channel length, cheap and safe to call from Run's goroutine.
type BacklogSetter interface {
	SetBacklog(queued func() int)
}
