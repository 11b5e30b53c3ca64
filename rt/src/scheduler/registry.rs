//! The started, unfinished coroutines of one worker (for shutdown and
//! `rt::dump`), by slot.
//!
//! A coroutine takes a slot when it first runs and gives it back when it
//! finishes. Free slots are chained through the slots themselves, so giving
//! one back writes only that slot: a burst of finishing coroutines (a
//! million parked ones released at once) grows no side list, and so takes
//! no page faults. A separate free list would grow by one entry per finish
//! into memory never touched before — about 2,000 fresh pages per million.

use std::ptr::NonNull;
use std::sync::Arc;

use super::task::Task;

/// End of the free chain.
const NONE: usize = usize::MAX;

/// Slots an empty registry keeps allocated; beyond this its memory goes
/// back (a spike of a million coroutines left 16 MB behind per worker).
const KEEP_SLOTS: usize = 1024;

/// A started, unfinished coroutine as its worker's registry holds it:
/// not counted, so starting and finishing cost no reference-count
/// traffic.
///
/// Sound because such a coroutine always has a counted owner besides:
/// its worker while it runs, its IDLE state while it is parked
/// (`Worker::run_task`), a run queue or an inbox while it is runnable.
/// Nothing lets that last reference go while the coroutine is still
/// registered: it finishes on its home worker, which unregisters it
/// before dropping its own reference; shutdown's teardown (which drops the
/// worker's queues and takes back IDLE references) first turns every entry
/// into a counted reference with [`to_arc`](Self::to_arc), and a
/// current-thread runtime dropped on the wrong thread, which abandons its
/// coroutines, leaks one counted reference per entry before the runtime
/// drops its queues.
/// The registry lives on its worker's thread, so entries are only read
/// there, between the steps that change ownership (or, for that abandoned
/// current-thread runtime, by the thread dropping it, when nothing can
/// drive its worker any more).
#[derive(Clone, Copy)]
pub(crate) struct Registered(NonNull<Task>);

impl Registered {
    /// The entry for `task`.
    pub(crate) fn of(task: &Arc<Task>) -> Registered {
        Registered(NonNull::from(&**task))
    }

    /// The task.
    ///
    /// # Safety
    ///
    /// The entry is still in its worker's registry, read on that worker's
    /// thread (see the type's docs).
    pub(crate) unsafe fn task(&self) -> &Task {
        // SAFETY: alive while registered (our caller's contract).
        unsafe { self.0.as_ref() }
    }

    /// A counted reference to the task.
    ///
    /// # Safety
    ///
    /// As for [`task`](Self::task).
    pub(crate) unsafe fn to_arc(self) -> Arc<Task> {
        let ptr = self.0.as_ptr().cast_const();
        // SAFETY: `ptr` came from an `Arc<Task>` (`of`) that is alive
        // (our caller's contract), so it may be counted once more and
        // turned back into an `Arc` owning that count.
        unsafe {
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }
}

/// One slot of the registry.
enum Slot<T> {
    /// Holds a registered item.
    Taken(T),
    /// Free; the next free slot, or [`NONE`].
    Free(usize),
}

/// Items (started coroutines) by slot index.
pub(crate) struct Registry<T> {
    /// Slot i holds an item or links to the next free slot.
    slots: Vec<Slot<T>>,
    /// The most recently freed slot, or [`NONE`].
    free: usize,
    /// Items registered.
    len: usize,
}

impl<T> Default for Registry<T> {
    fn default() -> Registry<T> {
        Registry {
            slots: Vec::new(),
            free: NONE,
            len: 0,
        }
    }
}

impl<T> Registry<T> {
    /// Register `item`; returns its slot, for [`remove`](Self::remove).
    pub(crate) fn insert(&mut self, item: T) -> usize {
        self.len += 1;
        match self.free {
            NONE => {
                self.slots.push(Slot::Taken(item));
                self.slots.len() - 1
            }
            slot => {
                let Slot::Free(next) = self.slots[slot] else {
                    unreachable!("the free chain links only free slots");
                };
                self.free = next;
                self.slots[slot] = Slot::Taken(item);
                slot
            }
        }
    }

