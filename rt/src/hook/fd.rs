//! What the hooks know about a descriptor: its kind, whether its owner
//! made it non-blocking, its `SO_RCVTIMEO`/`SO_SNDTIMEO` (all cached), and
//! how a coroutine waits for it on a worker's poller.
//!
//! The hooks never change a descriptor's mode: a blocking socket stays
//! blocking for every other user of it (another process, a plain thread, a
//! `fcntl(F_GETFL)`). They make each call non-blocking on their own
//! (`MSG_DONTWAIT`, `RWF_NOWAIT`), and only when that says `EAGAIN` do
//! they look at what the owner wanted: a blocking call, and for how long.
//! That answer is asked of the kernel the first time and then cached
//! until the owner changes it through `fcntl`, `ioctl(FIONBIO)` or
//! `setsockopt` (hooked to forget the cache); the registration with the
//! poller stays until the descriptor is closed, and each wait re-arms it
//! (one `epoll_ctl`, which also notices a descriptor closed behind the
//! hooks' back). So a park costs one system call more than rt::net's.

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use crate::scheduler::reactor::{Direction, IoState, WaitEnd};

/// What a descriptor is, as far as parking on it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A socket: `recv`/`send` with `MSG_DONTWAIT` stand in for
    /// `read`/`write`.
    Socket,
    /// A pipe or FIFO: `preadv2`/`pwritev2` with `RWF_NOWAIT`.
    Fifo,
    /// Anything else (a file, a terminal, an eventfd): passed through.
    Other,
}

/// Descriptors below this have their kind cached; above, it is looked up
/// with `fstat` on each call.
const CACHED: usize = 1 << 16;

/// The kind of each descriptor: 0 unknown, else `Kind as u8 + 1`. Set by
/// the hooks that create descriptors and on first use; cleared by the
/// hooks that close them (`close`, `dup2`, `dup3`).
static KINDS: [AtomicU8; CACHED] = [const { AtomicU8::new(0) }; CACHED];

/// The kind of `fd`, from the cache or `fstat`.
pub(super) fn kind(fd: RawFd) -> Kind {
    let Some(slot) = usize::try_from(fd).ok().and_then(|i| KINDS.get(i)) else {
        return lookup(fd);
    };
    match slot.load(Ordering::Relaxed) {
        1 => Kind::Socket,
        2 => Kind::Fifo,
        3 => Kind::Other,
        _ => {
            let kind = lookup(fd);
            slot.store(kind as u8 + 1, Ordering::Relaxed);
            kind
        }
    }
}

/// Record that `fd` was just created as `kind` (or closed: `None`).
pub(super) fn set_kind(fd: RawFd, kind: Option<Kind>) {
    if let Some(slot) = usize::try_from(fd).ok().and_then(|i| KINDS.get(i)) {
        slot.store(kind.map_or(0, |k| k as u8 + 1), Ordering::Relaxed);
    }
}

fn lookup(fd: RawFd) -> Kind {
    // SAFETY: `stat` is plain old data, written by the kernel.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer; a bad `fd` is an error, not UB.
    if unsafe { libc::syscall(libc::SYS_fstat, fd, &mut stat) } < 0 {
        return Kind::Other; // the call itself will report EBADF
    }
    match stat.st_mode & libc::S_IFMT {
        libc::S_IFSOCK => Kind::Socket,
        libc::S_IFIFO => Kind::Fifo,
        _ => Kind::Other,
    }
}

/// What a descriptor's owner decided, as the kernel says: whether it is
/// non-blocking (then `EAGAIN` is its answer, not a reason to park), and
/// the socket's `SO_RCVTIMEO` / `SO_SNDTIMEO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Mode {
    pub(super) nonblocking: bool,
    /// By `Direction`: read, write.
    pub(super) timeouts: [Option<Duration>; 2],
}

impl Mode {
    /// Ask the kernel (three system calls).
    fn query(fd: RawFd) -> Mode {
        Mode {
            nonblocking: is_nonblocking(fd),
            timeouts: [
                socket_timeout(fd, Direction::Read),
                socket_timeout(fd, Direction::Write),
            ],
        }
    }
}

fn is_nonblocking(fd: RawFd) -> bool {
    // SAFETY: F_GETFL takes no argument and touches no memory.
    let flags = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL) };
    flags < 0 || flags & libc::O_NONBLOCK as libc::c_long != 0
}

/// The socket's `SO_RCVTIMEO` (reading) or `SO_SNDTIMEO` (writing), as
/// std's `set_read_timeout`/`set_write_timeout` set them; `None`: none
/// (or not a socket).
fn socket_timeout(fd: RawFd, dir: Direction) -> Option<Duration> {
    let option = match dir {
        Direction::Read => libc::SO_RCVTIMEO,
        Direction::Write => libc::SO_SNDTIMEO,
    };
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: `tv` and `len` are valid out-pointers of the sizes given.
    let r = unsafe {
        libc::syscall(
            libc::SYS_getsockopt,
            fd,
            libc::SOL_SOCKET,
            option,
            &mut tv as *mut libc::timeval,
            &mut len as *mut libc::socklen_t,
        )
    };
    if r < 0 || (tv.tv_sec == 0 && tv.tv_usec == 0) {
        return None;
    }
    Some(Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1_000))
}

/// How a hook's wait for a descriptor ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Waited {
    /// Readiness (or a spurious wake): try the call again.
    Ready,
    /// The caller's timeout passed.
    TimedOut,
    /// The coroutine has a cancellation or an expired `rt::timeout`
    /// pending: the call must fail now, and the interruption unwinds at
    /// the next park point outside the hook.
    Interrupted,
    /// The descriptor cannot be polled here (a runtime shutting down, an
    /// fd epoll refuses): make the call blocking instead.
    Unavailable,
}

