//! rt::io::Async: any descriptor (pipes, a child's output) waited on by
//! parking the coroutine, not blocking its worker.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rt::io::Async;

/// A pipe as two files (read end, write end).
fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    (File::from(r), File::from(w))
}

/// On one worker, a coroutine reading an empty pipe parks: the coroutine
/// that writes to it (and a bystander) run meanwhile, and the reader gets
/// every byte, in order, across many small writes.
#[test]
fn a_pipe_read_parks_the_coroutine_not_the_worker() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    rt.block_on(|| {
        let (r, mut w) = pipe();
        let reader = Async::new(r).unwrap();
        let ran_meanwhile = Arc::new(AtomicUsize::new(0));
        let bystander = {
            let ran = ran_meanwhile.clone();
            rt::spawn(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
        };
        let writer = rt::spawn(move || {
            for chunk in (0..100u8).collect::<Vec<_>>().chunks(7) {
                rt::sleep(Duration::from_micros(200));
                w.write_all(chunk).unwrap();
            }
        });
        let mut got = Vec::new();
        (&reader).read_to_end(&mut got).unwrap(); // EOF once the writer drops
        assert_eq!(got, (0..100u8).collect::<Vec<_>>());
        writer.join().unwrap();
        bystander.join().unwrap();
        assert_eq!(ran_meanwhile.load(Ordering::SeqCst), 1);
    });
}

/// A writer blocked on a full pipe parks until a reader drains it; 1 MiB
/// through a 64 KiB pipe, exact bytes.
#[test]
fn a_full_pipe_write_parks_until_the_reader_drains_it() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    rt.block_on(|| {
        let (r, w) = pipe();
        let (reader, writer) = (Async::new(r).unwrap(), Async::new(w).unwrap());
        let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 31 % 251) as u8).collect();
        let expected = data.clone();
        let sending = rt::spawn(move || {
            (&writer).write_all(&data).unwrap();
        });
        let mut got = Vec::new();
        (&reader).read_to_end(&mut got).unwrap();
        sending.join().unwrap();
        assert!(got == expected, "bytes differ");
    });
}

/// `readable` honours its timeout (TimedOut, not early), then returns
/// once data arrives; `writable` returns at once on an empty pipe.
#[test]
fn readable_times_out_then_sees_data() {
    rt::run(|| {
        let (r, mut w) = pipe();
        let reader = Async::new(r).unwrap();
        let start = std::time::Instant::now();
        let err = reader
            .readable(Some(Duration::from_millis(20)))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(20));
        w.write_all(b"x").unwrap();
        reader.readable(None).unwrap();
        reader.readable(None).unwrap(); // still readable: nothing was read
        let writer = Async::new(w).unwrap();
        writer.writable(None).unwrap();
    });
}

/// A child process's output, read through `Async<ChildStdout>` (which
/// reads through `&mut`), while another coroutine on the same worker keeps
/// running.
#[test]
fn a_child_processes_output_is_read_without_blocking_the_worker() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    rt.block_on(|| {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 0.05; echo hello; sleep 0.05; echo world"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = Async::new(child.stdout.take().unwrap()).unwrap();
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = {
            let ticks = ticks.clone();
            rt::spawn(move || {
                for _ in 0..5 {
                    rt::sleep(Duration::from_millis(5));
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let mut text = String::new();
        out.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello\nworld\n");
        ticker.join().unwrap();
        assert_eq!(ticks.load(Ordering::SeqCst), 5);
        assert!(rt::blocking(move || child.wait()).unwrap().success());
    });
}

/// From a plain thread (no coroutine), an `Async` read waits on the thread.
#[test]
fn async_works_from_a_plain_thread() {
    let (r, mut w) = pipe();
    let reader = Async::new(r).unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        w.write_all(b"plain").unwrap();
    });
    let mut buf = [0; 5];
    (&reader).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"plain");
    writer.join().unwrap();
}
