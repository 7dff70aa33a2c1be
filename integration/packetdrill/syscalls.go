package packetdrill

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/ustack/ustack/integration/packetdrill/script"
	"github.com/ustack/ustack/integration/packetdrill/sockets"
)

// callResult is what a system call returned, plus a mismatch in an output
// argument (getsockopt's value, epoll_wait's events ...).
type callResult struct {
	ret      int64
	err      error // syscall.Errno, sockets.ErrBlocked or an unsupported error
	mismatch string
}

// blockLimit bounds how long a call the script did not mark blocking may
// block before the run fails (packetdrill would hang).
const blockLimit = 10_000_000

// awaitLimit is how long a new call waits for a blocking call still in
// progress (packetdrill's await_idle_thread waits one second).
const awaitLimit = 1_000_000

func (rn *run) syscallEvent(ev *script.Event, start, end, tol int64) error {
	sc := ev.Syscall
	if err := rn.waitUntil(ev, start, tol, "system call start"); err != nil {
		return err
	}
	if rn.pending != nil {
		if err := rn.awaitPending(ev.Line, "another system call started"); err != nil {
			return err
		}
	}
	call, err := rn.prepare(ev)
	if err != nil {
		return err
	}
	switch sc.Name {
	case "write", "send", "sendto", "sendmsg":
		rn.idle.write(rn.now())
	}
	res := call()
	if res.err == sockets.ErrBlocked {
		if sc.Blocking {
			rn.pending = &pendingCall{ev: ev, start: start, end: end, call: call}
			rn.logf("%s %s blocks", script.FormatUsecs(rn.now()), sc.Name)
			return nil
		}
		// The script expects it not to block: like a kernel thread parked in
		// the call, only timers can release it.
		deadline := rn.now() + blockLimit
		for res.err == sockets.ErrBlocked {
			if rn.now() >= deadline {
				return failf(ev.Line, "%s blocked for %s sec although the script gives no end time (...)", sc.Name, script.FormatUsecs(blockLimit))
			}
			if err := rn.advanceTo(rn.now() + 1000); err != nil {
				return err
			}
			res = call()
		}
	}
	rn.noteWrite(sc, res)
	if err := rn.checkResult(ev, res); err != nil {
		return err
	}
	if sc.Blocking {
		return rn.checkEnd(ev, start, end)
	}
	return nil
}

func (rn *run) checkEnd(ev *script.Event, start, end int64) error {
	tol := rn.tolerance(end - start)
	now := rn.now()
	if now < end-tol || now > end+tol {
		return failf(ev.Line, "timing error: expected system call return at %s sec but happened at %s sec; tolerance %s sec",
			script.FormatUsecs(end), script.FormatUsecs(now), script.FormatUsecs(tol))
	}
	return nil
}

// retryPending retries a blocked call after the world changed.
func (rn *run) retryPending() error {
	p := rn.pending
	if p == nil {
		return nil
	}
	res := p.call()
	if res.err == sockets.ErrBlocked {
		return nil
	}
	rn.pending = nil
	rn.logf("%s %s returns %d", script.FormatUsecs(rn.now()), p.ev.Syscall.Name, res.ret)
	rn.noteWrite(p.ev.Syscall, res)
	if err := rn.checkResult(p.ev, res); err != nil {
		return err
	}
	return rn.checkEnd(p.ev, p.start, p.end)
}

func (rn *run) awaitPending(line int, why string) error {
	deadline := rn.now() + awaitLimit
	for rn.pending != nil && rn.now() < deadline {
		if err := rn.advanceTo(min(deadline, rn.now()+1000)); err != nil {
			return err
		}
	}
	if rn.pending != nil {
		return failf(rn.pending.ev.Line, "blocking %s call still in progress when %s (line %d)", rn.pending.ev.Syscall.Name, why, line)
	}
	return nil
}

