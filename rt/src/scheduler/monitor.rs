//! The blocked-worker monitor: a thread that notices a worker stuck inside
//! one coroutine (a blocking call, a long computation without a park or a
//! yield) and says which coroutine it is and where it was spawned — the
//! coroutines queued behind it on that worker cannot run meanwhile.
//!
//! Like Go's sysmon it only reads what the workers publish anyway: each
//! worker bumps a resume counter and records the running coroutine's id
//! and spawn site before every resume (plain stores to its own cache
//! line), and clears the id when it goes idle. A counter that has not
//! moved for the threshold while an id is set means one resume has lasted
//! that long. The spawn site is a `&'static Location`, safe to read from
//! any thread.

use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::Shared;

/// What the monitor last saw of one worker.
#[derive(Clone, Copy)]
struct Seen {
    resumes: u64,
    since: Instant,
    reported: bool,
}

/// Start the monitor thread; it exits when the runtime shuts down.
pub(crate) fn start(
    shared: Arc<Shared>,
    threshold: Duration,
) -> io::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name("rt-monitor".into())
        .spawn(move || watch(&shared, threshold))
}

fn watch(shared: &Shared, threshold: Duration) {
    let interval = (threshold / 4).max(Duration::from_millis(1));
    let now = Instant::now();
    let mut seen: Vec<Seen> = (0..shared.remotes.len())
        .map(|_| Seen {
            resumes: 0,
            since: now,
            reported: false,
        })
        .collect();
    while !shared.is_shutdown() {
        thread::sleep(interval);
        let now = Instant::now();
        for (index, last) in seen.iter_mut().enumerate() {
            let counters = shared.counters(index);
            let resumes = counters.resumes.load(Relaxed);
            let running = counters.running.load(Relaxed);
            if running == 0 || resumes != last.resumes {
                *last = Seen {
                    resumes,
                    since: now,
                    reported: false,
                };
                continue;
            }
            let stuck = now - last.since;
            if !last.reported && stuck >= threshold {
                last.reported = true;
                let spawned_at = counters.running_spawned_at.load(Relaxed);
                // SAFETY: the pointer was made from a `&'static Location`
                // (or is null before the first resume).
                let spawned_at = unsafe { spawned_at.as_ref() }
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_else(|| "?".into());
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
