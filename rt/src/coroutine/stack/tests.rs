//! The stack pool's unit tests.

use super::*;

/// Reads the protection of the mapping containing `addr` from
/// /proc/self/maps (e.g. "---p" for a guard page made by mprotect).
fn protection_at(addr: usize) -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let range = parts.next().unwrap();
        let (lo, hi) = range.split_once('-').unwrap();
        let (lo, hi) = (
            usize::from_str_radix(lo, 16).unwrap(),
            usize::from_str_radix(hi, 16).unwrap(),
        );
        if (lo..hi).contains(&addr) {
            return parts.next().unwrap().to_owned();
        }
    }
    panic!("{addr:#x} is not mapped");
}

#[test]
fn mprotect_fallback_makes_guard_pages_inaccessible() {
    let pool = StackPool::new(64 * 1024).unwrap();
    pool.inner.lock().guard = GuardKind::Mprotect; // as on kernels before 6.13
    let stack = pool.acquire().unwrap();
    let guard = stack.bottom.get() - pool.page;
    assert_eq!(protection_at(guard), "---p");
    assert_eq!(protection_at(stack.bottom.get()), "rw-p");
}

#[cfg(target_os = "linux")]
#[test]
fn guard_install_keeps_one_mapping_per_slab() {
    let pool = StackPool::new(64 * 1024).unwrap();
    let stacks: Vec<_> = (0..16).map(|_| pool.acquire().unwrap()).collect();
    if pool.inner.lock().guard == GuardKind::Madvise {
        // The guard pages do not split the slab: all 16 stacks and their
        // guards lie in one readable-writable mapping.
        let first = protection_at(stacks[0].bottom.get() - pool.page);
        assert_eq!(first, "rw-p");
    }
}

#[test]
fn rejects_tiny_and_absurd_sizes() {
    assert!(StackPool::new(1024).is_err());
    assert!(StackPool::new(usize::MAX / 2).is_err());
}

#[test]
fn stacks_are_distinct_writable_and_reused() {
    let pool = StackPool::new(64 * 1024).unwrap();
    let stacks: Vec<_> = (0..40).map(|_| pool.acquire().unwrap()).collect();
    let mut bottoms: Vec<_> = stacks.iter().map(|s| s.bottom.get()).collect();
    bottoms.sort_unstable();
    bottoms.dedup();
    assert_eq!(bottoms.len(), 40);
    for s in &stacks {
        assert!(s.size() <= 64 * 1024 && s.size() > 60 * 1024);
        // SAFETY: the whole usable range is mapped read-write.
        unsafe {
            (s.bottom.get() as *mut u8).write(1);
            ((s.top.get() - 1) as *mut u8).write(2);
        }
    }
    let last = stacks[39].bottom;
    for s in stacks {
        pool.release(s);
    }
    let again = pool.acquire().unwrap();
    assert_eq!(again.bottom, last, "LIFO: last released comes back first");
}

/// Take 300 stacks, dirty them as finished coroutines would, and give
/// them back through a worker cache; returns their bottoms, sorted.
fn release_300_through_a_cache(pool: &StackPool) -> Vec<usize> {
    let mut cache = StackCache::default();
    let taken: Vec<_> = (0..300).map(|_| pool.acquire().unwrap()).collect();
    let mut bottoms: Vec<_> = taken.iter().map(|s| s.bottom.get()).collect();
    bottoms.sort_unstable();
    for stack in taken {
        // SAFETY: the stack is ours and its usable range is mapped.
        unsafe {
            ((stack.top.get() - 2048) as *mut u8).write_bytes(0xA5, 2048);
            (stack.bottom.get() as *mut u8).write_bytes(0xA5, 4096);
        }
        cache.release(pool, stack);
    }
    cache.flush(pool);
    bottoms
}

/// Take 300 stacks back, from the pool directly (in place, one by one)
/// and through a cache (whole batches).
fn take_300_back(pool: &StackPool) -> Vec<PooledStack> {
    let mut again: Vec<_> = (0..100).map(|_| pool.acquire().unwrap()).collect();
    let mut cache = StackCache::default();
    again.extend((0..200).map(|_| cache.acquire(pool).unwrap()));
    again
}

fn sorted_bottoms(stacks: &[PooledStack]) -> Vec<usize> {
    let mut bottoms: Vec<_> = stacks.iter().map(|s| s.bottom.get()).collect();
    bottoms.sort_unstable();
    bottoms
}

#[test]
fn free_stacks_chained_through_their_own_memory_all_come_back() {
    let pool = StackPool::new(16 * 1024).unwrap();
    let expected = release_300_through_a_cache(&pool);
    assert_eq!(sorted_bottoms(&take_300_back(&pool)), expected);
    // Nothing free is left: the next one is carved fresh.
    let fresh = pool.acquire().unwrap();
    assert!(!expected.contains(&fresh.bottom.get()));
}

#[test]
fn scavenged_stacks_come_back_zeroed_and_exactly_once() {
    let pool = StackPool::new(16 * 1024).unwrap();
    let expected = release_300_through_a_cache(&pool);
    let before = pool.activity();
    let mut batches = 0;
    while pool.scavenge_batch() {
        batches += 1;
    }
    assert_eq!(batches, 300_usize.div_ceil(CACHE_BATCH));
    assert_eq!(pool.activity(), before, "scavenging is not activity");
    // Every stack comes back once, its memory given back (it reads
    // zero), before anything is carved.
    let again = take_300_back(&pool);
    assert_eq!(sorted_bottoms(&again), expected);
    for stack in &again {
        // SAFETY: as above.
        assert_eq!(unsafe { *(stack.bottom.get() as *const u8) }, 0);
    }
    let fresh = pool.acquire().unwrap();
    assert!(!expected.contains(&fresh.bottom.get()));
}
