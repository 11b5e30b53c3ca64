//! Stack overflow in a coroutine: a clear message, then abort — never a
//! bare SIGSEGV.
//!
//! Every coroutine stack has a guard page just below it (`stack.rs`).
//! Rust's stack probes make a deep or large frame touch that page before
//! anything below it, so an overflow faults there. A SIGSEGV/SIGBUS
//! handler, running on the thread's alternate signal stack, checks whether
//! the faulting address is the guard page of the coroutine running on this
//! thread. If it is, it prints
//!
//! ```text
//! coroutine 7 'parser' has overflowed its 64 KiB stack
//! help: give it a bigger stack with rt::Builder::stack_size (or find the unbounded recursion)
//! ```
//!
//! and aborts. Any other fault goes to the handler that was installed
//! before (std's, which reports a main-thread overflow, or the default
//! action), exactly as if this one did not exist.
//!
//! Everything the handler does is async-signal-safe in practice: it reads
//! a thread-local pointer and plain fields of the running task, formats
//! into a buffer on its own stack (no allocation) and calls `write(2)` and
//! `abort(3)`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

/// The handlers in place before ours, for SIGSEGV and SIGBUS.
struct Previous(std::cell::UnsafeCell<[libc::sigaction; 2]>);

// SAFETY: written once inside `INSTALL` before our handler can run, only
// read afterwards.
unsafe impl Sync for Previous {}

static PREVIOUS: Previous = Previous(std::cell::UnsafeCell::new(
    // SAFETY: an all-zero sigaction is a valid "SIG_DFL, no flags" value.
    unsafe { std::mem::zeroed() },
));
static INSTALL: Once = Once::new();

/// Finds the coroutine whose guard page holds a faulting address, if it
/// runs on this thread: the scheduler's, which knows the running task.
pub(crate) type Lookup = fn(usize) -> Option<Overflow<'static>>;

/// The scheduler's [`Lookup`], as a function pointer's address (0: none
/// yet). An atomic: the signal handler reads it.
static LOOKUP: AtomicUsize = AtomicUsize::new(0);

/// Tell the handler how to find the running coroutine (the scheduler does,
/// before it runs any): the fiber layer keeps no record of what runs.
pub(crate) fn set_lookup(lookup: Lookup) {
    LOOKUP.store(lookup as usize, Ordering::Release);
}

/// The coroutine that overflowed into `address`, if any.
fn overflow_at(address: usize) -> Option<Overflow<'static>> {
    match LOOKUP.load(Ordering::Acquire) {
        0 => None,
        lookup => {
            // SAFETY: only `set_lookup` stores non-zero values, each a
            // `Lookup` function pointer.
            let lookup: Lookup = unsafe { std::mem::transmute::<usize, Lookup>(lookup) };
            lookup(address)
        }
    }
}

/// Install the handler (once per process).
pub(crate) fn install() {
    INSTALL.call_once(|| {
        for (index, signal) in [libc::SIGSEGV, libc::SIGBUS].into_iter().enumerate() {
            // SAFETY: plain sigaction calls with valid, initialized structs;
            // PREVIOUS is written before the new handler is in place.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let previous = &mut (*PREVIOUS.0.get())[index];
                libc::sigaction(signal, &action, previous);
            }
        }
    });
}

/// What the handler needs to know about the coroutine that overflowed.
pub(crate) struct Overflow<'a> {
    pub(crate) id: u64,
    pub(crate) name: Option<&'a str>,
    pub(crate) stack_size: usize,
}

/// A fixed buffer that `write!` can fill without allocating.
struct Buffer {
    bytes: [u8; 512],
    len: usize,
}

impl std::fmt::Write for Buffer {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The message for `overflow` (also used by the tests).
fn message(overflow: &Overflow<'_>, out: &mut impl std::fmt::Write) -> std::fmt::Result {
    write!(
        out,
        "\ncoroutine {} '{}' has overflowed its ",
        overflow.id,
        overflow.name.unwrap_or("<unnamed>")
    )?;
    if overflow.stack_size % 1024 == 0 {
        write!(out, "{} KiB stack", overflow.stack_size / 1024)?;
    } else {
        write!(out, "{}-byte stack", overflow.stack_size)?;
    }
    writeln!(
        out,
        "\nhelp: give it a bigger stack with rt::Builder::stack_size (or find the unbounded recursion)"
    )
}

extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let address = unsafe { (*info).si_addr() } as usize;
    if let Some(overflow) = overflow_at(address) {
        let mut buffer = Buffer {
            bytes: [0; 512],
            len: 0,
        };
        let _ = message(&overflow, &mut buffer);
        // SAFETY: write(2) and abort(3) are async-signal-safe.
        unsafe {
            libc::write(2, buffer.bytes.as_ptr().cast(), buffer.len);
            libc::abort();
        }
    }
    let index = usize::from(signal == libc::SIGBUS);
    // SAFETY: PREVIOUS was filled before this handler was installed.
    let previous = unsafe { &(*PREVIOUS.0.get())[index] };
    if previous.sa_sigaction == libc::SIG_DFL || previous.sa_sigaction == libc::SIG_IGN {
        // Restore the default action and return: the instruction faults
        // again and the process dies of the signal, as it would have.
        // SAFETY: resetting a signal to its default action.
        unsafe {
            let mut default: libc::sigaction = std::mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(signal, &default, std::ptr::null_mut());
        }
    } else if previous.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: an SA_SIGINFO handler has this signature.
        let previous: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(previous.sa_sigaction) };
        previous(signal, info, context);
    } else {
        // SAFETY: a plain handler has this signature.
        let previous: extern "C" fn(libc::c_int) =
            unsafe { std::mem::transmute(previous.sa_sigaction) };
        previous(signal);
    }
}

#[cfg(test)]
mod tests {
    use super::{message, Overflow};

    #[test]
    fn the_message_names_the_coroutine_and_its_stack() {
        let mut text = String::new();
        let overflow = Overflow {
            id: 7,
            name: Some("parser"),
            stack_size: 65536,
        };
        message(&overflow, &mut text).unwrap();
        assert!(text.contains("coroutine 7 'parser' has overflowed its 64 KiB stack"));
        assert!(text.contains("rt::Builder::stack_size"));
        let mut text = String::new();
        message(
            &Overflow {
                id: 8,
                name: None,
                stack_size: 70000,
            },
            &mut text,
        )
        .unwrap();
        assert!(text.contains("coroutine 8 '<unnamed>' has overflowed its 70000-byte stack"));
    }
}
