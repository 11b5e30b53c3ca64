//! The `http_plaintext` protocol every Rust server speaks — rt's
//! `examples/http_hello.rs` and the peers in `benches/http/` include this
//! one file, so they answer byte for byte alike.
//! `http_hello --check ADDR` verifies a running peer byte for byte, and
//! `benches/http.sh` runs it against each peer before measuring.
//!
//! Keep-alive unless a request says `Connection: close` (or is HTTP/1.0
//! without `Connection: keep-alive`); pipelined requests are all answered
//! with one write; a request split across reads waits for the rest; a
//! `Content-Length` body is skipped; a malformed request, or one that does
//! not fit in [`BUF_LEN`], closes the connection.

// Each includer uses a different part of it (the peers `args`, the
// example its own command line).
#![allow(dead_code)]

use std::io::{self, Read, Write};

/// The response to every request; [`HELLO_CLOSE`] to one that closes.
pub const HELLO: &[u8] = concat!(
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n",
    "\r\nHello, World!"
)
.as_bytes();
/// The response to a request that closes the connection.
pub const HELLO_CLOSE: &[u8] = concat!(
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n",
    "Connection: close\r\n\r\nHello, World!"
)
.as_bytes();
/// How long a connection may send nothing (idle between requests, or
/// stalled inside one, as a slowloris client does) before it is closed:
/// otherwise such clients hold a task and a buffer each, forever. Every
/// peer enforces it (Go's with `SetReadDeadline` before each read, as
/// net/http does), so each pays for a timer per read that waits.
pub const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Read buffer per connection: the largest request accepted.
pub const BUF_LEN: usize = 8192;

/// The first request at the start of a buffer.
enum Parse {
    /// All of it is here: `len` bytes (head and body).
    Complete { len: usize, close: bool },
    /// More bytes are needed.
    Partial,
    /// Not HTTP we understand: close the connection.
    Invalid,
}

fn parse(buf: &[u8]) -> Parse {
    let Some(head_len) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Parse::Partial;
    };
    let mut lines = buf[..head_len].split(|&b| b == b'\n');
    let request_line = lines.next().unwrap_or_default();
    let mut close = request_line.trim_ascii_end().ends_with(b"HTTP/1.0");
    let mut body = 0;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Parse::Invalid;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"connection") {
            close = value.eq_ignore_ascii_case(b"close")
                || (close && !value.eq_ignore_ascii_case(b"keep-alive"));
        } else if name.eq_ignore_ascii_case(b"content-length") {
            match std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                Some(n) => body = n,
                None => return Parse::Invalid,
            }
        }
    }
    let len = head_len + 4 + body;
    if buf.len() < len {
        return Parse::Partial;
    }
    Parse::Complete { len, close }
}

/// Answer the complete requests at the start of `buf` into `out`: how many
/// bytes they took, and whether the connection closes after `out`.
///
/// ```
/// use rt_benches::http::{respond, HELLO};
/// let mut out = Vec::new();
/// let buf = b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\nGET / HT";
/// assert_eq!(respond(buf, &mut out), (36, false)); // the third is partial
/// assert_eq!(out, HELLO.repeat(2));
/// ```
pub fn respond(buf: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
    let mut used = 0;
    loop {
        match parse(&buf[used..]) {
            Parse::Complete { len, close } => {
                out.extend_from_slice(if close { HELLO_CLOSE } else { HELLO });
                used += len;
                if close {
                    return (used, true);
                }
            }
            Parse::Partial => return (used, false),
            Parse::Invalid => return (used, true),
        }
    }
}

/// Serve one connection with blocking reads and writes (std threads and
/// may coroutines), until the client closes it or asks us to.
pub fn serve_connection(mut conn: impl Read + Write) -> io::Result<()> {
    let (mut buf, mut filled) = (vec![0; BUF_LEN], 0);
    let mut out = Vec::with_capacity(BUF_LEN);
    loop {
        let n = conn.read(&mut buf[filled..])?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let (used, close) = respond(&buf[..filled], &mut out);
        if !out.is_empty() {
            conn.write_all(&out)?;
            out.clear();
        }
        if close || (used == 0 && filled == BUF_LEN) {
            return Ok(());
        }
        buf.copy_within(used..filled, 0);
        filled -= used;
    }
}

/// `--addr` and `--workers` from the command line, with the defaults
/// `127.0.0.1:8080` and 1.
pub fn args() -> (String, usize) {
    let (mut addr, mut workers) = ("127.0.0.1:8080".to_owned(), 1);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--addr" => addr = value,
            "--workers" => workers = value.parse().expect("--workers N"),
            other => panic!("unknown argument {other}: use --addr IP:PORT, --workers N"),
        }
    }
    (addr, workers)
}
