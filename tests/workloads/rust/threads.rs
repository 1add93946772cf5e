// SPDX-License-Identifier: Apache-2.0
// std::thread::spawn + join with a Mutex and a channel (issue 8). Several
// threads each sum their own range, add it to a shared Mutex total and send
// it down a channel; main joins them all. The output is deterministic, so a
// Keep's run is compared line by line with the native one.
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

const THREADS: u64 = 6;
const PER_THREAD: u64 = 200_000;

fn main() {
    let total = Arc::new(Mutex::new(0u64));
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for id in 0..THREADS {
        let total = Arc::clone(&total);
        let tx = tx.clone();
        handles.push(thread::spawn(move || {
            let sum: u64 = (id * PER_THREAD..(id + 1) * PER_THREAD).sum();
            *total.lock().unwrap() += sum;
            tx.send((id, sum)).unwrap();
            id * 10
        }));
    }
    drop(tx);
    let mut joined = 0;
    for handle in handles {
        joined += handle.join().unwrap();
    }
    let mut got: Vec<(u64, u64)> = rx.iter().collect();
    got.sort();
    for (id, sum) in &got {
        println!("thread {} sent {}", id, sum);
    }
    let n = THREADS * PER_THREAD;
    println!("joined {} threads, return values sum {}", got.len(), joined);
    println!("mutex total {} (expected {})", *total.lock().unwrap(), n * (n - 1) / 2);
}
