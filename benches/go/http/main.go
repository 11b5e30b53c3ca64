// http_plaintext peer (benches/http.sh): the protocol of rt's
// examples/http_hello.rs and benches/http/proto.rs on Go's raw net
// package, one goroutine per connection, byte for byte the same responses.
//
//	GOPROXY=off GOTOOLCHAIN=local go run . -addr 127.0.0.1:8080 -workers 1
//
// -workers sets GOMAXPROCS. Keep-alive unless a request says
// "Connection: close" (or is HTTP/1.0 without "Connection: keep-alive");
// pipelined requests are all answered with one write; a request split
// across reads waits for the rest; a Content-Length body is skipped; a
// malformed request, or one that does not fit in 8 KiB, closes the
// connection.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"runtime"
	"strconv"
	"time"
)

var (
	hello      = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")
	helloClose = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!")
	crlfCrlf   = []byte("\r\n\r\n")
)

const bufLen = 8192

// idleTimeout closes a connection that sends nothing for this long.
const idleTimeout = 10 * time.Second

// parse looks at the request at the start of buf: its length (head and
// body) and whether it closes the connection; n == 0: partial; n < 0:
// malformed.
func parse(buf []byte) (n int, closes bool) {
	headLen := bytes.Index(buf, crlfCrlf)
	if headLen < 0 {
		return 0, false
	}
	lines := bytes.Split(buf[:headLen], []byte("\n"))
	closes = bytes.HasSuffix(bytes.TrimRight(lines[0], " \t\r"), []byte("HTTP/1.0"))
	body := 0
	for _, line := range lines[1:] {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return -1, false
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("connection")):
			closes = bytes.EqualFold(value, []byte("close")) ||
				(closes && !bytes.EqualFold(value, []byte("keep-alive")))
		case bytes.EqualFold(name, []byte("content-length")):
			v, err := strconv.Atoi(string(value))
			if err != nil || v < 0 {
				return -1, false
			}
			body = v
		}
	}
	n = headLen + 4 + body
	if len(buf) < n {
		return 0, false
	}
	return n, closes
}

// respond answers the complete requests at the start of buf into out:
// the bytes they took, and whether the connection closes after out.
func respond(buf []byte, out []byte) (used int, closes bool, res []byte) {
	for {
		n, c := parse(buf[used:])
		switch {
		case n < 0:
			return used, true, out
		case n == 0:
			return used, false, out
		case c:
			return used + n, true, append(out, helloClose...)
		}
		out = append(out, hello...)
		used += n
	}
}

func serve(conn net.Conn) {
	defer conn.Close()
	buf, filled := make([]byte, bufLen), 0
	out := make([]byte, 0, bufLen)
	for {
		// The idle timeout every peer enforces (IDLE_TIMEOUT in
		// examples/http_proto.rs), set before each read as net/http does.
		conn.SetReadDeadline(time.Now().Add(idleTimeout))
		n, err := conn.Read(buf[filled:])
		if n == 0 || err != nil {
			return
		}
		filled += n
		used, closes, res := respond(buf[:filled], out[:0])
		if len(res) > 0 {
			if _, err := conn.Write(res); err != nil {
				return
			}
		}
		out = res
		if closes || (used == 0 && filled == bufLen) {
			return
		}
		filled = copy(buf, buf[used:filled])
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	workers := flag.Int("workers", 1, "GOMAXPROCS")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http_go on http://%s (%d workers)\n", ln.Addr(), *workers)
	for {
		conn, err := ln.Accept()
		if err != nil {
			log.Print("accept: ", err)
			continue
		}
		go serve(conn)
	}
}
