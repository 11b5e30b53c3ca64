//! The I/O reactor: one `mio::Poll` per worker, driven by that worker.
//!
//! Coroutines never leave their home worker, so neither does their I/O: a
//! socket is registered with the reactor of the worker whose coroutine
//! first has to wait for it (`Shared::register_io`), and that worker alone
//! polls it. Readiness then wakes a coroutine on the thread that runs it —
//! into its LIFO slot, with no cross-worker hand-off — which is how
//! thread-per-core runtimes (glommio, monoio, seastar) scale where one
//! shared poller does not. No thread is dedicated to polling: a worker with
//! nothing to run blocks in its own poller (instead of its sleeper) with a
//! timeout equal to its next timer, and a wake reaches it through its
//! `mio::Waker` (see `Sleeper::wake`). A busy worker polls without
//! blocking every few dozen scheduling steps, and a spinning one every few
//! looks. A worker's poller costs nothing until a socket is registered
//! with it.
//!
//! Every registered socket has an [`IoState`]: a readiness generation per
//! direction and the coroutines (or threads) waiting for it. An operation
//! reads the generation, tries the syscall, and only on `WouldBlock` waits
//! — unless the generation moved meanwhile (an event arrived between the
//! syscall and the wait), in which case it retries. Spurious readiness is
//! harmless: the syscall says `WouldBlock` again.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use parking_lot::Mutex;

use crate::scheduler::task::WaitReason;
pub(crate) use crate::scheduler::waiter::WaitEnd;
use crate::scheduler::waiter::{wait_until_or, WaitSite, Waiter};

/// The token of the waker, never a socket's.
const WAKER: Token = Token(usize::MAX);

/// Which way a socket is waited on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read = 0,
    Write = 1,
}

/// Readiness of one registered socket.
#[derive(Default)]
pub(crate) struct IoState {
    /// Bumped by every readiness event, per direction.
    generation: [AtomicU64; 2],
    /// `generation + 1` at which the direction was seen drained (a short
    /// stream read or write); 0: not known. See [`IoState::set_drained`].
    drained: [AtomicU64; 2],
    /// The peer closed this direction (or the socket failed): sticky, so a
    /// FIN that arrived with the last data is never waited for (a read
    /// after a short read must then see EOF at once).
    closed: [AtomicBool; 2],
    /// Who waits, per direction.
    waiters: Mutex<[Vec<Arc<Waiter>>; 2]>,
}

impl IoState {
    /// The current generation: read it before the syscall.
    pub(crate) fn generation(&self, dir: Direction) -> u64 {
        self.generation[dir as usize].load(Ordering::Acquire)
    }

    /// A stream read (write) at generation `seen` moved fewer bytes than
    /// asked: the socket buffer was empty (full) at that moment. Until the
    /// next readiness event the next attempt would only say `WouldBlock`,
    /// so it can be skipped — epoll reports every later arrival of data
    /// (or of buffer space) as a new edge. Saves one system call per
    /// request on a typical keep-alive connection.
    pub(crate) fn set_drained(&self, dir: Direction, seen: u64) {
        self.drained[dir as usize].store(seen + 1, Ordering::Relaxed);
    }

    /// Whether the direction is known to be drained at generation `seen`
    /// (and not closed: then the call returns at once).
    pub(crate) fn is_drained(&self, dir: Direction, seen: u64) -> bool {
        self.drained[dir as usize].load(Ordering::Relaxed) == seen + 1
            && !self.closed[dir as usize].load(Ordering::Acquire)
    }

    /// Park until a readiness event newer than `seen` (or `deadline`).
    /// Returns at once if one already arrived. `Err(TimedOut)` at the
    /// deadline.
    #[track_caller]
    pub(crate) fn wait(
        &self,
        dir: Direction,
        seen: u64,
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        match self.wait_or(dir, seen, deadline, || false) {
            WaitEnd::Notified => Ok(()),
            _ => Err(timed_out()),
        }
    }

    /// [`wait`](Self::wait) that also ends as soon as `stop()` says so
    /// (see `waiter::wait_until_or`).
    #[track_caller]
    pub(crate) fn wait_or(
        &self,
        dir: Direction,
        seen: u64,
        deadline: Option<Instant>,
        stop: impl Fn() -> bool,
    ) -> WaitEnd {
        let waiter = Waiter::current();
        {
            let mut waiters = self.waiters.lock();
            if self.generation(dir) != seen {
                return WaitEnd::Notified;
            }
            waiters[dir as usize].push(waiter.clone());
        }
        let why = match dir {
            Direction::Read => WaitReason::IoRead,
            Direction::Write => WaitReason::IoWrite,
        };
        let abandon = || {
            // Readiness wakes everyone: a notification is never handed on.
            let list = &mut self.waiters.lock()[dir as usize];
            list.retain(|w| !Arc::ptr_eq(w, &waiter));
        };
        wait_until_or(&waiter, deadline, WaitSite::here(why), abandon, stop)
    }

