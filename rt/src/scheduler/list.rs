//! [`TaskList`]: a queue of tasks linked through the tasks themselves.
//!
//! Every list of tasks the scheduler keeps is one of these: a worker's run
//! queue of woken coroutines, its inbox (coroutines woken by other
//! threads), and the chains of finished tasks kept for reuse. A task is in
//! at most one list at a time, so one link field in the task serves them
//! all (`Task::next`), and only the list's owner touches it.
//!
//! Why not a `VecDeque`: a list linked through its elements never
//! allocates. Queues of pointers grew into fresh memory exactly when a burst
//! of coroutines woke or finished — releasing a million parked coroutines
//! faulted in thousands of new pages for them — and a cross-thread queue
//! (crossbeam's `Injector`) allocates a block per 63 entries. A linked
//! list also moves whole: a worker takes its inbox with one lock hold,
//! whatever its length, and appends it to its run queue in O(1).

use std::sync::Arc;

use super::task::Task;
use crate::loom::sync::atomic::{AtomicBool, Ordering::Relaxed};
use crate::loom::sync::Mutex;

/// A FIFO of tasks, linked through `Task::next`. Holds one reference to
/// each task (inside the chain of links from `head`).
#[derive(Default)]
pub(super) struct TaskList {
    /// The first task; it owns the second through its link, and so on.
    head: Option<Arc<Task>>,
    /// The last task (null when empty), to append in O(1).
    tail: *const Task,
    /// How many tasks the list holds.
    len: usize,
}

// SAFETY: `tail` points into a task the list itself owns (through `head`);
// moving the list to another thread moves that ownership with it.
unsafe impl Send for TaskList {}

impl TaskList {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first task, if any.
    pub(super) fn front(&self) -> Option<&Task> {
        self.head.as_deref()
    }

    /// The task after `task`, which must be in this list.
    pub(super) fn next_of<'a>(&'a self, task: &'a Task) -> Option<&'a Task> {
        // SAFETY: `task` is in this list, which owns its link; `&self`
        // keeps the list (and so the link) unchanged while it is borrowed.
        unsafe { task.next() }
    }

    /// Add `task` at the end. It must be in no other list.
    pub(super) fn push_back(&mut self, task: Arc<Task>) {
        // SAFETY: only read; a task in no list has a link nobody uses.
        debug_assert!(unsafe { task.next() }.is_none(), "a task in two lists");
        let new_tail = Arc::as_ptr(&task);
        if self.tail.is_null() {
            self.head = Some(task);
        } else {
            // SAFETY: `tail` is the last task of this list (which owns its
            // link, so far empty).
            unsafe { (*self.tail).set_next(Some(task)) };
        }
        self.tail = new_tail;
        self.len += 1;
    }

    /// Add `task` at the front. It must be in no other list.
    pub(super) fn push_front(&mut self, task: Arc<Task>) {
        // SAFETY: as in `push_back`.
        debug_assert!(unsafe { task.next() }.is_none(), "a task in two lists");
        if self.tail.is_null() {
            self.tail = Arc::as_ptr(&task);
        }
        // SAFETY: the task is joining this list; nobody else uses its link.
        unsafe { task.set_next(self.head.take()) };
        self.head = Some(task);
        self.len += 1;
    }

    /// Take the first task out.
    pub(super) fn pop_front(&mut self) -> Option<Arc<Task>> {
        let task = self.head.take()?;
        // SAFETY: the task was this list's; its link is ours to take.
        self.head = unsafe { task.take_next() };
        if self.head.is_none() {
            self.tail = std::ptr::null();
        }
        self.len -= 1;
        Some(task)
    }

    /// Move every task of `other` to the end of this list, in O(1).
    pub(super) fn append(&mut self, other: &mut TaskList) {
        let Some(head) = other.head.take() else {
            return;
        };
        if self.tail.is_null() {
            self.head = Some(head);
        } else {
            // SAFETY: as in `push_back`.
            unsafe { (*self.tail).set_next(Some(head)) };
        }
        self.tail = std::mem::replace(&mut other.tail, std::ptr::null());
        self.len += std::mem::take(&mut other.len);
    }

