package sockets

import "testing"

func TestOptName(t *testing.T) {
	tests := []struct {
		level, name int
		want        string
	}{
		{SOL_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT"},
		{SOL_TCP, TCP_INQ, "TCP_INQ"},
		{SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF"},
		{SOL_IP, IP_TOS, "IP_TOS"},
		{SOL_TCP, 99, "level 6 name 99"},
		{41, 1, "level 41 name 1"},
	}
	for _, tt := range tests {
		if got := OptName(tt.level, tt.name); got != tt.want {
			t.Errorf("OptName(%d, %d) = %q, want %q", tt.level, tt.name, got, tt.want)
		}
	}
}
