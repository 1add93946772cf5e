// Command tlsserver ADDR N: an unmodified net/http TLS server that serves
// HTTPS with the identity `keep run --steward` put in /run/keep (cert.pem
// with its chain, key.pem), answers N requests with "hello from a Keep" and
// exits. The client verifies it with the service's CA (curl --cacert).
//
// Server authentication only: Go 1.19 (Debian 12) cannot parse the steward's
// certificates (x509: "malformed extension OID field": the EAR extension's
// OID arc 2.25.<128-bit UUID> exceeds the 31 bits Go 1.19's OID reader takes), so
// tls.LoadX509KeyPair, which parses the leaf, and any client-certificate
// check fail. The key pair is assembled without parsing the leaf; TLS sends
// the DER as it is and curl (OpenSSL) parses it fine.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
)

func identity() (tls.Certificate, error) {
	var c tls.Certificate
	chain, err := os.ReadFile("/run/keep/cert.pem")
	if err != nil {
		return c, err
	}
	for b, rest := pem.Decode(chain); b != nil; b, rest = pem.Decode(rest) {
		c.Certificate = append(c.Certificate, b.Bytes)
	}
	keyPEM, err := os.ReadFile("/run/keep/key.pem")
	if err != nil {
		return c, err
	}
	b, _ := pem.Decode(keyPEM)
	if b == nil || len(c.Certificate) == 0 {
		return c, fmt.Errorf("no PEM block in /run/keep/cert.pem or key.pem")
	}
	c.PrivateKey, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	return c, err
}

func main() {
	n, _ := strconv.Atoi(os.Args[2])
	cert, err := identity()
	if err != nil {
		fmt.Println("identity:", err)
		os.Exit(1)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	fmt.Println("listening")
	done := make(chan struct{})
	served := 0
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		const reply = "hello from a Keep\n"
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
