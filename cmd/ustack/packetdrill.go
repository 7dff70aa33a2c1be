package main

import (
	"io"

	"github.com/ustack/ustack/integration/packetdrill"
)

func cmdPacketdrill(args []string, stdout, stderr io.Writer) int {
	return packetdrill.Main(args, stdout, stderr)
}