    /// Wake every waiter, as readiness in both directions would: they try
    /// again (and find out for themselves). For a registration that is
    /// being replaced or dropped while coroutines may wait on it.
    #[cfg(feature = "hook")]
    pub(crate) fn wake_all(&self) {
        self.ready(true, true, false, false, &mut Vec::new());
    }

    /// A readiness event: bump the generations and wake the waiters,
    /// moving them to `woken` — to be dropped by the caller once it holds
    /// no lock: the last reference to a waiter can be the last to its
    /// task, and a finished task may hold a socket whose drop deregisters
    /// it. `*_closed`: the peer shut that direction (or the socket
    /// failed).
    fn ready(
        &self,
        read: bool,
        write: bool,
        read_closed: bool,
        write_closed: bool,
        woken: &mut Vec<Arc<Waiter>>,
    ) {
        if read_closed {
            self.closed[Direction::Read as usize].store(true, Ordering::Release);
        }
        if write_closed {
            self.closed[Direction::Write as usize].store(true, Ordering::Release);
        }
        let mut waiters = self.waiters.lock();
        for (dir, is_ready) in [(Direction::Read, read), (Direction::Write, write)] {
            if is_ready {
                self.generation[dir as usize].fetch_add(1, Ordering::Release);
                for waiter in waiters[dir as usize].drain(..) {
                    waiter.notify();
                    woken.push(waiter);
                }
            }
        }
    }
}

/// Registered sockets by token: a slab (a slot is reused after its socket
/// is gone; a late event for the old socket is a harmless spurious one).
#[derive(Default)]
struct Sources {
    slots: Vec<Option<Arc<IoState>>>,
    free: Vec<usize>,
}

/// One worker's poller.
pub(crate) struct Reactor {
    /// The poller, its event buffer and the waiters it woke (see
    /// [`IoState::ready`]); whoever holds the lock polls (the owning
    /// worker; the lock is never contended).
    poll: Mutex<(Poll, Events, Vec<Arc<Waiter>>)>,
    /// For registering sockets without the poll lock.
    registry: Registry,
    /// Interrupts a blocked `poll`.
    waker: Waker,
    /// Token → readiness state; also orders registrations against
    /// [`shut_down`](Self::shut_down).
    sources: Mutex<Sources>,
    /// Registered sockets: while 0, nobody polls.
    registered: AtomicUsize,
    /// The runtime is gone: nobody polls any more (see `shut_down`).
    shut_down: AtomicBool,
}

