package packetdrill

import (
	"fmt"

	"github.com/ustack/ustack/integration/packetdrill/script"
	"github.com/ustack/ustack/integration/packetdrill/sockets"
)

type (
	fdArgFunc  func() (int, error)
	intArgFunc func(i int) (int64, error)
)

// iovLen sums msg_iov(N)=[{..., len}, ...].
func (rn *run) iovLen(ev *script.Event, msg *script.Struct) (int, error) {
	var iov *script.Field
	for _, e := range msg.Elems {
		if f, ok := e.(*script.Field); ok && f.Name == "msg_iov" {
			iov = f
		}
	}
	if iov == nil {
		return 0, failf(ev.Line, "%s: msghdr without msg_iov", ev.Syscall.Name)
	}
	arr, ok := iov.Value.(*script.Array)
	if !ok {
		return 0, failf(ev.Line, "%s: msg_iov is not an array", ev.Syscall.Name)
	}
	total := 0
	for _, el := range arr.Elems {
		st, ok := el.(*script.Struct)
		if !ok || len(st.Elems) != 2 {
			return 0, failf(ev.Line, "%s: bad iovec %s", ev.Syscall.Name, el)
		}
		n, err := rn.intValue(st.Elems[1])
		if err != nil {
			return 0, failf(ev.Line, "%s: bad iovec length %s", ev.Syscall.Name, st.Elems[1])
		}
		total += int(n)
	}
	if iov.HasIndex {
		if n, err := rn.intValue(iov.Index); err != nil || int(n) != len(arr.Elems) {
			return 0, failf(ev.Line, "%s: msg_iov(%s) does not match %d iovecs", ev.Syscall.Name, iov.Index, len(arr.Elems))
		}
	}
	if f := msg.FieldByName("msg_flags"); f != nil {
		if v, err := rn.intValue(f); err != nil || v != 0 {
			return 0, unsupportedf("msg_flags %s", f)
		}
	}
	return total, nil
}

func (rn *run) prepareSendmsg(ev *script.Event, fdArg fdArgFunc, argInt intArgFunc) (func() callResult, error) {
	if err := wantArgs(ev, 3); err != nil {
		return nil, err
	}
	fd, err := fdArg()
	if err != nil {
		return nil, err
	}
	msg, ok := ev.Syscall.Args[1].(*script.Struct)
	if !ok {
		return nil, failf(ev.Line, "sendmsg: expected a msghdr, got %s", ev.Syscall.Args[1])
	}
	if msg.FieldByName("msg_control") != nil {
		return nil, unsupportedf("sendmsg with control messages")
	}
	n, err := rn.iovLen(ev, msg)
	if err != nil {
		return nil, err
	}
	fl, err := argInt(2)
	if err != nil {
		return nil, err
	}
	flags, err := writeFlags(fl)
	if err != nil {
		return nil, err
	}
	return func() callResult {
		got, err := rn.tab.Write(fd, n, flags)
		return callResult{ret: int64(got), err: err}
	}, nil
}

func (rn *run) prepareRecvmsg(ev *script.Event, fdArg fdArgFunc, argInt intArgFunc) (func() callResult, error) {
	if err := wantArgs(ev, 3); err != nil {
		return nil, err
	}
	fd, err := fdArg()
	if err != nil {
		return nil, err
	}
	msg, ok := ev.Syscall.Args[1].(*script.Struct)
	if !ok {
		return nil, failf(ev.Line, "recvmsg: expected a msghdr, got %s", ev.Syscall.Args[1])
	}
	n, err := rn.iovLen(ev, msg)
	if err != nil {
		return nil, err
	}
	if fl, err := argInt(2); err != nil || fl > 0 {
		return nil, unsupportedf("recvmsg flags %s", ev.Syscall.Args[2])
	}
	// Expected TCP_CM_INQ control message, if any.
	wantInq := int64(-1)
	if ctl := msg.FieldByName("msg_control"); ctl != nil {
		arr, ok := ctl.(*script.Array)
		if !ok || len(arr.Elems) != 1 {
			return nil, unsupportedf("recvmsg control messages %s", ctl)
		}
		cm, ok := arr.Elems[0].(*script.Struct)
		if !ok {
			return nil, unsupportedf("recvmsg control message %s", arr.Elems[0])
		}
		lvl, err1 := rn.intValue(cm.FieldByName("cmsg_level"))
		typ, err2 := rn.intValue(cm.FieldByName("cmsg_type"))
		if err1 != nil || err2 != nil || lvl != sockets.SOL_TCP || typ != sockets.TCP_CM_INQ {
			return nil, unsupportedf("recvmsg control message %s", cm)
		}
		v, err := rn.intValue(cm.FieldByName("cmsg_data"))
		if err != nil {
			return nil, failf(ev.Line, "recvmsg: bad cmsg_data: %v", err)
		}
		wantInq = v
	}
	return func() callResult {
		got, err := rn.tab.Read(fd, n)
		r := callResult{ret: int64(got), err: err}
		if err != nil || wantInq < 0 {
			return r
		}
		inq, ierr := rn.tab.InqHint(fd)
		if ierr != nil {
			r.err = ierr
			return r
		}
		if inq != wantInq {
			r.mismatch = fmt.Sprintf("Bad TCP_CM_INQ: expected: %d actual: %d", wantInq, inq)
		}
		return r
	}, nil
}

