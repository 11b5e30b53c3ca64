//! What the hooks know about a descriptor: its kind (cached), whether its
//! owner made it non-blocking, its `SO_RCVTIMEO`/`SO_SNDTIMEO`, and how a
//! coroutine waits for it on its worker's poller.
//!
//! The hooks never change a descriptor's mode: a blocking socket stays
//! blocking for every other user of it (another process, a plain thread, a
//! `fcntl(F_GETFL)`), so nothing needs tracking. They make each call
//! non-blocking on their own (`MSG_DONTWAIT`, `RWF_NOWAIT`), and only when
//! that says `EAGAIN` do they ask the kernel whether the caller wanted a
//! blocking call, and for how long.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
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

/// Whether the descriptor's owner made it non-blocking (then `EAGAIN` is
/// its answer, not a reason to park).
pub(super) fn is_nonblocking(fd: RawFd) -> bool {
    // SAFETY: F_GETFL takes no argument and touches no memory.
    let flags = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL) };
    flags < 0 || flags & libc::O_NONBLOCK as libc::c_long != 0
}

/// The socket's `SO_RCVTIMEO` (reading) or `SO_SNDTIMEO` (writing), as
/// std's `set_read_timeout`/`set_write_timeout` set them; `None`: none
/// (or not a socket).
pub(super) fn socket_timeout(fd: RawFd, dir: Direction) -> Option<Duration> {
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

/// A descriptor registered with this worker's poller for as long as
/// coroutines of this worker wait on it.
struct Registration {
    state: Arc<IoState>,
    /// The worker and token it is registered with.
    key: (usize, usize),
    /// Waits in progress on it.
    users: usize,
}

thread_local! {
    /// This worker thread's registrations, by descriptor. A wait
    /// registers the descriptor and deregisters it when the last wait on
    /// it ends, so nothing is left registered when the caller closes it
    /// (the hooks cannot see every close).
    static REGISTERED: RefCell<HashMap<RawFd, Registration>> = RefCell::new(HashMap::new());
}

/// Run `attempt` (a non-blocking form of the call) until it does not fail
/// with `EAGAIN`, parking the calling coroutine on its worker's poller for
/// `dir` readiness in between, until `deadline`. Returns the last
/// attempt's result (-1 if it gave up) and how the waiting ended.
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
    let state = REGISTERED.with(|map| {
        let mut map = map.borrow_mut();
        if let Some(reg) = map.get_mut(&fd) {
            reg.users += 1;
            return Some((reg.state.clone(), false));
        }
        let state = Arc::new(IoState::default());
        match shared.register_io(fd, &state) {
            Ok(Some(key)) => {
                let registration = Registration {
                    state: state.clone(),
                    key,
                    users: 1,
                };
                map.insert(fd, registration);
                Some((state, true))
            }
            _ => None,
        }
    });
    let Some((state, fresh)) = state else {
        return (-1, Waited::Unavailable);
    };
    // A fresh registration reports readiness already present as an event,
    // so the attempt that failed before it needs no repeating.
    let (mut seen, mut result) = if fresh {
        (0, None)
    } else {
        let seen = state.generation(dir);
        (seen, Some(attempt()))
    };
    let (result, waited) = loop {
        if let Some(r) = result {
            if r >= 0 || super::errno() != libc::EAGAIN {
                break (r, Waited::Ready);
            }
        }
        match state.wait_or(dir, seen, deadline, crate::unwind::pending) {
            WaitEnd::Notified => {}
            WaitEnd::TimedOut => break (-1, Waited::TimedOut),
            WaitEnd::Stopped => break (-1, Waited::Interrupted),
        }
        seen = state.generation(dir);
        result = Some(attempt());
    };
    let errno = super::errno();
    REGISTERED.with(|map| {
        let mut map = map.borrow_mut();
        if let Some(reg) = map.get_mut(&fd) {
            reg.users -= 1;
            if reg.users == 0 {
                let key = reg.key;
                map.remove(&fd);
                shared.deregister_io(fd, key);
            }
        }
    });
    super::set_errno(errno);
    (result, waited)
}