    /// Unregister the item in `slot` (taken by `insert`) and return it.
    pub(crate) fn remove(&mut self, slot: usize) -> T {
        match std::mem::replace(&mut self.slots[slot], Slot::Free(self.free)) {
            Slot::Taken(item) => {
                self.free = slot;
                self.len -= 1;
                if self.len == 0 {
                    // Every slot is free: start afresh (no free chain to
                    // walk), and give a spike's memory back.
                    self.free = NONE;
                    if self.slots.capacity() > KEEP_SLOTS {
                        self.slots = Vec::new();
                    } else {
                        self.slots.clear();
                    }
                }
                item
            }
            Slot::Free(_) => unreachable!("removed a free registry slot"),
        }
    }

    /// The item in `slot` (taken by `insert`).
    pub(crate) fn get_mut(&mut self, slot: usize) -> &mut T {
        match &mut self.slots[slot] {
            Slot::Taken(item) => item,
            Slot::Free(_) => unreachable!("a free registry slot has no item"),
        }
    }

    /// Every registered item.
    pub(crate) fn items(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter_map(|slot| match slot {
            Slot::Taken(item) => Some(item),
            Slot::Free(_) => None,
        })
    }

    /// Unregister and return some item, if any is left (shutdown).
    pub(crate) fn pop(&mut self) -> Option<T> {
        // Popping may drop slots the free chain links: forget the chain
        // (an `insert` after this appends; the free slots left are skipped).
        self.free = NONE;
        while let Some(slot) = self.slots.pop() {
            if let Slot::Taken(item) = slot {
                self.len -= 1;
                return Some(item);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Registry;

    fn items(registry: &Registry<u32>) -> Vec<u32> {
        let mut items: Vec<u32> = registry.items().copied().collect();
        items.sort_unstable();
        items
    }

    #[test]
    fn freed_slots_are_reused_most_recent_first_without_growing() {
        let mut registry = Registry::default();
        let slots: Vec<usize> = (0..5).map(|i| registry.insert(i)).collect();
        assert_eq!(slots, [0, 1, 2, 3, 4]);
        assert_eq!(registry.remove(1), 1);
        assert_eq!(registry.remove(3), 3);
        assert_eq!(items(&registry), [0, 2, 4]);
        assert_eq!(registry.insert(10), 3);
        assert_eq!(registry.insert(11), 1);
        assert_eq!(registry.insert(12), 5);
        assert_eq!(registry.slots.len(), 6);
        assert_eq!(items(&registry), [0, 2, 4, 10, 11, 12]);
    }

    #[test]
    fn a_registry_that_empties_gives_its_memory_back() {
        let mut registry = Registry::default();
        let slots: Vec<usize> = (0..5_000).map(|i| registry.insert(i)).collect();
        assert!(registry.slots.capacity() >= 5_000);
        for (i, slot) in slots.into_iter().enumerate().rev() {
            assert_eq!(registry.remove(slot), i as u32);
        }
        assert_eq!(registry.slots.capacity(), 0);
        // Small ones keep theirs; either way it starts afresh at slot 0.
        assert_eq!(registry.insert(7), 0);
        assert_eq!(registry.insert(8), 1);
        assert_eq!(registry.remove(0), 7);
        assert_eq!(registry.remove(1), 8);
        assert!(registry.slots.capacity() > 0);
        assert_eq!(registry.insert(9), 0);
        assert_eq!(items(&registry), [9]);
    }

    #[test]
    fn pop_returns_every_item_once_and_inserting_after_it_is_sound() {
        let mut registry = Registry::default();
        for i in 0..6 {
            registry.insert(i);
        }
        registry.remove(5);
        registry.remove(2);
        let mut popped = vec![registry.pop().unwrap()];
        // The chain linked slot 5, which `pop` dropped: insert must not use it.
        let slot = registry.insert(20);
        assert_eq!(registry.remove(slot), 20);
        while let Some(item) = registry.pop() {
            popped.push(item);
        }
        popped.sort_unstable();
        assert_eq!(popped, [0, 1, 3, 4]);
        assert!(registry.pop().is_none());
    }
}