/// A descriptor a coroutine parked on: registered with the poller of the
/// worker whose coroutine first parked on it, until the descriptor is
/// closed (through the `close`, `dup2` or `dup3` hooks), and what its
/// owner decided about it.
struct Entry {
    /// Readiness, reported by the registration.
    state: Arc<IoState>,
    /// The worker and token it is registered with.
    key: (usize, usize),
    /// Its runtime (a later park may come from another runtime's
    /// coroutine: it then registers anew).
    shared: Arc<crate::scheduler::Shared>,
    /// The owner's decisions, cached until a hooked `fcntl(F_SETFL)`,
    /// `ioctl(FIONBIO)` or `setsockopt(SO_RCVTIMEO/SO_SNDTIMEO)` changes
    /// them; `None`: ask the kernel.
    mode: Option<Mode>,
}

/// Shards of the descriptor table, by descriptor number.
const SHARDS: usize = 64;

/// The table of one shard.
type Shard = Mutex<Option<HashMap<RawFd, Entry>>>;

/// Parked-on descriptors (see [`Entry`]), sharded so that coroutines of
/// different workers rarely meet on a lock.
static ENTRIES: [Shard; SHARDS] = [const { Mutex::new(None) }; SHARDS];

fn shard(fd: RawFd) -> &'static Shard {
    &ENTRIES[fd.unsigned_abs() as usize % SHARDS]
}

/// The owner's decisions about `fd`: cached if a coroutine parked on it
/// before, else asked of the kernel.
pub(super) fn mode(fd: RawFd) -> Mode {
    let cached = shard(fd)
        .lock()
        .as_ref()
        .and_then(|map| map.get(&fd))
        .and_then(|entry| entry.mode);
    if let Some(mode) = cached {
        return mode;
    }
    let mode = Mode::query(fd);
    if let Some(entry) = shard(fd).lock().as_mut().and_then(|map| map.get_mut(&fd)) {
        entry.mode = Some(mode);
    }
    mode
}

/// The owner changed `fd`'s blocking mode or timeouts: ask again.
pub(super) fn forget_mode(fd: RawFd) {
    if let Some(entry) = shard(fd).lock().as_mut().and_then(|map| map.get_mut(&fd)) {
        entry.mode = None;
    }
}

/// `fd` is being closed (or replaced by `dup2`/`dup3`): deregister it
/// while its number still names it.
pub(super) fn closing(fd: RawFd) {
    set_kind(fd, None);
    let entry = shard(fd).lock().as_mut().and_then(|map| map.remove(&fd));
    if let Some(entry) = entry {
        entry.shared.deregister_io(fd, entry.key);
    }
}

/// Readiness of `fd`, registered (or re-armed) for a wait starting now,
/// and its `dir` generation from before the arming: readiness present at
/// arming is reported as an event after it (perhaps by another worker's
/// thread, at once), so a wait for a newer generation misses nothing and
/// the attempt that just failed needs no repeat. `None`: it cannot be
/// polled (shutdown, a file epoll refuses).
fn registered(
    fd: RawFd,
    dir: Direction,
    shared: &Arc<crate::scheduler::Shared>,
) -> Option<(Arc<IoState>, u64)> {
    let mut guard = shard(fd).lock();
    let map = guard.get_or_insert_with(HashMap::new);
    if let Some(entry) = map.get(&fd) {
        let seen = entry.state.generation(dir);
        // Re-arming also checks that the number still names the registered
        // file: closed behind the hooks' back and reused, it says ENOENT.
        if Arc::ptr_eq(&entry.shared, shared) && shared.rearm_io(fd, entry.key).is_ok() {
            return Some((entry.state.clone(), seen));
        }
        let stale = map.remove(&fd).expect("present");
        stale.shared.deregister_io(fd, stale.key);
    }
    let state = Arc::new(IoState::default());
    let key = shared.register_io(fd, &state).ok().flatten()?;
    let entry = Entry {
        state: state.clone(),
        key,
        shared: shared.clone(),
        mode: None,
    };
    map.insert(fd, entry);
    Some((state, 0))
}

/// Park the calling coroutine until `fd` is ready for `dir` (or
/// `deadline`, or an interruption), then run `attempt` (a non-blocking
/// form of the call) until it does not fail with `EAGAIN`, parking again
/// in between. Returns the last attempt's result (-1 if it gave up) and
/// how the waiting ended.
pub(super) fn retry(
    fd: RawFd,
    dir: Direction,
    deadline: Option<Instant>,
    mut attempt: impl FnMut() -> isize,
) -> (isize, Waited) {
    let Some(shared) = crate::scheduler::current_shared() else {
        return (-1, Waited::Unavailable);
    };
    if shared.is_io_shut_down() {
        return (-1, Waited::Unavailable);
    }
    let Some((state, mut seen)) = registered(fd, dir, &shared) else {
        return (-1, Waited::Unavailable);
    };
    loop {
        match state.wait_or(dir, seen, deadline, crate::unwind::pending) {
            WaitEnd::Notified => {}
            WaitEnd::TimedOut => return (-1, Waited::TimedOut),
            WaitEnd::Stopped => return (-1, Waited::Interrupted),
        }
        seen = state.generation(dir);
        let result = attempt();
        if result >= 0 || super::errno() != libc::EAGAIN {
            return (result, Waited::Ready);
        }
    }
}
