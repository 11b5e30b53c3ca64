// echo_light peer (benches/echo_light.sh): an echo server, one goroutine
// per connection, as benches/echo_light.rs's rt and tokio servers.
//
//	GOPROXY=off GOTOOLCHAIN=local go run . -port 7000 -workers 2
package main

import (
	"flag"
	"log"
	"net"
	"runtime"
)

func main() {
	port := flag.String("port", "7000", "port on 127.0.0.1")
	workers := flag.Int("workers", 2, "GOMAXPROCS")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)
	listener, err := net.Listen("tcp", "127.0.0.1:"+*port)
	if err != nil {
		log.Fatal(err)
	}
	for {
		conn, err := listener.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func(conn net.Conn) {
			defer conn.Close()
			buf := make([]byte, 4096)
			for {
				n, err := conn.Read(buf)
				if err != nil {
					return
				}
				if _, err := conn.Write(buf[:n]); err != nil {
					return
				}
			}
		}(conn)
	}
}
