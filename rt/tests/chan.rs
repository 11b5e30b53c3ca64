//! Channels and select!: close and rendezvous semantics, timeouts, FIFO,
//! mpmc exactness, select fairness and a 4x4 select stress.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rt::chan::{self, RecvError, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};

fn runtime(workers: usize) -> rt::Runtime {
    rt::Builder::new().workers(workers).build().unwrap()
}

#[test]
fn rendezvous_send_completes_only_when_received() {
    for workers in [1, 2] {
        runtime(workers).block_on(|| {
            let (tx, rx) = chan::bounded::<u32>(0);
            let sent = Arc::new(AtomicUsize::new(0));
            let sender = {
                let sent = sent.clone();
                rt::spawn(move || {
                    for i in 0..3 {
                        tx.send(i).unwrap();
                        sent.fetch_add(1, Ordering::SeqCst);
                    }
                })
            };
            rt::sleep(Duration::from_millis(20));
            // Nobody received yet: the first send is still waiting.
            assert_eq!(sent.load(Ordering::SeqCst), 0);
            assert_eq!(rx.recv(), Ok(0));
            assert_eq!(rx.recv(), Ok(1));
            assert_eq!(rx.recv(), Ok(2));
            sender.join().unwrap();
            assert_eq!(sent.load(Ordering::SeqCst), 3);
            assert_eq!(rx.recv(), Err(RecvError));
        });
    }
}

#[test]
fn rendezvous_try_send_needs_a_waiting_receiver() {
    runtime(1).block_on(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
        let receiver = rt::spawn(move || rx.recv());
        rt::yield_now(); // let the receiver park
        rt::yield_now();
        assert_eq!(tx.try_send(2), Ok(()));
        assert_eq!(receiver.join().unwrap(), Ok(2));
    });
}

#[test]
fn close_lets_receivers_drain_then_fails() {
    let (tx, rx) = chan::bounded::<u32>(3);
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert!(tx.close());
    assert!(!tx.close());
    assert!(tx.is_closed() && rx.is_closed());
    assert_eq!(tx.send(3).unwrap_err().into_inner(), 3);
    assert_eq!(tx.try_send(4), Err(TrySendError::Closed(4)));
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.recv(), Err(RecvError));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)),
        Err(RecvTimeoutError::Closed)
    );
}

#[test]
fn close_wakes_blocked_receivers_and_returns_blocked_senders_values() {
    runtime(2).block_on(|| {
        let (tx, rx) = chan::bounded::<String>(0);
        let receivers: Vec<_> = (0..4)
            .map(|_| {
                let rx = rx.clone();
                rt::spawn(move || rx.recv())
            })
            .collect();
        rt::sleep(Duration::from_millis(10));
        tx.close();
        for r in receivers {
            assert_eq!(r.join().unwrap(), Err(RecvError));
        }

        let (tx, rx) = chan::bounded::<String>(1);
        tx.send("buffered".into()).unwrap();
        let senders: Vec<_> = (0..4)
            .map(|i| {
                let tx = tx.clone();
                rt::spawn(move || tx.send(format!("v{i}")).map_err(|e| e.into_inner()))
            })
            .collect();
        rt::sleep(Duration::from_millis(10));
        tx.close();
        let mut returned: Vec<String> = senders
            .into_iter()
            .map(|s| s.join().unwrap().unwrap_err())
            .collect();
        returned.sort();
        assert_eq!(returned, ["v0", "v1", "v2", "v3"]);
        assert_eq!(rx.recv().as_deref(), Ok("buffered"));
        assert_eq!(rx.recv(), Err(RecvError));
    });
}

#[test]
fn dropping_every_sender_closes_dropping_every_receiver_disconnects() {
    let (tx, rx) = chan::unbounded::<u32>();
    let tx2 = tx.clone();
    tx.send(1).unwrap();
    drop(tx);
    assert!(!rx.is_closed());
    tx2.send(2).unwrap();
    drop(tx2);
    assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2]);

    let counted = Arc::new(());
    let (tx, rx) = chan::bounded::<Arc<()>>(4);
    tx.send(counted.clone()).unwrap();
    let rx2 = rx.clone();
    drop(rx);
    assert!(!tx.is_closed());
    drop(rx2);
    // The buffered value was dropped with the last receiver; sends fail.
    assert_eq!(Arc::strong_count(&counted), 1);
    assert!(tx.send(counted.clone()).is_err());
}

