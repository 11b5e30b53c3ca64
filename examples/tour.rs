//! A short tour of rt: spawn coroutines, join them, borrow with a scope,
//! watch a panic come back through `join` instead of killing a worker,
//! serve TCP to 1,000 client coroutines, and talk over channels.
//!
//! Run: `cargo run --release --example tour`

use std::io::{Read, Write};
use std::time::Instant;

fn fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

fn main() {
    let runtime = rt::Builder::new()
        .workers(2)
        .build()
        .expect("start the runtime");

    runtime.block_on(|| {
        // 1. Spawn and join: results come back in order of the handles.
        let handles: Vec<_> = (20..25).map(|n| rt::go!(fib(n))).collect();
        let results: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        println!("fib(20..25) computed in 5 coroutines: {results:?}");

        // 2. Many coroutines alive at once, each on its own small stack.
        let start = Instant::now();
        let many: Vec<_> = (0..100_000_u64).map(|i| rt::spawn(move || i % 7)).collect();
        let sum: u64 = many.into_iter().map(|h| h.join().unwrap()).sum();
        println!(
            "100,000 coroutines spawned and joined in {:?} (sum {sum})",
            start.elapsed()
        );

        // 3. A scope: coroutines that borrow from the caller.
        let words = ["green", "threads", "without", "async"];
        let mut lengths = [0; 4];
        rt::scope(|s| {
            for (word, len) in words.iter().zip(lengths.iter_mut()) {
                s.spawn(move || *len = word.len());
            }
        });
        println!("scoped coroutines measured {words:?}: {lengths:?}");

        // 4. A panic stays inside its coroutine and surfaces in join.
        let crashing = rt::CoroutineBuilder::new()
            .name("crasher")
            .spawn(|| -> u32 { panic!("index out of range") })
            .unwrap();
        let who = crashing.coroutine();
        match crashing.join() {
            Ok(_) => unreachable!(),
            Err(err) => {
                let panic = err.into_panic();
                println!(
                    "coroutine {} {:?} panicked: {:?} at {}",
                    who.id(),
                    who.name().unwrap_or("?"),
                    panic.message().unwrap_or("?"),
                    panic.location().map(|l| l.to_string()).unwrap_or_default(),
                );
            }
        }

        // 5. ...and the workers keep serving.
        let after = rt::spawn(|| "still running").join().unwrap();
        println!("after the panic, a new coroutine says: {after}");

        // 6. A TCP server in blocking style, driven by 1,000 client
        //    coroutines: reads and writes park coroutines, not threads.
        let listener = rt::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().unwrap();
        let server = rt::spawn(move || {
            for conn in listener.incoming() {
                let mut conn = conn.expect("accept");
                rt::spawn(move || {
                    let mut line = [0u8; 32];
                    while let Ok(n @ 1..) = conn.read(&mut line) {
                        let upper = line[..n].to_ascii_uppercase();
                        if conn.write_all(&upper).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let start = Instant::now();
        let clients: Vec<_> = (0..1_000)
            .map(|i| {
                rt::spawn(move || {
                    let mut stream = rt::net::TcpStream::connect(addr).expect("connect");
                    let message = format!("hello {i:04}");
                    stream.write_all(message.as_bytes()).unwrap();
                    let mut reply = vec![0u8; message.len()];
                    stream.read_exact(&mut reply).unwrap();
                    reply == message.to_ascii_uppercase().as_bytes()
                })
            })
            .collect();
        let correct = clients.into_iter().map(|c| c.join().unwrap()).filter(|&ok| ok).count();
        println!(
            "TCP: 1,000 client coroutines talked to an upper-casing server on {addr}: {correct} correct replies in {:?}",
            start.elapsed()
        );
        server.cancel();

        // 7. Channels and select!, Go style: a producer, a timeout.
        let (tx, rx) = rt::chan::bounded::<u32>(0);
        rt::spawn(move || (1..=3).for_each(|i| tx.send(i * i).unwrap()));
        let mut squares = Vec::new();
        loop {
            rt::select! {
                recv(rx) -> v => match v {
                    Ok(v) => squares.push(v),
                    Err(_) => break, // the producer finished: channel closed
                },
                timeout(std::time::Duration::from_secs(1)) => break,
            }
        }
        println!("squares received over a rendezvous channel: {squares:?}");
    });

    println!(
        "{} coroutines spawned in total; shutting down",
        runtime.spawned()
    );
}
