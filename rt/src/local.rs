//! Coroutine-local storage: [`rt::local!`](crate::local!), the coroutine
//! counterpart of `thread_local!`.
//!
//! Each key gets a process-wide index on first use. A coroutine keeps its
//! values in a vector indexed by key (`LocalValues`, in its task); a plain
//! thread keeps one in a thread-local. Values are boxed, so a reference
//! handed to `with` stays valid while other keys are initialised, and are
//! dropped when their coroutine finishes, on its own worker thread.

use std::any::Any;
use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// The values of one coroutine (or thread), by key index. The table is
/// allocated on first use: most coroutines have none, and every task
/// carries this field.
#[derive(Default)]
pub(crate) struct LocalValues {
    /// The values, by key index.
    #[allow(clippy::box_collection)] // 8 bytes in every task instead of 24
    table: RefCell<Option<Box<Vec<Option<Value>>>>>,
    /// The coroutine finished and its values were destroyed: a key used
    /// after that (by a destructor that ran last) is refused.
    destroyed: std::cell::Cell<bool>,
}

/// Destruction rounds before keys are refused: a destructor may use a key
/// whose value was already dropped, which re-creates it (pthread keys
/// allow 4 rounds; values re-created in each round are dropped in the next).
const DESTRUCTION_ROUNDS: usize = 4;

/// One value, owned through a raw pointer rather than a `Box`: references
/// handed out by `with` point into it, and moving a `Box` (when the table
/// grows) would assert uniqueness over them.
struct Value(NonNull<dyn Any>);

impl Value {
    fn new(value: Box<dyn Any>) -> Value {
        Value(NonNull::from(Box::leak(value)))
    }

    fn get<T: 'static>(&self) -> *const T {
        // SAFETY: the pointer came from `Box::leak` and lives until `drop`.
        let any: &dyn Any = unsafe { self.0.as_ref() };
        any.downcast_ref::<T>().expect("one type per key")
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        // SAFETY: leaked from a Box in `new`; dropped exactly once, here.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

impl LocalValues {
    /// Leak every value: their coroutine is being leaked, and they may not
    /// be dropped on another thread.
    pub(crate) fn forget(&self) {
        self.destroyed.set(true);
        std::mem::forget(self.table.borrow_mut().take());
    }

    /// Drop every value, on the calling (the coroutine's own) thread: the
    /// coroutine is finishing. A destructor may use another key; a value it
    /// re-creates is dropped in the next round, and after
    /// [`DESTRUCTION_ROUNDS`] every key is refused (`with` panics).
    pub(crate) fn clear(&self) {
        for round in 1.. {
            if round >= DESTRUCTION_ROUNDS {
                self.destroyed.set(true);
            }
            let Some(values) = self.table.borrow_mut().take() else {
                break;
            };
            drop(values); // outside the borrow: a destructor may use other keys
        }
        self.destroyed.set(true);
    }
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
            Some(task) => self.get_or_init(&task.locals, index),
            None => THREAD_VALUES.with(|values| self.get_or_init(values, index)),
        };
        // SAFETY: the value is boxed and only dropped when its coroutine
        // (or thread) finishes, which cannot happen during `f`.
        f(unsafe { &*value })
    }

    fn get_or_init(&self, values: &LocalValues, index: usize) -> *const T {
        assert!(
            !values.destroyed.get(),
            "rt::local!: cannot use a coroutine-local value after the coroutine's values were destroyed"
        );
        {
            let slots = values.table.borrow();
            if let Some(Some(value)) = slots.as_ref().and_then(|s| s.get(index)) {
                return value.get::<T>();
            }
        }
        // Initialise outside the borrow: `init` may use other keys.
        let value = Value::new(Box::new((self.init)()));
        let mut slots = values.table.borrow_mut();
        let slots = slots.get_or_insert_with(Box::default);
        if slots.len() <= index {
            slots.resize_with(index + 1, || None);
        }
        slots[index].get_or_insert(value).get::<T>()
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
