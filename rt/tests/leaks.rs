//! Nothing a finished coroutine leaves behind keeps its runtime alive.
//! (One test per process: it counts the process's open descriptors.)

use std::sync::Arc;
use std::time::Duration;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A result whose destructor blocks: it runs on the coroutine after its
/// body returned (nobody reads the result of a detached coroutine).
struct BlocksInDrop(Arc<rt::sync::Semaphore>);

impl Drop for BlocksInDrop {
    fn drop(&mut self) {
        assert!(self.0.acquire_timeout(Duration::from_millis(1)).is_none());
    }
}

#[test]
fn a_coroutine_that_blocks_after_its_body_returned_is_still_freed() {
    let before = open_fds();
    for _ in 0..20 {
        let rt = rt::Builder::new().workers(1).build().unwrap();
        let sem = Arc::new(rt::sync::Semaphore::new(0));
        rt.block_on(|| {
            let sem = sem.clone();
            drop(rt::spawn(move || BlocksInDrop(sem))); // detached
            rt::sleep(Duration::from_millis(20));
        });
        rt.assert_no_leaks(Duration::from_secs(5));
        // The timed-out acquire created no permit.
        assert_eq!(sem.available_permits(), 0);
        drop(rt);
    }
    // Each runtime that leaked would keep its pollers' descriptors.
    assert_eq!(open_fds(), before, "a runtime was leaked");
}
