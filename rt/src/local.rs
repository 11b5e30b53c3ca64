//! Coroutine-local storage: [`rt::local!`](crate::local!), the coroutine
//! counterpart of `thread_local!`.
//!
//! Each key gets a process-wide index on first use. A coroutine keeps its
//! values in a vector indexed by key (`LocalValues`, `scheduler/locals.rs`,
//! in its task); a plain
//! thread keeps one in a thread-local. Values are boxed, so a reference
//! handed to `with` stays valid while other keys are initialised, and are
//! dropped when their coroutine finishes, on its own worker thread.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::scheduler::locals::LocalValues;
use crate::scheduler::task;

/// A key for coroutine-local values of type `T`; see [`local!`](crate::local!).
///
/// ```
/// rt::local! { static HITS: std::cell::Cell<u32> = std::cell::Cell::new(0); }
/// HITS.with(|h| h.set(h.get() + 1));
/// assert_eq!(HITS.with(|h| h.get()), 1);
/// ```
pub struct LocalKey<T: 'static> {
    /// Creates the value on a coroutine's first access.
    init: fn() -> T,
    /// Index in every coroutine's `LocalValues`; `usize::MAX` until first use.
    index: AtomicUsize,
}

thread_local! {
    /// Values of code running outside any coroutine.
    static THREAD_VALUES: LocalValues = LocalValues::default();
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey {
            init,
            index: AtomicUsize::new(usize::MAX),
        }
    }

    fn index(&self) -> usize {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let index = self.index.load(Ordering::Acquire);
        if index != usize::MAX {
            return index;
        }
        let fresh = NEXT.fetch_add(1, Ordering::Relaxed);
        match self
            .index
            .compare_exchange(usize::MAX, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => fresh,
            Err(winner) => winner,
        }
    }

    /// Run `f` with this coroutine's value (created by the key's
    /// initializer on first access). Outside a coroutine, the thread's.
    ///
    /// ```
    /// rt::local! { static NAME: std::cell::RefCell<String> = std::cell::RefCell::new(String::new()); }
    /// let len = rt::run(|| {
    ///     NAME.with(|n| n.borrow_mut().push_str("coroutine"));
    ///     NAME.with(|n| n.borrow().len())
    /// });
    /// assert_eq!(len, 9);
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let index = self.index();
        let value: *const T = match task::current_task() {
            Some(task) => task.locals.get_or_init(index, self.init),
            None => THREAD_VALUES.with(|values| values.get_or_init(index, self.init)),
        };
        // SAFETY: the value is boxed and only dropped when its coroutine
        // (or thread) finishes, which cannot happen during `f`.
        f(unsafe { &*value })
    }
}

/// Declare coroutine-local values, like `thread_local!`: each coroutine
/// (and each plain thread) sees its own, created on first access and
/// dropped when the coroutine finishes.
///
/// ```
/// use std::cell::Cell;
/// rt::local! {
///     static REQUESTS: Cell<u32> = Cell::new(0);
/// }
/// rt::run(|| {
///     let a = rt::spawn(|| { REQUESTS.with(|r| r.set(r.get() + 1)); REQUESTS.with(Cell::get) });
///     let b = rt::spawn(|| REQUESTS.with(Cell::get));
///     assert_eq!(a.join().unwrap(), 1);
///     assert_eq!(b.join().unwrap(), 0); // its own value
/// });
/// ```
#[macro_export]
macro_rules! local {
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])* $vis static $name: $crate::LocalKey<$t> = $crate::LocalKey::new(|| $init);
        $crate::local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $(#[$attr])* $vis static $name: $crate::LocalKey<$t> = $crate::LocalKey::new(|| $init);
    };
    () => {};
}
