//! The coroutine state word: an `unpark` racing a `park` is never lost, and
//! a coroutine is never queued (or resumed) twice.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Release};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use rt::model::{Parked, State, Unpark};

/// A run queue holding at most the one coroutine of the model.
struct Queue {
    /// How many times the coroutine is queued (must stay 0 or 1).
    queued: Mutex<(usize, bool)>,
    cvar: Condvar,
}

impl Queue {
    fn push(&self) {
        let mut q = self.queued.lock().unwrap();
        q.0 += 1;
        assert_eq!(q.0, 1, "coroutine queued twice: it would be resumed twice");
        self.cvar.notify_one();
    }

    /// Wait until the coroutine is queued; fail if the waker is done and
    /// never queued it (a lost wakeup).
    fn pop(&self) {
        let mut q = self.queued.lock().unwrap();
        while q.0 == 0 {
            assert!(
                !q.1,
                "lost wakeup: waker finished, coroutine never rescheduled"
            );
            q = self.cvar.wait(q).unwrap();
        }
        q.0 -= 1;
    }

    fn waker_done(&self) {
        self.queued.lock().unwrap().1 = true;
        self.cvar.notify_one();
    }
}

/// One coroutine waits for `ready`, parking between checks; another thread
/// sets `ready` and unparks it. The worker thread plays the scheduler.
fn park_unpark_model(fast_path: bool) {
    loom::model(move || {
        let state = Arc::new(State::new_scheduled());
        let ready = Arc::new(AtomicBool::new(false));
        let queue = Arc::new(Queue {
            queued: Mutex::new((0, false)),
            cvar: Condvar::new(),
        });

        let waker = {
            let (state, ready, queue) = (state.clone(), ready.clone(), queue.clone());
            thread::spawn(move || {
                ready.store(true, Release);
                if state.unpark() == Unpark::Schedule {
                    queue.push();
                }
                queue.waker_done();
            })
        };

        // The worker: resume, let the body check and park, decide.
        state.transition_to_running();
        loop {
            if ready.load(Acquire) {
                state.transition_to_done();
                break;
            }
            // park(): consume a pending notification without switching...
            if fast_path && state.try_consume_notification() {
                continue;
            }
            // ...or switch out, after which the worker decides.
            match state.transition_to_idle() {
                Parked::Notified => {}
                Parked::Idle => queue.pop(),
            }
            state.transition_to_running();
        }
        waker.join().unwrap();
        // A late unpark of a finished coroutine must not queue it.
        assert_eq!(state.unpark(), Unpark::Nothing);
    });
}

#[test]
fn unpark_racing_park_is_never_lost() {
    park_unpark_model(false);
}

#[test]
fn unpark_racing_park_with_fast_path_is_never_lost() {
    park_unpark_model(true);
}

/// Two wakers unpark the same idle coroutine: exactly one schedules it.
#[test]
fn concurrent_unparks_schedule_once() {
    loom::model(|| {
        let state = Arc::new(State::new_scheduled());
        state.transition_to_running();
        assert_eq!(state.transition_to_idle(), Parked::Idle);
        let wakers: Vec<_> = (0..2)
            .map(|_| {
                let state = state.clone();
                thread::spawn(move || state.unpark() == Unpark::Schedule)
            })
            .collect();
        let scheduled = wakers
            .into_iter()
            .filter(|_| true)
            .map(|w| w.join().unwrap())
            .filter(|&s| s)
            .count();
        assert_eq!(scheduled, 1);
    });
}

/// Two wakers, each publishing its own flag: the coroutine must see both.
/// The second `unpark` may arrive while the first has queued the coroutine
/// (a woken coroutine is RUNNING while queued), and its writes must still
/// reach the coroutine — through NOTIFIED, which the next park consumes.
fn two_wakers_model(fast_path: bool) {
    loom::model(move || {
        let state = Arc::new(State::new_scheduled());
        let flags = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
        let queue = Arc::new(Queue {
            queued: Mutex::new((0, false)),
            cvar: Condvar::new(),
        });
        state.transition_to_running();
        assert_eq!(state.transition_to_idle(), Parked::Idle);
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let wakers: Vec<_> = (0..2)
            .map(|i| {
                let (state, flags, queue, done) =
                    (state.clone(), flags.clone(), queue.clone(), done.clone());
                thread::spawn(move || {
                    flags[i].store(true, Release);
                    if state.unpark() == Unpark::Schedule {
                        queue.push();
                    }
                    if done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
                        queue.waker_done();
                    }
                })
            })
            .collect();
        queue.pop();
        loop {
            state.transition_to_running();
            if flags[0].load(Acquire) && flags[1].load(Acquire) {
                state.transition_to_done();
                break;
            }
            if fast_path && state.try_consume_notification() {
                continue;
            }
            match state.transition_to_idle() {
                Parked::Notified => {}
                Parked::Idle => queue.pop(),
            }
        }
        wakers.into_iter().for_each(|w| w.join().unwrap());
    });
}

#[test]
fn a_second_unpark_while_queued_is_not_lost() {
    two_wakers_model(false);
}

#[test]
fn a_second_unpark_while_queued_is_not_lost_with_fast_path() {
    two_wakers_model(true);
}