    /// Keep the first `keep` tasks; return the rest as a list of its own.
    pub(super) fn split_off(&mut self, keep: usize) -> TaskList {
        if keep == 0 {
            return std::mem::take(self);
        }
        if keep >= self.len {
            return TaskList::default();
        }
        let mut last_kept = self.front().expect("keep < len");
        for _ in 1..keep {
            last_kept = self.next_of(last_kept).expect("keep < len");
        }
        let last_kept: *const Task = last_kept;
        // SAFETY: `last_kept` is in this list, which owns its link.
        let rest = unsafe { (*last_kept).take_next() };
        let rest = TaskList {
            head: rest,
            tail: std::mem::replace(&mut self.tail, last_kept),
            len: self.len - keep,
        };
        self.len = keep;
        rest
    }
}

impl Drop for TaskList {
    /// One task at a time: dropping the head would otherwise drop the whole
    /// list recursively, a stack frame per task.
    fn drop(&mut self) {
        while self.pop_front().is_some() {}
    }
}

/// What an [`Inbox`] holds: a FIFO of woken coroutines ([`TaskList`]; a
/// `VecDeque` of numbers in the loom model of the inbox).
pub trait Queue: Default {
    /// What is queued.
    type Item;
    /// Add `item` at the end.
    fn push_back(&mut self, item: Self::Item);
    /// Whether nothing is queued.
    fn is_empty(&self) -> bool;
    /// How many items are queued.
    fn len(&self) -> usize;
}

impl Queue for TaskList {
    type Item = Arc<Task>;

    fn push_back(&mut self, task: Arc<Task>) {
        TaskList::push_back(self, task);
    }

    fn is_empty(&self) -> bool {
        TaskList::is_empty(self)
    }

    fn len(&self) -> usize {
        TaskList::len(self)
    }
}

#[cfg(loom)]
impl<T> Queue for std::collections::VecDeque<T> {
    type Item = T;

    fn push_back(&mut self, item: T) {
        std::collections::VecDeque::push_back(self, item);
    }

    fn is_empty(&self) -> bool {
        std::collections::VecDeque::is_empty(self)
    }

    fn len(&self) -> usize {
        std::collections::VecDeque::len(self)
    }
}

/// A worker's inbox: started coroutines homed on that worker that other
/// threads woke. Any thread pushes (then unparks the owner); the owner
/// takes everything at once.
///
/// The protocol against lost wake-ups, checked by
/// `loom-tests/tests/inbox.rs`: a waker pushes under the lock, then unparks
/// the owner (leaving a token if it is awake); the owner, before it sleeps,
/// checks [`is_empty`](Self::is_empty) under the lock. Either that check
/// sees the push, or the push — and so the unpark — comes after it and the
/// owner's sleep returns at once.
pub struct Inbox<Q> {
    /// The woken coroutines, oldest first.
    list: Mutex<Q>,
    /// Whether `list` may hold anything, so that the owner's frequent
    /// checks of an empty inbox take no lock. Written under the lock; a
    /// stale `false` only delays the owner until its next check, and it
    /// checks under the lock before it sleeps.
    maybe_nonempty: AtomicBool,
}

impl<Q: Queue> Default for Inbox<Q> {
    fn default() -> Self {
        Inbox {
            list: Mutex::new(Q::default()),
            maybe_nonempty: AtomicBool::new(false),
        }
    }
}

impl<Q: Queue> Inbox<Q> {
    /// Queue a woken coroutine (then wake the owner).
    pub fn push(&self, item: Q::Item) {
        let mut list = self.list.lock();
        list.push_back(item);
        self.maybe_nonempty.store(true, Relaxed);
    }

