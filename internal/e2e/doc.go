// Package e2e holds Sluice's end-to-end tests: real kfake brokers, the real local
// ClickHouse server, whole Sluice instances (in-process and as separate processes),
// known ground truth from the load generator, and exact comparisons of what ClickHouse
// holds afterwards. It has no non-test code but this comment.
package e2e
