//! Storage for `Frame::defer` closures: a LIFO bump arena.
//!
//! Deferred closures run in reverse order of registration, so their storage
//! is a stack: registering bumps a cursor, running one pops it. The arena
//! is made of 1 KiB chunks taken from (and returned to) a per-thread pool,
//! so in the steady state registering a defer never calls `malloc`; only a
//! closure larger than a chunk, or aligned beyond 16 bytes, is boxed.
//!
//! Each entry is `[Header | closure]`; the header links to the previous
//! entry and remembers the cursor before this entry, so popping restores it.

// Chunks stay boxed so that moving one between an arena and the pool moves a
// pointer, not a kilobyte.
#![allow(clippy::vec_box)]

use std::cell::RefCell;
use std::mem::{align_of, size_of, MaybeUninit};
use std::ptr;

/// Bytes per chunk.
const CHUNK: usize = 1024;
/// Chunks kept per thread for reuse.
const POOL_MAX: usize = 64;

/// A chunk: 16-byte aligned storage.
type Chunk = [MaybeUninit<u128>; CHUNK / 16];

/// A position in the arena: chunk index and byte offset (u32s keep the
/// per-entry header at 24 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Pos {
    chunk: u32,
    offset: u32,
}

/// `Header::prev` of the first entry.
const NO_ENTRY: Pos = Pos {
    chunk: u32::MAX,
    offset: u32::MAX,
};

/// Written in front of every closure.
struct Header {
    /// Calls (`true`) or just drops (`false`) the closure behind the header.
    invoke: unsafe fn(*mut u8, bool),
    /// The previous entry's header, or `NO_ENTRY`.
    prev: Pos,
    /// The cursor before this entry was pushed.
    cursor_before: Pos,
}

thread_local! {
    /// Free chunks of arenas that were dropped on this thread.
    static POOL: RefCell<Vec<Box<Chunk>>> = const { RefCell::new(Vec::new()) };
}

/// A LIFO arena of type-erased `FnOnce()` closures.
pub(crate) struct Arena {
    /// Chunks in use or kept for reuse by this arena.
    chunks: Vec<Box<Chunk>>,
    /// Where the next entry goes.
    cursor: Pos,
    /// The most recent entry, or `NO_ENTRY` (when `len` is 0).
    top: Pos,
    /// Number of entries.
    len: usize,
}

impl Default for Arena {
    fn default() -> Self {
        Arena {
            chunks: Vec::new(),
            cursor: Pos::default(),
            top: NO_ENTRY,
            len: 0,
        }
    }
}

impl Arena {
    /// Number of closures waiting.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Push `f`. It runs (or is dropped) by a later `pop_run`.
    pub(crate) fn push<F: FnOnce()>(&mut self, f: F) {
        if align_of::<F>() > 16 || size_of::<F>() + size_of::<Header>() + 16 > CHUNK {
            let boxed: Box<F> = Box::new(f);
            self.push_inline(boxed);
        } else {
            self.push_inline(f);
        }
    }

    /// Push a closure small enough to live in a chunk.
    fn push_inline<F: FnOnce()>(&mut self, f: F) {
        debug_assert!(align_of::<F>() <= 16 && size_of::<F>() + size_of::<Header>() + 16 <= CHUNK);
        let cursor_before = self.cursor;
        let header_at = self.reserve(
            size_of::<Header>() + pad(size_of::<Header>(), align_of::<F>()) + size_of::<F>(),
        );
        let base = self.address(header_at);
        let closure_offset = size_of::<Header>() + pad(size_of::<Header>(), align_of::<F>());
        // SAFETY: `reserve` made room for the header and the aligned closure
        // inside one chunk; chunks are 16-byte aligned and align_of::<F>()
        // is at most 16, Header's alignment is at most 8.
        unsafe {
            base.cast::<Header>().write(Header {
                invoke: invoke::<F>,
                prev: self.top,
                cursor_before,
            });
            base.add(closure_offset).cast::<F>().write(f);
        }
        self.top = header_at;
        self.len += 1;
    }

    /// Pop the most recent closure, to be run with [`Popped::run`]. The
    /// closure is moved out of the arena before it is called, so it may
    /// push (and pop) further entries itself.
    pub(crate) fn pop_into(&mut self) -> Option<Popped> {
        if self.len == 0 {
            return None;
        }
        let at = self.top;
        let base = self.address(at);
        // SAFETY: `top` points at a header written by `push` and not yet popped.
        let header = unsafe { base.cast::<Header>().read() };
        self.top = header.prev;
        self.cursor = header.cursor_before;
        self.len -= 1;
        Some(Popped {
            invoke: header.invoke,
            base,
        })
    }

    /// Make room for `size` bytes and return where (16-aligned: sizes are
    /// rounded up to 16, so the cursor always stays aligned).
    #[inline]
    fn reserve(&mut self, size: usize) -> Pos {
        let size = size.next_multiple_of(16);
        let at = self.cursor;
        if at.offset as usize + size <= CHUNK && (at.chunk as usize) < self.chunks.len() {
            // Offsets stay below CHUNK, so they fit a u32.
            self.cursor.offset += size as u32;
            return at;
        }
        self.reserve_in_next_chunk(size)
    }