#[test]
fn values_arrive_in_fifo_order_and_blocked_senders_keep_it() {
    runtime(2).block_on(|| {
        let (tx, rx) = chan::bounded::<u32>(2);
        let producer = rt::spawn(move || {
            for i in 0..10_000 {
                tx.send(i).unwrap();
            }
        });
        let got: Vec<u32> = rx.iter().collect();
        assert_eq!(got, (0..10_000).collect::<Vec<_>>());
        producer.join().unwrap();
    });
}

#[test]
fn timeouts_never_fire_early_and_return_the_value() {
    runtime(2).block_on(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let start = Instant::now();
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(20)),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(start.elapsed() >= Duration::from_millis(20));
        let start = Instant::now();
        assert_eq!(
            tx.send_timeout(7, Duration::from_millis(20)),
            Err(SendTimeoutError::Timeout(7))
        );
        assert!(start.elapsed() >= Duration::from_millis(20));

        let sender = rt::spawn(move || {
            rt::sleep(Duration::from_millis(5));
            tx.send(9).unwrap();
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(9));
        sender.join().unwrap();
    });
}

/// Many racing timeouts against sends: every value sent is received exactly
/// once, whether it arrived just before or just after a timeout.
#[test]
fn racing_timeouts_lose_no_value() {
    runtime(2).block_on(|| {
        let (tx, rx) = chan::bounded::<u64>(0);
        const N: u64 = 2_000;
        let producer = rt::spawn(move || {
            let mut delivered = 0;
            for i in 0..N {
                if tx.send_timeout(i, Duration::from_micros(50)).is_ok() {
                    delivered += 1;
                }
            }
            delivered
        });
        let mut received = 0;
        loop {
            match rx.recv_timeout(Duration::from_micros(30)) {
                Ok(_) => received += 1,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Closed) => break,
            }
        }
        assert_eq!(producer.join().unwrap(), received);
    });
}

#[test]
fn mpmc_delivers_every_value_exactly_once() {
    for (cap, workers) in [(0, 2), (1, 2), (64, 2), (usize::MAX, 2), (0, 1), (16, 4)] {
        runtime(workers).block_on(|| {
            let (tx, rx) = if cap == usize::MAX {
                chan::unbounded::<u64>()
            } else {
                chan::bounded::<u64>(cap)
            };
            const PRODUCERS: u64 = 4;
            const PER: u64 = 5_000;
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    let tx = tx.clone();
                    rt::spawn(move || (0..PER).for_each(|i| tx.send(p * PER + i).unwrap()))
                })
                .collect();
            drop(tx);
            let consumers: Vec<_> = (0..4)
                .map(|_| {
                    let rx = rx.clone();
                    rt::spawn(move || rx.iter().collect::<Vec<_>>())
                })
                .collect();
            drop(rx);
            producers.into_iter().for_each(|p| p.join().unwrap());
            let mut all: Vec<u64> = consumers
                .into_iter()
                .flat_map(|c| c.join().unwrap())
                .collect();
            all.sort_unstable();
            assert_eq!(all, (0..PRODUCERS * PER).collect::<Vec<_>>(), "cap {cap}");
        });
    }
}

#[test]
fn plain_threads_and_coroutines_share_channels() {
    let rt = runtime(2);
    let (tx, rx) = chan::bounded::<u32>(0);
    let (back_tx, back_rx) = chan::bounded::<u32>(0);
    let echo = rt.spawn(move || {
        for v in &rx {
            back_tx.send(v * 2).unwrap();
        }
    });
    for i in 0..1_000 {
        tx.send(i).unwrap(); // from this plain thread
        assert_eq!(back_rx.recv(), Ok(i * 2));
    }
    drop(tx);
    echo.join().unwrap();
}

#[test]
fn cancelling_a_blocked_sender_or_receiver_leaves_the_channel_consistent() {
    runtime(2).block_on(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let blocked_send = {
            let tx = tx.clone();
            rt::spawn(move || tx.send(1))
        };
        let (other_tx, other_rx) = chan::bounded::<u32>(0);
        let blocked_recv = rt::spawn(move || other_rx.recv());
        rt::sleep(Duration::from_millis(10));
        blocked_send.cancel();
        blocked_recv.cancel();
        assert!(blocked_send.join().unwrap_err().is_cancelled());
        assert!(blocked_recv.join().unwrap_err().is_cancelled());
        // The cancelled sender's entry is gone: a receiver does not get its value.
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let sender = rt::spawn(move || tx.send(2));
        assert_eq!(rx.recv(), Ok(2));
        assert_eq!(sender.join().unwrap(), Ok(()));
        drop(other_tx);
    });
}

