//! Go's select semantics, ported from Go's own tests: fairness
//! (runtime/chan_test.go), operand evaluation (test/chan/select5.go,
//! test/chan/select.go), no double completion (test/chan/doubleselect.go),
//! nil channels; for `select!` and for the dynamic `rt::chan::Select`.
//! Each runs on 1, 2 and 4 workers.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use rt::chan::{Receiver, Select, Selected, Sender};

fn on_each_runtime(body: impl Fn() + Send + Sync + 'static) {
    let body = Arc::new(body);
    for workers in [1, 2, 4] {
        let runtime = rt::Builder::new().workers(workers).build().unwrap();
        let body = body.clone();
        runtime.block_on(move || body());
    }
}

/// runtime/chan_test.go TestSelectFairness: two ready channels behind two
/// that are never ready; each must win about half the time ("more than 10
/// sigma away" fails: 5,000 ± 500 of 10,000).
fn select_fairness(pick: fn(&[&Receiver<u8>; 4]) -> u8) {
    const TRIALS: usize = 10_000;
    on_each_runtime(move || {
        let (c1_tx, c1) = rt::chan::bounded::<u8>(TRIALS + 1);
        let (c2_tx, c2) = rt::chan::bounded::<u8>(TRIALS + 1);
        for _ in 0..=TRIALS {
            c1_tx.send(1).unwrap();
            c2_tx.send(2).unwrap();
        }
        let (_c3_tx, c3) = rt::chan::bounded::<u8>(0);
        let (_c4_tx, c4) = rt::chan::bounded::<u8>(0);
        let (out_tx, out) = rt::chan::bounded::<u8>(0);
        let (done_tx, done) = rt::chan::bounded::<()>(0);
        let picker = rt::spawn(move || loop {
            let b = pick(&[&c3, &c4, &c1, &c2]);
            rt::select! {
                send(out_tx, b) -> r => r.unwrap(),
                recv(done) -> _ => return,
            }
        });
        let (mut cnt1, mut cnt2) = (0, 0);
        for _ in 0..TRIALS {
            match out.recv().unwrap() {
                1 => cnt1 += 1,
                2 => cnt2 += 1,
                b => panic!("unexpected value {b} on channel"),
            }
        }
        let mean = TRIALS as f64 * 0.5;
        let stddev = (TRIALS as f64 * 0.5 * 0.5).sqrt();
        assert!(
            (cnt1 as f64 - mean).abs() <= 10.0 * stddev,
            "unfair select: in {TRIALS} trials, results were {cnt1}, {cnt2}"
        );
        drop(done_tx);
        picker.join().unwrap();
    });
}

#[test]
fn select_fairness_with_arms_that_are_not_ready_in_front() {
    select_fairness(|[c3, c4, c1, c2]| {
        rt::select! {
            recv(c3) -> b => b.unwrap(),
            recv(c4) -> b => b.unwrap(),
            recv(c1) -> b => b.unwrap(),
            recv(c2) -> b => b.unwrap(),
        }
    });
}

#[test]
fn select_fairness_of_the_dynamic_select() {
    select_fairness(|receivers| {
        let mut select = Select::new();
        for rx in receivers {
            select.recv(rx);
        }
        match select.select() {
            Selected::Recv { result, .. } => result.unwrap(),
            Selected::Send { .. } => unreachable!(),
        }
    });
}

#[test]
fn select_fairness_with_disabled_arms_in_front() {
    select_fairness(|[_, _, c1, c2]| {
        let off: Option<&Receiver<u8>> = None;
        rt::select! {
            recv(off) -> _ => unreachable!("a disabled arm never fires"),
            recv(off) -> _ => unreachable!("a disabled arm never fires"),
            recv(c1) -> b => b.unwrap(),
            recv(c2) -> b => b.unwrap(),
        }
    });
}

/// The same fairness with `default` (the path that locks every channel).
#[test]
fn select_fairness_with_default() {
    select_fairness(|[c3, c4, c1, c2]| {
        rt::select! {
            recv(c3) -> b => b.unwrap(),
            recv(c4) -> b => b.unwrap(),
            recv(c1) -> b => b.unwrap(),
            recv(c2) -> b => b.unwrap(),
            default => unreachable!("two arms are always ready"),
        }
    });
}

