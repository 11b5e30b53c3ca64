//! [`dump`]: every live coroutine of a runtime — what it waits for, where,
//! for how long — like the goroutine dump Go prints on `SIGQUIT`. The
//! types and the collection are the scheduler's (`scheduler/dump.rs`);
//! this is the runtime's side: which runtime, and SIGQUIT.
//!
//! Each worker lists its own coroutines on its own thread (see
//! `scheduler/dump.rs`), so a dump costs the running program nothing until
//! it is asked for: a coroutine only notes, when it parks, the call it
//! parked in (`#[track_caller]`), why, and a coarse timestamp.

use std::sync::Arc;
use std::time::Duration;

use crate::scheduler::dump::Dump;
use crate::scheduler::{self, Shared};

/// How long [`dump`] waits for a worker that is busy inside one coroutine
/// before reporting it as busy instead of listing its coroutines.
const PATIENCE: Duration = Duration::from_millis(500);

/// Every live coroutine of the caller's runtime (or of the default runtime
/// [`run`](crate::run) uses, when called from outside any runtime; an
/// empty dump if that one has not started).
///
/// Waits up to half a second for a worker stuck inside one coroutine (a
/// blocking call, a long computation), then reports it in
/// [`Dump::busy_workers`] instead. Called from a coroutine, it parks
/// meanwhile.
///
/// ```
/// rt::run(|| {
///     let dump = rt::dump();
///     let me = rt::current().unwrap().id();
///     assert!(dump.coroutines.iter().any(|c| c.id == me));
/// });
/// ```
pub fn dump() -> Dump {
    match super::ambient_if_started() {
        Some(shared) => collect(&shared),
        None => Dump::default(),
    }
}

/// [`dump`] of one runtime.
pub(crate) fn collect(shared: &Arc<Shared>) -> Dump {
    scheduler::dump::collect(shared, PATIENCE)
}

/// Print a dump of `shared` to stderr whenever the process gets `SIGQUIT`,
/// until the returned handle is closed (see [`Builder::dump_on_sigquit`]).
///
/// [`Builder::dump_on_sigquit`]: crate::Builder::dump_on_sigquit
pub(crate) fn print_on_sigquit(
    shared: std::sync::Weak<Shared>,
) -> std::io::Result<(signal_hook::iterator::Handle, std::thread::JoinHandle<()>)> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGQUIT])?;
    let handle = signals.handle();
    let thread = std::thread::Builder::new()
        .name("rt-sigquit".into())
        .spawn(move || {
            crate::panic::abort_on_panic("the SIGQUIT printer", || {
                for _ in signals.forever() {
                    let Some(shared) = shared.upgrade() else {
                        break;
                    };
                    let dump = collect(&shared);
                    eprint!("rt: SIGQUIT\n{dump}");
                }
            });
        })?;
    Ok((handle, thread))
}
