package webhookout_test

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// fakeDNS is a real DNS server on a UDP port of 127.0.0.1 that answers A
// queries for the names in hosts (fully qualified, lower case) and nothing
// else, and a resolver that asks only it: the stand-in for a hostile DNS
// that points a public-looking name at this machine.
func fakeDNS(t *testing.T, hosts map[string]string) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:n], hosts); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
}

// dnsAnswer answers one query: its question, and an A record when the name
// is known and an A was asked (other types get an empty answer; unknown
// names NXDOMAIN).
func dnsAnswer(q []byte, hosts map[string]string) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	// The question: labels up to the zero byte, then type and class.
	i, name := 12, ""
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		name += strings.ToLower(string(q[i+1:i+1+l])) + "."
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1 : i+3])

	resp := make([]byte, 12, 12+len(question)+16)
	copy(resp[0:2], q[0:2])                       // id
	binary.BigEndian.PutUint16(resp[2:4], 0x8580) // response, authoritative, recursion desired and available
	binary.BigEndian.PutUint16(resp[4:6], 1)      // one question
	resp = append(resp, question...)
	ipText, known := hosts[name]
	if !known {
		resp[3] |= 3 // NXDOMAIN
		return resp
	}
	if qtype != 1 { // not A
		return resp
	}
	ip := netip.MustParseAddr(ipText).As4()
	binary.BigEndian.PutUint16(resp[6:8], 1)       // one answer
	resp = append(resp, 0xc0, 12)                  // the question's name
	resp = binary.BigEndian.AppendUint16(resp, 1)  // A
	resp = binary.BigEndian.AppendUint16(resp, 1)  // IN
	resp = binary.BigEndian.AppendUint32(resp, 60) // TTL
	resp = binary.BigEndian.AppendUint16(resp, 4)
	return append(resp, ip[:]...)
}