thread_local! {
    static ORDER: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Log an operand's evaluation and return it.
fn eval<T>(what: &str, value: T) -> T {
    ORDER.with(|o| o.borrow_mut().push(what.to_owned()));
    value
}

fn take_order() -> Vec<String> {
    ORDER.with(|o| std::mem::take(&mut *o.borrow_mut()))
}

/// test/chan/select5.go: "each case's channel and send-value expressions
/// are evaluated exactly once, in source order" — for receives and sends,
/// ready and not, nil channels, with and without default, blocking.
#[test]
fn select5_operands_are_evaluated_once_case_by_case_in_source_order() {
    on_each_runtime(|| {
        let (tx1, rx1) = rt::chan::bounded::<u32>(1);
        let (tx2, rx2) = rt::chan::bounded::<u32>(1);
        let nil_rx: Option<&Receiver<u32>> = None;
        let nil_tx: Option<&Sender<u32>> = None;
        let expected = ["c1", "c2", "v2", "c3", "c4", "v4"].map(String::from);

        // Nothing ready: default.
        rt::select! {
            recv(eval("c1", &rx1)) -> _ => unreachable!(),
            send(eval("c2", nil_tx), eval("v2", 2)) -> _ => unreachable!(),
            recv(eval("c3", nil_rx)) -> _ => unreachable!(),
            send(eval("c4", &tx2), eval("v4", 4)) -> r => r.unwrap(),
            default => unreachable!("the send on c4 is ready"),
        }
        assert_eq!(take_order(), expected);
        assert_eq!(rx2.recv(), Ok(4));

        // A receive ready, blocking select.
        tx1.send(1).unwrap();
        tx2.send(0).unwrap(); // c4 full: not ready
        let got = rt::select! {
            recv(eval("c1", &rx1)) -> v => v.unwrap(),
            send(eval("c2", nil_tx), eval("v2", 2)) -> _ => unreachable!(),
            recv(eval("c3", nil_rx)) -> _ => unreachable!(),
            send(eval("c4", &tx2), eval("v4", 4)) -> _ => unreachable!("c4 is full"),
        };
        assert_eq!(got, 1);
        assert_eq!(take_order(), expected);

        // Nothing ready until another coroutine sends: blocking.
        let sender = rt::spawn(move || {
            rt::sleep(Duration::from_millis(1));
            tx1.send(7).unwrap();
        });
        let got = rt::select! {
            recv(eval("c1", &rx1)) -> v => v.unwrap(),
            send(eval("c2", nil_tx), eval("v2", 2)) -> _ => unreachable!(),
            recv(eval("c3", nil_rx)) -> _ => unreachable!(),
            send(eval("c4", &tx2), eval("v4", 4)) -> _ => unreachable!("c4 is full"),
            timeout(eval("timeout", Duration::from_secs(60))) => unreachable!(),
        };
        assert_eq!(got, 7);
        let mut with_timeout = expected.to_vec();
        with_timeout.push("timeout".into());
        assert_eq!(take_order(), with_timeout);
        sender.join().unwrap();
    });
}

/// test/chan/select.go: send values are evaluated for every case each
/// time, nil channels included; a case switches itself off by setting its
/// channel to nil.
#[test]
fn select_go_send_values_are_evaluated_for_nil_channels_too() {
    on_each_runtime(|| {
        let counter = std::cell::Cell::new(0u32);
        let shift = std::cell::Cell::new(0u32);
        let get_value = || {
            counter.set(counter.get() + 1);
            1u32 << shift.get()
        };
        let send = |mut a: Option<&Sender<u32>>, mut b: Option<&Sender<u32>>| {
            let mut i = 0;
            loop {
                rt::select! {
                    send(a, get_value()) -> r => {
                        r.unwrap();
                        i += 1;
                        a = None;
                    },
                    send(b, get_value()) -> r => {
                        r.unwrap();
                        i += 1;
                        b = None;
                    },
                    default => break,
                }
                shift.set(shift.get() + 1);
            }
            i
        };
        let (a_tx, a_rx) = rt::chan::bounded::<u32>(1);
        let (b_tx, b_rx) = rt::chan::bounded::<u32>(1);
        assert_eq!(send(Some(&a_tx), Some(&b_tx)), 2);
        assert_eq!(a_rx.recv().unwrap() | b_rx.recv().unwrap(), 3);
        assert_eq!(send(Some(&a_tx), None), 1);
        assert_eq!(counter.get(), 10);
    });
}

/// test/chan/doubleselect.go: a sender selects over four channels, each
/// forwarded by a mux into one channel; if two cases of one select both
/// ran, a value would arrive twice.
fn double_select(dynamic: bool) {
    const ITERATIONS: u32 = 20_000;
    on_each_runtime(move || {
        let chans: Vec<_> = (0..4).map(|_| rt::chan::bounded::<u32>(0)).collect();
        let senders: Vec<Sender<u32>> = chans.iter().map(|(tx, _)| tx.clone()).collect();
        let (cmux_tx, cmux) = rt::chan::bounded::<u32>(0);
        let (done_tx, done) = rt::chan::bounded::<()>(0);
        let sender = rt::spawn(move || {
            let [c1, c2, c3, c4] = &senders[..] else {
                unreachable!()
            };
            for i in 0..ITERATIONS {
                if dynamic {
                    let mut select = Select::new();
                    for tx in &senders {
                        select.send(tx, i);
                    }
                    assert!(matches!(
                        select.select(),
                        Selected::Send { result: Ok(()), .. }
                    ));
                } else {
                    rt::select! {
                        send(c1, i) -> r => r.unwrap(),
                        send(c2, i) -> r => r.unwrap(),
                        send(c3, i) -> r => r.unwrap(),
                        send(c4, i) -> r => r.unwrap(),
                    }
                }
            }
            for tx in &senders {
                tx.close();
            }
        });
        for (_, rx) in chans {
            let (out, done) = (cmux_tx.clone(), done_tx.clone());
            rt::go!(move || {
                for v in rx.iter() {
                    out.send(v).unwrap();
                }
                done.send(()).unwrap();
            });
        }
        drop(cmux_tx);
        rt::go!(move || (0..4).for_each(|_| done.recv().unwrap()));
        let mut seen = vec![false; ITERATIONS as usize];
        for v in cmux.iter().take(ITERATIONS as usize) {
            assert!(!seen[v as usize], "got duplicate value: {v}");
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|&s| s), "every value arrived");
        sender.join().unwrap();
    });
}