#[test]
fn select_takes_the_ready_arm_and_leaves_the_others_alone() {
    runtime(1).block_on(|| {
        let (a_tx, a_rx) = chan::bounded::<u32>(1);
        let (b_tx, b_rx) = chan::bounded::<u32>(1);
        b_tx.send(5).unwrap();
        let got = rt::select! {
            recv(a_rx) -> v => ("a", v),
            recv(b_rx) -> v => ("b", v),
        };
        assert_eq!(got, ("b", Ok(5)));
        assert_eq!(a_tx.len(), 0);
        // default when nothing is ready
        let got = rt::select! {
            recv(a_rx) -> _ => "a",
            recv(b_rx) -> _ => "b",
            default => "default",
        };
        assert_eq!(got, "default");
        // a send arm
        let got = rt::select! {
            send(a_tx, 1) -> r => { r.unwrap(); "sent" }
            recv(b_rx) -> _ => "b",
        };
        assert_eq!(got, "sent");
        assert_eq!(a_rx.recv(), Ok(1));
        // timeout
        let start = Instant::now();
        let got = rt::select! {
            recv(a_rx) -> _ => "a",
            timeout(Duration::from_millis(15)) => "timeout",
        };
        assert_eq!(got, "timeout");
        assert!(start.elapsed() >= Duration::from_millis(15));
        // closed channel arm fires with Err
        drop(b_tx);
        let got = rt::select! {
            recv(a_rx) -> _ => None,
            recv(b_rx) -> v => Some(v),
        };
        assert_eq!(got, Some(Err(RecvError)));
    });
}

#[test]
fn select_blocks_until_one_arm_fires() {
    runtime(2).block_on(|| {
        let (a_tx, a_rx) = chan::bounded::<u32>(0);
        let (b_tx, b_rx) = chan::bounded::<u32>(0);
        let (out_tx, out_rx) = chan::bounded::<u32>(0);
        let peer = rt::spawn(move || {
            rt::sleep(Duration::from_millis(5));
            b_tx.send(2).unwrap();
            out_rx.recv().unwrap()
        });
        let got = rt::select! {
            recv(a_rx) -> v => v.unwrap(),
            recv(b_rx) -> v => v.unwrap(),
        };
        assert_eq!(got, 2);
        let sent = rt::select! {
            send(out_tx, 10) -> r => { r.unwrap(); true }
            recv(a_rx) -> _ => false,
        };
        assert!(sent);
        assert_eq!(peer.join().unwrap(), 10);
        drop(a_tx);
    });
}

/// Four always-ready arms, 40,000 rounds: each must win 25% ± 2.5% (the
/// standard deviation of a fair choice is 0.2%, so this never flakes, while
/// a biased one — say always the first ready arm — fails at once).
#[test]
fn select_is_fair() {
    let chans: Vec<_> = (0..4).map(|_| chan::bounded::<u32>(1)).collect();
    let mut wins = [0u32; 4];
    const ROUNDS: u32 = 40_000;
    for _ in 0..ROUNDS {
        for (tx, _) in &chans {
            let _ = tx.try_send(0);
        }
        let arm = rt::select! {
            recv(chans[0].1) -> _ => 0,
            recv(chans[1].1) -> _ => 1,
            recv(chans[2].1) -> _ => 2,
            recv(chans[3].1) -> _ => 3,
        };
        wins[arm] += 1;
    }
    for (arm, &w) in wins.iter().enumerate() {
        let share = f64::from(w) / f64::from(ROUNDS);
        assert!(
            (0.225..=0.275).contains(&share),
            "arm {arm} won {share:.3} of rounds: {wins:?}"
        );
    }
}

