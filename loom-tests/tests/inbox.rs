//! A worker's inbox and its sleeper: a coroutine woken from another thread
//! is never left in the inbox of a sleeping worker, even though the
//! worker's frequent checks read a lock-free hint that may be stale.
#![cfg(loom)]

use std::collections::VecDeque;

use loom::sync::Arc;
use loom::thread;
use rt::model::{AfterWake, Inbox, Sleeper};

/// The worker's side, as `Worker::next_local` and `Worker::park` do it:
/// take what the hint shows; when that is nothing, check under the lock
/// and sleep. Returns once `want` items were taken.
fn owner_takes(inbox: &Inbox<VecDeque<u32>>, sleeper: &Sleeper, want: usize) -> Vec<u32> {
    let mut got = Vec::new();
    while got.len() < want {
        let taken = inbox.take_all();
        if !taken.is_empty() {
            got.extend(taken);
            continue;
        }
        // If this sleep could miss a push, loom reports a deadlock.
        if inbox.is_empty() {
            sleeper.sleep();
        }
    }
    got
}

/// The waker's side, as `Shared::schedule_woken` does it.
fn push_and_wake(inbox: &Inbox<VecDeque<u32>>, sleeper: &Sleeper, item: u32) {
    inbox.push(item);
    assert_eq!(sleeper.wake(), AfterWake::Done);
}

#[test]
fn a_wake_from_another_thread_reaches_a_sleeping_owner() {
    loom::model(|| {
        let inbox = Arc::new(Inbox::<VecDeque<u32>>::default());
        let sleeper = Arc::new(Sleeper::new());
        let waker = {
            let (inbox, sleeper) = (inbox.clone(), sleeper.clone());
            thread::spawn(move || push_and_wake(&inbox, &sleeper, 7))
        };
        assert_eq!(owner_takes(&inbox, &sleeper, 1), [7]);
        waker.join().unwrap();
    });
}

#[test]
fn two_wakers_both_reach_the_owner_each_in_its_order() {
    loom::model(|| {
        let inbox = Arc::new(Inbox::<VecDeque<u32>>::default());
        let sleeper = Arc::new(Sleeper::new());
        let wakers: Vec<_> = [[1, 2], [10, 20]]
            .into_iter()
            .map(|items| {
                let (inbox, sleeper) = (inbox.clone(), sleeper.clone());
                thread::spawn(move || {
                    for item in items {
                        push_and_wake(&inbox, &sleeper, item);
                    }
                })
            })
            .collect();
        let got = owner_takes(&inbox, &sleeper, 4);
        let position = |item| got.iter().position(|&x| x == item).unwrap();
        assert!(position(1) < position(2) && position(10) < position(20));
        wakers.into_iter().for_each(|w| w.join().unwrap());
    });
}
