//! Where a new coroutine starts. Started coroutines never move (LLVM may
//! cache thread-local addresses across a stack switch), so placement is
//! decided before the start, once, and must hold for the coroutine's life.
//!
//! A coroutine spawned on a worker stays there — it most likely talks to
//! its spawner, and a hand-off on one worker costs no wake — unless that
//! worker carries clearly more coroutines than another: "clearly more" is
//! [`SLACK`] more than one other worker picked at random (the power of one
//! random choice: no scan of every worker per spawn; with two workers,
//! exact). Then:
//!
//! - with a short queue of its own, the new coroutine is placed on the
//!   other worker (its `placed` queue, which wakes it; thieves take from
//!   it only under the rules they steal from its own queue by);
//! - in a burst (its queue longer than [`SLACK`]), placing one at a time
//!   would read another worker's counters and wake it on every spawn
//!   (spawn_join ran 2× slower that way), so every [`SLACK`]th spawn moves
//!   a batch of the oldest queued coroutines instead (`rebalance`).
//!
//! So a handful of communicating coroutines start together, while an
//! accept loop or a fan-out spreads its long-lived coroutines evenly, to
//! within about [`SLACK`] per worker.
//!
//! Stealing follows the same rule: an idle worker steals unstarted
//! coroutines from a worker that carries [`SLACK`] more than itself, or
//! from one that has spent [`STEAL_DELAY`] of CPU time without resuming
//! another coroutine while they wait (a backlog: it is stuck in one long
//! coroutine), unless the thief already carries [`SLACK`] more than the
//! victim; and from any worker that has resumed nothing for
//! [`BLOCKED_DELAY`] (its thread is blocked in a system call). It does not take
//! what a busy worker just spawned and will run in a moment — Go's thieves
//! wait ~3 µs before taking a P's `runnext` for the same reason. The delay
//! is the victim's CPU time, not wall time: a victim whose thread is off
//! the CPU is not stuck (docs/scheduler.md has the measurements). A thief
//! that put a steal off sleeps until the victim could next qualify (at
//! most [`STEAL_DELAY`] while the victim's thread runs; backing off while
//! it is off the CPU, up to [`BLOCKED_DELAY`]), then looks again; a queue
//! it declined is no reason to wake another worker.
//!
//! A worker's *load* is every coroutine counted on it: queued here,
//! placed here, or started here and not finished. It is kept as three
//! counters, each on its own cache line, so that the owner's side (spawn
//! here, finish here) needs no atomic read-modify-write and shares no line
//! with the others' writes: `own`, written only by the owner; `placed_in`,
//! added to by placing workers; `stolen_out`, added to by a thief, once
//! per batch it steals. Coroutines taken from the shared injector are
//! counted when taken.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_deque::Injector;
use crossbeam_utils::CachePadded;

use super::Worker;
use crate::scheduler::task::Task;
use crate::scheduler::{Counters, Shared};

/// How much CPU time a worker must have spent without resuming another
/// coroutine, while unstarted coroutines wait in its queue, before a
/// worker no busier than it steals them.
pub(crate) const STEAL_DELAY: Duration = Duration::from_micros(50);

/// The shortest sleep before looking at a declined victim again.
const MIN_RECHECK: Duration = Duration::from_micros(5);

/// How long a worker may resume nothing, whatever CPU time its thread
/// uses, while unstarted coroutines wait in its queue, before any idle
/// worker steals them: its thread is blocked (a blocking call in a
/// coroutine) — or preempted for that long, which is rare.
pub(crate) const BLOCKED_DELAY: Duration = Duration::from_millis(10);

/// How many more coroutines than a random other worker a worker may carry
/// before its spawns are placed on that other worker.
pub(crate) const SLACK: usize = 8;

/// The most coroutines one rebalancing moves at once.
const MAX_MOVE: usize = 32;

/// One worker's load counters and its queue of coroutines placed on it.
#[derive(Default)]
pub(crate) struct Load {
    /// Spawned here + stolen or taken from the injector by this worker −
    /// finished here (wrapping). Owner only: plain load + store.
    own: CachePadded<AtomicUsize>,
    /// Placed here by other workers.
    placed_in: CachePadded<AtomicUsize>,
    /// Stolen from here by other workers.
    stolen_out: CachePadded<AtomicUsize>,
    /// Unstarted coroutines placed here by other workers; this worker
    /// takes them, and thieves under the same rules as its own queue.
    pub(crate) placed: Injector<Arc<Task>>,
    /// Taken from `placed` by thieves (so the owner's count of what it
    /// took, `Balance::placed_taken`, plus this is what left the queue).
    placed_stolen: CachePadded<AtomicUsize>,
    /// The worker thread's CPU-time clock, once it runs.
    cpu_clock: OnceLock<libc::clockid_t>,
}