/// 4 producers and 4 consumers, every one of them selecting over two
/// rendezvous channels plus a timeout arm: every value is received exactly
/// once, none lost on a losing arm, none duplicated.
#[test]
fn select_stress_4_producers_4_consumers_no_loss_no_duplicates() {
    for workers in [1, 2, 4] {
        runtime(workers).block_on(|| {
            const PER: u64 = 10_000;
            let (a_tx, a_rx) = chan::bounded::<u64>(0);
            let (b_tx, b_rx) = chan::bounded::<u64>(0);
            let timeouts = Arc::new(AtomicUsize::new(0));
            let producers: Vec<_> = (0..4u64)
                .map(|p| {
                    let (a_tx, b_tx) = (a_tx.clone(), b_tx.clone());
                    let timeouts = timeouts.clone();
                    rt::spawn(move || {
                        let mut i = 0;
                        while i < PER {
                            let value = p * PER + i;
                            rt::select! {
                                send(a_tx, value) -> r => { r.unwrap(); i += 1; }
                                send(b_tx, value) -> r => { r.unwrap(); i += 1; }
                                timeout(Duration::from_micros(200)) => { timeouts.fetch_add(1, Ordering::Relaxed); }
                            }
                        }
                    })
                })
                .collect();
            drop((a_tx, b_tx));
            let consumers: Vec<_> = (0..4)
                .map(|_| {
                    let (a_rx, b_rx) = (a_rx.clone(), b_rx.clone());
                    rt::spawn(move || {
                        let mut got = Vec::new();
                        let (mut a_open, mut b_open) = (true, true);
                        while a_open || b_open {
                            rt::select! {
                                recv(a_rx) -> v => match v { Ok(v) => got.push(v), Err(_) => a_open = false },
                                recv(b_rx) -> v => match v { Ok(v) => got.push(v), Err(_) => b_open = false },
                                timeout(Duration::from_micros(300)) => {}
                            }
                        }
                        got
                    })
                })
                .collect();
            producers.into_iter().for_each(|p| p.join().unwrap());
            let all: Vec<u64> = consumers
                .into_iter()
                .flat_map(|c| c.join().unwrap())
                .collect();
            let unique: HashSet<u64> = all.iter().copied().collect();
            assert_eq!(all.len(), unique.len(), "duplicated values");
            assert_eq!(all.len() as u64, 4 * PER, "lost values");
        });
    }
}

#[test]
fn select_on_the_same_channel_both_ways_does_not_meet_itself() {
    runtime(1).block_on(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let got = rt::select! {
            send(tx, 1) -> _ => "sent to myself?",
            recv(rx) -> _ => "received from myself?",
            timeout(Duration::from_millis(10)) => "timeout",
        };
        assert_eq!(got, "timeout");
    });
}

#[test]
fn select_deadline_arm_and_send_on_closed_channel() {
    runtime(1).block_on(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let deadline = Instant::now() + Duration::from_millis(10);
        let got = rt::select! {
            recv(rx) -> _ => "recv",
            deadline(deadline) => "deadline",
        };
        assert_eq!(got, "deadline");
        assert!(Instant::now() >= deadline);
        // A send arm on a closed channel fires with the value back.
        tx.close();
        let back = rt::select! {
            send(tx, 41) -> r => r.unwrap_err().into_inner(),
            timeout(Duration::from_secs(10)) => 0,
        };
        assert_eq!(back, 41);
        // An empty select with a timeout just waits.
        let start = Instant::now();
        rt::select! { timeout(Duration::from_millis(5)) => {} }
        assert!(start.elapsed() >= Duration::from_millis(5));
    });
}

/// A select parked on a channel that another coroutine closes wakes with
/// the closed result, not a value, and its other arm is left untouched.
#[test]
fn close_wakes_a_parked_select() {
    runtime(2).block_on(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let (other_tx, other_rx) = chan::bounded::<u32>(1);
        let closer = rt::spawn(move || {
            rt::sleep(Duration::from_millis(5));
            tx.close();
        });
        let got = rt::select! {
            recv(rx) -> v => v,
            recv(other_rx) -> v => v.map(|v| v + 1000),
        };
        assert_eq!(got, Err(RecvError));
        closer.join().unwrap();
        other_tx.send(1).unwrap();
        assert_eq!(other_rx.recv(), Ok(1));
    });
}

/// Close empties the wait queues in batches: with far more waiters than a
/// batch, every receiver still sees the close and every sender gets its
/// value back.
#[test]
fn close_wakes_thousands_of_waiters() {
    runtime(2).block_on(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let receivers: Vec<_> = (0..1_000)
            .map(|_| {
                let rx = rx.clone();
                rt::spawn(move || rx.recv())
            })
            .collect();
        let (tx2, _rx2) = chan::bounded::<u32>(0);
        let senders: Vec<_> = (0..1_000)
            .map(|i| {
                let tx2 = tx2.clone();
                rt::spawn(move || tx2.send(i).map_err(|e| e.into_inner()))
            })
            .collect();
        rt::sleep(Duration::from_millis(20));
        assert!(tx.close());
        assert!(tx2.close());
        assert!(receivers
            .into_iter()
            .all(|r| r.join().unwrap() == Err(RecvError)));
        let mut back: Vec<u32> = senders
            .into_iter()
            .map(|s| s.join().unwrap().unwrap_err())
            .collect();
        back.sort_unstable();
        assert_eq!(back, (0..1_000).collect::<Vec<_>>());
    });
}
