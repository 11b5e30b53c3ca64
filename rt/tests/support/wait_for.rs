//! Shared by tests that wait for the runtime to reach a state.

use std::time::{Duration, Instant};

/// Wait until `done()` or 20 s (then fail with `what`).
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}
