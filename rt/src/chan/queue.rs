//! The FIFO behind a channel's wait queues ([`Queue`]): a `VecDeque` whose
//! oldest element is kept inline.

use std::collections::VecDeque;

/// Capacity the queue keeps once it drains; beyond this its buffer goes
/// back (a million parked receivers left 8 MB behind in a channel that
/// lives on).
const KEEP: usize = 1024;

/// A FIFO whose oldest element is kept inline: a channel's wait queue
/// mostly holds one waiter or none, and a hand-off then pushes and pops
/// without touching a ring buffer (a third of the instructions of a
/// `VecDeque` push and pop).
pub(super) struct Queue<E> {
    /// The oldest element; `None` only while `rest` is empty too.
    first: Option<E>,
    /// The others, oldest first.
    rest: VecDeque<E>,
}

impl<E: Copy> Queue<E> {
    pub(super) const fn new() -> Queue<E> {
        Queue {
            first: None,
            rest: VecDeque::new(),
        }
    }

    #[inline]
    pub(super) fn push_back(&mut self, e: E) {
        debug_assert!(self.first.is_some() || self.rest.is_empty());
        if self.first.is_none() {
            self.first = Some(e);
        } else {
            self.rest.push_back(e);
        }
    }

    #[inline]
    pub(super) fn get(&self, index: usize) -> Option<&E> {
        match index {
            0 => self.first.as_ref(),
            _ => self.rest.get(index - 1),
        }
    }

    #[inline]
    pub(super) fn pop_front(&mut self) -> Option<E> {
        let first = self.first.take()?;
        self.first = self.rest.pop_front();
        if self.first.is_none() {
            self.release_spike();
        }
        Some(first)
    }

    #[inline]
    pub(super) fn remove(&mut self, index: usize) -> Option<E> {
        match index {
            0 => self.pop_front(),
            _ => {
                let removed = self.rest.remove(index - 1);
                if self.rest.is_empty() {
                    self.release_spike();
                }
                removed
            }
        }
    }

    /// `rest` just drained: free its buffer if a spike grew it past [`KEEP`].
    #[inline]
    fn release_spike(&mut self) {
        if self.rest.capacity() > KEEP {
            self.rest = VecDeque::new();
        }
    }

    pub(super) fn position(&self, mut f: impl FnMut(E) -> bool) -> Option<usize> {
        let first = self.first?;
        if f(first) {
            return Some(0);
        }
        self.rest.iter().position(|&e| f(e)).map(|i| i + 1)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Queue;
    use std::collections::VecDeque;

    /// `Queue` behaves as a `VecDeque` through every operation the wait
    /// queues use, including removals in the middle of a scan, and keeps
    /// its oldest element inline whenever it is not empty.
    #[test]
    fn queue_is_a_fifo_with_its_oldest_element_inline() {
        let mut queue = Queue::new();
        let mut model = VecDeque::new();
        let mut rng = 0x9e37_79b9_u32;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            rng
        };
        for step in 0..20_000u32 {
            match next() % 5 {
                0 | 1 => {
                    queue.push_back(step);
                    model.push_back(step);
                }
                2 => assert_eq!(queue.pop_front(), model.pop_front()),
                3 => {
                    let index = next() as usize % (model.len() + 1);
                    assert_eq!(queue.remove(index), model.remove(index));
                }
                _ => {
                    let wanted = model.get(next() as usize % (model.len() + 1)).copied();
                    assert_eq!(
                        queue.position(|e| Some(e) == wanted),
                        model.iter().position(|&e| Some(e) == wanted)
                    );
                }
            }
            assert_eq!(queue.first.is_some(), !model.is_empty());
            for (index, e) in model.iter().enumerate() {
                assert_eq!(queue.get(index), Some(e));
            }
            assert_eq!(queue.get(model.len()), None);
        }
    }

    /// A queue that drained after a spike keeps no large buffer.
    #[test]
    fn a_drained_queue_gives_its_buffer_back() {
        let mut queue = Queue::new();
        (0..5_000u32).for_each(|i| queue.push_back(i));
        assert!(queue.rest.capacity() > super::KEEP);
        (0..5_000u32).for_each(|i| assert_eq!(queue.pop_front(), Some(i)));
        assert_eq!(queue.rest.capacity(), 0);
        (0..5_000u32).for_each(|i| queue.push_back(i));
        while queue.rest.len() > 1 {
            queue.remove(1);
        }
        assert_eq!(queue.remove(1), Some(4_999));
        assert_eq!(queue.rest.capacity(), 0);
        assert_eq!(queue.pop_front(), Some(0));
        assert_eq!(queue.pop_front(), None);
    }
}