func (rn *run) checkResult(ev *script.Event, res callResult) error {
	sc := ev.Syscall
	if res.err != nil {
		var ue *sockets.UnsupportedError
		if errors.As(res.err, &ue) {
			return &scriptError{line: ev.Line, msg: ue.Error(), unsupported: true}
		}
	}
	var errno syscall.Errno
	if res.err != nil {
		if !errors.As(res.err, &errno) {
			return failf(ev.Line, "runtime error in %s call: %v", sc.Name, res.err)
		}
		res.ret = -1
	}
	if (sc.Name == "socket" || sc.Name == "accept" || sc.Name == "accept4") && res.ret >= 0 && errno == 0 {
		rn.underTest = res.ret
	}
	if want, ok := sc.Ret.(*script.Int); ok && returnsFD(sc.Name) && want.Value >= 0 && res.ret >= 0 && errno == 0 {
		if rn.fdMap == nil {
			rn.fdMap = map[int64]int64{}
		}
		rn.fdMap[want.Value] = res.ret
		res.ret = want.Value
	}
	actual := fmt.Sprintf("%d", res.ret)
	if errno != 0 {
		actual += fmt.Sprintf(" with errno %d (%s)", int(errno), sockets.ErrnoName(errno))
	}
	switch want := sc.Ret.(type) {
	case script.Ellipsis:
	case *script.Int:
		if want.Value != res.ret {
			return failf(ev.Line, "runtime error in %s call: Expected result %d but got %s", sc.Name, want.Value, actual)
		}
	default:
		v, err := rn.intValue(sc.Ret)
		if err != nil {
			return failf(ev.Line, "bad expected result %s: %v", sc.Ret, err)
		}
		if v != res.ret {
			return failf(ev.Line, "runtime error in %s call: Expected result %d but got %s", sc.Name, v, actual)
		}
	}
	if sc.Errno != "" {
		want, ok := sockets.Errnos[sc.Errno]
		if !ok {
			return &scriptError{line: ev.Line, msg: "errno " + sc.Errno, unsupported: true}
		}
		if errno != want {
			return failf(ev.Line, "runtime error in %s call: Expected errno %d (%s) but got %s", sc.Name, int(want), sc.Errno, actual)
		}
	} else if errno != 0 {
		if _, ok := sc.Ret.(script.Ellipsis); !ok {
			return failf(ev.Line, "runtime error in %s call: Expected non-negative result but got %s", sc.Name, actual)
		}
	}
	if res.mismatch != "" {
		return failf(ev.Line, "runtime error in %s call: %s", sc.Name, res.mismatch)
	}
	return nil
}

// noteWrite remembers where each write ended in the flow's sequence space
// (the first connection's: data starts at relative sequence 1): Linux
// marks PSH on the segment that ends a write (tcp_push).
func (rn *run) noteWrite(sc *script.Syscall, res callResult) {
	switch sc.Name {
	case "write", "send", "sendto", "sendmsg":
	default:
		return
	}
	if res.err != nil || res.ret <= 0 {
		return
	}
	rn.written += uint32(res.ret)
	if rn.writeEnds == nil {
		rn.writeEnds = map[uint32]bool{}
	}
	rn.writeEnds[1+rn.written] = true
}

func returnsFD(name string) bool {
	switch name {
	case "socket", "accept", "accept4", "epoll_create", "epoll_create1":
		return true
	}
	return false
}

// intValue evaluates an integer expression: literal, symbol, a|b.
func (rn *run) intValue(e script.Expr) (int64, error) {
	switch v := e.(type) {
	case *script.Int:
		return v.Value, nil
	case *script.Word:
		if n, ok := sockets.Symbols[v.Name]; ok {
			return n, nil
		}
		return 0, unsupportedf("symbol %s", v.Name)
	case *script.Or:
		var n int64
		for _, t := range v.Terms {
			x, err := rn.intValue(t)
			if err != nil {
				return 0, err
			}
			n |= x
		}
		return n, nil
	case *script.Array:
		if len(v.Elems) == 1 {
			return rn.intValue(v.Elems[0])
		}
	}
	return 0, fmt.Errorf("expected an integer, got %s", e)
}

func isEllipsis(e script.Expr) bool { _, ok := e.(script.Ellipsis); return ok }

// args checks the argument count.
func wantArgs(ev *script.Event, n ...int) error {
	got := len(ev.Syscall.Args)
	for _, w := range n {
		if got == w {
			return nil
		}
	}
	return failf(ev.Line, "%s: wrong number of arguments (%d)", ev.Syscall.Name, got)
}