    /// The current chunk is full (or there is none yet): continue in the
    /// next one, taking it from the thread's pool or allocating it.
    #[cold]
    fn reserve_in_next_chunk(&mut self, size: usize) -> Pos {
        let chunk = if self.chunks.is_empty() {
            0
        } else {
            self.cursor.chunk as usize + 1
        };
        while self.chunks.len() <= chunk {
            let fresh = POOL
                .with(|p| p.borrow_mut().pop())
                .unwrap_or_else(|| Box::new([MaybeUninit::uninit(); CHUNK / 16]));
            self.chunks.push(fresh);
        }
        // Chunk counts stay far below u32::MAX.
        let at = Pos {
            chunk: chunk as u32,
            offset: 0,
        };
        self.cursor = Pos {
            chunk: chunk as u32,
            offset: size as u32,
        };
        at
    }

    fn address(&mut self, at: Pos) -> *mut u8 {
        debug_assert!((at.chunk as usize) < self.chunks.len() && (at.offset as usize) < CHUNK);
        // SAFETY: every `Pos` handed out by `reserve` names an existing
        // chunk (chunks are never removed while the arena lives) and an
        // offset inside it.
        unsafe {
            self.chunks
                .get_unchecked_mut(at.chunk as usize)
                .as_mut_ptr()
                .cast::<u8>()
                .add(at.offset as usize)
        }
    }
}

/// A closure popped from the arena, not yet run. Its bytes stay valid until
/// the arena pushes again, so it must be consumed first: `run` moves the
/// closure onto the stack before calling it.
pub(crate) struct Popped {
    /// Moves the closure out of the arena, then calls or drops it.
    invoke: unsafe fn(*mut u8, bool),
    /// The entry's header.
    base: *mut u8,
}

impl Popped {
    /// Run the closure.
    ///
    /// # Safety
    ///
    /// Called at most once, before the arena is pushed to or dropped.
    pub(crate) unsafe fn run(self) {
        // SAFETY: `base` is the header of a popped, not-yet-consumed entry;
        // `invoke` moves the closure out before calling it.
        unsafe { (self.invoke)(self.base, true) }
    }
}

/// Bytes of padding after `offset` to reach `align`.
const fn pad(offset: usize, align: usize) -> usize {
    offset.next_multiple_of(align) - offset
}

/// Move the `F` behind the header at `base` out, then call or drop it.
unsafe fn invoke<F: FnOnce()>(base: *mut u8, call: bool) {
    let closure_offset = size_of::<Header>() + pad(size_of::<Header>(), align_of::<F>());
    // SAFETY: `base` is a header written by `push::<F>`; the closure behind
    // it is read exactly once.
    let f = unsafe { ptr::read(base.add(closure_offset).cast::<F>()) };
    if call {
        f();
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // Closures never run (an arena dropped with pending entries) are
        // dropped, most recent first.
        while let Some(popped) = self.pop_into() {
            // SAFETY: consumed at once.
            unsafe { (popped.invoke)(popped.base, false) };
        }
        if self.chunks.is_empty() {
            return; // the common case: a coroutine that never deferred
        }
        let chunks = std::mem::take(&mut self.chunks);
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            for chunk in chunks {
                if pool.len() < POOL_MAX {
                    pool.push(chunk);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn runs_closures_in_reverse_and_reuses_space() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut arena = Arena::default();
        for round in 0..3 {
            for i in 0..100 {
                let log = log.clone();
                let big = [i as u8; 40]; // spans several chunks in total
                arena.push(move || log.borrow_mut().push((round, i, big[0])));
            }
            assert_eq!(arena.len(), 100);
            while let Some(p) = arena.pop_into() {
                // SAFETY: run once, before the arena is touched again.
                unsafe { p.run() };
            }
            assert_eq!(arena.cursor, Pos::default());
        }
        let log = log.borrow();
        assert_eq!(log.len(), 300);
        assert_eq!(log[0], (0, 99, 99));
        assert_eq!(log[99], (0, 0, 0));
    }

    #[test]
    fn oversized_and_overaligned_closures_are_boxed() {
        #[repr(align(64))]
        struct Wide(u8);
        let hit = Rc::new(RefCell::new(0));
        let mut arena = Arena::default();
        let (h1, h2) = (hit.clone(), hit.clone());
        let huge = [1_u8; 4096];
        let wide = Wide(2);
        arena.push(move || *h1.borrow_mut() += huge[0] as i32);
        arena.push(move || *h2.borrow_mut() += wide.0 as i32);
        while let Some(p) = arena.pop_into() {
            // SAFETY: run once, before the arena is touched again.
            unsafe { p.run() };
        }
        assert_eq!(*hit.borrow(), 3);
    }

    #[test]
    fn dropping_with_pending_entries_drops_the_closures() {
        let token = Rc::new(());
        let mut arena = Arena::default();
        let t = token.clone();
        arena.push(move || drop(t));
        assert_eq!(Rc::strong_count(&token), 2);
        drop(arena);
        assert_eq!(Rc::strong_count(&token), 1);
    }
}