impl Load {
    /// Every coroutine counted on this worker (approximate while others
    /// change it).
    pub(crate) fn get(&self) -> usize {
        self.own
            .load(Relaxed)
            .wrapping_add(self.placed_in.load(Relaxed))
            .wrapping_sub(self.stolen_out.load(Relaxed))
    }

    /// Called on the worker's thread as it starts: let thieves read its
    /// CPU time.
    pub(crate) fn publish_cpu_clock(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let mut clock: libc::clockid_t = 0;
            // SAFETY: pthread_self is the calling thread; `clock` is
            // writable.
            if unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) } == 0 {
                let _ = self.cpu_clock.set(clock);
            }
        }
    }

    /// The CPU time the worker's thread has used (while it runs: its
    /// clock is valid until the thread exits, after the workers stop
    /// searching); the wall clock if unknown.
    fn cpu_time(&self) -> Duration {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let clock = self
            .cpu_clock
            .get()
            .copied()
            .unwrap_or(libc::CLOCK_MONOTONIC);
        // SAFETY: `now` is writable; an invalid clock only makes it fail.
        if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
            return Duration::ZERO;
        }
        Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
    }

    /// Owner only: add `delta` (wrapping) to its own count.
    pub(crate) fn add_own(&self, delta: usize) {
        self.own
            .store(self.own.load(Relaxed).wrapping_add(delta), Relaxed);
    }
}

/// One worker's placement bookkeeping (its thread only): as a thief,
/// what it saw of the other workers' queues; as a spawner, its burst
/// count; as an owner, what it took from its placed queue.
pub(crate) struct Balance {
    /// By worker index: the victim's resume count when first seen with a
    /// queue, the CPU time its thread had used then, and when that was.
    seen: RefCell<Vec<Option<(u64, Duration, Instant)>>>,
    /// By worker index: the last search saw its queue and put the steal
    /// off (so that queue is not a reason to wake anyone: this worker
    /// looks again itself, see `recheck`).
    declined: RefCell<Vec<bool>>,
    /// How long to sleep at most after the last search put a steal off:
    /// the soonest any declined victim may qualify (see `may_steal_from`).
    recheck: Cell<Option<Duration>>,
    /// Spawns made while this worker had a backlog (see `rebalance`).
    burst_spawns: Cell<usize>,
    /// Coroutines this worker took from its placed queue so far (compared
    /// with `Load::placed_in` to skip an empty queue cheaply).
    placed_taken: Cell<usize>,
}

impl Balance {
    pub(crate) fn new(workers: usize) -> Balance {
        Balance {
            seen: RefCell::new(vec![None; workers]),
            declined: RefCell::new(vec![false; workers]),
            recheck: Cell::new(None),
            burst_spawns: Cell::new(0),
            placed_taken: Cell::new(0),
        }
    }

    /// The time to sleep at most, given `timeout` (the next timer): no
    /// longer than the recheck time if the last search put a steal off.
    pub(crate) fn recheck_within(&self, timeout: Option<Duration>) -> Option<Duration> {
        match (self.recheck.get(), timeout) {
            (Some(recheck), Some(timeout)) => Some(recheck.min(timeout)),
            (recheck, timeout) => recheck.or(timeout),
        }
    }

    /// Whether worker `index`'s queue was declined by the last search.
    pub(crate) fn declined(&self, index: usize) -> bool {
        self.declined.borrow()[index]
    }

    /// Put off a steal from `victim`, looking again within `within`.
    fn decline(&self, victim: usize, within: Duration) {
        self.declined.borrow_mut()[victim] = true;
        let soonest = self.recheck.get().map_or(within, |r| r.min(within));
        self.recheck.set(Some(soonest));
    }
}

