//! `Duration::MAX` (any duration past what `Instant` can represent) in a
//! timed call means "no deadline", as in std — never an overflow panic.

use std::io::{Read, Write};
use std::time::Duration;

const FOREVER: Duration = Duration::MAX;

#[test]
fn sleep_for_ever_sleeps_until_cancelled() {
    let err = rt::run(|| {
        let h = rt::spawn(|| rt::sleep(FOREVER));
        rt::yield_now();
        h.cancel();
        h.join().unwrap_err()
    });
    assert!(err.is_cancelled());
}

#[test]
fn timeout_with_no_deadline_runs_the_closure() {
    let r = rt::run(|| {
        rt::timeout(FOREVER, || {
            rt::sleep(Duration::from_millis(1));
            7
        })
    });
    assert_eq!(r, Ok(7));
    // On a plain thread too.
    assert_eq!(rt::timeout(FOREVER, || 8), Ok(8));
}

#[test]
fn channel_timeouts_with_no_deadline_wait_for_the_value() {
    rt::run(|| {
        let (tx, rx) = rt::chan::bounded::<u32>(0);
        let sender = rt::spawn(move || tx.send_timeout(5, FOREVER));
        assert_eq!(rx.recv_timeout(FOREVER), Ok(5));
        assert!(sender.join().unwrap().is_ok());
    });
}

#[test]
fn after_with_no_deadline_never_fires() {
    rt::run(|| {
        let never = rt::after(FOREVER);
        rt::sleep(Duration::from_millis(2));
        assert!(never.try_recv().is_err());
    });
}

#[test]
fn a_select_timeout_arm_with_no_deadline_waits_for_an_arm() {
    rt::run(|| {
        let (tx, rx) = rt::chan::bounded::<u32>(1);
        rt::spawn(move || tx.send(3).unwrap());
        let got = rt::select! {
            recv(rx) -> v => v.unwrap(),
            timeout(FOREVER) => 0,
        };
        assert_eq!(got, 3);
    });
}

#[test]
fn sync_timeouts_with_no_deadline_wait_for_the_notification() {
    use std::sync::Arc;
    rt::run(|| {
        let pair = Arc::new((rt::sync::Mutex::new(false), rt::sync::Condvar::new()));
        let p = pair.clone();
        rt::spawn(move || {
            *p.0.lock().unwrap() = true;
            p.1.notify_one();
        });
        let mut ready = pair.0.lock().unwrap();
        while !*ready {
            let (guard, result) = pair.1.wait_timeout(ready, FOREVER).unwrap();
            assert!(!result.timed_out());
            ready = guard;
        }
        drop(ready);

        let sem = Arc::new(rt::sync::Semaphore::new(0));
        let s = sem.clone();
        rt::spawn(move || s.add_permits(1));
        assert!(sem.acquire_timeout(FOREVER).is_some());
    });
}

#[test]
fn socket_timeouts_with_no_deadline_block_until_ready() {
    rt::run(|| {
        let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = rt::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.write_all(b"hi").unwrap();
        });
        let mut client = rt::net::TcpStream::connect_timeout(&addr, FOREVER).unwrap();
        client.set_read_timeout(Some(FOREVER)).unwrap();
        let mut buf = [0; 2];
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        server.join().unwrap();
    });
}

#[test]
fn a_ticker_with_an_endless_period_never_ticks() {
    rt::run(|| {
        let ticker = rt::Ticker::new(FOREVER);
        let ticked = rt::select! {
            recv(ticker.receiver()) -> _ => true,
            timeout(Duration::from_millis(2)) => false,
        };
        assert!(!ticked);
    });
}

#[test]
fn assert_no_leaks_with_no_deadline_returns_when_nothing_is_alive() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    rt.block_on(|| rt::spawn(|| ()).join().unwrap());
    rt.assert_no_leaks(FOREVER);
}
