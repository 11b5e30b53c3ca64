//! What the hooks know about a descriptor: its kind, whether its owner
//! made it non-blocking, its `SO_RCVTIMEO`/`SO_SNDTIMEO` (all cached), and
//! how a coroutine waits for it on a worker's poller.
//!
//! The hooks never change a descriptor's mode: a blocking socket stays
//! blocking for every other user of it (another process, a plain thread, a
//! `fcntl(F_GETFL)`). They make each call non-blocking on their own
//! (`MSG_DONTWAIT`, `RWF_NOWAIT`), and only when that says `EAGAIN` do
//! they look at what the owner wanted: a blocking call, and for how long.
//! That answer is known from the flags the descriptor was created with, or
//! asked of the kernel once, and cached until an owner changes some
//! descriptor's mode or timeouts through `fcntl`, `ioctl(FIONBIO)` or
//! `setsockopt` (hooked: they start a new epoch, since `dup`s share the
//! settings); the registration with the
//! poller stays until the descriptor is closed, and each wait re-arms it
//! (one `epoll_ctl`, which also notices a descriptor closed behind the
//! hooks' back). So a park costs one system call more than rt::net's.

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
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

/// Bumped by every hooked `fcntl(F_SETFL)` and `ioctl(FIONBIO)`: a
/// descriptor's blocking mode belongs to its open file description, which
/// `dup`s share, so a change through one number may change another's.
/// Cached modes of an older epoch are asked again (such calls are rare:
/// once per socket, when it is set up).
static MODE_EPOCH: AtomicU32 = AtomicU32::new(1);

/// Each descriptor's blocking mode as last asked: `epoch << 2 | mode`,
/// mode 1 blocking, 2 non-blocking; stale unless `epoch` is the current
/// [`MODE_EPOCH`].
static MODES: [AtomicU32; CACHED] = [const { AtomicU32::new(0) }; CACHED];

/// Bumped by every hooked `setsockopt(SO_RCVTIMEO/SO_SNDTIMEO)` (a
/// socket's timeouts are shared by its `dup`s too).
static TIMEOUT_EPOCH: AtomicU32 = AtomicU32::new(1);

/// The current mode epoch, as stored in [`MODES`] (30 bits: it wraps
/// after a billion mode changes, harmlessly but for one epoch's worth of
/// possibly stale answers).
fn mode_epoch() -> u32 {
    MODE_EPOCH.load(Ordering::Acquire) & (u32::MAX >> 2)
}

/// Whether the descriptor's owner made it non-blocking (then `EAGAIN` is
/// its answer, not a reason to park): cached, else asked of the kernel.
pub(super) fn nonblocking(fd: RawFd) -> bool {
    let epoch = mode_epoch();
    let slot = usize::try_from(fd).ok().and_then(|i| MODES.get(i));
    if let Some(cached) = slot.map(|s| s.load(Ordering::Relaxed)) {
        if cached >> 2 == epoch && cached & 3 != 0 {
            return cached & 3 == 2;
        }
    }
    let nonblocking = is_nonblocking(fd);
    if let Some(slot) = slot {
        slot.store(
            epoch << 2 | if nonblocking { 2 } else { 1 },
            Ordering::Relaxed,
        );
    }
    nonblocking
}

/// `fd` was created (or set) with a known mode; `None`: unknown.
pub(super) fn set_nonblocking(fd: RawFd, nonblocking: Option<bool>) {
    if let Some(slot) = usize::try_from(fd).ok().and_then(|i| MODES.get(i)) {
        let epoch = mode_epoch();
        let mode = match nonblocking {
            None => 0,
            Some(false) => epoch << 2 | 1,
            Some(true) => epoch << 2 | 2,
        };
        slot.store(mode, Ordering::Relaxed);
    }
}

/// An owner changed some descriptor's blocking mode: every cached mode
/// may be stale (see [`MODE_EPOCH`]); `fd`'s is now `nonblocking`.
pub(super) fn mode_changed(fd: RawFd, nonblocking: bool) {
    MODE_EPOCH.fetch_add(1, Ordering::AcqRel);
    set_nonblocking(fd, Some(nonblocking));
}

/// An owner changed some socket's timeouts.
pub(super) fn timeouts_changed() {
    TIMEOUT_EPOCH.fetch_add(1, Ordering::AcqRel);
}

