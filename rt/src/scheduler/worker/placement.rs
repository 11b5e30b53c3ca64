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
//!   a batch of the oldest queued coroutines instead (`rebalance`), and
//!   when the spawner switches out one last batch evens the two workers
//!   out (`end_burst`).
//!
//! So a handful of communicating coroutines start together, while a
//! fan-out spreads its long-lived coroutines evenly, and an accept loop
//! to within about [`SLACK`] per worker. Coroutines move out of a
//! worker's queues one mover at a time ([`Load::lock_moves`]).
//!
//! Stealing follows the same rule: an idle worker steals unstarted
//! coroutines from a worker that carries [`SLACK`] more than itself, or
//! from one that has spent [`STEAL_DELAY`] of CPU time in one coroutine
//! while they wait (a backlog: it is stuck in one long coroutine),
//! unless the thief already carries [`SLACK`] more than the victim; and
//! from any worker that has resumed nothing for [`BLOCKED_DELAY`] (its
//! thread is blocked in a system call). It does not take what a busy
//! worker just spawned and will run in a moment — Go's thieves
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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_deque::Injector;
use crossbeam_utils::CachePadded;

use super::Worker;
use crate::scheduler::task::Task;
use crate::scheduler::{Counters, Shared};

/// How much CPU time a worker must have spent in one coroutine, while
/// unstarted coroutines wait in its queue, before a worker no busier
/// than it steals them.
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

/// How many times the end of a burst tries for its worker's `moving`
/// flag before it leaves the evening to its next resume: the first half
/// spinning, the second half yielding the CPU (see `even_out_burst`).
const PATIENCE: usize = 64;

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
    /// The worker thread's CPU-time clock (the wall clock where it has
    /// none), once the thread runs.
    cpu_clock: OnceLock<libc::clockid_t>,
    /// Someone is moving coroutines out of this worker's queues — a
    /// thief, or the owner rebalancing (see [`Load::lock_moves`]).
    moving: CachePadded<AtomicBool>,
}

/// Held while coroutines move out of one worker's queues; see
/// [`Load::lock_moves`].
pub(crate) struct MovingOut<'a>(&'a AtomicBool);

impl Drop for MovingOut<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
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
        let cpu_clock = {
            let mut clock: libc::clockid_t = 0;
            // SAFETY: pthread_self is the calling thread; `clock` is
            // writable.
            let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
            (rc == 0).then_some(clock)
        };
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let cpu_clock = None;
        let _ = self
            .cpu_clock
            .set(cpu_clock.unwrap_or(libc::CLOCK_MONOTONIC));
    }

    /// The CPU time the worker's thread has used (while it runs: its
    /// clock is valid until the thread exits, after the workers stop
    /// searching); the wall clock where the thread has no CPU clock.
    /// `None` before the thread published its clock: it has not started
    /// its loop, so it is not stuck in a coroutine, however long it takes
    /// to be scheduled (a fresh runtime's second worker can take 100 µs
    /// and more on a busy host; judged by the wall clock, it was robbed
    /// of what was placed on it).
    fn cpu_time(&self) -> Option<Duration> {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let clock = *self.cpu_clock.get()?;
        // SAFETY: `now` is writable; an invalid clock only makes it fail.
        if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
            return Some(Duration::ZERO);
        }
        Some(Duration::new(now.tv_sec as u64, now.tv_nsec as u32))
    }

    /// Take the right to move coroutines out of this worker's queues, if
    /// nobody holds it. Every move out (a steal, a rebalancing batch)
    /// decides how many to take from the counters and updates them
    /// before it lets go, so the next mover decides on counts that
    /// include it. Without it a thief and the rebalancing owner, both
    /// seeing the same difference, each moved half of it — together all
    /// of it — and tipped the balance the other way.
    pub(crate) fn lock_moves(&self) -> Option<MovingOut<'_>> {
        self.moving
            .compare_exchange(false, true, Ordering::Acquire, Relaxed)
            .is_ok()
            .then(|| MovingOut(&self.moving))
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
    /// Spawns the running coroutine made since it was resumed (on a
    /// runtime of several workers; see `end_burst`).
    run_spawns: Cell<usize>,
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
            run_spawns: Cell::new(0),
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

/// Why a thief may steal from a victim (see `Worker::may_steal_from`).
#[derive(Clone, Copy)]
enum StealWhy {
    /// It carries [`SLACK`] more than the thief.
    Busier,
    /// It resumed nothing for a while (a long coroutine, a blocked thread).
    Stuck,
}

