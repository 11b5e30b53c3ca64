//! Building, entering and shutting down a runtime; spawning coroutines.

mod builder;
pub(crate) mod dump;

pub use self::builder::{Builder, DEFAULT_MONITOR_THRESHOLD, DEFAULT_STACK_SIZE, MAX_WORKERS};

use std::io;

use std::sync::{Arc, OnceLock};
use std::thread;

use crate::join::JoinHandle;
use crate::scheduler::result::{report_unobserved, run_to_completion, wait_typed};
use crate::scheduler::task::WaitReason;
use crate::scheduler::task::{Task, WaitSite};
use crate::scheduler::{self, Shared};

/// A set of worker threads running coroutines.
///
/// Dropping it shuts it down: every coroutine still suspended is unwound on
/// its own worker thread (its destructors run, its joiners see
/// [`JoinError::is_cancelled`](crate::JoinError::is_cancelled)), coroutines
/// that never started are dropped, and the threads are joined.
///
/// ```
/// let rt = rt::Builder::new().workers(2).build()?;
/// let handle = rt.spawn(|| "from a coroutine");
/// assert_eq!(handle.join().unwrap(), "from a coroutine");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Runtime {
    /// What the workers share.
    shared: Arc<Shared>,
    /// The worker threads (and the monitor's, and the SIGQUIT printer's),
    /// joined on drop.
    threads: Vec<thread::JoinHandle<()>>,
    /// Stops the SIGQUIT printer ([`Builder::dump_on_sigquit`]).
    sigquit: Option<signal_hook::iterator::Handle>,
    /// A current-thread runtime's worker ([`Builder::current_thread`]).
    local: Option<scheduler::LocalWorker>,
}

