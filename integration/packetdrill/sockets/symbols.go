package sockets

import (
	"fmt"
	"strings"
	"syscall"
)

// Linux ABI values of the constants packetdrill scripts use. They are
// spelled out here (not taken from x/sys/unix) so the runner behaves the same
// on any build host.
const (
	AF_INET     = 2
	SOCK_STREAM = 1
	IPPROTO_TCP = 6
	IPPROTO_IP  = 0

	SOL_SOCKET = 1
	SOL_TCP    = 6
	SOL_IP     = 0

	SO_REUSEADDR = 2
	SO_ERROR     = 4
	SO_SNDBUF    = 7
	SO_RCVBUF    = 8
	SO_KEEPALIVE = 9
	SO_LINGER    = 13
	SO_REUSEPORT = 15

	TCP_NODELAY       = 1
	TCP_MAXSEG        = 2
	TCP_CORK          = 3
	TCP_KEEPIDLE      = 4
	TCP_KEEPINTVL     = 5
	TCP_KEEPCNT       = 6
	TCP_LINGER2       = 8
	TCP_INFO          = 11
	TCP_QUICKACK      = 12
	TCP_CONGESTION    = 13
	TCP_USER_TIMEOUT  = 18
	TCP_NOTSENT_LOWAT = 25
	TCP_INQ           = 36
	TCP_CM_INQ        = TCP_INQ

	IP_TOS           = 1
	IP_MTU_DISCOVER  = 10
	IP_PMTUDISC_DONT = 0

	SHUT_RD   = 0
	SHUT_WR   = 1
	SHUT_RDWR = 2

	O_RDONLY   = 0
	O_WRONLY   = 1
	O_RDWR     = 2
	O_NONBLOCK = 0x800

	F_GETFL = 3
	F_SETFL = 4

	MSG_OOB      = 0x1
	MSG_PEEK     = 0x2
	MSG_DONTWAIT = 0x40
	MSG_EOR      = 0x80
	MSG_WAITALL  = 0x100
	MSG_NOSIGNAL = 0x4000
	MSG_MORE     = 0x8000
	MSG_ZEROCOPY = 0x4000000
	MSG_FASTOPEN = 0x20000000

	SIOCINQ  = 0x541B
	SIOCOUTQ = 0x5411

	POLLIN    = 0x1
	POLLPRI   = 0x2
	POLLOUT   = 0x4
	POLLERR   = 0x8
	POLLHUP   = 0x10
	POLLNVAL  = 0x20
	POLLRDHUP = 0x2000

	EPOLLIN      = 0x1
	EPOLLPRI     = 0x2
	EPOLLOUT     = 0x4
	EPOLLERR     = 0x8
	EPOLLHUP     = 0x10
	EPOLLRDNORM  = 0x40
	EPOLLWRNORM  = 0x100
	EPOLLRDHUP   = 0x2000
	EPOLLET      = 1 << 31
	EPOLLONESHOT = 1 << 30

	EPOLL_CTL_ADD = 1
	EPOLL_CTL_DEL = 2
	EPOLL_CTL_MOD = 3
)

