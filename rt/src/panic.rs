//! [`Panic`]: a caught panic with its message and where it was raised, and
//! the panic hook that records those instead of printing them.
//!
//! Go prints a panic only if nothing recovers it. Rust's default hook prints
//! at raise time, before anyone had a chance to catch it. While a coroutine
//! or an `rt::frame` runs, rt's hook therefore records the message and
//! location into a thread-local slot, which the code that catches the unwind
//! turns into a [`Panic`]; the runtime prints it only if nothing recovers or
//! observes it. Everywhere else the previously installed hook runs
//! unchanged.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

/// Where a panic was raised: `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
///
/// ```
/// let err = rt::run(|| rt::spawn(|| panic!("here")).join().unwrap_err());
/// let location = err.into_panic().location().cloned().unwrap();
/// assert!(location.file().ends_with(".rs"));
/// assert!(location.line() > 0 && location.column() > 0);
/// println!("raised at {location}");
/// ```
pub struct Location {
    /// Source file (shared: a panic site's file name is kept once per thread).
    file: Arc<str>,
    /// 1-based line.
    line: u32,
    /// 1-based column.
    column: u32,
}

impl Location {
    /// The source file the panic was raised in.
    ///
    /// ```
    /// let err = rt::run(|| rt::spawn(|| panic!("here")).join().unwrap_err());
    /// let panic = err.into_panic();
    /// assert_eq!(panic.location().unwrap().file(), file!());
    /// ```
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The line number.
    ///
    /// ```
    /// let (err, line) = rt::run(|| (rt::spawn(|| panic!("here")).join().unwrap_err(), line!()));
    /// assert_eq!(err.into_panic().location().unwrap().line(), line);
    /// ```
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The column number.
    ///
    /// ```
    /// let err = rt::run(|| {
    ///     rt::spawn(|| {
    ///         panic!("here") // column 9
    ///     })
    ///     .join()
    ///     .unwrap_err()
    /// });
    /// assert_eq!(err.into_panic().location().unwrap().column(), 9);
    /// ```
    pub fn column(&self) -> u32 {
        self.column
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A panic caught by the runtime: its payload, message, location, and the
/// panics it replaced.
///
/// ```
/// let handle = rt::run(|| rt::spawn(|| panic!("boom")));
/// let panic = handle.join().unwrap_err().into_panic();
/// assert_eq!(panic.message(), Some("boom"));
/// assert!(panic.location().unwrap().file().ends_with(".rs"));
/// assert!(panic.previous().is_none());
/// ```
pub struct Panic {
    /// What was passed to `panic!` / `panic_any`.
    payload: Box<dyn Any + Send>,
    /// Where it was raised, if the hook saw it.
    location: Option<Location>,
    /// The panic this one replaced (raised by a deferred closure while that
    /// one was being handled), if any.
    previous: Option<Box<Panic>>,
    /// Whether this panic was recovered (only older entries of a chain can be).
    recovered: bool,
}

impl Panic {
    /// Wrap a payload just caught on this thread, taking the location the
    /// hook recorded for it.
    pub(crate) fn from_caught(payload: Box<dyn Any + Send>) -> Panic {
        let location = RECORDED
            .with(|r| r.borrow_mut().take())
            .map(|(location, _)| location);
        Panic {
            payload,
            location,
            previous: None,
            recovered: false,
        }
    }

    /// A panic described only by what the hook recorded for the panic now
    /// unwinding this thread (its payload is still owned by the unwinder).
    pub(crate) fn from_recorded() -> Panic {
        let (location, message) = match RECORDED.with(|r| r.borrow().clone()) {
            Some((location, message)) => (Some(location), message),
            None => (None, None),
        };
        Panic {
            payload: Box::new(RecordedMessage(message)),
            location,
            previous: None,
            recovered: false,
        }
    }

    /// Put `previous` behind this panic in the chain.
    pub(crate) fn set_previous(&mut self, previous: Option<Panic>) {
        self.previous = previous.map(Box::new);
    }

    /// A copy for the chain of a panic that is handed to the user by
    /// `recover`: message, location and history, marked recovered (the
    /// payload itself goes to the user).
    pub(crate) fn recovered_copy(&self) -> Panic {
        Panic {
            recovered: true,
            ..self.copy_without_payload()
        }
    }

    /// Message, location, flag and history, without the payload.
    fn copy_without_payload(&self) -> Panic {
        Panic {
            payload: Box::new(RecordedMessage(self.message_record())),
            location: self.location.clone(),
            previous: self
                .previous
                .as_ref()
                .map(|p| Box::new(p.copy_without_payload())),
            recovered: self.recovered,
        }
    }

    /// The message as a cheap-to-copy record (no allocation for the
    /// common `panic!("literal")`).
    fn message_record(&self) -> Option<Message> {
        if let Some(s) = self.payload.downcast_ref::<&'static str>() {
            Some(Message::Static(s))
        } else if let Some(s) = self.payload.downcast_ref::<String>() {
            Some(Message::Owned(s.clone()))
        } else {
            self.payload
                .downcast_ref::<RecordedMessage>()
                .and_then(|r| r.0.clone())
        }
    }

    /// The message, if the payload is a string (`panic!("...")` always is).
    ///
    /// ```
    /// let err = rt::run(|| rt::spawn(|| panic!("code {}", 7)).join().unwrap_err());
    /// assert_eq!(err.into_panic().message(), Some("code 7"));
    /// let err = rt::run(|| rt::spawn(|| std::panic::panic_any(7_u8)).join().unwrap_err());
    /// assert_eq!(err.into_panic().message(), None); // not a string
    /// ```
    pub fn message(&self) -> Option<&str> {
        if let Some(s) = self.payload.downcast_ref::<&'static str>() {
            Some(s)
        } else if let Some(s) = self.payload.downcast_ref::<String>() {
            Some(s)
        } else {
            // A panic known only from the hook's record or a chain copy.
            self.payload
                .downcast_ref::<RecordedMessage>()
                .and_then(|r| r.0.as_ref())
                .map(Message::as_str)
        }
    }