// A panic on the caller's side never leaves the runtime half-updated
// (coroutine panics are caught inside it), like std's thread handles.
impl std::panic::UnwindSafe for Runtime {}
impl std::panic::RefUnwindSafe for Runtime {}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.shared.workers())
            .field("current_thread", &self.local.is_some())
            .field("spawned", &self.spawned())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// The runtime's shared state, for the crate's own tests.
    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Run `f` as a coroutine on this runtime and wait for its result.
    ///
    /// `f` may borrow from the caller. A panic in `f` is printed and
    /// continues in the caller. On a current-thread runtime
    /// ([`Builder::current_thread`]) the calling thread runs the
    /// runtime's coroutines meanwhile; it must be the thread that built
    /// the runtime, and not inside a coroutine (either panics).
    ///
    /// ```
    /// let rt = rt::Builder::new().workers(1).build()?;
    /// let words = vec!["a", "b"];
    /// let n = rt.block_on(|| words.len()); // borrows `words`
    /// assert_eq!(n, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn block_on<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        if let Some(why) = self.local.as_ref().and_then(|local| local.refusal()) {
            panic!("rt::Runtime::block_on: {why}"); // before `f` is spawned
        }
        let at = std::panic::Location::caller();
        // SAFETY: `wait_unwind_safe` returns only once the coroutine has
        // finished, so nothing `f` borrows is used after this call. (On a
        // current-thread runtime, `drive_until` returns only then, or
        // aborts the process.)
        let task = unsafe { spawn_raw(&self.shared, Some("block_on".into()), at, f) }
            .unwrap_or_else(|e| panic!("Runtime::block_on: {e}"));
        if let Some(local) = &self.local {
            local.drive_until(|| task.result.is_complete());
        }
        // SAFETY: the body returns a `T`.
        match unsafe { wait_unwind_safe::<T>(&task) } {
            Ok(value) => value,
            Err(err) => match err.try_into_panic() {
                Ok(panic) => {
                    eprint!("{}", panic.report(&task.describe()));
                    crate::unwind::resume_unwind(panic.into_payload())
                }
                Err(err) => panic!("Runtime::block_on: {err}"),
            },
        }
    }

    /// Spawn a coroutine on this runtime, from any thread.
    ///
    /// ```
    /// let rt = rt::Builder::new().workers(1).build()?;
    /// assert_eq!(rt.spawn(|| 1 + 1).join().unwrap(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_named(&self.shared, None, std::panic::Location::caller(), f)
            .unwrap_or_else(|e| panic!("rt::spawn: {e}"))
    }

    /// Number of coroutines spawned on this runtime so far.
    ///
    /// ```
    /// let rt = rt::Builder::new().workers(1).build()?;
    /// rt.block_on(|| rt::spawn(|| ()).join().unwrap());
    /// assert_eq!(rt.spawned(), 2); // block_on's coroutine and the spawned one
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawned(&self) -> u64 {
        self.shared.spawned()
    }

    /// A snapshot of the runtime's counters: live and spawned coroutines,
    /// parks, steals, queue depths per worker.
    ///
    /// ```
    /// let rt = rt::Builder::new().workers(1).build()?;
    /// let (tx, rx) = rt::chan::bounded::<()>(0);
    /// let waiting = rt.spawn(move || rx.recv());
    /// while rt.metrics().parks == 0 {
    ///     std::thread::yield_now(); // until the coroutine parked in recv
    /// }
    /// assert_eq!(rt.metrics().live_coroutines, 1);
    /// drop(tx);
    /// assert!(waiting.join().unwrap().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn metrics(&self) -> crate::Metrics {
        self.shared.metrics()
    }

    /// Every live coroutine of this runtime: what it waits for, where, for
    /// how long; see [`rt::dump`](crate::dump()).
    ///
    /// ```
    /// let rt = rt::Builder::new().workers(1).build()?;
    /// let (tx, rx) = rt::chan::bounded::<()>(0);
    /// let receiver = rt.spawn(move || rx.recv());
    /// let dump = rt.dump(); // unstarted or parked in recv, by now
    /// assert_eq!(dump.coroutines.len(), 1);
    /// assert_eq!(dump.coroutines[0].id, receiver.coroutine().id());
    /// drop(tx);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dump(&self) -> crate::Dump {
        dump::collect(&self.shared)
    }

    /// Panic unless every coroutine of this runtime has finished, waiting
    /// up to `grace` for stragglers — Go's `goleak.VerifyNone` for tests:
    /// call it at the end of a test to catch coroutines left behind.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = rt::Builder::new().workers(1).build()?;
    /// rt.block_on(|| rt::spawn(|| ()).join().unwrap());
    /// rt.assert_no_leaks(Duration::from_secs(1)); // passes
    ///
    /// let (_tx, rx) = rt::chan::bounded::<()>(0);
    /// drop(rt.spawn(move || rx.recv())); // detached, waits forever
    /// let leak = std::panic::catch_unwind(|| rt.assert_no_leaks(Duration::from_millis(10)));
    /// assert!(leak.is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn assert_no_leaks(&self, grace: std::time::Duration) {
        // `Duration::MAX` (past `Instant`'s range): wait for good.
        let deadline = crate::time::deadline_after(grace);
        loop {
            let metrics = self.metrics();
            if metrics.live_coroutines == 0 {
                return;
            }
            if deadline.is_some_and(|deadline| std::time::Instant::now() >= deadline) {
                panic!(
                    "rt: {} coroutine(s) still alive after {grace:?} ({} spawned); \
                     something spawned them and did not wait for them",
                    metrics.live_coroutines, metrics.spawned
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        assert!(
            !self.shared.is_own_worker(),
            "a Runtime cannot be dropped from one of its own coroutines"
        );
        if let Some(sigquit) = self.sigquit.take() {
            sigquit.close();
        }
        self.shared.begin_shutdown();
        // Worker threads come first in `threads` (a current-thread runtime
        // has none); one that gave up on a coroutine stuck in its teardown
        // is left running, not joined.
        let worker_threads = match self.local.take() {
            Some(local) => {
                local.shut_down();
                0
            }
            None => self.shared.workers(),
        };
        let joinable = self.shared.wait_for_teardown();
        for (index, thread) in self.threads.drain(..).enumerate() {
            if index < worker_threads && joinable.get(index) == Some(&false) {
                continue;
            }
            // Coroutine panics never reach the worker loop; a panicking
            // worker is a bug in rt, and its message was already printed.
            let _ = thread.join();
        }
        // Sockets that outlive the runtime: wake their waiters, and from
        // now on they wait on their own descriptors.
        self.shared.shut_down_io();
        self.shared.drain_queues();
    }
}

/// Wait for `task`'s result; if the waiting coroutine is torn down
/// meanwhile, keep waiting (without switching) so that borrows stay valid
/// until the coroutine that holds them has finished.
///
/// # Safety
///
/// `T` must be the return type of the task's body.
pub(crate) unsafe fn wait_unwind_safe<T>(task: &Task) -> Result<T, crate::JoinError> {
    struct Finish<'a>(&'a Task);
    impl Drop for Finish<'_> {
        fn drop(&mut self) {
            while !self.0.result.is_complete() {
                crate::scheduler::task::park(WaitSite::here(WaitReason::BlockOn));
            }
        }
    }
    let finish = Finish(task);
    // SAFETY: forwarded to our caller.
    let result = unsafe { wait_typed(task) };
    std::mem::forget(finish);
    result
}

