// Command httpserver ADDR N: a net/http server that answers N requests
// with "hello from Go in a Keep" and exits; with N = 0 it serves until
// stopped (bench/bench_go_http.sh drives it with wrk).
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
)

func main() {
	n, _ := strconv.Atoi(os.Args[2])
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	fmt.Println("listening")
	done := make(chan struct{})
	served := 0
	var mu sync.Mutex // handlers run concurrently under wrk
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		const reply = "hello from Go in a Keep\n"
		// The whole reply (a fixed length, so no chunk trailer comes later) must
		// reach the socket before main returns and the process exits: without
		// this flush the last reply raced the exit (natively too).
		w.Header().Set("Content-Length", strconv.Itoa(len(reply)))
		fmt.Fprint(w, reply)
		w.(http.Flusher).Flush()
		mu.Lock()
		served++
		if served == n {
			close(done)
		}
		mu.Unlock()
	})
	go http.Serve(ln, nil)
	<-done
}
