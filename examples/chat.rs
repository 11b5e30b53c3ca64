//! A chat server: every line a client sends goes to all the others.
//! Coroutines talk over channels: a reader and a writer per client, and a
//! hub that owns the list of clients — no locks, no `async`.
//!
//! `cargo run --release --example chat` runs the server with five bot
//! clients that chat for a moment, prints what they saw, and exits.
//! `cargo run --release --example chat -- --serve 127.0.0.1:7001` only
//! serves (connect with `nc 127.0.0.1 7001` from several terminals).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use rt::chan::{Receiver, Sender};
use rt::net::{TcpListener, TcpStream};

/// What clients tell the hub.
enum Event {
    Joined(usize, Sender<String>),
    Said(usize, String),
    Left(usize),
}

/// Owns the clients; forwards every line to everybody else.
fn hub(events: Receiver<Event>) {
    let mut clients: HashMap<usize, Sender<String>> = HashMap::new();
    for event in events {
        match event {
            Event::Joined(id, outbox) => {
                clients.insert(id, outbox);
            }
            Event::Left(id) => {
                clients.remove(&id);
            }
            Event::Said(from, line) => {
                for (&id, outbox) in &clients {
                    if id != from {
                        // A slow client misses lines rather than stalling the room.
                        let _ = outbox.try_send(format!("client {from}: {line}"));
                    }
                }
            }
        }
    }
}

/// One connection: a writer coroutine drains the client's outbox while
/// this one reads its lines.
fn session(id: usize, conn: TcpStream, events: Sender<Event>) {
    let (outbox, inbox) = rt::chan::bounded::<String>(64);
    let mut writer = conn.try_clone().expect("clone");
    let writing = rt::spawn(move || {
        for line in inbox {
            if writeln!(writer, "{line}").is_err() {
                break;
            }
        }
    });
    events.send(Event::Joined(id, outbox)).expect("hub alive");
    for line in BufReader::new(conn).lines() {
        let Ok(line) = line else { break };
        events.send(Event::Said(id, line)).expect("hub alive");
    }
    events.send(Event::Left(id)).expect("hub alive"); // drops the outbox: the writer ends
    writing.join().expect("writer");
}

fn serve(listener: TcpListener) {
    let (events, hub_events) = rt::chan::unbounded();
    rt::spawn(move || hub(hub_events));
    for (id, conn) in listener.incoming().enumerate() {
        let Ok(conn) = conn else { continue };
        let events = events.clone();
        rt::spawn(move || session(id, conn, events));
    }
}

/// A bot: joins, waits for everyone, says two things, then reads what the
/// others said (8 lines from 4 others) and leaves.
fn bot(name: usize, addr: std::net::SocketAddr, start: Receiver<()>) -> Vec<String> {
    let conn = TcpStream::connect(addr).expect("connect");
    let _ = start.recv(); // closed when every bot is connected
    rt::sleep(Duration::from_millis(20)); // let the hub see every join
    writeln!(&conn, "hello from bot {name}").unwrap();
    writeln!(&conn, "bot {name} says bye").unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let heard: Vec<String> = BufReader::new(&conn)
        .lines()
        .take(8)
        .map(|l| l.unwrap())
        .collect();
    heard
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = rt::Builder::new().build().expect("start the runtime");
    if let Some(addr) = args
        .iter()
        .position(|a| a == "--serve")
        .map(|i| &args[i + 1])
    {
        let listener = runtime
            .block_on(|| TcpListener::bind(addr.as_str()))
            .expect("bind");
        println!("chat server on {}", listener.local_addr().unwrap());
        runtime.block_on(move || serve(listener));
        return;
    }
    runtime.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().unwrap();
        let server = rt::spawn(move || serve(listener));
        let (go, start) = rt::chan::bounded::<()>(0);
        let bots: Vec<_> = (0..5)
            .map(|name| {
                let start = start.clone();
                rt::spawn(move || bot(name, addr, start))
            })
            .collect();
        rt::sleep(Duration::from_millis(20));
        drop(go);
        for (name, bot) in bots.into_iter().enumerate() {
            let heard = bot.join().expect("bot");
            println!(
                "bot {name} heard {} lines, e.g. {:?}",
                heard.len(),
                heard[0]
            );
        }
        server.cancel();
    });
}