/// Spawn `f` with no lifetime bound and return its task, whose result is a
/// `T` (for [`wait_typed`] / [`JoinHandle::new`]). `spawned_at` is the
/// user's call site (passed down, not `#[track_caller]`: the ambient
/// runtime is lent to a closure, which cannot track its caller).
///
/// # Safety
///
/// Everything `f` borrows must stay valid until the task's result is
/// complete.
pub(crate) unsafe fn spawn_raw<F, T>(
    shared: &Arc<Shared>,
    name: Option<Box<str>>,
    spawned_at: &'static std::panic::Location<'static>,
    f: F,
) -> io::Result<Arc<Task>>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    if shared.is_shutdown() && !thread::panicking() {
        return Err(io::Error::other("the runtime is shutting down"));
    }
    let body = move || {
        if let Some(panic) = run_to_completion(f) {
            report_unobserved(&panic);
        }
    };
    // SAFETY: forwarded to our caller.
    unsafe { shared.spawn(name, spawned_at, body) }
}

fn spawn_named<F, T>(
    shared: &Arc<Shared>,
    name: Option<Box<str>>,
    spawned_at: &'static std::panic::Location<'static>,
    f: F,
) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: `F` and `T` are 'static: they borrow nothing.
    let task = unsafe { spawn_raw(shared, name, spawned_at, f)? };
    // SAFETY: the task's body returns a `T`.
    Ok(unsafe { JoinHandle::new(task) })
}

/// Which runtime a free function (`rt::spawn`, `rt::scope`, a socket,
/// `rt::dump`) means — the one rule, decided here only: the caller's own
/// runtime (it runs on one of its workers), else the default runtime.
/// `None` if that one has not started.
pub(crate) fn ambient_if_started() -> Option<Arc<Shared>> {
    scheduler::current_shared().or_else(|| DEFAULT.get().map(|rt| rt.shared.clone()))
}

/// [`ambient_if_started`], starting the default runtime if need be.
pub(crate) fn ambient() -> Arc<Shared> {
    with_ambient(Arc::clone)
}

/// [`ambient`], lent to `f` rather than cloned: a spawn then touches no
/// reference count that every worker shares.
pub(crate) fn with_ambient<R>(f: impl FnOnce(&Arc<Shared>) -> R) -> R {
    scheduler::with_current_shared(|shared| match shared {
        Some(shared) => f(shared),
        None => f(&default_runtime().shared),
    })
}

/// The process-wide runtime behind [`run`], started on first use with one
/// worker per CPU. It is never dropped.
static DEFAULT: OnceLock<Runtime> = OnceLock::new();

/// The process-wide runtime behind [`run`], started on first use with one
/// worker per CPU. It is never dropped.
fn default_runtime() -> &'static Runtime {
    DEFAULT.get_or_init(|| {
        Builder::new()
            .thread_name("rt-default")
            .build()
            .unwrap_or_else(|e| panic!("cannot start the default rt runtime: {e}"))
    })
}

/// Run `f` as a coroutine on the default runtime and wait for its result.
///
/// The default runtime starts on first use with one worker per CPU and
/// lives until the process exits. `f` may borrow from the caller.
///
/// ```
/// let answer = rt::run(|| rt::spawn(|| 42).join().unwrap());
/// assert_eq!(answer, 42);
/// ```
#[track_caller]
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    default_runtime().block_on(f)
}

/// Spawn a coroutine. Returns a handle to join it; drop the handle to
/// detach it.
///
/// Inside a coroutine it joins the caller's runtime; elsewhere the default
/// runtime (see [`run`]). Panics if no stack can be allocated or the runtime
/// is shutting down; [`try_spawn`] returns those as errors.
///
/// ```
/// rt::run(|| {
///     let h = rt::spawn(|| "hello");
///     assert_eq!(h.join().unwrap(), "hello");
/// });
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    try_spawn(f).unwrap_or_else(|e| panic!("rt::spawn: {e}"))
}

/// Like [`spawn`], but returns an error when no stack can be allocated
/// (memory or `vm.max_map_count` exhausted) or the runtime is shutting down.
///
/// ```
/// let h = rt::try_spawn(|| 1).expect("a stack is available");
/// assert_eq!(h.join().unwrap(), 1);
/// ```
#[track_caller]
pub fn try_spawn<F, T>(f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let at = std::panic::Location::caller();
    with_ambient(|shared| spawn_named(shared, None, at, f))
}

/// Spawn a coroutine with options, like `std::thread::Builder`.
///
/// ```
/// rt::run(|| {
///     let h = rt::CoroutineBuilder::new()
///         .name("fetcher")
///         .spawn(|| rt::current().unwrap().name().map(str::to_owned))
///         .unwrap();
///     assert_eq!(h.join().unwrap().as_deref(), Some("fetcher"));
/// });
/// ```
#[derive(Debug, Default, Clone)]
pub struct CoroutineBuilder {
    /// Name shown in panic reports and dumps.
    name: Option<String>,
    /// The `tracing` span it runs in.
    #[cfg(feature = "tracing")]
    span: Option<tracing::Span>,
}

