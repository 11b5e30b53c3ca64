//! Chains of finished tasks kept for reuse by the next spawns.
//!
//! A chain links tasks through the tasks themselves (`Task::recycled_next`),
//! so keeping a finished task writes only that task — memory its coroutine
//! just used. Vectors of tasks grew into fresh memory exactly when a burst
//! of coroutines finished: releasing a million parked coroutines faulted in
//! ~2,000 new pages for them (a quarter of the release's page faults).

use std::sync::Arc;

use super::task::Task;

/// Finished, unshared tasks, most recently pushed first.
#[derive(Default)]
pub(super) struct Chain {
    /// The most recently pushed task.
    head: Option<Arc<Task>>,
    /// How many tasks the chain holds.
    len: usize,
}

impl Chain {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Add `task`, which nobody else may reference.
    pub(super) fn push(&mut self, task: Arc<Task>) {
        // SAFETY: the task is unshared (our caller's contract), so nobody
        // else reads its link.
        unsafe { task.set_recycled_next(self.head.take()) };
        self.head = Some(task);
        self.len += 1;
    }

    /// The most recently pushed task, unlinked.
    pub(super) fn pop(&mut self) -> Option<Arc<Task>> {
        let task = self.head.take()?;
        // SAFETY: tasks in a chain are unshared; the chain owns this one.
        self.head = unsafe { task.take_recycled_next() };
        self.len -= 1;
        Some(task)
    }

    /// Keep the `keep` most recently pushed tasks (the ones still in
    /// cache); return the older rest as a chain of its own.
    pub(super) fn split_off(&mut self, keep: usize) -> Chain {
        if keep == 0 {
            return std::mem::take(self);
        }
        let mut last_kept = self.head.as_deref();
        for _ in 1..keep.min(self.len) {
            // SAFETY: as in `pop`; only the link is read.
            last_kept = last_kept.and_then(|task| unsafe { task.recycled_next() });
        }
        let Some(last_kept) = last_kept else {
            return Chain::default();
        };
        // SAFETY: as in `pop`.
        let rest = unsafe { last_kept.take_recycled_next() };
        let rest_len = self.len.saturating_sub(keep);
        self.len -= rest_len;
        Chain {
            head: rest,
            len: rest_len,
        }
    }
}

impl Drop for Chain {
    /// One task at a time: dropping the head would otherwise drop the whole
    /// chain recursively, a stack frame per task.
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coroutine::stack::StackPool;
    use crate::scheduler::task::{Body, CoroutineId};
    use crate::scheduler::Shared;

    fn tasks(n: usize) -> Vec<Arc<Task>> {
        let stacks = StackPool::new(64 * 1024).unwrap();
        let shared = Arc::new(Shared::new(Vec::new(), stacks).unwrap());
        let at = std::panic::Location::caller();
        (0..n)
            .map(|_| {
                Arc::new(Task::new(
                    shared.clone(),
                    CoroutineId::next(),
                    None,
                    at,
                    Body::Finished,
                ))
            })
            .collect()
    }

    fn ids(mut chain: Chain) -> Vec<CoroutineId> {
        std::iter::from_fn(|| chain.pop())
            .map(|task| task.id())
            .collect()
    }

    #[test]
    fn a_chain_pops_most_recent_first_and_split_off_gives_the_older_rest() {
        let tasks = tasks(10);
        let pushed: Vec<_> = tasks.iter().map(|task| task.id()).collect();
        let mut chain = Chain::default();
        for task in tasks {
            chain.push(task);
        }
        assert_eq!(chain.len(), 10);
        let older = chain.split_off(4);
        assert_eq!((chain.len(), older.len()), (4, 6));
        let newest: Vec<_> = pushed.iter().rev().copied().collect();
        assert_eq!(ids(chain), newest[..4]);
        assert_eq!(ids(older), newest[4..]);
    }

    #[test]
    fn split_off_at_or_past_the_end_and_at_zero() {
        let mut chain = Chain::default();
        tasks(3).into_iter().for_each(|task| chain.push(task));
        assert_eq!(chain.split_off(3).len(), 0);
        assert_eq!(chain.split_off(7).len(), 0);
        assert_eq!(chain.len(), 3);
        let all = chain.split_off(0);
        assert_eq!((chain.len(), all.len()), (0, 3));
        assert_eq!(ids(all).len(), 3);
    }

    #[test]
    fn dropping_a_long_chain_does_not_recurse() {
        // Recursive drops of 100,000 tasks would overflow this thread's stack.
        let mut chain = Chain::default();
        tasks(100_000).into_iter().for_each(|task| chain.push(task));
        let weak = Arc::downgrade(&chain.head.as_ref().unwrap().shared);
        drop(chain);
        assert!(
            weak.upgrade().is_none(),
            "every task (and so the runtime) was freed"
        );
    }
}
