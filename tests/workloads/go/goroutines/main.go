// Command goroutines: 8 goroutines pass numbers through channels, a
// WaitGroup and a mutex; prints the sum, which must be 8 * 100000.
package main

import (
	"fmt"
	"runtime"
	"sync"
)

func main() {
	const workers, each = 8, 100000
	results := make(chan int, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	shared := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sum := 0
			for i := 0; i < each; i++ {
				sum++
				if i%1000 == 0 {
					mu.Lock()
					shared++
					mu.Unlock()
					runtime.Gosched()
				}
			}
			results <- sum
		}()
	}
	wg.Wait()
	close(results)
	total := 0
	for s := range results {
		total += s
	}
	fmt.Printf("sum %d shared %d gomaxprocs %d\n", total, shared, runtime.GOMAXPROCS(0))
}
