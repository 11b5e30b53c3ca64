//! Channel hand-offs and select registration under every interleaving loom
//! finds: a rendezvous send meets its receive exactly once, close racing a
//! hand-off either delivers the value or gives it back, and a select racing
//! senders (or another select) completes exactly one operation — no value
//! lost on a losing arm, none duplicated, nobody left parked.
#![cfg(loom)]

use loom::thread;
use rt::chan::{self, RecvError, TryRecvError};

#[test]
fn rendezvous_hand_off() {
    loom::model(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let sender = thread::spawn(move || tx.send(7));
        assert_eq!(rx.recv(), Ok(7));
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}

#[test]
fn close_racing_a_hand_off_delivers_or_returns_the_value() {
    loom::model(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let closer = tx.clone();
        let sender = thread::spawn(move || tx.send(7).map_err(|e| e.into_inner()));
        let closing = thread::spawn(move || {
            closer.close();
        });
        let received = rx.recv();
        let sent = sender.join().unwrap();
        closing.join().unwrap();
        match received {
            Ok(v) => assert_eq!((v, sent), (7, Ok(()))),
            Err(RecvError) => assert_eq!(sent, Err(7)),
        }
    });
}

#[test]
fn buffered_send_wakes_a_parked_receiver() {
    loom::model(|| {
        let (tx, rx) = chan::bounded::<u32>(1);
        let sender = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        sender.join().unwrap();
        assert_eq!(rx.recv(), Err(RecvError));
    });
}

#[test]
fn select_racing_two_senders_takes_exactly_one_value() {
    loom::model(|| {
        let (a_tx, a_rx) = chan::bounded::<u32>(1);
        let (b_tx, b_rx) = chan::bounded::<u32>(1);
        let a = thread::spawn(move || a_tx.send(1).unwrap());
        let b = thread::spawn(move || b_tx.send(2).unwrap());
        let got = rt::select! {
            recv(a_rx) -> v => v.unwrap(),
            recv(b_rx) -> v => v.unwrap(),
        };
        a.join().unwrap();
        b.join().unwrap();
        // The losing arm took nothing: its value is still in its channel.
        let (left, other) = if got == 1 {
            (b_rx.try_recv(), a_rx.try_recv())
        } else {
            (a_rx.try_recv(), b_rx.try_recv())
        };
        assert_eq!(left, Ok(3 - got));
        assert_eq!(other, Err(TryRecvError::Closed));
    });
}

#[test]
fn select_meeting_select_transfers_exactly_once() {
    loom::model(|| {
        let (a_tx, a_rx) = chan::bounded::<u32>(0);
        let (b_tx, b_rx) = chan::bounded::<u32>(0);
        let sender = thread::spawn(move || {
            rt::select! {
                send(a_tx, 1) -> r => { r.unwrap(); 1 }
                send(b_tx, 2) -> r => { r.unwrap(); 2 }
            }
        });
        let got = rt::select! {
            recv(a_rx) -> v => v.unwrap(),
            recv(b_rx) -> v => v.unwrap(),
        };
        assert_eq!(sender.join().unwrap(), got);
    });
}

#[test]
fn close_wakes_blocked_senders_and_receivers() {
    loom::model(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let (tx2, rx2) = (tx.clone(), rx.clone());
        let sender = thread::spawn(move || tx2.send(7).map_err(|e| e.into_inner()));
        let (other_tx, other_rx) = chan::bounded::<u32>(0);
        let receiver = thread::spawn(move || other_rx.recv());
        tx.close();
        other_tx.close();
        // Nobody received from `rx`: the sender must get its value back.
        assert_eq!(sender.join().unwrap(), Err(7));
        assert_eq!(receiver.join().unwrap(), Err(RecvError));
        drop((rx, rx2));
    });
}

/// A `default` select takes `default` only if no arm was ready at one
/// instant (Go locks every channel of the select while it polls). Here a
/// send on `a` or on `b` can complete at every instant — `a` gets room
/// before `b` fills — so `default` must never run; polling one channel at
/// a time takes it when the room moves from `b` to `a` between the polls.
#[test]
fn default_select_takes_default_only_if_no_arm_was_ready_at_one_instant() {
    loom::model(|| {
        let (a_tx, a_rx) = chan::bounded::<u32>(1);
        let (b_tx, b_rx) = chan::bounded::<u32>(1);
        a_tx.try_send(0).unwrap(); // `a` full; `b` has room
        let b_filler = b_tx.clone();
        let mover = thread::spawn(move || {
            assert_eq!(a_rx.try_recv(), Ok(0)); // room in `a`…
            let _ = b_filler.try_send(1); // …then `b` fills (unless the select did)
            a_rx
        });
        let took_default = rt::select! {
            send(a_tx, 2) -> r => { r.unwrap(); false },
            send(b_tx, 3) -> r => { r.unwrap(); false },
            default => true,
        };
        let a_rx = mover.join().unwrap();
        assert!(!took_default, "an arm was ready at every instant");
        // Exactly one of the select's values went out.
        let sent: Vec<u32> = [a_rx.try_recv().ok(), b_rx.try_recv().ok()]
            .into_iter()
            .flatten()
            .filter(|&v| v >= 2)
            .collect();
        assert_eq!(sent.len(), 1, "{sent:?}");
    });
}

/// A disabled arm (Go's nil channel) never fires and never waits: a select
/// whose other arm races a sender completes that arm exactly once.
#[test]
fn select_with_a_disabled_arm_completes_the_enabled_one() {
    loom::model(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let sender = thread::spawn(move || tx.send(5));
        let off: Option<&chan::Receiver<u32>> = None;
        let got = rt::select! {
            recv(off) -> _ => unreachable!("disabled"),
            recv(rx) -> v => v.unwrap(),
        };
        assert_eq!(got, 5);
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}

/// The dynamic select meets a sender exactly once, like `select!`.
#[test]
fn dynamic_select_racing_two_senders_takes_exactly_one_value() {
    loom::model(|| {
        let (a_tx, a_rx) = chan::bounded::<u32>(1);
        let (b_tx, b_rx) = chan::bounded::<u32>(1);
        let a = thread::spawn(move || a_tx.send(1).unwrap());
        let b = thread::spawn(move || b_tx.send(2).unwrap());
        let mut select = chan::Select::new();
        select.recv(&a_rx);
        select.recv(&b_rx);
        let first = match select.select() {
            chan::Selected::Recv { result, .. } => result.unwrap(),
            chan::Selected::Send { .. } => unreachable!(),
        };
        a.join().unwrap();
        b.join().unwrap();
        let rest: Vec<u32> = [a_rx.try_recv(), b_rx.try_recv()]
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        assert_eq!(rest.len(), 1, "the other value stays in its channel");
        assert_eq!(first + rest[0], 3);
    });
}
