//! Green threads for Rust: stackful coroutines on a work-stealing
//! scheduler, written in plain blocking style — no `async` anywhere.
//!
//! ```
//! let total = rt::run(|| {
//!     let handles: Vec<_> = (0..1_000_u64).map(|i| rt::spawn(move || i * 2)).collect();
//!     handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
//! });
//! assert_eq!(total, 999_000);
//!
//! // A panic in a coroutine never takes a worker down: it comes back in join.
//! let err = rt::run(|| rt::spawn(|| panic!("boom")).join().unwrap_err());
//! assert_eq!(err.into_panic().message(), Some("boom"));
//! ```
//!
//! - [`spawn`], [`go!`], [`JoinHandle::join`]: start coroutines and wait.
//! - [`Builder`] / [`Runtime`] / [`run`]: the worker threads.
//! - [`scope`]: coroutines that borrow from the caller.
//! - [`yield_now`], [`current`]: cooperate and introspect; [`dump`] and
//!   [`Runtime::metrics`]: what every coroutine is doing.
//! - [`chan`] and [`select!`]: Go channels; [`sync`]: locks and friends.
//! - [`net`]: std's sockets, parking instead of blocking; [`io::Async`]:
//!   the same for any descriptor (pipes, stdin, a child's output).
//! - [`JoinHandle::cancel`], [`timeout`] and [`uninterruptible`]: stopping
//!   coroutines from outside, and cleanup that must not be cut short
//!   (`docs/interruption.md`).
//! - Cargo feature `hook` (off by default): crates that open their own
//!   std sockets or sleep with `std::thread::sleep` (the sync `redis`
//!   client, `ureq`, C libraries) park the calling coroutine instead of its
//!   worker: rt defines libc's blocking socket, poll, sleep and
//!   `getaddrinfo` functions (`docs/ecosystem.md` lists which crates need
//!   it, what each hook does, and the pitfalls).
//! - Cargo feature `tracing`: [`CoroutineBuilder`]'s `span` runs a
//!   coroutine inside a `tracing` span that is exited whenever it parks.
//!
//! Design notes live in `docs/` of the repository: `scheduler.md` explains
//! the state word, pinning and idle workers; `stacks.md` the stack slabs.

#![warn(missing_docs)]

mod blocking;
pub mod chan;
mod coroutine;
mod defer;
pub mod fs;
#[cfg(feature = "hook")]
mod hook;
pub mod io;
mod join;
mod local;
mod loom;
mod metrics;
pub mod net;
mod panic;
mod runtime;
mod scheduler;
mod scope;
pub mod sync;
mod syscall;
mod ticker;
mod time;
mod unwind;

pub use crate::blocking::blocking;
#[doc(hidden)]
pub use crate::defer::DeferGuard;
pub use crate::defer::{exit, frame, recover, Frame, Recovered};
pub use crate::join::{JoinError, JoinHandle};
pub use crate::local::LocalKey;
pub use crate::metrics::{Metrics, WorkerMetrics};
pub use crate::panic::{Location, Panic};
pub use crate::runtime::dump::dump;
pub use crate::runtime::{
    run, spawn, try_spawn, Builder, CoroutineBuilder, Runtime, DEFAULT_MONITOR_THRESHOLD,
    DEFAULT_STACK_SIZE, MAX_WORKERS,
};
pub use crate::scheduler::dump::{BusyWorker, CoroutineInfo, CoroutineState, Dump};
pub use crate::scheduler::task::{current, yield_now, Coroutine, CoroutineId};
pub use crate::scope::{scope, Scope, ScopedJoinHandle};
pub use crate::ticker::{after, Ticker};
pub use crate::time::{sleep, sleep_until, timeout, timeout_at, Elapsed};
pub use crate::unwind::uninterruptible;
#[doc(hidden)]
pub use crate::unwind::{
    inject as __inject_interrupt, injection_pending as __injection_pending, Injected as __Injected,
};

/// Spawn a coroutine, Go style. Returns its [`JoinHandle`]; dropping it
/// detaches the coroutine.
///
/// - `go!(f(a, b))` evaluates `a` and `b` *now*, in the caller, then calls
///   `f` in the new coroutine — like Go's `go f(a, b)`.
/// - `go!(move || ...)` / `go!(|| ...)` spawns the closure.
/// - `go!(expr)` for any other expression runs it in the coroutine.
///
/// ```
/// fn add(a: u32, b: u32) -> u32 { a + b }
/// rt::run(|| {
///     let mut x = 1;
///     let h = rt::go!(add(x, 2)); // x is read now: 1
///     x += 100;
///     assert_eq!(h.join().unwrap(), 3);
///     assert_eq!(rt::go!(move || x).join().unwrap(), 101);
/// });
/// ```
#[macro_export]
macro_rules! go {
    (move | $($rest:tt)*) => { $crate::spawn(move | $($rest)*) };
    (move || $($rest:tt)*) => { $crate::spawn(move || $($rest)*) };
    (| $($rest:tt)*) => { $crate::spawn(| $($rest)*) };
    (|| $($rest:tt)*) => { $crate::spawn(|| $($rest)*) };
    ($func:ident ( $($arg:expr),* $(,)? )) => {{
        let args = ($($arg,)*);
        let func = $func;
        $crate::spawn(move || $crate::__apply(func, args))
    }};
    ($($expr:tt)+) => { $crate::spawn(move || $($expr)+) };
}

/// Call a function with a tuple of arguments (used by [`go!`]).
#[doc(hidden)]
pub fn __apply<F: Apply<A>, A>(func: F, args: A) -> F::Output {
    func.apply(args)
}

/// Functions callable with an argument tuple (used by [`go!`]).
#[doc(hidden)]
pub trait Apply<Args> {
    /// The function's return type.
    type Output;
    /// Call with the unpacked tuple.
    fn apply(self, args: Args) -> Self::Output;
}

macro_rules! impl_apply {
    ($($name:ident),*) => {
        impl<Func, Out, $($name),*> Apply<($($name,)*)> for Func
        where
            Func: FnOnce($($name),*) -> Out,
        {
            type Output = Out;
            #[allow(non_snake_case)]
            fn apply(self, ($($name,)*): ($($name,)*)) -> Out {
                self($($name),*)
            }
        }
    };
}

impl_apply!();
impl_apply!(A);
impl_apply!(A, B);
impl_apply!(A, B, C);
impl_apply!(A, B, C, D);
impl_apply!(A, B, C, D, E);
impl_apply!(A, B, C, D, E, G);
impl_apply!(A, B, C, D, E, G, H);
impl_apply!(A, B, C, D, E, G, H, I);

/// The synchronization protocols, exposed for `loom-tests/` only.
#[cfg(loom)]
#[doc(hidden)]
pub mod model {
    pub use crate::chan::lock::SpinLock;
    pub use crate::coroutine::state::{Parked, State, Unpark};
    pub use crate::scheduler::result::JoinCell;
    pub use crate::scheduler::{AfterWake, Idle, Inbox, Queue, Sleeper};
    pub use crate::scope::{ScopeState, ScopedChild};
    pub use crate::sync::RawMutex;
}
