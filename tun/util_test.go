package tun

import "runtime"

func runtimeGosched() { runtime.Gosched() }

func (q *faultQueue) pendingLocked(mu interface {
	Lock()
	Unlock()
}) int {
	mu.Lock()
	defer mu.Unlock()
	return q.pending()
}