/// The socket's `SO_RCVTIMEO` (reading) or `SO_SNDTIMEO` (writing):
/// cached with its registration if a coroutine parked on it before, else
/// asked of the kernel.
pub(super) fn timeout(fd: RawFd, dir: Direction) -> Option<Duration> {
    let epoch = TIMEOUT_EPOCH.load(Ordering::Acquire);
    let cached = shard(fd)
        .lock()
        .as_ref()
        .and_then(|map| map.get(&fd))
        .and_then(|entry| entry.timeouts.filter(|t| t.0 == epoch));
    if let Some((_, timeouts)) = cached {
        return timeouts[dir as usize];
    }
    let timeouts = [
        socket_timeout(fd, Direction::Read),
        socket_timeout(fd, Direction::Write),
    ];
    if let Some(entry) = shard(fd).lock().as_mut().and_then(|map| map.get_mut(&fd)) {
        entry.timeouts = Some((epoch, timeouts));
    }
    timeouts[dir as usize]
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
    let tv = socket_option(
        fd,
        option,
        libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
    )?;
    if tv.tv_sec == 0 && tv.tv_usec == 0 {
        return None;
    }
    Some(Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1_000))
}

/// What a socket option is read into: plain data, valid for every bit
/// pattern the kernel may write.
pub(super) trait OptionValue: Copy {}
impl OptionValue for libc::c_int {}
impl OptionValue for libc::timeval {}