impl CoroutineBuilder {
    /// No options set.
    ///
    /// ```
    /// let h = rt::CoroutineBuilder::new().spawn(|| rt::current().unwrap().name().is_none())?;
    /// assert!(h.join().unwrap()); // no name given
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> CoroutineBuilder {
        CoroutineBuilder::default()
    }

    /// Name the coroutine.
    ///
    /// ```
    /// let h = rt::CoroutineBuilder::new().name("indexer").spawn(|| 1)?;
    /// assert_eq!(h.coroutine().name(), Some("indexer"));
    /// assert_eq!(h.join().unwrap(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> CoroutineBuilder {
        self.name = Some(name.into());
        self
    }

    /// Run the coroutine inside `span` (feature `tracing`): the span is
    /// entered whenever the coroutine runs and exited whenever it parks or
    /// yields, so what it logs is in its span, and what coroutines sharing
    /// its worker log is not. `.span(tracing::Span::current())` passes the
    /// spawner's span on.
    ///
    /// ```
    /// let h = rt::CoroutineBuilder::new()
    ///     .span(tracing::info_span!("connection", peer = "127.0.0.1:9"))
    ///     .spawn(|| {
    ///         tracing::info!("inside the connection span");
    ///         rt::yield_now(); // exited here, entered again after
    ///         tracing::Span::current().metadata().map(|m| m.name())
    ///     })?;
    /// # let _ = h.join();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "tracing")]
    pub fn span(mut self, span: tracing::Span) -> CoroutineBuilder {
        self.span = Some(span);
        self
    }

    /// Spawn it (see [`spawn`]); errors as [`try_spawn`].
    ///
    /// ```
    /// let n = rt::run(|| {
    ///     let h = rt::CoroutineBuilder::new().spawn(|| 40 + 2)?;
    ///     Ok::<_, std::io::Error>(h.join().unwrap())
    /// })?;
    /// assert_eq!(n, 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let at = std::panic::Location::caller();
        let name = self.name.map(String::into_boxed_str);
        #[cfg(feature = "tracing")]
        if let Some(span) = self.span {
            let f = move || crate::scheduler::task::span::run_in(span, f);
            return with_ambient(|shared| spawn_named(shared, name, at, f));
        }
        with_ambient(|shared| spawn_named(shared, name, at, f))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    #[test]
    fn a_panic_in_a_runtime_thread_aborts_the_process_with_a_message() {
        use std::os::unix::process::ExitStatusExt;
        const CHILD: &str = "RT_TEST_PANICKING_RUNTIME_THREAD";
        if std::env::var_os(CHILD).is_some() {
            crate::panic::abort_on_panic("worker 3", || panic!("a seeded bug"));
            unreachable!("abort_on_panic returned after a panic");
        }
        let test = "runtime::tests::a_panic_in_a_runtime_thread_aborts_the_process_with_a_message";
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "stderr: {stderr}");
        assert!(
            stderr.contains("rt: worker 3 panicked outside any coroutine: a seeded bug\nrt: this is a bug in rt"),
            "stderr: {stderr}"
        );
        // A body that returns normally returns.
        crate::panic::abort_on_panic("worker 0", || ());
    }

    #[test]
    fn a_dropped_runtime_frees_its_shared_state() {
        // Recycled tasks, queued tasks and detached handles all hold the
        // shared state; none may keep it alive once the runtime is gone.
        let rt = super::Builder::new().workers(2).build().unwrap();
        rt.block_on(|| {
            let hs: Vec<_> = (0..10_000).map(|_| crate::spawn(|| ())).collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
            for _ in 0..100 {
                drop(crate::spawn(crate::yield_now));
            }
            // Parked at shutdown: their IDLE state holds a task reference
            // that teardown must give back; joined ones went through a
            // park/wake cycle and back to RUNNING.
            let (tx, rx) = crate::chan::bounded::<()>(0);
            for _ in 0..100 {
                let rx = rx.clone();
                drop(crate::spawn(move || rx.recv()));
            }
            let woken: Vec<_> = (0..100)
                .map(|_| {
                    let rx = rx.clone();
                    crate::spawn(move || rx.recv())
                })
                .collect();
            crate::yield_now();
            tx.close();
            woken
                .into_iter()
                .for_each(|h| assert!(h.join().unwrap().is_err()));
            let (keep_open, rx) = crate::chan::bounded::<()>(0);
            for _ in 0..100 {
                let rx = rx.clone();
                drop(crate::spawn(move || rx.recv()));
            }
            std::mem::forget(keep_open);
        });
        let shared = Arc::downgrade(&rt.shared);
        drop(rt);
        assert!(
            shared.upgrade().is_none(),
            "the runtime's shared state leaked"
        );
    }
}