// Symbols maps the names scripts use to their values.
var Symbols = map[string]int64{
	"AF_INET": AF_INET, "PF_INET": AF_INET, "SOCK_STREAM": SOCK_STREAM,
	"IPPROTO_TCP": IPPROTO_TCP, "IPPROTO_IP": IPPROTO_IP,
	"SOL_SOCKET": SOL_SOCKET, "SOL_TCP": SOL_TCP, "SOL_IP": SOL_IP,
	"SO_REUSEADDR": SO_REUSEADDR, "SO_ERROR": SO_ERROR, "SO_SNDBUF": SO_SNDBUF, "SO_RCVBUF": SO_RCVBUF,
	"SO_KEEPALIVE": SO_KEEPALIVE, "SO_LINGER": SO_LINGER, "SO_REUSEPORT": SO_REUSEPORT,
	"TCP_NODELAY": TCP_NODELAY, "TCP_MAXSEG": TCP_MAXSEG, "TCP_CORK": TCP_CORK,
	"TCP_KEEPIDLE": TCP_KEEPIDLE, "TCP_KEEPINTVL": TCP_KEEPINTVL, "TCP_KEEPCNT": TCP_KEEPCNT,
	"TCP_LINGER2": TCP_LINGER2, "TCP_INFO": TCP_INFO, "TCP_QUICKACK": TCP_QUICKACK,
	"TCP_CONGESTION": TCP_CONGESTION, "TCP_USER_TIMEOUT": TCP_USER_TIMEOUT,
	"TCP_NOTSENT_LOWAT": TCP_NOTSENT_LOWAT, "TCP_INQ": TCP_INQ, "TCP_CM_INQ": TCP_CM_INQ,
	"IP_TOS": IP_TOS, "IP_MTU_DISCOVER": IP_MTU_DISCOVER, "IP_PMTUDISC_DONT": IP_PMTUDISC_DONT,
	"SHUT_RD": SHUT_RD, "SHUT_WR": SHUT_WR, "SHUT_RDWR": SHUT_RDWR,
	"O_RDONLY": O_RDONLY, "O_WRONLY": O_WRONLY, "O_RDWR": O_RDWR, "O_NONBLOCK": O_NONBLOCK,
	"F_GETFL": F_GETFL, "F_SETFL": F_SETFL,
	"MSG_OOB": MSG_OOB, "MSG_PEEK": MSG_PEEK, "MSG_DONTWAIT": MSG_DONTWAIT, "MSG_EOR": MSG_EOR,
	"MSG_WAITALL": MSG_WAITALL, "MSG_NOSIGNAL": MSG_NOSIGNAL, "MSG_MORE": MSG_MORE,
	"MSG_ZEROCOPY": MSG_ZEROCOPY, "MSG_FASTOPEN": MSG_FASTOPEN,
	"SIOCINQ": SIOCINQ, "FIONREAD": SIOCINQ, "SIOCOUTQ": SIOCOUTQ, "TIOCOUTQ": SIOCOUTQ,
	"POLLIN": POLLIN, "POLLPRI": POLLPRI, "POLLOUT": POLLOUT, "POLLERR": POLLERR, "POLLHUP": POLLHUP,
	"POLLNVAL": POLLNVAL, "POLLRDHUP": POLLRDHUP,
	"EPOLLIN": EPOLLIN, "EPOLLPRI": EPOLLPRI, "EPOLLOUT": EPOLLOUT, "EPOLLERR": EPOLLERR,
	"EPOLLHUP": EPOLLHUP, "EPOLLRDNORM": EPOLLRDNORM, "EPOLLWRNORM": EPOLLWRNORM,
	"EPOLLRDHUP": EPOLLRDHUP, "EPOLLET": EPOLLET, "EPOLLONESHOT": EPOLLONESHOT,
	"EPOLL_CTL_ADD": EPOLL_CTL_ADD, "EPOLL_CTL_DEL": EPOLL_CTL_DEL, "EPOLL_CTL_MOD": EPOLL_CTL_MOD,
}

// Errnos maps errno names to values.
var Errnos = map[string]syscall.Errno{
	"EPERM": syscall.EPERM, "ENOENT": syscall.ENOENT, "EINTR": syscall.EINTR, "EBADF": syscall.EBADF,
	"EAGAIN": syscall.EAGAIN, "EWOULDBLOCK": syscall.EAGAIN, "ENOMEM": syscall.ENOMEM,
	"EFAULT": syscall.EFAULT, "EINVAL": syscall.EINVAL, "EMFILE": syscall.EMFILE, "EPIPE": syscall.EPIPE,
	"ENOTSOCK": syscall.ENOTSOCK, "EDESTADDRREQ": syscall.EDESTADDRREQ, "EMSGSIZE": syscall.EMSGSIZE,
	"ENOPROTOOPT": syscall.ENOPROTOOPT, "EPROTONOSUPPORT": syscall.EPROTONOSUPPORT,
	"EOPNOTSUPP": syscall.EOPNOTSUPP, "EAFNOSUPPORT": syscall.EAFNOSUPPORT,
	"EADDRINUSE": syscall.EADDRINUSE, "EADDRNOTAVAIL": syscall.EADDRNOTAVAIL,
	"ENETUNREACH": syscall.ENETUNREACH, "ECONNABORTED": syscall.ECONNABORTED,
	"ECONNRESET": syscall.ECONNRESET, "EISCONN": syscall.EISCONN, "ENOTCONN": syscall.ENOTCONN,
	"ETIMEDOUT": syscall.ETIMEDOUT, "ECONNREFUSED": syscall.ECONNREFUSED,
	"EHOSTUNREACH": syscall.EHOSTUNREACH, "EALREADY": syscall.EALREADY,
	"EINPROGRESS": syscall.EINPROGRESS, "ENOSPC": syscall.ENOSPC,
}

// ErrnoName returns the symbolic name of e ("ECONNRESET").
func ErrnoName(e syscall.Errno) string {
	best := ""
	for name, v := range Errnos {
		if v == e && (best == "" || name < best) && name != "EWOULDBLOCK" {
			best = name
		}
	}
	if best == "" {
		return e.Error()
	}
	return best
}

// OptName names a socket option for messages ("TCP_NOTSENT_LOWAT"), or
// gives its numbers when it has no name here.
func OptName(level, name int) string {
	prefix := ""
	switch level {
	case SOL_SOCKET:
		prefix = "SO_"
	case SOL_TCP:
		prefix = "TCP_"
	case SOL_IP:
		prefix = "IP_"
	}
	best := ""
	for n, v := range Symbols {
		if prefix == "" || !strings.HasPrefix(n, prefix) || v != int64(name) || strings.HasPrefix(n, "IP_PMTUDISC_") {
			continue
		}
		if best == "" || len(n) < len(best) || len(n) == len(best) && n < best {
			best = n
		}
	}
	if best == "" {
		return fmt.Sprintf("level %d name %d", level, name)
	}
	return best
}
