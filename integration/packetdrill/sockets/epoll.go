package sockets

import (
	"sort"
	"syscall"
)

// epollItem is one registered descriptor. For edge-triggered items the
// kernel queues the item on the ready list only when a wake-up of a kind
// the item listens for happens; the wake-up counters emulate that.
type epollItem struct {
	fd     int
	events uint32
	data   uint64
	ready  bool
	rwake  uint64
	wwake  uint64
}

// EpollEvent is one event returned by EpollWait.
type EpollEvent struct {
	Events uint32
	FD     int
	Data   uint64
}

// EpollCreate is epoll_create(2).
func (t *Table) EpollCreate(size int) (int, error) {
	if size <= 0 {
		return -1, syscall.EINVAL
	}
	return t.alloc(&file{kind: kindEpoll, items: map[int]*epollItem{}}), nil
}

func (t *Table) epoll(epfd int) (*file, error) {
	f := t.fds[epfd]
	if f == nil {
		return nil, syscall.EBADF
	}
	if f.kind != kindEpoll {
		return nil, syscall.EINVAL
	}
	return f, nil
}

func (t *Table) wakeups(fd int) (r, w uint64, ok bool) {
	f := t.fds[fd]
	if f == nil || f.conn == nil {
		return 0, 0, false
	}
	wc, ok := f.conn.(WakeCounter)
	if !ok {
		return 0, 0, false
	}
	r, w = wc.Wakeups()
	return r, w, true
}

// EpollCtl is epoll_ctl(2).
func (t *Table) EpollCtl(epfd, op, fd int, events uint32, data uint64) error {
	ep, err := t.epoll(epfd)
	if err != nil {
		return err
	}
	if t.fds[fd] == nil {
		return syscall.EBADF
	}
	if events&EPOLLET != 0 {
		if _, _, ok := t.wakeups(fd); !ok && t.fds[fd].conn != nil {
			return unsupported("EPOLLET (the stack's connections do not count wake-ups)")
		}
		if t.fds[fd].conn == nil {
			return unsupported("EPOLLET on a socket that is not connected")
		}
	}
	it := ep.items[fd]
	switch op {
	case EPOLL_CTL_ADD:
		if it != nil {
			return syscall.EEXIST
		}
		it = &epollItem{fd: fd}
		ep.items[fd] = it
	case EPOLL_CTL_MOD:
		if it == nil {
			return syscall.ENOENT
		}
	case EPOLL_CTL_DEL:
		if it == nil {
			return syscall.ENOENT
		}
		delete(ep.items, fd)
		return nil
	default:
		return syscall.EINVAL
	}
	it.events, it.data = events, data
	// ep_insert/ep_modify poll the file once and queue it if it is ready.
	it.ready = t.readiness(fd)&(events|EPOLLERR|EPOLLHUP) != 0
	it.rwake, it.wwake, _ = t.wakeups(fd)
	return nil
}

// EpollWait is epoll_wait(2) with a zero timeout (the runner handles
// waiting): it returns up to max ready events.
func (t *Table) EpollWait(epfd int, max int) ([]EpollEvent, error) {
	ep, err := t.epoll(epfd)
	if err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, syscall.EINVAL
	}
	fds := make([]int, 0, len(ep.items))
	for fd := range ep.items {
		fds = append(fds, fd)
	}
	sort.Ints(fds)
	var out []EpollEvent
	for _, fd := range fds {
		it := ep.items[fd]
		mask := it.events | EPOLLERR | EPOLLHUP
		if it.events&EPOLLET != 0 {
			r, w, _ := t.wakeups(fd)
			if (r != it.rwake && mask&(EPOLLIN|EPOLLRDHUP|EPOLLERR|EPOLLHUP) != 0) ||
				(w != it.wwake && mask&EPOLLOUT != 0) {
				it.ready = true
			}
			it.rwake, it.wwake = r, w
		} else {
			it.ready = true // level-triggered items are always re-checked
		}
		if !it.ready || len(out) >= max {
			continue
		}
		rev := t.readiness(fd) & mask
		if it.events&EPOLLET != 0 {
			it.ready = false
		}
		if rev != 0 {
			out = append(out, EpollEvent{Events: rev, FD: fd, Data: it.data})
		}
	}
	return out, nil
}
