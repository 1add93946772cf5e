// SPDX-License-Identifier: Apache-2.0
// A std::net::TcpListener echo server, one thread per connection, blocking
// accept and read (issue 8). Usage: echo_server ADDR:PORT CONNECTIONS.
// Prints "listening" once bound, echoes each connection's bytes until its
// peer shuts down, and exits 0 after CONNECTIONS connections have ended,
// printing how many bytes each thread echoed (in connection order).
use std::env;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

fn echo(mut stream: std::net::TcpStream) -> std::io::Result<usize> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n])?;
        total += n;
    }
}

fn main() {
    let args: Vec<String> = env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: echo_server ADDR:PORT CONNECTIONS");
        std::process::exit(2);
    }
    let count: usize = args[2].parse().expect("CONNECTIONS is a number");
    let listener = TcpListener::bind(&args[1]).expect("bind");
    println!("listening on {}", listener.local_addr().unwrap());
    let mut handles = Vec::new();
    for _ in 0..count {
        let (stream, _) = listener.accept().expect("accept");
        handles.push(thread::spawn(move || echo(stream)));
    }
    for (i, handle) in handles.into_iter().enumerate() {
        match handle.join().unwrap() {
            Ok(n) => println!("connection {} echoed {} bytes", i, n),
            Err(e) => println!("connection {} failed: {}", i, e),
        }
    }
}