impl Worker {
    /// Out of local work: become a searcher (if not too many are) and
    /// steal unstarted coroutines from another worker that is busier or
    /// stuck (see the module's comment).
    pub(super) fn search(&self) -> Option<Arc<Task>> {
        // What an earlier search declined is now another searcher's to
        // judge (or this one's, below): no timer for it, and no reason
        // to skip waking others for it.
        self.balance.recheck.set(None);
        self.balance.declined.borrow_mut().fill(false);
        if !self.searching.get() {
            if !self.shared.idle.transition_worker_to_searching() {
                return None;
            }
            self.searching.set(true);
        }
        let remotes = &self.shared.remotes;
        let start = self.next_random() as usize % remotes.len();
        for i in 0..remotes.len() {
            let victim = (start + i) % remotes.len();
            let stealer = &remotes[victim].stealer;
            let placed = &remotes[victim].load.placed;
            if victim == self.index {
                continue;
            }
            if stealer.is_empty() && placed.is_empty() {
                // A later queue is a new one: its wait starts then.
                self.balance.seen.borrow_mut()[victim] = None;
                continue;
            }
            let Some(limit) = self.may_steal_from(victim) else {
                continue;
            };
            self.balance.seen.borrow_mut()[victim] = None;
            // Its own queue first; then what was placed on it and not
            // yet taken (placement chose it, but it qualifies as a
            // victim now: blocked, stuck or far busier).
            let stolen = self
                .take_batch(|staging| stealer.steal_batch_with_limit_and_pop(staging, limit))
                .or_else(|| {
                    let taken = self.take_batch(|staging| {
                        placed.steal_batch_with_limit_and_pop(staging, limit)
                    });
                    if let Some((_, n)) = taken {
                        remotes[victim].load.placed_stolen.fetch_add(n, Relaxed);
                    }
                    taken
                });
            if let Some((task, taken)) = stolen {
                Counters::bump(&self.shared.counters(self.index).steals);
                // One transfer per batch, not per coroutine.
                remotes[victim].load.stolen_out.fetch_add(taken, Relaxed);
                self.load().add_own(taken);
                return Some(task);
            }
        }
        self.take_from_injector()
    }

    /// Whether to steal from `victim`, whose queue is not empty, and how
    /// many coroutines at most: its load is [`SLACK`] above this
    /// worker's (then half the difference, so the steal does not tip the
    /// balance the other way); or it is stuck — it resumed nothing since
    /// this worker first saw it with a queue, while its thread used
    /// [`STEAL_DELAY`] of CPU time (a long coroutine) or [`BLOCKED_DELAY`]
    /// went by (its thread is blocked: a coroutine made a blocking call,
    /// maybe waiting for the very coroutine queued behind it); then half
    /// of the difference plus [`SLACK`], at least one. Only a blocked
    /// victim is stolen from by a thief already [`SLACK`] busier.
    /// Otherwise the steal is put off (`Balance::decline`) until the victim
    /// could next qualify.
    fn may_steal_from(&self, victim: usize) -> Option<usize> {
        let remote = &self.shared.remotes[victim];
        let (theirs, mine) = (remote.load.get() as isize, self.load().get() as isize);
        let difference = theirs.wrapping_sub(mine);
        if difference > SLACK as isize {
            return Some(difference as usize / 2);
        }
        let limit = (difference + SLACK as isize).max(2) as usize / 2;
        // CPU time, not only wall time: a victim whose thread is off the
        // CPU for a moment (preempted: on 2 cores a spinning thief can be
        // what preempts it) is not stuck, and its coroutines are better
        // off waiting for it.
        let resumes = remote.counters.resumes.load(Relaxed);
        let (cpu, now) = (remote.load.cpu_time(), Instant::now());
        let mut seen = self.balance.seen.borrow_mut();
        let within = match seen[victim] {
            Some((before, cpu_then, then)) if before == resumes => {
                let (wall, used) = (now.duration_since(then), cpu.saturating_sub(cpu_then));
                let busy = used >= STEAL_DELAY && difference >= -(SLACK as isize);
                if wall >= BLOCKED_DELAY || busy {
                    return Some(limit);
                }
                if used * 2 >= wall {
                    // On the CPU: it may qualify as busy soon.
                    STEAL_DELAY.saturating_sub(used).max(MIN_RECHECK)
                } else {
                    // Off the CPU (blocked, or preempted): back off,
                    // but look again when it would count as blocked.
                    (wall * 2)
                        .max(STEAL_DELAY)
                        .min(BLOCKED_DELAY.saturating_sub(wall))
                        .max(MIN_RECHECK)
                }
            }
            _ => {
                seen[victim] = Some((resumes, cpu, now));
                STEAL_DELAY
            }
        };
        self.balance.decline(victim, within);
        None
    }

    pub(super) fn load(&self) -> &Load {
        &self.shared.remotes[self.index].load
    }