impl Worker {
    /// Out of local work: become a searcher (if not too many are) and
    /// steal unstarted coroutines from another worker that is busier or
    /// stuck (see the module's comment).
    #[inline(never)]
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
            if victim == self.index {
                continue;
            }
            if remotes[victim].stealer.is_empty() && remotes[victim].load.placed.is_empty() {
                // A later queue is a new one: its wait starts then.
                self.balance.seen.borrow_mut()[victim] = None;
                continue;
            }
            let Some(why) = self.may_steal_from(victim) else {
                continue;
            };
            if let Some(task) = self.steal_from(victim, why) {
                return Some(task);
            }
        }
        self.take_from_injector()
    }

    /// Steal a batch from `victim` for `why`, holding its `moving` flag
    /// while deciding how many on fresh counts, taking them and counting
    /// them (not while moving them into this worker's queue: a thief
    /// holding the flag holds up the victim's own rebalancing).
    fn steal_from(&self, victim: usize, why: StealWhy) -> Option<Arc<Task>> {
        let remote = &self.shared.remotes[victim];
        let Some(moving) = remote.load.lock_moves() else {
            // Another thief, or the victim rebalancing: look again in a
            // moment, on the counts it leaves.
            self.balance.decline(victim, MIN_RECHECK);
            return None;
        };
        let Some(limit) = self.steal_limit(victim, why) else {
            // No longer busier, on fresh counts: look again in a moment
            // (and the queue is no reason to wake anyone meanwhile).
            self.balance.decline(victim, MIN_RECHECK);
            return None;
        };
        self.balance.seen.borrow_mut()[victim] = None;
        // Its own queue first; then what was placed on it and not yet
        // taken (placement chose it, but it qualifies as a victim now:
        // blocked, stuck or far busier).
        let stealer = &remote.stealer;
        let placed = &remote.load.placed;
        let (task, taken) = self
            .stage_batch(|staging| stealer.steal_batch_with_limit_and_pop(staging, limit))
            .or_else(|| {
                let taken = self
                    .stage_batch(|staging| placed.steal_batch_with_limit_and_pop(staging, limit))?;
                remote.load.placed_stolen.fetch_add(taken.1, Relaxed);
                Some(taken)
            })?;
        // One transfer per batch, not per coroutine.
        remote.load.stolen_out.fetch_add(taken, Relaxed);
        self.load().add_own(taken);
        drop(moving);
        self.unstage();
        Counters::bump(&self.shared.counters(self.index).steals);
        Some(task)
    }

    /// Whether to steal from `victim`, whose queue is not empty: its load
    /// is [`SLACK`] above this worker's; or it is stuck — it resumed
    /// nothing since this worker first saw it with a queue, while its
    /// thread used [`STEAL_DELAY`] of CPU time (a long coroutine) or
    /// [`BLOCKED_DELAY`] went by (its thread is blocked: a coroutine made
    /// a blocking call, maybe waiting for the very coroutine queued
    /// behind it). Only a blocked victim is stolen from by a thief
    /// already [`SLACK`] busier. Otherwise the steal is put off
    /// (`Balance::decline`) until the victim could next qualify.
    fn may_steal_from(&self, victim: usize) -> Option<StealWhy> {
        let remote = &self.shared.remotes[victim];
        let (theirs, mine) = (remote.load.get() as isize, self.load().get() as isize);
        let difference = theirs.wrapping_sub(mine);
        if difference > SLACK as isize {
            return Some(StealWhy::Busier);
        }
        // CPU time, not only wall time: a victim whose thread is off the
        // CPU for a moment (preempted: on 2 cores a spinning thief can be
        // what preempts it) is not stuck, and its coroutines are better
        // off waiting for it. And time in a coroutine, not in the
        // scheduler: a worker carving and faulting in its first fresh
        // stacks spends 40 µs (90 in a debug build) starting one
        // coroutine, and is not stuck either.
        let counters = &remote.counters;
        let switches = counters.switches.load(Relaxed);
        let resumes = counters.resumes.load(Relaxed);
        let in_coroutine = resumes != switches;
        let Some(cpu) = remote.load.cpu_time() else {
            // Its thread has not started yet: not stuck.
            self.balance.decline(victim, STEAL_DELAY);
            return None;
        };
        let now = Instant::now();
        let mut seen = self.balance.seen.borrow_mut();
        let within = match seen[victim] {
            Some((before, cpu_then, then)) if before == resumes => {
                let (wall, used) = (now.duration_since(then), cpu.saturating_sub(cpu_then));
                let busy = in_coroutine && used >= STEAL_DELAY && difference >= -(SLACK as isize);
                if wall >= BLOCKED_DELAY || busy {
                    return Some(StealWhy::Stuck);
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

    /// How many coroutines at most to steal from `victim` for `why`,
    /// on counts read while holding its [`MovingOut`]: from a busier
    /// victim half the difference (so the steal does not tip the balance
    /// the other way), none if it is no longer [`SLACK`] busier; from a
    /// stuck one half of the difference plus [`SLACK`], at least one.
    fn steal_limit(&self, victim: usize, why: StealWhy) -> Option<usize> {
        let theirs = self.shared.remotes[victim].load.get() as isize;
        let difference = theirs.wrapping_sub(self.load().get() as isize);
        match why {
            StealWhy::Busier if difference > SLACK as isize => Some(difference as usize / 2),
            StealWhy::Busier => None,
            StealWhy::Stuck => Some((difference + SLACK as isize).max(2) as usize / 2),
        }
    }

    pub(super) fn load(&self) -> &Load {
        &self.shared.remotes[self.index].load
    }

    /// Where a coroutine spawned on this worker starts: here, or (this
    /// worker carrying [`SLACK`] more than a random other) there. Counts
    /// it on the worker chosen.
    pub(in crate::scheduler) fn place(&self) -> usize {
        let remotes = &self.shared.remotes;
        if remotes.len() == 1 {
            self.load().add_own(1);
            return self.index;
        }
        let spawns = self.balance.run_spawns.get().wrapping_add(1);
        self.balance.run_spawns.set(spawns);
        let mine = self.load().get() as isize;
        if mine > SLACK as isize {
            if self.unstarted.len() > SLACK {
                // A burst: move batches instead (see `rebalance`).
                if spawns % SLACK == 0 {
                    self.rebalance();
                }
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
    /// most [`MAX_MOVE`], with one wake. Thieves may take some too (one
    /// mover at a time: [`Load::lock_moves`]), and [`end_burst`]
    /// evens the rest out.
    ///
    /// [`end_burst`]: Worker::end_burst
    fn rebalance(&self) {
        let _ = self.try_move_out(SLACK, MAX_MOVE);
    }

    /// If nobody else is moving coroutines out of this worker's queues,
    /// [`move_to_random_other`](Self::move_to_random_other) under the
    /// `moving` flag, and wake the worker they went to once the flag is
    /// let go (waking may be a system call). Returns whether it got the
    /// flag.
    fn try_move_out(&self, tolerance: usize, most: usize) -> bool {
        let Some(moving) = self.load().lock_moves() else {
            return false;
        };
        let moved_to = self.move_to_random_other(tolerance, most);
        drop(moving);
        if let Some(target) = moved_to {
            self.shared.wake_placed(target);
        }
        true
    }

    /// A coroutine switched out. If it spawned [`SLACK`] or more since it
    /// was resumed — a fan-out, an accept loop taking a backlog of
    /// connections: long-lived coroutines in bulk — even this worker and
    /// a random other out to within one coroutine; placement and
    /// rebalancing keep them only within [`SLACK`] to 2 × [`SLACK`] (a
    /// fan-out of 64 split 41 / 25). A coroutine that spawns a few
    /// helpers at a time keeps them with it. Called after every resume;
    /// costs a test of a local counter.
    #[inline(always)]
    pub(super) fn end_burst(&self) {
        if self.balance.run_spawns.replace(0) >= SLACK {
            self.even_out_burst();
        }
    }

    #[cold]
    fn even_out_burst(&self) {
        // A thief is taking a batch right now. It holds the flag for a
        // steal, a few µs — unless its thread was preempted meanwhile
        // (on a busy host): then giving up the CPU lets it finish.
        // Without waiting, this worker went on to start its whole queue
        // itself, and a fan-out stayed on one worker (64 / 1).
        for attempt in 0..PATIENCE {
            if self.try_move_out(1, usize::MAX) {
                return;
            }
            if attempt < PATIENCE / 2 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // Still held: even out after the next resume, on the counts it
        // leaves.
        if !self.unstarted.is_empty() {
            self.balance.run_spawns.set(SLACK);
        }
    }

    /// With [`MovingOut`] of this worker held: if a random other worker
    /// carries more than `tolerance` less than this one, move half the
    /// difference (at most `most`) of the oldest queued coroutines
    /// to its placed queue. Returns that worker if any moved: the caller
    /// wakes it once it let the flag go (see `try_move_out`).
    #[must_use]
    fn move_to_random_other(&self, tolerance: usize, most: usize) -> Option<usize> {
        let other = self.random_other();
        let target = &self.shared.remotes[other].load;
        let mine = self.load().get() as isize;
        let difference = mine.wrapping_sub(target.get() as isize);
        if difference <= tolerance as isize {
            return None;
        }
        let count = (difference as usize / 2).min(most);
        let mut moved = 0;
        while moved < count {
            let Some(task) = self.unstarted.pop() else {
                break;
            };
            target.placed.push(task);
            moved += 1;
        }
        if moved == 0 {
            return None;
        }
        target.placed_in.fetch_add(moved, Relaxed);
        self.load().add_own(moved.wrapping_neg());
        Some(other)
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
    /// that worker (see [`wake_placed`](Self::wake_placed)).
    pub(in crate::scheduler) fn push_placed(&self, target: usize, task: Arc<Task>) {
        self.remotes[target].load.placed.push(task);
        self.wake_placed(target);
    }

    /// Coroutines were placed on worker `target` (pushed and counted):
    /// wake it, and publish them as new work (rule 1 of `idle.rs`) — the
    /// target's thread may be blocked in a coroutine (maybe waiting for
    /// these very ones), and only a searcher rescues what is queued behind
    /// it. If the target sleeps and nobody searches, it is the one woken
    /// as the searcher: one wake, not two.
    fn wake_placed(&self, target: usize) {
        let searcher = self.idle.worker_to_notify_preferring(Some(target));
        if let Some(index) = searcher.filter(|&index| index != target) {
            self.unpark_worker(index);
        }
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
