package sockets

import "syscall"

// TCPInfo is getsockopt(TCP_INFO) as packetdrill hands it to a script's
// Python code: the fields of Linux's struct tcp_info by their tcpi_ names.
// A stack fills the fields it tracks with the kernel's meaning and units;
// Missing explains, for fields it leaves out on purpose, what it lacks (a
// field in neither map is simply not reported).
type TCPInfo struct {
	Fields  map[string]int64
	Missing map[string]string
}

// TCPInfoConn is implemented by connections that can report TCP_INFO.
type TCPInfoConn interface {
	TCPInfo() (TCPInfo, error)
}

// TCPInfo is getsockopt(fd, SOL_TCP, TCP_INFO).
func (t *Table) TCPInfo(fd int) (TCPInfo, error) {
	f, err := t.sock(fd)
	if err != nil {
		return TCPInfo{}, err
	}
	if f.conn == nil {
		if f.listener != nil {
			return TCPInfo{}, unsupported("TCP_INFO of a listening socket")
		}
		return TCPInfo{}, unsupported("TCP_INFO of a socket that is neither connected nor listening")
	}
	ic, ok := f.conn.(TCPInfoConn)
	if !ok {
		return TCPInfo{}, unsupported("TCP_INFO (the stack's connections do not report it)")
	}
	info, err := ic.TCPInfo()
	if err != nil {
		return TCPInfo{}, err
	}
	if info.Fields == nil {
		return TCPInfo{}, syscall.EINVAL
	}
	return info, nil
}
