//go:build !linux

package playbooks

import "net"

// peerAllowed relies on the socket's mode where peer credentials are not
// read (see peer_linux.go).
func peerAllowed(net.Conn) bool { return true }