    /// Where the panic was raised, when known.
    ///
    /// ```
    /// let (err, line) = rt::run(|| (rt::spawn(|| panic!("here")).join().unwrap_err(), line!()));
    /// let panic = err.into_panic();
    /// let location = panic.location().expect("raised in a coroutine");
    /// assert_eq!((location.file(), location.line()), (file!(), line));
    /// ```
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }

    /// The panic this one replaced: a deferred closure panicked while that
    /// one was being handled (Go's `panic: first [recovered]` chains).
    ///
    /// ```
    /// let r = rt::frame(|f| {
    ///     f.defer(|| {
    ///         let second = rt::recover().unwrap();
    ///         assert_eq!(second.message(), Some("second"));
    ///         assert_eq!(second.previous().unwrap().message(), Some("first"));
    ///     });
    ///     f.defer(|| panic!("second"));
    ///     panic!("first");
    /// });
    /// assert!(r.is_err());
    /// ```
    pub fn previous(&self) -> Option<&Panic> {
        self.previous.as_deref()
    }

    /// Whether this panic was recovered before a newer one replaced it.
    ///
    /// ```
    /// let r = rt::frame(|f| {
    ///     f.defer(|| {
    ///         let second = rt::recover().unwrap();
    ///         assert!(second.previous().unwrap().was_recovered());
    ///     });
    ///     f.defer(|| {
    ///         let _first = rt::recover();
    ///         panic!("second");
    ///     });
    ///     panic!("first");
    /// });
    /// assert!(r.is_err());
    /// ```
    pub fn was_recovered(&self) -> bool {
        self.recovered
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

    /// The payload, e.g. to continue unwinding with
    /// `std::panic::resume_unwind`.
    ///
    /// ```
    /// let err = rt::run(|| rt::spawn(|| std::panic::panic_any(3_u16)).join().unwrap_err());
    /// let panic = err.into_panic();
    /// assert_eq!(panic.payload().downcast_ref::<u16>(), Some(&3));
    /// assert!(panic.payload().downcast_ref::<String>().is_none());
    /// ```
    pub fn payload(&self) -> &(dyn Any + Send) {
        &*self.payload
    }

    /// The raw payload, e.g. to continue unwinding with
    /// `std::panic::resume_unwind`.
    ///
    /// ```
    /// let panic = rt::run(|| rt::spawn(|| std::panic::panic_any(5_i32)).join().unwrap_err().into_panic());
    /// let payload = panic.into_payload();
    /// assert_eq!(payload.downcast_ref::<i32>(), Some(&5));
    /// ```
    pub fn into_payload(self) -> Box<dyn Any + Send> {
        self.payload
    }

    /// Take the parts, to re-raise the payload and keep the rest.
    pub(crate) fn into_parts(self) -> (Box<dyn Any + Send>, PanicInfo) {
        let info = PanicInfo {
            location: self.location,
            previous: self.previous,
            recovered: self.recovered,
        };
        (self.payload, info)
    }

    /// Rebuild from parts taken with `into_parts`.
    pub(crate) fn from_parts(payload: Box<dyn Any + Send>, info: PanicInfo) -> Panic {
        Panic {
            payload,
            location: info.location,
            previous: info.previous,
            recovered: info.recovered,
        }
    }

    /// The Go-style report of an unrecovered panic: the chain oldest first,
    /// then which coroutine (or thread) it escaped from.
    pub(crate) fn report(&self, origin: &str) -> String {
        let mut chain = Vec::new();
        let mut next = Some(self);
        while let Some(panic) = next {
            chain.push(panic);
            next = panic.previous();
        }
        let mut out = String::new();
        for (i, panic) in chain.iter().rev().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            out.push_str(&format!("panic: {panic}"));
            if panic.recovered {
                out.push_str(" [recovered]");
            }
            out.push('\n');
        }
        out.push_str(&format!("\n{origin} [panicked]"));
        if let Some(location) = &self.location {
            out.push_str(&format!(":\n\t{location}"));
        }
        out.push('\n');
        out
    }
}

