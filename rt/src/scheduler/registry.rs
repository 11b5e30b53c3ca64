//! The started, unfinished coroutines of one worker (for shutdown and
//! `rt::dump`), by slot.
//!
//! A coroutine takes a slot when it first runs and gives it back when it
//! finishes. Free slots are chained through the slots themselves, so giving
//! one back writes only that slot: a burst of finishing coroutines (a
//! million parked ones released at once) grows no side list, and so takes
//! no page faults. A separate free list would grow by one entry per finish
//! into memory never touched before — about 2,000 fresh pages per million.

/// End of the free chain.
const NONE: usize = usize::MAX;

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
}

impl<T> Default for Registry<T> {
    fn default() -> Registry<T> {
        Registry {
            slots: Vec::new(),
            free: NONE,
        }
    }
}

impl<T> Registry<T> {
    /// Register `item`; returns its slot, for [`remove`](Self::remove).
    pub(crate) fn insert(&mut self, item: T) -> usize {
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
