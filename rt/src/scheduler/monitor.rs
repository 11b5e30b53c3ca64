//! The blocked-worker monitor: a thread that notices a worker stuck inside
//! one coroutine (a blocking call, a long computation without a park or a
//! yield) and says which coroutine it is and where it was spawned — the
//! coroutines queued behind it on that worker cannot run meanwhile.
//!
//! Like Go's sysmon it reads what the workers publish anyway: each worker
//! bumps a resume counter before every resume (a plain store to its own
//! cache line) and flags itself idle while it sleeps. A counter that has
//! not moved for the threshold while the worker is awake means one resume
//! has lasted that long. Only then does the monitor ask the worker's
//! thread which coroutine it runs (`probe.rs`): nothing is published per
//! switch for a question asked once per stuck episode.
//!
//! The same thread keeps the runtime's coarse [`Clock`], which stamps every
//! park for `rt::dump` ("parked for 3 s") without a clock read per park.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use super::Shared;

/// How often the clock ticks at most (its resolution).
const CLOCK_TICK: Duration = Duration::from_millis(25);

/// How far behind the real time [`Clock::quiet_until`] allows the
/// coarse time to be: two ticks.
const COARSE_LAG: Duration = Duration::from_millis(2 * CLOCK_TICK.as_millis() as u64);

/// Milliseconds since the runtime started, updated by the monitor thread
/// every [`CLOCK_TICK`] (or faster): a park stamps the coroutine with one
/// relaxed load instead of reading the system clock (~20 ns, a sixth of a
/// channel round trip). A stamp is never later than the real time, so a
/// duration computed against a precise `now` is never too short.
pub(crate) struct Clock {
    /// When the runtime started.
    epoch: Instant,
    /// Milliseconds since `epoch` at the last tick; written by one thread,
    /// rarely, on a line of its own.
    ms: CachePadded<AtomicU64>,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            epoch: Instant::now(),
            ms: CachePadded::new(AtomicU64::new(0)),
        }
    }

    /// The coarse time: at most one tick behind.
    pub(crate) fn now(&self) -> u64 {
        self.ms.load(Relaxed)
    }

    /// The coarse time before which the real time is surely still before
    /// `at`: while [`now`](Self::now) is below it, no clock read is needed
    /// to know that `at` has not come. The coarse time lags by up to a
    /// tick (a current-thread runtime's worker ticks it every few dozen
    /// steps instead), so this allows [`COARSE_LAG`].
    pub(crate) fn quiet_until(&self, at: Instant) -> u64 {
        let ms = at.saturating_duration_since(self.epoch).as_millis();
        u64::try_from(ms)
            .unwrap_or(u64::MAX)
            .saturating_sub(COARSE_LAG.as_millis() as u64)
    }

    /// The precise time, on the same scale.
    pub(crate) fn precise(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Catch up with the precise time: the monitor thread's job, or a
    /// current-thread runtime's worker's (which has no monitor).
    pub(crate) fn tick(&self) {
        self.ms.store(self.precise(), Relaxed);
    }
}

/// What the monitor last saw of one worker.
#[derive(Clone, Copy)]
struct Seen {
    resumes: u64,
    since: Instant,
    reported: bool,
}

/// Start the monitor thread; it exits when the runtime shuts down. With
/// no `threshold` it only keeps the clock.
pub(crate) fn start(
    shared: Arc<Shared>,
    threshold: Option<Duration>,
) -> io::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name("rt-monitor".into())
        .spawn(move || crate::panic::abort_on_panic("the monitor", || watch(&shared, threshold)))
}

fn watch(shared: &Shared, threshold: Option<Duration>) {
    let interval = match threshold {
        Some(threshold) => (threshold / 4).clamp(Duration::from_millis(1), CLOCK_TICK),
        None => CLOCK_TICK,
    };
    let now = Instant::now();
    let mut seen: Vec<Seen> = (0..shared.remotes.len())
        .map(|_| Seen {
            resumes: 0,
            since: now,
            reported: false,
        })
        .collect();
    let mut scavenger = Scavenger::new(now);
    while !shared.is_shutdown() {
        thread::sleep(interval);
        shared.clock.tick();
        scavenger.tick(shared);
        let Some(threshold) = threshold else {
            continue;
        };
        let now = Instant::now();
        for (index, last) in seen.iter_mut().enumerate() {
            let counters = shared.counters(index);
            let resumes = counters.resumes.load(Relaxed);
            if counters.idle.load(Relaxed) || resumes != last.resumes {
                *last = Seen {
                    resumes,
                    since: now,
                    reported: false,
                };
                continue;
            }
            let stuck = now - last.since;
            if !last.reported && stuck >= threshold {
                // Once per episode, even if the worker turns out to run no
                // coroutine (it was between two, then nothing is said).
                last.reported = true;
                let Some((running, spawned_at)) = shared.running_on(index) else {
                    continue;
                };
                eprintln!(
                    "rt: worker {index} has been running coroutine {running} (spawned at {spawned_at}) \
                     for {} ms without parking or yielding; the coroutines queued on that worker \
                     cannot run. If it makes a blocking call (std::thread::sleep, std::fs, a std \
                     lock, a C library), wrap it in rt::blocking(|| ...).",
                    stuck.as_millis()
                );
            }
        }
    }
}

/// How long the stack pool must see no acquisition or release before the
/// scavenger starts giving memory back.
const SCAVENGE_AFTER: Duration = Duration::from_secs(1);
/// Scavenging work per monitor tick: paced, so that it never holds the
/// pool's lock for long (at most 60% of the monitor thread's time, and
/// only while the pool is idle).
const SCAVENGE_BUDGET: Duration = Duration::from_millis(15);

/// Go's scavenger, for rt's pools: once the stack pool has seen no
/// acquisition or release for [`SCAVENGE_AFTER`], free stacks give their memory back to the OS
/// (one batch at a time, [`SCAVENGE_BUDGET`] per tick), then the finished
/// tasks kept for reuse are freed. A spike of coroutines thus leaves no
/// lasting RSS; the next spike faults the memory in again.
struct Scavenger {
    /// The pool's activity count at the last tick.
    activity: u64,
    /// When that count last changed.
    quiet_since: Instant,
    /// Everything free was given back since the count last changed.
    done: bool,
}

impl Scavenger {
    fn new(now: Instant) -> Scavenger {
        Scavenger {
            activity: 0,
            quiet_since: now,
            done: false,
        }
    }

    fn tick(&mut self, shared: &Shared) {
        let activity = shared.stacks.activity();
        let now = Instant::now();
        if activity != self.activity {
            *self = Scavenger {
                activity,
                quiet_since: now,
                done: false,
            };
            return;
        }
        if self.done || now - self.quiet_since < SCAVENGE_AFTER {
            return;
        }
        while now.elapsed() < SCAVENGE_BUDGET {
            if !shared.stacks.scavenge_batch() {
                shared.release_recycled_tasks();
                self.done = true;
                return;
            }
        }
    }
}