// prepare evaluates a call's arguments once and returns the call, which
// may run several times while it blocks.
func (rn *run) prepare(ev *script.Event) (func() callResult, error) {
	sc := ev.Syscall
	a := sc.Args
	fdArg := func() (int, error) {
		if len(a) == 0 {
			return 0, failf(ev.Line, "%s: missing descriptor", sc.Name)
		}
		v, err := rn.intValue(a[0])
		if err != nil {
			return 0, failf(ev.Line, "%s: bad descriptor %s", sc.Name, a[0])
		}
		return int(rn.liveFD(v)), nil
	}
	argInt := func(i int) (int64, error) {
		if i >= len(a) {
			return 0, failf(ev.Line, "%s: missing argument %d", sc.Name, i+1)
		}
		if isEllipsis(a[i]) {
			return -1, nil
		}
		v, err := rn.intValue(a[i])
		if err != nil {
			var ue *sockets.UnsupportedError
			if errors.As(err, &ue) {
				return 0, err
			}
			return 0, failf(ev.Line, "%s: argument %d: %v", sc.Name, i+1, err)
		}
		return v, nil
	}
	t := rn.tab
	ret := func(n int64, err error) callResult { return callResult{ret: n, err: err} }
	switch sc.Name {
	case "socket":
		if err := wantArgs(ev, 3); err != nil {
			return nil, err
		}
		d, err1 := argInt(0)
		ty, err2 := argInt(1)
		p, err3 := argInt(2)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, err
		}
		return func() callResult { fd, err := t.Socket(d, ty, p); return ret(int64(fd), err) }, nil
	case "bind", "connect":
		if err := wantArgs(ev, 3); err != nil {
			return nil, err
		}
		fd, err := fdArg()
		if err != nil {
			return nil, err
		}
		addr, err := rn.sockaddr(a[1])
		if err != nil {
			return nil, err
		}
		if sc.Name == "bind" {
			return func() callResult {
				err := t.Bind(fd, addr)
				return ret(0, err)
			}, nil
		}
		return func() callResult { return ret(0, t.Connect(fd, addr)) }, nil
	case "listen":
		if err := wantArgs(ev, 2); err != nil {
			return nil, err
		}
		fd, err := fdArg()
		if err != nil {
			return nil, err
		}
		backlog, err := argInt(1)
		if err != nil {
			return nil, err
		}
		return func() callResult {
			err := t.Listen(fd, int(backlog))
			if err == nil {
				if v, gerr := t.BoundPort(fd); gerr == nil {
					rn.listenPort = v
				}
			}
			return ret(0, err)
		}, nil
	case "accept", "accept4":
		if err := wantArgs(ev, 3, 4); err != nil {
			return nil, err
		}
		fd, err := fdArg()
		if err != nil {
			return nil, err
		}
		return func() callResult { n, err := t.Accept(fd); return ret(int64(n), err) }, nil
	case "read", "recv", "recvfrom":
		if err := wantArgs(ev, 3, 4, 6); err != nil {
			return nil, err
		}
		fd, err := fdArg()
		if err != nil {
			return nil, err
		}
		n, err := argInt(2)
		if err != nil {
			return nil, err
		}
		if len(a) > 3 {
			if fl, err := argInt(3); err != nil || fl > 0 {
				return nil, unsupportedf("%s flags %s", sc.Name, a[3])
			}
		}
		return func() callResult { got, err := t.Read(fd, int(n)); return ret(int64(got), err) }, nil
	case "write", "send", "sendto":
		if err := wantArgs(ev, 3, 4, 6); err != nil {
			return nil, err
		}
		fd, err := fdArg()
		if err != nil {
			return nil, err
		}
		n, err := argInt(2)
		if err != nil {
			return nil, err
		}
		var flags sockets.WriteFlags
		if len(a) > 3 {
			fl, err := argInt(3)
			if err != nil {
				return nil, err
			}
			if flags, err = writeFlags(fl); err != nil {
				return nil, err
			}
		}
		return func() callResult { got, err := t.Write(fd, int(n), flags); return ret(int64(got), err) }, nil
	case "sendmsg":
		return rn.prepareSendmsg(ev, fdArg, argInt)
	case "recvmsg":
		return rn.prepareRecvmsg(ev, fdArg, argInt)
	case "close":
		if err := wantArgs(ev, 1); err != nil {
			return nil, err
		}
		fd, err := fdArg()
		if err != nil {
			return nil, err
		}
		return func() callResult { return ret(0, t.Close(fd)) }, nil
	case "shutdown":
		if err := wantArgs(ev, 2); err != nil {
			return nil, err
		}
		fd, err := fdArg()
		if err != nil {
			return nil, err
		}
		how, err := argInt(1)
		if err != nil {
			return nil, err
		}
		return func() callResult { return ret(0, t.Shutdown(fd, int(how))) }, nil
	case "fcntl":
		if err := wantArgs(ev, 2, 3); err != nil {
			return nil, err
		}
		fd, err := fdArg()
		if err != nil {
			return nil, err
		}
		cmd, err := argInt(1)
		if err != nil {
			return nil, err
		}
		var arg int64
		if len(a) == 3 {
			if arg, err = argInt(2); err != nil {
				return nil, err
			}
		}
		return func() callResult { v, err := t.Fcntl(fd, int(cmd), arg); return ret(v, err) }, nil
	case "ioctl":
		if err := wantArgs(ev, 3); err != nil {
			return nil, err
		}
		fd, err := fdArg()
		if err != nil {
			return nil, err
		}
		req, err := argInt(1)
		if err != nil {
			return nil, err
		}
		want, err := argInt(2)
		if err != nil {
			return nil, err
		}
		return func() callResult {
			v, err := t.Ioctl(fd, req)
			if err != nil {
				return ret(-1, err)
			}
			r := ret(0, nil)
			if !isEllipsis(a[2]) && v != want {
				r.mismatch = fmt.Sprintf("Bad ioctl value: expected: %d actual: %d", want, v)
			}
			return r
		}, nil
	case "setsockopt":
		return rn.prepareSetsockopt(ev, fdArg, argInt)
	case "getsockopt":
		return rn.prepareGetsockopt(ev, fdArg, argInt)
	case "epoll_create", "epoll_create1":
		if err := wantArgs(ev, 1); err != nil {
			return nil, err
		}
		n, err := argInt(0)
		if err != nil {
			return nil, err
		}
		if sc.Name == "epoll_create1" {
			n = 1
		}
		return func() callResult { fd, err := t.EpollCreate(int(n)); return ret(int64(fd), err) }, nil
	case "epoll_ctl":
		return rn.prepareEpollCtl(ev, fdArg, argInt)
	case "epoll_wait":
		return rn.prepareEpollWait(ev, fdArg, argInt)
	case "poll":
		return rn.preparePoll(ev, argInt)
	}
	return nil, unsupportedf("system call %s()", sc.Name)
}

