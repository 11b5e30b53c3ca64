//! Rule 3's exception (`scheduler/idle.rs`, `worker/placement.rs`): a
//! thief may *decline* another worker's queue (its coroutines were just
//! spawned and the victim is neither busier nor stuck yet). As it goes
//! to sleep, it then skips that queue in its re-check — the queue is
//! no reason to wake anyone — because the thief sleeps only until the
//! victim could qualify, and looks again itself. No work may be lost by
//! that — not even when the victim is stuck in a coroutine that waits
//! for the very one queued behind it, so only the thief can run it.
//!
//! Both halves matter: with the declining worker's sleep untimed, or
//! without rule 3's re-check, loom finds a deadlock here.
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use loom_tests::take_one;
use rt::model::{AfterWake, Idle, Sleeper};

const WORKERS: usize = 2;
/// Worker 0 owns the queue worker 1 may decline.
const OWNER: usize = 0;

/// Two workers and a producer. "Work" is counters standing in for the
/// queues: `shared` for the injector (anyone takes), `local` for worker
/// 0's own queue, filled by a coroutine of worker 0 that then blocks its
/// thread until that item has run (`rt/tests/placement.rs` has the real
/// one): worker 1 declines the queue once — a steal put off — and takes
/// it the next time it looks.
struct Runtime {
    idle: Idle,
    sleepers: Vec<Sleeper>,
    shared: AtomicUsize,
    local: AtomicUsize,
    /// Taken and "run".
    ran: AtomicUsize,
    /// Whether worker 0's item ran.
    local_ran: AtomicUsize,
    /// Where worker 0's blocked thread waits for its item to run.
    blocked: Sleeper,
    /// Items in all: one local, `shared_items` shared.
    items: usize,
    /// Worker 0 was searching when it found the coroutine that fills its
    /// queue and blocks (so worker 1's search may have been refused).
    owner_searched: bool,
}

impl Runtime {
    fn new(shared_items: usize, owner_searched: bool) -> Runtime {
        Runtime {
            idle: Idle::new(WORKERS),
            sleepers: (0..WORKERS).map(|_| Sleeper::new()).collect(),
            shared: AtomicUsize::new(0),
            local: AtomicUsize::new(0),
            ran: AtomicUsize::new(0),
            local_ran: AtomicUsize::new(0),
            blocked: Sleeper::new(),
            items: shared_items + 1,
            owner_searched,
        }
    }

    fn notify_parked(&self) {
        loom_tests::notify_parked(&self.idle, &self.sleepers);
    }

    /// Rule 2's check (after leaving the searching count): every queue,
    /// a declined one too.
    fn work_left(&self) -> bool {
        self.shared.load(SeqCst) + self.local.load(SeqCst) > 0
    }

    fn finished(&self) -> bool {
        self.ran.load(SeqCst) == self.items
    }

    fn run_one(&self, local: bool) {
        if local {
            self.local_ran.store(1, SeqCst);
            assert_eq!(self.blocked.wake(), AfterWake::Done);
        }
        if self.ran.fetch_add(1, SeqCst) + 1 == self.items {
            for sleeper in &self.sleepers {
                loom_tests::wake(sleeper);
            }
        }
    }

    /// Steal as a searcher: the injector, then the owner's queue — which
    /// the thief declines the first time it sees it. Returns what it
    /// found (`Some(true)`: the owner's item), and whether it declined the
    /// owner's queue.
    fn search(&self, index: usize, declined_once: &mut bool) -> (Option<bool>, bool) {
        if take_one(&self.shared) {
            return (Some(false), false);
        }
        if index == OWNER || self.local.load(SeqCst) == 0 {
            return (None, false);
        }
        if std::mem::replace(declined_once, true) {
            (take_one(&self.local).then_some(true), false)
        } else {
            (None, true)
        }
    }

    fn worker(&self, index: usize) {
        if index == OWNER {
            if self.owner_searched && self.idle.transition_worker_to_searching() {
                // It searched and found its coroutine: rule 2 on the way
                // (nothing else is queued yet).
                if self.idle.transition_worker_from_searching() && self.work_left() {
                    self.notify_parked();
                }
            }
            // Its running coroutine spawns one (a local push, then rule 1)
            // and blocks the thread until it has run elsewhere.
            self.local.fetch_add(1, SeqCst);
            self.notify_parked();
            while self.local_ran.load(SeqCst) == 0 {
                self.blocked.sleep();
            }
        }
        let mut searching = false;
        let mut declined_once = false;
        while !self.finished() {
            // The owner's own queue comes first (`next_local`).
            if index == OWNER && take_one(&self.local) {
                self.run_one(true);
                continue;
            }
            if !searching && self.idle.transition_worker_to_searching() {
                searching = true;
            }
            let mut declined = false;
            if searching {
                let (found, put_off) = self.search(index, &mut declined_once);
                if let Some(local) = found {
                    // Rule 2 counts every queue, a declined one too.
                    if self.idle.transition_worker_from_searching() && self.work_left() {
                        self.notify_parked();
                    }
                    searching = false;
                    self.run_one(local);
                    continue;
                }
                declined = put_off;
            }
            let was_searching = std::mem::replace(&mut searching, false);
            // Rule 3 skips a queue this worker declined, and its own.
            searching = loom_tests::park(
                &self.idle,
                &self.sleepers,
                index,
                was_searching,
                || {
                    let local = index != OWNER && !declined && self.local.load(SeqCst) > 0;
                    self.shared.load(SeqCst) > 0 || local
                },
                declined,
                || self.finished(),
            );
        }
    }
}

fn model(shared_items: usize, owner_searched: bool) {
    loom::model(move || {
        let rt = Arc::new(Runtime::new(shared_items, owner_searched));
        let workers: Vec<_> = (0..WORKERS)
            .map(|i| {
                let rt = rt.clone();
                thread::spawn(move || rt.worker(i))
            })
            .collect();
        for _ in 0..shared_items {
            rt.shared.fetch_add(1, SeqCst);
            rt.notify_parked();
        }
        for w in workers {
            w.join().unwrap();
        }
        assert!(rt.finished());
    });
}

/// Only the owner's queue: declined by the thief, then taken by it.
#[test]
fn a_declined_queue_is_still_run() {
    model(0, false);
}

/// Worker 1's search is refused while worker 0 searches; worker 0 then
/// stops searching (nothing else queued: rule 2 wakes nobody), fills its
/// queue (everyone awake: rule 1 wakes nobody) and blocks. Worker 1,
/// parking without having searched, must still re-check the queues.
#[test]
fn a_worker_refused_the_search_still_rechecks_as_it_parks() {
    model(0, true);
}

/// The owner's queue and one shared item published meanwhile: skipping
/// the declined queue in rule 3 loses neither.
#[test]
fn skipping_a_declined_queue_in_rule_3_loses_no_work() {
    model(1, false);
}
