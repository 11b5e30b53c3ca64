//! [`Panic`]: a caught panic with its message and where it was raised, and
//! the panic hook that records those instead of printing them.
//!
//! Go prints a panic only if nothing recovers it. Rust's default hook prints
//! at raise time, before anyone had a chance to catch it. While a coroutine
//! runs, rt's hook therefore records the message and location into a
//! thread-local slot, which the code that catches the unwind turns into a
//! [`Panic`]; the runtime prints it only if it is never observed (a detached
//! coroutine's panic). Everywhere else the previously installed hook runs
//! unchanged.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::sync::Once;

/// Where a panic was raised: `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Source file.
    file: String,
    /// 1-based line.
    line: u32,
    /// 1-based column.
    column: u32,
}

impl Location {
    /// The source file the panic was raised in.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The line number.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The column number.
    pub fn column(&self) -> u32 {
        self.column
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A panic caught by the runtime: its payload, message and location.
///
/// ```
/// let handle = rt::run(|| rt::spawn(|| panic!("boom")));
/// let panic = handle.join().unwrap_err().into_panic();
/// assert_eq!(panic.message(), Some("boom"));
/// assert!(panic.location().unwrap().file().ends_with(".rs"));
/// ```
pub struct Panic {
    /// What was passed to `panic!` / `panic_any`.
    payload: Box<dyn Any + Send>,
    /// Where it was raised, if the hook saw it.
    location: Option<Location>,
}

impl Panic {
    /// Wrap a caught payload, taking the location the hook recorded for it
    /// on this thread (if any).
    pub(crate) fn from_caught(payload: Box<dyn Any + Send>) -> Panic {
        let location = RECORDED.with(|r| r.borrow_mut().take());
        Panic { payload, location }
    }

    /// The message, if the payload is a string (`panic!("...")` always is).
    pub fn message(&self) -> Option<&str> {
        if let Some(s) = self.payload.downcast_ref::<&'static str>() {
            Some(s)
        } else {
            self.payload.downcast_ref::<String>().map(String::as_str)
        }
    }

    /// Where the panic was raised, when known.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }

    /// The payload as a `T`, if it is one (see `std::panic::panic_any`).
    ///
    /// ```
    /// let handle = rt::run(|| rt::spawn(|| std::panic::panic_any(7_u32)));
    /// let panic = handle.join().unwrap_err().into_panic();
    /// assert_eq!(panic.downcast_ref::<u32>(), Some(&7));
    /// ```
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.payload.downcast_ref()
    }

    /// The raw payload, e.g. to continue unwinding with
    /// `std::panic::resume_unwind`.
    pub fn into_payload(self) -> Box<dyn Any + Send> {
        self.payload
    }

    /// The report the runtime prints for a panic nobody observed.
    pub(crate) fn report(&self, coroutine: &str) -> String {
        let mut out = format!("panic: {self}\n\n{coroutine} [panicked]");
        if let Some(location) = &self.location {
            out.push_str(&format!(":\n\t{location}"));
        }
        out.push('\n');
        out
    }
}

impl fmt::Display for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message() {
            Some(message) => f.write_str(message),
            None => f.write_str("Box<dyn Any>"),
        }
    }
}

impl fmt::Debug for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Panic")
            .field("message", &self.message())
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// Location of the latest panic raised inside a coroutine on this thread.
    static RECORDED: RefCell<Option<Location>> = const { RefCell::new(None) };
}

/// Install the recording hook once per process, chaining to the previous one.
pub(crate) fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if crate::scheduler::task::in_coroutine() {
                let location = info.location().map(|l| Location {
                    file: l.file().to_owned(),
                    line: l.line(),
                    column: l.column(),
                });
                RECORDED.with(|r| *r.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}
