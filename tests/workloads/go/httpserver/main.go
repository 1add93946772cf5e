// Command httpserver ADDR N: a net/http server that answers N requests
// with "hello from Go in a Keep" and exits.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
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
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from Go in a Keep")
		served++
		if served == n {
			close(done)
		}
	})
	go http.Serve(ln, nil)
	<-done
}