// optValue reads a setsockopt/getsockopt value: [int], [SYMBOL] or a
// linger struct.
func (rn *run) optValue(e script.Expr) (sockets.Value, error) {
	switch v := e.(type) {
	case *script.Array:
		if len(v.Elems) == 1 {
			n, err := rn.intValue(v.Elems[0])
			if err != nil {
				return sockets.Value{}, err
			}
			return sockets.Value{Int: n}, nil
		}
	case *script.Int:
		return sockets.Value{Int: v.Value}, nil
	case *script.Struct:
		on := firstNonNil(v.FieldByName("l_onoff"), v.FieldByName("onoff"))
		secs := firstNonNil(v.FieldByName("l_linger"), v.FieldByName("linger"))
		if on != nil && secs != nil {
			a, err1 := rn.intValue(on)
			b, err2 := rn.intValue(secs)
			if err1 == nil && err2 == nil {
				return sockets.Value{IsLinger: true, LingerOn: a != 0, LingerSecs: int(b)}, nil
			}
		}
	}
	return sockets.Value{}, unsupportedf("socket option value %s", e)
}

func firstNonNil(a, b script.Expr) script.Expr {
	if a != nil {
		return a
	}
	return b
}

func (rn *run) prepareSetsockopt(ev *script.Event, fdArg fdArgFunc, argInt intArgFunc) (func() callResult, error) {
	if err := wantArgs(ev, 5); err != nil {
		return nil, err
	}
	fd, err := fdArg()
	if err != nil {
		return nil, err
	}
	lvl, err := argInt(1)
	if err != nil {
		return nil, err
	}
	name, err := argInt(2)
	if err != nil {
		return nil, err
	}
	v, err := rn.optValue(ev.Syscall.Args[3])
	if err != nil {
		return nil, err
	}
	return func() callResult {
		return callResult{err: rn.tab.SetSockopt(fd, int(lvl), int(name), v)}
	}, nil
}

func (rn *run) prepareGetsockopt(ev *script.Event, fdArg fdArgFunc, argInt intArgFunc) (func() callResult, error) {
	if err := wantArgs(ev, 5); err != nil {
		return nil, err
	}
	fd, err := fdArg()
	if err != nil {
		return nil, err
	}
	lvl, err := argInt(1)
	if err != nil {
		return nil, err
	}
	name, err := argInt(2)
	if err != nil {
		return nil, err
	}
	a := ev.Syscall.Args
	var want sockets.Value
	check := !isEllipsis(a[3])
	if check {
		if want, err = rn.optValue(a[3]); err != nil {
			return nil, err
		}
	}
	return func() callResult {
		got, err := rn.tab.GetSockopt(fd, int(lvl), int(name))
		r := callResult{err: err}
		if err != nil || !check {
			return r
		}
		if want.IsLinger {
			if got.LingerOn != want.LingerOn || got.LingerSecs != want.LingerSecs {
				r.mismatch = fmt.Sprintf("Bad getsockopt optval: expected: {onoff=%v, linger=%d} actual: {onoff=%v, linger=%d}",
					want.LingerOn, want.LingerSecs, got.LingerOn, got.LingerSecs)
			}
		} else if uint32(got.Int) != uint32(want.Int) {
			r.mismatch = fmt.Sprintf("Bad getsockopt optval: expected: %d actual: %d", want.Int, got.Int)
		}
		return r
	}, nil
}

