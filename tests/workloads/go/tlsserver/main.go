// Command tlsserver ADDR N: an unmodified net/http TLS server that serves
// mutual TLS with the identity `keep run --steward` put in /run/keep
// (cert.pem, key.pem; client certificates must chain to ca.pem), answers N
// requests with "hello <client URI SAN> from a Keep" and exits.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	n, _ := strconv.Atoi(os.Args[2])
	cert, err := tls.LoadX509KeyPair("/run/keep/cert.pem", "/run/keep/key.pem")
	if err != nil {
		fmt.Println("identity:", err)
		os.Exit(1)
	}
	caPEM, err := os.ReadFile("/run/keep/ca.pem")
	if err != nil {
		fmt.Println("ca:", err)
		os.Exit(1)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		fmt.Println("ca: no certificate in /run/keep/ca.pem")
		os.Exit(1)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS13,
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	fmt.Println("listening")
	done := make(chan struct{})
	served := 0
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		who := "?"
		if c := r.TLS.PeerCertificates; len(c) > 0 && len(c[0].URIs) > 0 {
			who = c[0].URIs[0].String()
		}
		reply := "hello " + who + " from a Keep\n"
		w.Header().Set("Content-Length", strconv.Itoa(len(reply)))
		fmt.Fprint(w, reply)
		w.(http.Flusher).Flush()
		served++
		if served == n {
			close(done)
		}
	})
	go http.Serve(tls.NewListener(ln, cfg), nil)
	<-done
}
