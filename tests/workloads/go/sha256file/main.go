// Command sha256file FILE: prints the SHA-256 of FILE as sha256sum does.
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Printf("%x  %s\n", h.Sum(nil), os.Args[1])
}