func (rn *run) epollEvent(ev *script.Event, e script.Expr) (events uint32, fd int64, hasFD bool, err error) {
	st, ok := e.(*script.Struct)
	if !ok {
		return 0, 0, false, failf(ev.Line, "%s: expected {events=..., fd=...}, got %s", ev.Syscall.Name, e)
	}
	evs := st.FieldByName("events")
	if evs == nil {
		return 0, 0, false, failf(ev.Line, "%s: missing events", ev.Syscall.Name)
	}
	v, err := rn.intValue(evs)
	if err != nil {
		return 0, 0, false, err
	}
	if f := st.FieldByName("fd"); f != nil {
		fd, err = rn.intValue(f)
		return uint32(v), fd, true, err
	}
	for _, name := range []string{"ptr", "u32", "u64"} {
		if f := st.FieldByName(name); f != nil {
			fd, err = rn.intValue(f)
			return uint32(v), fd, false, err
		}
	}
	return uint32(v), 0, false, nil
}

func (rn *run) prepareEpollCtl(ev *script.Event, fdArg fdArgFunc, argInt intArgFunc) (func() callResult, error) {
	if err := wantArgs(ev, 4); err != nil {
		return nil, err
	}
	epfd, err := fdArg()
	if err != nil {
		return nil, err
	}
	op, err := argInt(1)
	if err != nil {
		return nil, err
	}
	fd, err := argInt(2)
	if err != nil {
		return nil, err
	}
	events, data, _, err := rn.epollEvent(ev, ev.Syscall.Args[3])
	if err != nil {
		return nil, err
	}
	fd = rn.liveFD(fd)
	return func() callResult {
		return callResult{err: rn.tab.EpollCtl(epfd, int(op), int(fd), events, uint64(data))}
	}, nil
}

func (rn *run) prepareEpollWait(ev *script.Event, fdArg fdArgFunc, argInt intArgFunc) (func() callResult, error) {
	if err := wantArgs(ev, 4); err != nil {
		return nil, err
	}
	epfd, err := fdArg()
	if err != nil {
		return nil, err
	}
	events, data, hasData, err := rn.epollEvent(ev, ev.Syscall.Args[1])
	if err != nil {
		return nil, err
	}
	max, err := argInt(2)
	if err != nil {
		return nil, err
	}
	timeout, err := argInt(3)
	if err != nil {
		return nil, err
	}
	if timeout != 0 {
		return nil, unsupportedf("epoll_wait with a timeout other than 0")
	}
	return func() callResult {
		got, err := rn.tab.EpollWait(epfd, int(max))
		r := callResult{ret: int64(len(got)), err: err}
		if err != nil || len(got) == 0 {
			return r
		}
		if got[0].Events != events || (hasData && got[0].Data != uint64(data)) {
			r.mismatch = fmt.Sprintf("Bad epoll_wait event: expected: {events=%#x, fd=%d} actual: {events=%#x, fd=%d}",
				events, data, got[0].Events, got[0].Data)
		}
		return r
	}, nil
}

func (rn *run) preparePoll(ev *script.Event, argInt intArgFunc) (func() callResult, error) {
	if err := wantArgs(ev, 3); err != nil {
		return nil, err
	}
	arr, ok := ev.Syscall.Args[0].(*script.Array)
	if !ok {
		return nil, failf(ev.Line, "poll: expected an array of pollfd")
	}
	timeout, err := argInt(2)
	if err != nil {
		return nil, err
	}
	if timeout != 0 {
		return nil, unsupportedf("poll with a timeout other than 0")
	}
	var fds []sockets.PollFD
	var want []int64
	for _, el := range arr.Elems {
		st, ok := el.(*script.Struct)
		if !ok {
			return nil, failf(ev.Line, "poll: bad pollfd %s", el)
		}
		fd, err1 := rn.intValue(st.FieldByName("fd"))
		evs, err2 := rn.intValue(st.FieldByName("events"))
		if err1 != nil || err2 != nil {
			return nil, failf(ev.Line, "poll: bad pollfd %s", el)
		}
		rev := int64(-1)
		if r := st.FieldByName("revents"); r != nil {
			if rev, err = rn.intValue(r); err != nil {
				return nil, err
			}
		}
		fds = append(fds, sockets.PollFD{FD: int(rn.liveFD(fd)), Events: uint32(evs)})
		want = append(want, rev)
	}
	return func() callResult {
		n := rn.tab.Poll(fds)
		r := callResult{ret: int64(n)}
		for i, f := range fds {
			if want[i] >= 0 && uint32(want[i]) != f.Revents {
				r.mismatch = fmt.Sprintf("Bad poll revents for fd %d: expected: %#x actual: %#x", f.FD, want[i], f.Revents)
				break
			}
		}
		return r
	}, nil
}