    /// Where a coroutine spawned on this worker starts: here, or (this
    /// worker carrying [`SLACK`] more than a random other) there. Counts
    /// it on the worker chosen.
    pub(in crate::scheduler) fn place(&self) -> usize {
        let remotes = &self.shared.remotes;
        let mine = self.load().get() as isize;
        if remotes.len() > 1 && mine > SLACK as isize {
            if self.unstarted.len() > SLACK {
                // A burst: move batches instead (see `rebalance`).
                self.rebalance(mine);
            } else {
                let other = self.random_other();
                let theirs = &remotes[other].load;
                if mine.wrapping_sub(theirs.get() as isize) > SLACK as isize {
                    theirs.placed_in.fetch_add(1, Relaxed);
                    return other;
                }
            }
        }
        self.load().add_own(1);
        self.index
    }

    /// In a burst of spawns (this worker's queue longer than [`SLACK`]),
    /// placing one coroutine at a time would read another worker's load
    /// and wake it on every spawn. Instead, every [`SLACK`]th spawn, move
    /// a batch of the oldest queued coroutines to a random other worker
    /// whose load is [`SLACK`] below this one's: half the difference, at
    /// most [`MAX_MOVE`], with one wake. Thieves still take the rest.
    fn rebalance(&self, mine: isize) {
        let spawns = self.balance.burst_spawns.get().wrapping_add(1);
        self.balance.burst_spawns.set(spawns);
        if spawns % SLACK != 0 {
            return;
        }
        let other = self.random_other();
        let target = &self.shared.remotes[other].load;
        let difference = mine.wrapping_sub(target.get() as isize);
        if difference <= SLACK as isize {
            return;
        }
        let count = (difference as usize / 2).min(MAX_MOVE);
        let mut moved = 0;
        while moved < count {
            let Some(task) = self.unstarted.pop() else {
                break;
            };
            target.placed.push(task);
            moved += 1;
        }
        if moved > 0 {
            target.placed_in.fetch_add(moved, Relaxed);
            self.load().add_own(moved.wrapping_neg());
            self.shared.unpark_worker(other);
        }
    }

    /// Another worker, picked at random.
    fn random_other(&self) -> usize {
        let workers = self.shared.remotes.len();
        (self.index + 1 + self.next_random() as usize % (workers - 1)) % workers
    }

    /// A coroutine homed here finished.
    pub(super) fn count_finished(&self) {
        self.load().add_own(usize::MAX); // -1, wrapping
    }

    /// The next coroutine another worker placed here, taking a batch.
    /// Checked every `GLOBAL_QUEUE_INTERVAL` steps and when local work
    /// runs out: while nothing new was placed here, costs one load of a
    /// line only placers write.
    pub(super) fn take_placed(&self) -> Option<Arc<Task>> {
        let load = self.load();
        let taken = self.balance.placed_taken.get();
        // A placer counts before it pushes, or pushes before it counts,
        // and wakes this worker after both: a miss here is seen after the
        // wake.
        let gone = taken.wrapping_add(load.placed_stolen.load(Relaxed));
        if load.placed_in.load(Relaxed) == gone {
            return None;
        }
        let (task, batch) = self.take_batch(|staging| load.placed.steal_batch_and_pop(staging))?;
        self.balance.placed_taken.set(taken.wrapping_add(batch));
        Some(task)
    }
}

impl Shared {
    /// Queue `task`, placed on worker `target` by another worker, and wake
    /// that worker.
    pub(in crate::scheduler) fn push_placed(&self, target: usize, task: Arc<Task>) {
        self.remotes[target].load.placed.push(task);
        self.unpark_worker(target);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// The load counters are exact, not just roughly right: once every
    /// coroutine has finished, every worker's load is 0 again — after
    /// bursts from several spawners on 4 workers, with placements,
    /// rebalancing batches and steals (each moving counts) in between.
    #[test]
    fn loads_return_to_zero_when_every_coroutine_finished() {
        for _ in 0..20 {
            let rt = crate::Builder::new().workers(4).build().unwrap();
            rt.block_on(|| {
                let spawners: Vec<_> = (0..8)
                    .map(|_| {
                        crate::spawn(|| {
                            let children: Vec<_> = (0..300)
                                .map(|i| {
                                    crate::spawn(move || {
                                        if i % 3 == 0 {
                                            crate::yield_now();
                                        }
                                    })
                                })
                                .collect();
                            children.into_iter().for_each(|c| c.join().unwrap());
                        })
                    })
                    .collect();
                spawners.into_iter().for_each(|s| s.join().unwrap());
            });
            rt.assert_no_leaks(Duration::from_secs(20));
            let remotes = &rt.shared().remotes;
            let loads: Vec<usize> = remotes.iter().map(|r| r.load.get()).collect();
            assert_eq!(loads, vec![0; 4], "loads left over");
        }
    }
}
