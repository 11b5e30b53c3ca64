//! The storage behind coroutine-locals (`rt::local!`, `local.rs`): a
//! coroutine's values, kept in its task, dropped on its own thread when it
//! finishes.

use std::any::Any;
use std::cell::RefCell;
use std::ptr::NonNull;

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
    /// The value of key `index`, created with `init` on first use.
    pub(crate) fn get_or_init<T: 'static>(&self, index: usize, init: fn() -> T) -> *const T {
        let values = self;
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
        let value = Value::new(Box::new(init()));
        let mut slots = values.table.borrow_mut();
        let slots = slots.get_or_insert_with(Box::default);
        if slots.len() <= index {
            slots.resize_with(index + 1, || None);
        }
        slots[index].get_or_insert(value).get::<T>()
    }

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
