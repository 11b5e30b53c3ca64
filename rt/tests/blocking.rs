//! The blocking pool starts a thread for every job that no idle thread
//! has been claimed for, so jobs that wait for each other all run.

use std::sync::{Arc, Barrier};
use std::time::Duration;

#[test]
fn jobs_that_wait_for_each_other_all_run_after_a_warm_up() {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = rt::Builder::new().workers(1).build().unwrap();
        rt.block_on(|| {
            for round in [4, 64, 64] {
                // Each round submits its jobs in one burst, while the
                // previous round's threads sit idle: every job needs its
                // own thread, or the barrier never opens.
                let all = Arc::new(Barrier::new(round));
                let hs: Vec<_> = (0..round)
                    .map(|_| {
                        let all = all.clone();
                        rt::spawn(move || rt::blocking(move || all.wait().is_leader()))
                    })
                    .collect();
                let leaders = hs.into_iter().map(|h| h.join().unwrap());
                assert_eq!(leaders.filter(|&l| l).count(), 1);
            }
        });
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("every job ran");
}
