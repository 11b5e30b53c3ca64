//! [`Builder`]: a runtime's settings, checked, and `build`, which starts
//! its workers and service threads.

use std::io;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_deque::Worker as Deque;

use super::Runtime;
use crate::coroutine::stack::StackPool;
use crate::scheduler::{LocalWorker, Shared, Worker};

/// How long a worker may run one coroutine before the monitor reports it
/// ([`Builder::monitor`]).
///
/// ```
/// // Twice as patient as the default:
/// let rt = rt::Builder::new().monitor(Some(2 * rt::DEFAULT_MONITOR_THRESHOLD)).build()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub const DEFAULT_MONITOR_THRESHOLD: Duration = Duration::from_millis(100);

/// Default usable bytes per coroutine stack.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

/// The most worker threads a runtime may have; [`Builder::build`] refuses
/// more (a count this large is a mistake, not a machine).
///
/// ```
/// let err = rt::Builder::new().workers(rt::MAX_WORKERS + 1).build().unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// ```
pub const MAX_WORKERS: usize = 4096;

/// Configures and starts a [`Runtime`].
///
/// ```
/// let rt = rt::Builder::new().workers(2).stack_size(128 * 1024).build()?;
/// assert_eq!(rt.block_on(|| 6 * 7), 42);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    /// Worker threads; `None` means available parallelism.
    workers: Option<usize>,
    /// Usable bytes per coroutine stack.
    stack_size: usize,
    /// Prefix of worker thread names.
    thread_name: String,
    /// Report a worker stuck in one coroutine this long; `None`: off.
    monitor: Option<Duration>,
    /// Print `rt::dump` on SIGQUIT.
    dump_on_sigquit: bool,
    /// No worker threads: the building thread runs the one worker.
    current_thread: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// Defaults: one worker per available CPU, 64 KiB stacks.
    ///
    /// ```
    /// let rt = rt::Builder::new().build()?; // one worker per CPU, 64 KiB stacks
    /// assert_eq!(rt.block_on(|| 6 * 7), 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> Builder {
        Builder {
            workers: None,
            stack_size: DEFAULT_STACK_SIZE,
            thread_name: "rt-worker".to_owned(),
            monitor: Some(DEFAULT_MONITOR_THRESHOLD),
            dump_on_sigquit: false,
            current_thread: false,
        }
    }

    /// A runtime with no threads of its own (tokio's current-thread
    /// runtime): one worker, run by the thread that builds the runtime
    /// while that thread is inside [`Runtime::block_on`] (and, to cancel
    /// and unwind what is left, while it drops the runtime). Coroutines
    /// spawned or woken in between run at the next `block_on`.
    ///
    /// Started coroutines never change threads, so only the building
    /// thread may call `block_on` (another thread's call panics), and the
    /// runtime should be dropped there too: dropped elsewhere, its started
    /// coroutines are abandoned (leaked, their destructors never run).
    /// `spawn` works from any thread, and `JoinHandle::join` from any other
    /// thread; on the building thread, join inside `block_on` (outside,
    /// the wait could never end: it panics instead). [`Runtime::dump`]
    /// sees its coroutines only while it runs.
    ///
    /// It also turns the monitor off (the monitor is a thread; the worker
    /// keeps the clock [`dump`](crate::dump) uses instead, and memory is
    /// not given back over time). Call [`monitor`](Self::monitor) after
    /// this to have one anyway (a thread, as is the printer of
    /// [`dump_on_sigquit`](Self::dump_on_sigquit)). Thread-per-core servers run one such
    /// runtime per core; a single-threaded process also spares the kernel
    /// the file-table reference counts it takes on every system call of a
    /// multi-threaded one.
    ///
    /// `build` refuses it with more than one worker.
    ///
    /// ```
    /// let rt = rt::Builder::new().current_thread().build()?;
    /// let caller = std::thread::current().id();
    /// let (mine, spawned) = rt.block_on(|| {
    ///     let spawned = rt::spawn(|| std::thread::current().id());
    ///     (std::thread::current().id(), spawned.join().unwrap())
    /// });
    /// assert_eq!((mine, spawned), (caller, caller)); // all on this thread
    /// let later = rt.spawn(|| 7); // runs at the next block_on
    /// assert_eq!(rt.block_on(|| later.join().unwrap()), 7);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn current_thread(mut self) -> Builder {
        self.current_thread = true;
        self.monitor = None;
        self
    }

    /// Report (on stderr, once per episode) a worker that has been running
    /// one coroutine for longer than `threshold` without it parking or
    /// yielding — typically a blocking call that belongs in
    /// [`rt::blocking`](crate::blocking). `None` turns the report off (the
    /// monitor thread still keeps the coarse clock [`dump`](crate::dump)
    /// measures waits with). Default: 100 ms.
    ///
    /// Watching costs the workers nothing per coroutine switch: only when
    /// a worker seems stuck does the monitor ask its thread which
    /// coroutine it runs, with a `SIGURG` (as Go's preemption does;
    /// interrupted system calls restart).
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = rt::Builder::new().monitor(Some(Duration::from_secs(1))).build()?;
    /// let quiet = rt::Builder::new().monitor(None).build()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn monitor(mut self, threshold: Option<Duration>) -> Builder {
        self.monitor = threshold;
        self
    }

    /// On `SIGQUIT` (Ctrl-\\ in a terminal, `kill -QUIT <pid>`), print
    /// [`Runtime::dump`] to stderr — every coroutine, what it waits for and
    /// where — and keep running (Go prints and exits; a server you want to
    /// inspect should stay up). Off by default: it takes over `SIGQUIT`
    /// for the whole process (whose default action, quit with a core dump,
    /// does not come back when the runtime drops).
    ///
    /// ```
    /// let rt = rt::Builder::new().dump_on_sigquit(true).build()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dump_on_sigquit(mut self, on: bool) -> Builder {
        self.dump_on_sigquit = on;
        self
    }

    /// Number of worker threads (1 to [`MAX_WORKERS`]; `build` refuses
    /// others).
    ///
    /// ```
    /// let rt = rt::Builder::new().workers(1).build()?;
    /// let (mine, other) = rt.block_on(|| {
    ///     let other = rt::spawn(|| std::thread::current().id());
    ///     (std::thread::current().id(), other.join().unwrap())
    /// });
    /// assert_eq!(mine, other); // one worker: every coroutine runs on its thread
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn workers(mut self, n: usize) -> Builder {
        self.workers = Some(n);
        self
    }

    /// Usable bytes of every coroutine stack, rounded up to whole pages.
    /// Memory is committed lazily, so a large size costs address space, not
    /// RAM. Must be between 16 KiB and 1 GiB.
    ///
    /// ```
    /// let rt = rt::Builder::new().stack_size(1024 * 1024).build()?;
    /// let sum = rt.block_on(|| {
    ///     let big = std::hint::black_box([1_u8; 256 * 1024]); // would overflow 64 KiB
    ///     big.iter().map(|&b| u32::from(b)).sum::<u32>()
    /// });
    /// assert_eq!(sum, 256 * 1024);
    /// let err = rt::Builder::new().stack_size(1024).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = bytes;
        self
    }

    /// Name prefix of the worker threads (`<prefix>-<index>`); `build`
    /// refuses one with a NUL byte.
    ///
    /// ```
    /// let rt = rt::Builder::new().workers(1).thread_name("svc").build()?;
    /// let name = rt.block_on(|| std::thread::current().name().map(str::to_owned));
    /// assert_eq!(name.as_deref(), Some("svc-0"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Builder {
        self.thread_name = prefix.into();
        self
    }

    /// Start the worker threads.
    ///
    /// Fails with `InvalidInput` (and a message saying which) for zero
    /// workers or more than [`MAX_WORKERS`], a stack size out of range or a
    /// thread name with a NUL byte, or with the OS error if a thread or the
    /// first stacks cannot be created. Never panics on bad values.
    ///
    /// ```
    /// let err = rt::Builder::new().workers(0).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// let err = rt::Builder::new().thread_name("a\0b").build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// let rt = rt::Builder::new().workers(1).thread_name("svc").build()?;
    /// assert_eq!(rt.block_on(|| 1), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build(self) -> io::Result<Runtime> {
        let invalid = |message: String| Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        let workers = match self.workers {
            Some(0) => return invalid("rt::Builder: a runtime needs at least one worker".into()),
            Some(n) if n > 1 && self.current_thread => {
                return invalid(format!(
                    "rt::Builder: a current-thread runtime has one worker, not {n}"
                ))
            }
            None if self.current_thread => 1,
            Some(n) if n > MAX_WORKERS => {
                return invalid(format!(
                    "rt::Builder: {n} workers is more than rt::MAX_WORKERS ({MAX_WORKERS})"
                ))
            }
            Some(n) => n,
            None => thread::available_parallelism()
                .map_or(1, usize::from)
                .min(MAX_WORKERS),
        };
        if self.thread_name.contains('\0') {
            return invalid(format!(
                "rt::Builder: the thread name {:?} contains a NUL byte",
                self.thread_name
            ));
        }
        crate::coroutine::overflow::set_lookup(crate::scheduler::task::overflow_at);
        let stacks = StackPool::new(self.stack_size)?;
        // Map the first slab now, so an exhausted machine fails here.
        stacks.release(stacks.acquire()?);
        crate::defer::install_hook();

        let deques: Vec<Deque<_>> = (0..workers).map(|_| Deque::new_fifo()).collect();
        let shared = Arc::new(Shared::new(
            deques.iter().map(Deque::stealer).collect(),
            stacks,
        )?);
        let mut runtime = Runtime {
            shared: shared.clone(),
            threads: Vec::with_capacity(workers + 2),
            sigquit: None,
            local: None,
        };
        let mut deques = deques.into_iter();
        if self.current_thread {
            let deque = deques.next().expect("one worker");
            runtime.local = Some(LocalWorker::new(shared.clone(), deque));
        }
        for (index, deque) in deques.enumerate() {
            let worker_shared = shared.clone();
            let thread = thread::Builder::new()
                .name(format!("{}-{index}", self.thread_name))
                .spawn(move || {
                    crate::panic::abort_on_panic(&format!("worker {index}"), || {
                        Worker::new(index, worker_shared, deque).run();
                    });
                });
            match thread {
                Ok(thread) => runtime.threads.push(thread),
                Err(err) => {
                    // The runtime's drop must not wait for their teardown.
                    (index..workers).for_each(|never| shared.teardown_finished(never, false));
                    return Err(err);
                }
            }
        }
        if self.dump_on_sigquit {
            let (handle, thread) = super::dump::print_on_sigquit(Arc::downgrade(&shared))?;
            runtime.sigquit = Some(handle);
            runtime.threads.push(thread);
        }
        if !self.current_thread || self.monitor.is_some() {
            runtime
                .threads
                .push(crate::scheduler::monitor::start(shared, self.monitor)?);
        }
        Ok(runtime)
    }
}
