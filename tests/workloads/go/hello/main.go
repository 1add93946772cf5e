// Command hello prints one line: the smallest Go program, run in a Keep.
package main

import "fmt"

func main() { fmt.Println("hello from Go") }