    /// Take everything queued, oldest first: the owner's frequent check,
    /// which takes no lock while the hint says empty.
    pub fn take_all(&self) -> Q {
        if !self.maybe_nonempty.load(Relaxed) {
            return Q::default();
        }
        self.drain()
    }

    /// Take everything queued, checking under the lock.
    pub fn drain(&self) -> Q {
        let mut list = self.list.lock();
        self.maybe_nonempty.store(false, Relaxed);
        std::mem::take(&mut *list)
    }

    /// Whether nothing is queued (checked under the lock).
    pub fn is_empty(&self) -> bool {
        self.list.lock().is_empty()
    }

    /// How many are queued.
    pub fn len(&self) -> usize {
        self.list.lock().len()
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

    fn ids(mut list: TaskList) -> Vec<CoroutineId> {
        std::iter::from_fn(|| list.pop_front())
            .map(|task| task.id())
            .collect()
    }

    fn list_of(tasks: &[Arc<Task>]) -> TaskList {
        let mut list = TaskList::default();
        tasks.iter().for_each(|task| list.push_back(task.clone()));
        list
    }

    #[test]
    fn a_list_is_fifo_and_push_front_jumps_the_queue() {
        let tasks = tasks(4);
        let mut list = list_of(&tasks[1..3]);
        list.push_front(tasks[0].clone());
        list.push_back(tasks[3].clone());
        assert_eq!(list.len(), 4);
        assert_eq!(list.front().map(Task::id), Some(tasks[0].id()));
        let second = list.next_of(list.front().unwrap()).map(Task::id);
        assert_eq!(second, Some(tasks[1].id()));
        let expected: Vec<_> = tasks.iter().map(|task| task.id()).collect();
        assert_eq!(ids(list), expected);
    }

    #[test]
    fn append_moves_a_whole_list_and_pushing_after_it_lands_last() {
        let tasks = tasks(6);
        let mut list = list_of(&tasks[..2]);
        let mut other = list_of(&tasks[2..5]);
        list.append(&mut other);
        assert!(other.is_empty());
        list.append(&mut TaskList::default());
        list.push_back(tasks[5].clone());
        let mut empty = TaskList::default();
        empty.append(&mut list);
        let expected: Vec<_> = tasks.iter().map(|task| task.id()).collect();
        assert_eq!(empty.len(), 6);
        assert_eq!(ids(empty), expected);
    }

    #[test]
    fn split_off_keeps_the_front_and_both_halves_stay_usable() {
        let tasks = tasks(8);
        let mut list = list_of(&tasks[..6]);
        let mut rest = list.split_off(2);
        assert_eq!((list.len(), rest.len()), (2, 4));
        list.push_back(tasks[6].clone());
        rest.push_front(tasks[7].clone());
        let id = |i: usize| tasks[i].id();
        assert_eq!(ids(list), [id(0), id(1), id(6)]);
        assert_eq!(ids(rest), [id(7), id(2), id(3), id(4), id(5)]);
    }

    #[test]
    fn split_off_at_zero_and_at_or_past_the_end() {
        let tasks = tasks(3);
        let mut list = list_of(&tasks);
        assert!(list.split_off(3).is_empty());
        assert!(list.split_off(9).is_empty());
        let all = list.split_off(0);
        assert_eq!((list.len(), all.len()), (0, 3));
        let expected: Vec<_> = tasks.iter().map(|task| task.id()).collect();
        assert_eq!(ids(all), expected);
        list.push_back(tasks[0].clone());
        assert_eq!(ids(list), [tasks[0].id()]);
    }

    #[test]
    fn dropping_a_long_list_does_not_recurse() {
        // Recursive drops of 100,000 tasks would overflow this thread's stack.
        let mut list = TaskList::default();
        tasks(100_000)
            .into_iter()
            .for_each(|task| list.push_back(task));
        let weak = Arc::downgrade(&list.front().unwrap().shared);
        drop(list);
        assert!(
            weak.upgrade().is_none(),
            "every task (and so the runtime) was freed"
        );
    }
}