/// Everything of a [`Panic`] but its payload, kept aside while the payload
/// itself unwinds from one frame to the next.
#[derive(Debug)]
pub(crate) struct PanicInfo {
    location: Option<Location>,
    previous: Option<Box<Panic>>,
    recovered: bool,
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
            .field("previous", &self.previous)
            .finish_non_exhaustive()
    }
}

/// A panic message kept apart from its payload.
#[derive(Clone, Debug)]
enum Message {
    /// `panic!("literal")`: no copy needed.
    Static(&'static str),
    /// A formatted message.
    Owned(String),
}

impl Message {
    fn as_str(&self) -> &str {
        match self {
            Message::Static(s) => s,
            Message::Owned(s) => s,
        }
    }
}

/// The payload of a [`Panic`] known only by its message: one `recover`ed
/// in a `defer!` while its payload still unwound, or a chain entry whose
/// payload went to whoever recovered it.
struct RecordedMessage(Option<Message>);

thread_local! {
    /// Location and message of the latest panic raised on this thread inside
    /// a coroutine or an `rt::frame`.
    static RECORDED: RefCell<Option<(Location, Option<Message>)>> = const { RefCell::new(None) };
    /// The file of the latest recorded panic site: panics from one site in a
    /// loop share it instead of allocating its name each time.
    static LAST_FILE: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// `file` as a shared string, reusing the previous one if it is the same.
fn shared_file(file: &str) -> Arc<str> {
    LAST_FILE.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some(shared) if **shared == *file => shared.clone(),
            _ => {
                let shared: Arc<str> = Arc::from(file);
                *last = Some(shared.clone());
                shared
            }
        }
    })
}

/// Record a panic the hook saw (location and message, for the `Panic`
/// that `recover` or a `join` will build).
pub(crate) fn record(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = match payload.downcast_ref::<&'static str>() {
        Some(s) => Some(Message::Static(s)),
        None => payload
            .downcast_ref::<String>()
            .map(|s| Message::Owned(s.clone())),
    };
    let record = info.location().map(|l| {
        let location = Location {
            file: shared_file(l.file()),
            line: l.line(),
            column: l.column(),
        };
        (location, message)
    });
    RECORDED.with(|r| *r.borrow_mut() = record);
}

/// Run the body of one of the runtime's own threads. Every panic of a
/// coroutine is caught inside the coroutine, so a panic that reaches here
/// is a bug in rt — and what that thread serves can never happen again
/// (the coroutines homed on a worker; the monitor's clock; dumps):
/// `block_on` and `join` would wait forever. Say so and abort, as
/// Go's runtime throws on an internal error, rather than hang silently.
pub(crate) fn abort_on_panic(thread: &str, body: impl FnOnce()) {
    let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) else {
        return;
    };
    let panic = Panic::from_caught(payload);
    let message = panic
        .message()
        .unwrap_or("(a panic payload that is not a string)");
    eprintln!(
        "rt: {thread} panicked outside any coroutine: {message}\n\
         rt: this is a bug in rt, and the coroutines of that thread can never finish; aborting"
    );
    std::process::abort();
}