impl Reactor {
    pub(crate) fn new() -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        Ok(Reactor {
            poll: Mutex::new((poll, Events::with_capacity(1024), Vec::new())),
            registry,
            waker,
            sources: Mutex::new(Sources::default()),
            registered: AtomicUsize::new(0),
            shut_down: AtomicBool::new(false),
        })
    }

    /// The runtime's workers are gone, so nobody will poll again: wake
    /// every waiter (a bumped generation also turns back one that is about
    /// to wait). Sockets that outlive their runtime then wait on their own
    /// descriptor (`wait_on_fd`), on the calling thread.
    pub(crate) fn shut_down(&self) {
        let states: Vec<Arc<IoState>> = {
            // Under the lock, so a registration either comes first (and its
            // waiters are woken here) or sees the flag (`register`).
            let sources = self.sources.lock();
            self.shut_down.store(true, Ordering::Release);
            sources.slots.iter().flatten().cloned().collect()
        };
        let mut woken = Vec::new();
        for state in states {
            state.ready(true, true, false, false, &mut woken);
        }
    }

    /// Whether [`shut_down`](Self::shut_down) ran.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    /// Whether any socket is registered (then idle workers poll).
    pub(crate) fn is_active(&self) -> bool {
        self.registered.load(Ordering::Relaxed) > 0
    }

    /// Interrupt the owning worker blocked in `poll`.
    pub(crate) fn wake(&self) {
        // An error means the eventfd is gone, i.e. the runtime is being
        // dropped: nobody is polling any more.
        let _ = self.waker.wake();
    }

    /// Register `fd` for read and write readiness (edge-triggered; epoll
    /// reports readiness present at registration as a first edge, so data
    /// that arrived before is not missed), reported to `state`. Returns
    /// the token, and whether it is the first socket registered (then the
    /// owning worker, if it sleeps, must be woken to sleep in the poller).
    /// `Ok(None)`: the reactor is shut down; wait on the descriptor.
    pub(crate) fn register(
        &self,
        fd: std::os::fd::RawFd,
        state: &Arc<IoState>,
    ) -> io::Result<Option<(usize, bool)>> {
        let token = {
            let mut sources = self.sources.lock();
            if self.is_shut_down() {
                return Ok(None);
            }
            match sources.free.pop() {
                Some(token) => {
                    sources.slots[token] = Some(Arc::clone(state));
                    token
                }
                None => {
                    sources.slots.push(Some(Arc::clone(state)));
                    sources.slots.len() - 1
                }
            }
        };
        if let Err(err) = self.registry.register(
            &mut SourceFd(&fd),
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.release(token);
            return Err(err);
        }
        let first = self.registered.fetch_add(1, Ordering::AcqRel) == 0;
        Ok(Some((token, first)))
    }

    /// Re-arm a registration: fails with `ENOENT` if `fd` no longer names
    /// the registered file (closed behind the registrar's back, its number
    /// reused). As at registration, readiness present now is reported as
    /// a fresh edge.
    #[cfg(feature = "hook")]
    pub(crate) fn rearm(&self, fd: std::os::fd::RawFd, token: usize) -> io::Result<()> {
        self.registry.reregister(
            &mut SourceFd(&fd),
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        )
    }

    /// Forget a socket (before closing it).
    pub(crate) fn deregister(&self, fd: std::os::fd::RawFd, token: usize) {
        let _ = self.registry.deregister(&mut SourceFd(&fd));
        self.release(token);
        self.registered.fetch_sub(1, Ordering::AcqRel);
    }

    fn release(&self, token: usize) {
        let mut sources = self.sources.lock();
        sources.slots[token] = None;
        sources.free.push(token);
    }

    /// Poll for at most `timeout` (`None`: until an event or a wake) if no
    /// other thread is polling (only the owning worker polls, so only a
    /// caller that is not it can be turned back), and wake whoever waits
    /// for what is ready.
    /// `before_block` runs with the poll lock held before a blocking poll
    /// and may veto it (a wake-up is already pending); `after_block` runs
    /// after it. Returns `false` if another thread holds the poller.
    pub(crate) fn poll(
        &self,
        timeout: Option<Duration>,
        before_block: impl FnOnce() -> bool,
        after_block: impl FnOnce(),
    ) -> bool {
        let Some(mut guard) = self.poll.try_lock() else {
            return false;
        };
        let (poll, events, woken) = &mut *guard;
        let blocking = timeout != Some(Duration::ZERO);
        if blocking && !before_block() {
            return true;
        }
        let result = poll.poll(events, timeout);
        if blocking {
            after_block();
        }
        if let Err(err) = result {
            if err.kind() != io::ErrorKind::Interrupted {
                eprintln!("rt: polling for I/O failed: {err}");
            }
            return true;
        }
        // One lock for the whole batch, and no reference taken per event:
        // the states are woken under it, so none can be released
        // meanwhile (the lock order is sources → waiters → the woken
        // task's queue; nothing takes them the other way, and the woken
        // waiters are dropped after it).
        let sources = self.sources.lock();
        for event in events.iter() {
            if event.token() == WAKER {
                continue;
            }
            if let Some(Some(state)) = sources.slots.get(event.token().0) {
                let failed = event.is_error();
                let (read_closed, write_closed) = (
                    failed || event.is_read_closed(),
                    failed || event.is_write_closed(),
                );
                state.ready(
                    read_closed || event.is_readable(),
                    write_closed || event.is_writable(),
                    read_closed,
                    write_closed,
                    woken,
                );
            }
        }
        drop(sources);
        woken.clear();
        true
    }
}

/// The error of an I/O wait whose deadline passed.
fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "rt: I/O operation timed out")
}

/// Wait for `dir` readiness of `fd` with poll(2), blocking the calling
/// thread, until `deadline`: how a socket that outlived its runtime waits
/// (plain blocking semantics; nobody polls the runtime's reactor any more).
pub(crate) fn wait_on_fd(
    fd: std::os::fd::RawFd,
    dir: Direction,
    deadline: Option<Instant>,
) -> io::Result<()> {
    let events = match dir {
        Direction::Read => libc::POLLIN,
        Direction::Write => libc::POLLOUT,
    };
    loop {
        let timeout_ms = match deadline {
            None => -1,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(timed_out());
                }
                // Round up, so a short wait does not become a busy poll.
                i32::try_from(left.as_millis() + 1).unwrap_or(i32::MAX)
            }
        };
        let mut pollfd = [libc::pollfd {
            fd,
            events,
            revents: 0,
        }];
        match crate::syscall::poll(&mut pollfd, timeout_ms) {
            Ok(1..) => return Ok(()),
            Ok(0) => {} // timed out: the loop reports it (or waits the rest)
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}
