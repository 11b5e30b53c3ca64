//! A coroutine placed on another worker (`Shared::push_placed`,
//! `worker/placement.rs`) whose thread is blocked in a coroutine waiting
//! for the very one placed there, while a third worker already sleeps
//! with no timer. The placer wakes the target, which cannot answer, so the
//! placement must also be published as new work (rule 1 of
//! `scheduler/idle.rs`): then the sleeper is woken, declines the queue
//! once (the target is not stuck yet) and takes it the next time it looks.
//! Without the rule-1 call loom finds the deadlock.
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use loom_tests::take_one;
use rt::model::{AfterWake, Idle, Sleeper};

const WORKERS: usize = 3;
/// Blocked in a coroutine until the placed one has run.
const TARGET: usize = 1;
/// Asleep, or about to sleep, when the coroutine is placed.
const IDLE: usize = 2;

struct Runtime {
    idle: Idle,
    sleepers: Vec<Sleeper>,
    /// The target's placed queue.
    placed: AtomicUsize,
    /// Whether the placed coroutine ran.
    ran: AtomicUsize,
    /// Where the target's blocked thread waits.
    blocked: Sleeper,
}

impl Runtime {
    fn notify_parked(&self) {
        loom_tests::notify_parked(&self.idle, &self.sleepers);
    }

    fn finished(&self) -> bool {
        self.ran.load(SeqCst) == 1
    }

    fn run_placed(&self) {
        self.ran.store(1, SeqCst);
        assert_eq!(self.blocked.wake(), AfterWake::Done);
    }

    fn target(&self) {
        while !self.finished() {
            self.blocked.sleep();
        }
    }

    /// The scheduler's loop for the third worker: search (declining the
    /// placed queue the first time), else park with rule 3.
    fn idle_worker(&self) {
        let mut searching = false;
        let mut declined_once = false;
        while !self.finished() {
            if !searching && self.idle.transition_worker_to_searching() {
                searching = true;
            }
            let mut declined = false;
            if searching && self.placed.load(SeqCst) > 0 {
                if !std::mem::replace(&mut declined_once, true) {
                    declined = true;
                } else if take_one(&self.placed) {
                    if self.idle.transition_worker_from_searching() && self.placed.load(SeqCst) > 0
                    {
                        self.notify_parked();
                    }
                    self.run_placed();
                    return;
                }
            }
            let was_searching = std::mem::replace(&mut searching, false);
            searching = loom_tests::park(
                &self.idle,
                &self.sleepers,
                IDLE,
                was_searching,
                || !declined && self.placed.load(SeqCst) > 0,
                declined,
                || self.finished(),
            );
        }
    }
}

#[test]
fn a_coroutine_placed_behind_a_blocked_thread_is_still_run() {
    loom::model(|| {
        let rt = Arc::new(Runtime {
            idle: Idle::new(WORKERS),
            sleepers: (0..WORKERS).map(|_| Sleeper::new()).collect(),
            placed: AtomicUsize::new(0),
            ran: AtomicUsize::new(0),
            blocked: Sleeper::new(),
        });
        let target = {
            let rt = rt.clone();
            thread::spawn(move || rt.target())
        };
        let idle = {
            let rt = rt.clone();
            thread::spawn(move || rt.idle_worker())
        };
        // Worker 0 places the coroutine (`push_placed`, `wake_placed`) and
        // then stays busy: it never looks at the target's queue.
        rt.placed.fetch_add(1, SeqCst);
        let searcher = rt.idle.worker_to_notify_preferring(Some(TARGET));
        if let Some(index) = searcher.filter(|&index| index != TARGET) {
            loom_tests::wake(&rt.sleepers[index]);
        }
        assert_eq!(rt.sleepers[TARGET].wake(), AfterWake::Done);
        target.join().unwrap();
        idle.join().unwrap();
    });
}