#[test]
fn doubleselect_never_completes_two_cases() {
    double_select(false);
}

#[test]
fn doubleselect_never_completes_two_cases_of_a_dynamic_select() {
    double_select(true);
}

/// Go: a select whose every case has a nil channel and no default blocks
/// forever; rt's waits forever too, until cancelled. With a timeout, the
/// timeout fires.
#[test]
fn select_with_only_nil_channels_waits_for_the_timeout_or_forever() {
    on_each_runtime(|| {
        let off: Option<&Receiver<u8>> = None;
        let fired = rt::select! {
            recv(off) -> _ => false,
            timeout(Duration::from_millis(1)) => true,
        };
        assert!(fired);
        let (started_tx, started) = rt::chan::bounded::<()>(1);
        let forever = rt::spawn(move || {
            let off: Option<Receiver<u8>> = None;
            started_tx.send(()).unwrap();
            rt::select! {
                recv(off) -> _ => unreachable!(),
            }
        });
        started.recv().unwrap();
        rt::sleep(Duration::from_millis(1));
        forever.cancel();
        assert!(forever.join().unwrap_err().is_cancelled());
    });
}

/// A disabled send arm sends nothing; its value is dropped with the select.
#[test]
fn a_disabled_send_arm_drops_its_value_and_sends_nothing() {
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    struct Counted;
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, SeqCst);
        }
    }
    let (tx, rx) = rt::chan::bounded::<Counted>(1);
    let mut on = None;
    let ran = rt::select! {
        send(on, Counted) -> _ => "send",
        default => "default",
    };
    assert_eq!((ran, DROPPED.load(SeqCst)), ("default", 1));
    on = Some(&tx);
    let ran = rt::select! {
        send(on, Counted) -> r => { r.map_err(|_| ()).unwrap(); "send" },
        default => "default",
    };
    assert_eq!((ran, DROPPED.load(SeqCst)), ("send", 1));
    drop(rx.recv().unwrap());
    assert_eq!(DROPPED.load(SeqCst), 2);
}

