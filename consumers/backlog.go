package consumers

// BacklogSetter is implemented by a Worker that batches differently while its
// partition is catching up. Before Run, the group calls SetBacklog with a function
// returning how many fetched slices of the partition are queued for the worker
// beyond the one being handed to it (0 when the worker keeps up); the function is a
// channel length, cheap and safe to call from Run's goroutine.
type BacklogSetter interface {
	SetBacklog(queued func() int)
}

// HighWatermarkSetter is implemented by a Worker that flushes differently once it
// reaches the end of its partition. Before Run, the group calls SetHighWatermark with
// a function returning the partition's high watermark as of the latest fetch that
// brought it records (-1 before any), stored before those records are queued: a
// worker that has taken a record at high-1 holds everything the partition held then.
// The function is an atomic load, cheap and safe to call from Run's goroutine.
type HighWatermarkSetter interface {
	SetHighWatermark(high func() int64)
}