func writeFlags(fl int64) (sockets.WriteFlags, error) {
	var f sockets.WriteFlags
	if fl < 0 {
		return f, nil
	}
	if fl&^(sockets.MSG_MORE|sockets.MSG_EOR|sockets.MSG_NOSIGNAL|sockets.MSG_DONTWAIT) != 0 {
		return f, unsupportedf("send flags %#x", fl)
	}
	if fl&sockets.MSG_DONTWAIT != 0 {
		return f, unsupportedf("MSG_DONTWAIT")
	}
	f.More = fl&sockets.MSG_MORE != 0
	f.EOR = fl&sockets.MSG_EOR != 0
	return f, nil
}

// sockaddr reads "..." (the default address) or
// {sa_family=AF_INET, sin_port=htons(P), sin_addr=inet_addr("A")}.
func (rn *run) sockaddr(e script.Expr) (netip.AddrPort, error) {
	if isEllipsis(e) {
		return netip.AddrPort{}, nil
	}
	st, ok := e.(*script.Struct)
	if !ok {
		return netip.AddrPort{}, unsupportedf("socket address %s", e)
	}
	var port uint16
	var addr netip.Addr
	if c, ok := st.FieldByName("sin_port").(*script.Call); ok && c.Name == "htons" && len(c.Args) == 1 {
		v, err := rn.intValue(c.Args[0])
		if err != nil {
			return netip.AddrPort{}, err
		}
		port = uint16(v)
	}
	if c, ok := st.FieldByName("sin_addr").(*script.Call); ok && c.Name == "inet_addr" && len(c.Args) == 1 {
		if s, ok := c.Args[0].(*script.String); ok {
			a, err := netip.ParseAddr(s.Value)
			if err != nil {
				return netip.AddrPort{}, err
			}
			addr = a
		}
	}
	if !addr.IsValid() || port == 0 {
		return netip.AddrPort{}, unsupportedf("socket address %s", e)
	}
	return netip.AddrPortFrom(addr, port), nil
}