/// The `SOL_SOCKET` option `option` of `fd`, read into `value`; `None`
/// if the kernel refuses (not a socket, a bad descriptor).
pub(super) fn socket_option<T: OptionValue>(
    fd: RawFd,
    option: libc::c_int,
    mut value: T,
) -> Option<T> {
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid out-pointers, `len` is
    // `value`'s size, so the kernel writes at most that much; `T` is
    // plain data valid for any bytes (`OptionValue`).
    let r = unsafe {
        libc::syscall(
            libc::SYS_getsockopt,
            fd,
            libc::SOL_SOCKET,
            option,
            &mut value as *mut T,
            &mut len as *mut libc::socklen_t,
        )
    };
    (r == 0).then_some(value)
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
    /// Its runtime, not kept alive by the entry (a descriptor that
    /// outlives its runtime must not hold its reactors and stacks); a
    /// later park from another runtime's coroutine registers anew.
    shared: std::sync::Weak<crate::scheduler::Shared>,
    /// Its socket timeouts by `Direction`, and the [`TIMEOUT_EPOCH`]
    /// they were asked in; `None`: ask the kernel.
    timeouts: Option<(u32, [Option<Duration>; 2])>,
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

/// `fd` is being closed (or replaced by `dup2`/`dup3`): deregister it
/// while its number still names it.
pub(super) fn closing(fd: RawFd) {
    set_kind(fd, None);
    set_nonblocking(fd, None);
    let entry = shard(fd).lock().as_mut().and_then(|map| map.remove(&fd));
    // Outside the shard lock: retiring may drop the last reference to a
    // runtime, whose own descriptors then close through this very hook.
    if let Some(entry) = entry {
        entry.retire(fd);
    }
}

impl Entry {
    /// Deregister it (if its runtime is still alive) and wake whoever
    /// waits on it: they look again, and register anew if need be.
    fn retire(self, fd: RawFd) {
        if let Some(shared) = self.shared.upgrade() {
            shared.deregister_io(fd, self.key);
        }
        self.state.wake_all();
    }
}

/// A registration ready for one wait (see [`registered`]).
struct Armed {
    state: Arc<IoState>,
    /// The direction's generation from before the arming.
    seen: u64,
    /// Registered just now: what was cached about the number may be
    /// another file's (closed behind the hooks' back and its number
    /// reused, the re-arm of the old registration said ENOENT; or never
    /// registered, cached from an earlier file).
    fresh: bool,
}

/// `fd`, registered (or re-armed) for a wait starting now, with its `dir`
/// generation from before the arming: readiness present at arming is
/// reported as an event after it (perhaps by another worker's thread, at
/// once), so a wait for a newer generation misses nothing and the attempt
/// that just failed needs no repeat. A registration made by another
/// worker's coroutine is kept: its worker reports the readiness, as for
/// an rt::net socket shared across workers. `None`: it cannot be polled
/// (shutdown, a file epoll refuses).
fn registered(fd: RawFd, dir: Direction, shared: &Arc<crate::scheduler::Shared>) -> Option<Armed> {
    let mut stale = None;
    let armed = (|| {
        let mut guard = shard(fd).lock();
        let map = guard.get_or_insert_with(HashMap::new);
        if let Some(entry) = map.get(&fd) {
            let seen = entry.state.generation(dir);
            let ours = std::ptr::eq(entry.shared.as_ptr(), Arc::as_ptr(shared));
            // Re-arming also checks that the number still names the
            // registered file: closed behind the hooks' back and reused,
            // it says ENOENT.
            if ours && shared.rearm_io(fd, entry.key).is_ok() {
                let state = entry.state.clone();
                return Some(Armed {
                    state,
                    seen,
                    fresh: false,
                });
            }
            let old = map.remove(&fd).expect("present");
            if ours {
                // The number names another file now. Its old registration
                // must go before the new one is made: a removal by number
                // afterwards would remove the new one. (The caller holds
                // the runtime, so this is not its last reference.)
                old.retire(fd);
            } else {
                // Another runtime's poller: any time, but outside the lock.
                stale = Some(old);
            }
        }
        let state = Arc::new(IoState::default());
        let key = shared.register_io(fd, &state).ok().flatten()?;
        let entry = Entry {
            state: state.clone(),
            key,
            shared: Arc::downgrade(shared),
            timeouts: None,
        };
        map.insert(fd, entry);
        Some(Armed {
            state,
            seen: 0,
            fresh: true,
        })
    })();
    // Outside the shard lock, as in `closing`.
    if let Some(stale) = stale {
        stale.retire(fd);
    }
    armed
}

/// What bounds a hook's wait.
#[derive(Debug, Clone, Copy)]
pub(super) enum Limit {
    /// This deadline (`None`: none).
    At(Option<Instant>),
    /// The socket's own `SO_RCVTIMEO`/`SO_SNDTIMEO` for the direction,
    /// from now.
    SocketTimeout,
}

/// Park the calling coroutine until `fd` is ready for `dir` (or the
/// `limit`, or an interruption), then run `attempt` (a non-blocking form
/// of the call) until it does not fail with `EAGAIN`, parking again in
/// between (each wait re-arms the registration). Returns the last
/// attempt's result (-1 if it gave up) and how the waiting ended.
pub(super) fn retry(
    fd: RawFd,
    dir: Direction,
    limit: Limit,
    mut attempt: impl FnMut() -> isize,
) -> (isize, Waited) {
    let Some(shared) = crate::scheduler::current_shared() else {
        return (-1, Waited::Unavailable);
    };
    let mut deadline = None;
    for round in 0.. {
        if shared.is_io_shut_down() {
            return (-1, Waited::Unavailable);
        }
        let Some(armed) = registered(fd, dir, &shared) else {
            return (-1, Waited::Unavailable);
        };
        if armed.fresh {
            // Once per registration (so once per descriptor, usually): ask
            // the kernel rather than a cache that may describe an earlier
            // file under this number. If its owner made it non-blocking,
            // EAGAIN is the answer after all.
            set_nonblocking(fd, None);
            if nonblocking(fd) {
                super::set_errno(libc::EAGAIN);
                return (-1, Waited::Ready);
            }
        }
        if round == 0 {
            // After registering: a replaced number's cached timeouts are
            // gone with its entry.
            deadline = match limit {
                Limit::At(at) => at,
                Limit::SocketTimeout => {
                    timeout(fd, dir).and_then(|t| Instant::now().checked_add(t))
                }
            };
        }
        match armed
            .state
            .wait_or(dir, armed.seen, deadline, crate::unwind::pending)
        {
            WaitEnd::Notified => {}
            WaitEnd::TimedOut => return (-1, Waited::TimedOut),
            WaitEnd::Stopped => return (-1, Waited::Interrupted),
        }
        let result = attempt();
        if result >= 0 || super::errno() != libc::EAGAIN {
            return (result, Waited::Ready);
        }
    }
    unreachable!("the loop returns")
}
