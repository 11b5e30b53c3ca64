//! The public identity of a coroutine: [`CoroutineId`], [`Coroutine`],
//! [`current`].

use std::fmt;
use std::num::NonZeroU64;
use std::sync::Arc;

use std::cell::Cell;
use std::sync::atomic::Ordering::Relaxed;

use super::current::with_current;
use super::Task;

/// A coroutine's unique id. Ids are never reused within a process.
///
/// ```
/// let (a, b) = rt::run(|| (rt::spawn(|| ()), rt::spawn(|| ())));
/// assert_ne!(a.coroutine().id(), b.coroutine().id());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CoroutineId(NonZeroU64);

impl CoroutineId {
    /// The next unused id. Each thread takes ids from the global counter
    /// in blocks, so spawning threads do not contend on one cache line.
    pub(in crate::scheduler) fn next() -> CoroutineId {
        const BLOCK: u64 = 1024;
        static NEXT_BLOCK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        thread_local! {
            /// Next id of this thread's block, and the block's end.
            static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        let id = RANGE.with(|range| {
            let (mut next, mut end) = range.get();
            if next == end {
                next = NEXT_BLOCK.fetch_add(BLOCK, Relaxed);
                end = next + BLOCK;
            }
            range.set((next + 1, end));
            next
        });
        CoroutineId(NonZeroU64::new(id).expect("ids start at 1"))
    }

    /// The id that `as_u64` gave, or `None` for 0.
    pub(crate) fn from_raw(id: u64) -> Option<CoroutineId> {
        NonZeroU64::new(id).map(CoroutineId)
    }

    /// The id as a number, for logs. Ids are unique and never reused, but
    /// not ordered across threads (each thread draws them in blocks).
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for CoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A handle to a coroutine's identity: its id and name.
///
/// ```
/// rt::run(|| {
///     let me = rt::current().expect("inside a coroutine");
///     println!("I am {me:?}");
/// });
/// assert!(rt::current().is_none()); // a plain thread
/// ```
#[derive(Clone)]
pub struct Coroutine(pub(crate) Arc<Task>);

impl Coroutine {
    /// The coroutine's id.
    pub fn id(&self) -> CoroutineId {
        self.0.id
    }

    /// The coroutine's name, if it was given one
    /// (see [`CoroutineBuilder::name`](crate::CoroutineBuilder::name)).
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
}

impl fmt::Debug for Coroutine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coroutine")
            .field("id", &self.id().as_u64())
            .field("name", &self.name())
            .finish()
    }
}

/// The coroutine the caller runs in, or `None` on a plain thread.
///
/// ```
/// assert!(rt::current().is_none()); // a plain thread
/// let named = rt::run(|| rt::current().map(|c| c.id()));
/// assert!(named.is_some());
/// ```
pub fn current() -> Option<Coroutine> {
    with_current(|task| task.map(|t| Coroutine(t.clone())))
}
#[cfg(test)]
mod size_probe {
    #[test]
    fn print_task_size() {
        eprintln!("TASK SIZE {}", std::mem::size_of::<super::Task>());
    }
}