/// `select!` accepts a comma after a block body, as match-like macros do.
#[test]
fn select_accepts_commas_after_block_bodies() {
    let (tx, rx) = rt::chan::bounded::<u8>(1);
    tx.send(1).unwrap();
    let mut got;
    rt::select! {
        recv(rx) -> v => { got = v.unwrap(); },
        send(tx, 2) -> _ => { got = 2; },
        default => { got = 3; },
    }
    assert_eq!(got, 1, "a receive was ready and the buffer was full");
    rt::select! {
        recv(rx) -> _ => { unreachable!() }
        default => { got = 4; }
    }
    assert_eq!(got, 4);
}

/// Fan-in with a dynamic select over many channels: every value exactly
/// once, closed channels switched off as they close.
#[test]
fn dynamic_select_fans_in_every_value_exactly_once() {
    on_each_runtime(|| {
        const CHANNELS: usize = 64;
        const PER: u64 = 200;
        let receivers: Vec<_> = (0..CHANNELS)
            .map(|c| {
                let (tx, rx) = rt::chan::bounded::<u64>(c % 3);
                rt::go!(move || (0..PER).for_each(|k| tx.send(c as u64 * PER + k).unwrap()));
                rx
            })
            .collect();
        let mut select = Select::new();
        for rx in &receivers {
            select.recv(rx);
        }
        let mut seen = vec![false; CHANNELS * PER as usize];
        let mut open = CHANNELS;
        while open > 0 {
            match select.select() {
                Selected::Recv {
                    result: Ok(v),
                    index,
                } => {
                    assert_eq!(v / PER, index as u64, "from the case's own channel");
                    assert!(!std::mem::replace(&mut seen[v as usize], true), "{v} twice");
                }
                Selected::Recv {
                    index,
                    result: Err(_),
                } => {
                    select.disable(index);
                    open -= 1;
                }
                Selected::Send { .. } => unreachable!(),
            }
        }
        assert!(seen.iter().all(|&s| s));
        assert!(select.try_select().is_none(), "every case is disabled");
    });
}

/// A dynamic select's losing send cases keep their values for the next
/// round; `set_value` reloads a case that fired.
#[test]
fn dynamic_select_send_cases_keep_unsent_values() {
    let (tx_a, rx_a) = rt::chan::bounded::<u32>(1);
    let (tx_b, rx_b) = rt::chan::bounded::<u32>(1);
    let mut select = Select::new();
    let a = select.send(&tx_a, 10);
    let b = select.send(&tx_b, 20);
    let first = select.try_select().unwrap().index();
    let second = select.try_select().unwrap().index();
    assert_eq!([first.min(second), first.max(second)], [a, b]);
    assert!(
        select.try_select().is_none(),
        "both fired, nothing left to send"
    );
    assert_eq!((rx_a.recv(), rx_b.recv()), (Ok(10), Ok(20)));
    assert_eq!(select.set_value(a, 11), None);
    assert_eq!(select.select().index(), a);
    assert_eq!(rx_a.recv(), Ok(11));
}

/// A `Select` interrupted while it waits (here by `rt::timeout`), just as
/// a counterpart completes one of its cases, stays consistent for the next
/// call: a send case whose value was taken sits out until `set_value`;
/// every value the counterpart got is accounted for.
#[test]
fn dynamic_select_interrupted_mid_hand_off_stays_consistent() {
    use std::sync::atomic::AtomicBool;
    let runtime = rt::Builder::new().workers(2).build().unwrap();
    runtime.block_on(|| {
        let (tx, rx) = rt::chan::bounded::<u64>(0);
        let (_idle_tx, idle) = rt::chan::bounded::<u64>(0);
        let stop = Arc::new(AtomicBool::new(false));
        let taker = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut got = 0u64;
                while !stop.load(SeqCst) {
                    got += u64::from(rx.try_recv().is_ok());
                }
                got
            })
        };
        let mut select = Select::new();
        let send = select.send(&tx, 0);
        select.recv(&idle);
        let mut sent = 0u64;
        for i in 0..20_000u64 {
            // Interrupted: nothing to do; a case whose value went sits out.
            if let Ok(done) = rt::timeout(Duration::ZERO, || select.select()) {
                assert!(matches!(done, Selected::Send { result: Ok(()), .. }));
                sent += 1;
                assert_eq!(select.set_value(send, i), None);
            }
        }
        stop.store(true, SeqCst);
        let got = taker.join().unwrap();
        let taken_while_interrupted = u64::from(select.set_value(send, 0).is_none());
        assert_eq!(got, sent + taken_while_interrupted);
    });
}
