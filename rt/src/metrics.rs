//! [`Metrics`]: what a runtime has done and holds, from any thread.

/// A snapshot of a runtime's counters ([`Runtime::metrics`]). Counters are
/// written by each worker without synchronisation, so a snapshot taken
/// while the runtime runs is approximate (each number was true at some
/// moment during the call).
///
/// [`Runtime::metrics`]: crate::Runtime::metrics
///
/// ```
/// let rt = rt::Builder::new().workers(2).build()?;
/// rt.block_on(|| {
///     let hs: Vec<_> = (0..100).map(|_| rt::spawn(rt::yield_now)).collect();
///     hs.into_iter().for_each(|h| h.join().unwrap());
/// });
/// rt.assert_no_leaks(std::time::Duration::from_secs(5)); // all finished
/// let m = rt.metrics();
/// assert_eq!(m.spawned, 101); // block_on's coroutine and 100 more
/// assert_eq!(m.live_coroutines, 0);
/// assert_eq!(m.workers.len(), 2);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Coroutines spawned and not yet finished (running, queued or parked).
    pub live_coroutines: u64,
    /// Coroutines spawned since the runtime started.
    pub spawned: u64,
    /// Times a coroutine switched out without finishing: it parked
    /// (waited for a channel, lock, timer, I/O…) or yielded.
    pub parks: u64,
    /// Batches of unstarted coroutines stolen between workers.
    pub steals: u64,
    /// Unstarted coroutines spawned from outside the workers, not yet taken.
    pub injector_depth: usize,
    /// Per worker, by index.
    pub workers: Vec<WorkerMetrics>,
}

/// One worker's share of [`Metrics`].
///
/// ```
/// let rt = rt::Builder::new().workers(1).build()?;
/// rt.block_on(|| rt::sleep(std::time::Duration::from_millis(1)));
/// let w = &rt.metrics().workers[0];
/// assert!(w.parks >= 1); // the sleep parked block_on's coroutine
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Coroutines spawned from this worker.
    pub spawned: u64,
    /// Coroutines that finished on this worker.
    pub finished: u64,
    /// Coroutines homed on this worker now: started here and not finished
    /// (a started coroutine never moves; see `docs/scheduler.md`,
    /// placement).
    pub homed: u64,
    /// Parks (and yields) of coroutines homed on this worker.
    pub parks: u64,
    /// Steals this worker made from the others.
    pub steals: u64,
    /// Coroutines homed on this worker that another thread woke (a
    /// channel hand-off from another worker, a plain thread's send): each
    /// went through the worker's inbox, and woke the worker if it slept.
    /// Wakes from the worker's own coroutines, timers and sockets are not
    /// counted: they stay on the thread.
    pub remote_wakes: u64,
    /// Coroutines waiting in the worker's shareable queues: its unstarted
    /// FIFO and its inbox of coroutines woken from other threads (its
    /// private LIFO slot and ready queue are not visible from outside).
    pub queue_depth: usize,
}
