//! `rt::dump` lists every live coroutine exactly: its state, what it waits
//! for, the line that parked it, where it was spawned, its pending defers,
//! and how long it has waited (never less than the truth). A worker stuck
//! in one coroutine is reported as busy; SIGQUIT prints the dump when the
//! runtime asks for it.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rt::chan;
use rt::sync::{Mutex, WaitGroup};
use rt::{CoroutineBuilder, CoroutineInfo, CoroutineState, Dump};

/// Dump until `ready` holds (coroutines reach their park points on other
/// workers in their own time), for at most 10 s.
fn dump_when(rt: &rt::Runtime, ready: impl Fn(&Dump) -> bool) -> Dump {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let dump = rt.dump();
        if ready(&dump) || Instant::now() > give_up {
            return dump;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The line of this file that carries the comment `// @marker`.
fn line_of(marker: &str) -> u32 {
    let tag = format!("@{marker}");
    let index = include_str!("dump.rs")
        .lines()
        .position(|line| line.contains("// @") && line.split_whitespace().any(|w| w == tag))
        .unwrap_or_else(|| panic!("no line tagged {tag}"));
    index as u32 + 1
}

/// (state, waiting for, parked at line, spawned at line, pending defers)
fn row(c: &CoroutineInfo) -> (CoroutineState, Option<&str>, Option<u32>, u32, usize) {
    assert!(c.parked_at.is_none_or(|at| at.file() == file!()), "{c:?}");
    assert_eq!(c.spawned_at.file(), file!());
    (
        c.state,
        c.waiting_for,
        c.parked_at.map(|at| at.line()),
        c.spawned_at.line(),
        c.pending_defers,
    )
}

fn expected(
    why: &'static str,
    name: &str,
    defers: usize,
) -> (
    CoroutineState,
    Option<&'static str>,
    Option<u32>,
    u32,
    usize,
) {
    (
        CoroutineState::Parked,
        Some(why),
        Some(line_of(&format!("park:{name}"))),
        line_of(&format!("spawn:{name}")),
        defers,
    )
}

fn receive(rx: chan::Receiver<u32>) -> Result<u32, chan::RecvError> {
    rx.recv() // @park:receiver
}

fn lock(mutex: &Mutex<()>) {
    drop(mutex.lock()); // @park:locker
}

fn sleep_long() {
    rt::sleep(Duration::from_secs(3600)); // @park:sleeper
}

fn wait_with_two_defers(wg: &WaitGroup) {
    rt::frame(|f| {
        f.defer(|| ());
        f.defer(|| ());
        wg.wait(); // @park:deferrer
    })
    .unwrap();
}

fn select_two(a: chan::Receiver<u32>, b: chan::Receiver<u32>) {
    rt::select! { // @park:selector
        recv(a) -> _ => {}
        recv(b) -> _ => {}
    }
}

#[test]
fn dump_lists_each_parked_coroutine_with_its_wait_site_and_defers() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let (tx, rx) = chan::bounded::<u32>(0);
    let (tx2, rx2) = chan::bounded::<u32>(0);
    let (tx3, rx3) = chan::bounded::<u32>(0);
    let mutex = Arc::new(Mutex::new(()));
    let held = mutex.lock().unwrap(); // a plain thread holds it
    let wg = Arc::new(WaitGroup::new());
    wg.add(1);
    let (m, w) = (mutex.clone(), wg.clone());

    let receiver = rt.spawn(move || receive(rx)); // @spawn:receiver
    let locker = rt.spawn(move || lock(&m)); // @spawn:locker
    let sleeper = rt.spawn(sleep_long); // @spawn:sleeper
    let deferrer = rt.spawn(move || wait_with_two_defers(&w)); // @spawn:deferrer
    let selector = rt.spawn(move || select_two(rx2, rx3)); // @spawn:selector
    let receiver_id = receiver.coroutine().id();
    let joiner = rt.spawn(move || receiver.join().unwrap()); // @park:joiner @spawn:joiner

    let ids = [
        ("receiver", receiver_id),
        ("locker", locker.coroutine().id()),
        ("sleeper", sleeper.coroutine().id()),
        ("deferrer", deferrer.coroutine().id()),
        ("selector", selector.coroutine().id()),
        ("joiner", joiner.coroutine().id()),
    ];
    let all_parked = |d: &Dump| {
        d.coroutines.len() == 6
            && d.coroutines
                .iter()
                .all(|c| c.state == CoroutineState::Parked)
    };
    let dump = dump_when(&rt, all_parked);
    assert!(all_parked(&dump), "{dump}");
    let by_id = |id| dump.coroutines.iter().find(|c| c.id == id).unwrap();
    let why = [
        "chan receive",
        "Mutex::lock",
        "sleep",
        "WaitGroup::wait",
        "select",
        "join",
    ];
    for ((name, id), why) in ids.into_iter().zip(why) {
        let defers = if name == "deferrer" { 2 } else { 0 };
        assert_eq!(row(by_id(id)), expected(why, name, defers), "{name}");
    }
    assert!(
        dump.busy_workers.is_empty() && dump.unlisted_unstarted == 0,
        "{dump}"
    );
    let listed: Vec<_> = dump.coroutines.iter().map(|c| c.id).collect();
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "listed by id");

    // "How long": never shorter than the truth.
    let pause = Duration::from_millis(200);
    std::thread::sleep(pause);
    let later = rt.dump();
    assert!(later.coroutines.iter().all(|c| c.since >= pause), "{later}");
    let text = later.to_string();
    let deferrer_id = ids[3].1;
    assert!(
        text.contains(&format!(
            "coroutine {deferrer_id} [parked: WaitGroup::wait, "
        )),
        "{text}"
    );
    let parked_at = format!("parked at {}:{}:", file!(), line_of("park:deferrer"));
    assert!(text.contains(&parked_at), "{text}");

    // Release them all; the dump empties.
    tx.send(7).unwrap();
    assert_eq!(joiner.join().unwrap(), Ok(7));
    drop(held);
    locker.join().unwrap();
    wg.done();
    deferrer.join().unwrap();
    drop((tx2, tx3));
    selector.join().unwrap();
    sleeper.cancel();
    assert!(sleeper.join().unwrap_err().is_cancelled());
    rt.assert_no_leaks(Duration::from_secs(10));
    assert_eq!(rt.dump(), Dump::default());
}

#[test]
fn dump_from_a_coroutine_shows_it_running_and_lists_unstarted_coroutines() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    let (dump, me) = rt.block_on(|| {
        let handles: Vec<_> = (0..3).map(|_| rt::spawn(|| ())).collect(); // @spawn:unstarted
        let dump = rt::dump(); // one worker, no park since: none has started
        drop(handles);
        (dump, rt::current().unwrap().id())
    });
    assert_eq!(dump.coroutines.len(), 4, "{dump}");
    let caller = dump.coroutines.iter().find(|c| c.id == me).unwrap();
    assert_eq!(caller.state, CoroutineState::Running);
    assert_eq!((caller.waiting_for, caller.parked_at), (None, None));
    assert_eq!(caller.worker, Some(0));
    let unstarted: Vec<_> = dump.coroutines.iter().filter(|c| c.id != me).collect();
    for c in unstarted {
        let spawned = line_of("spawn:unstarted");
        assert_eq!(row(c), (CoroutineState::Unstarted, None, None, spawned, 0));
        assert_eq!(c.worker, None);
    }
    rt.assert_no_leaks(Duration::from_secs(10));
}

#[test]
fn a_yielded_coroutine_is_runnable_and_resumes_at_its_yield() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    let (dump, yielder) = rt.block_on(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let h = rt::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                rt::yield_now(); // @park:yielder
            }
        });
        rt::yield_now(); // let it start and yield back
        let dump = rt::dump();
        stop.store(true, Ordering::Relaxed);
        let id = h.coroutine().id();
        h.join().unwrap();
        (dump, id)
    });
    let c = dump.coroutines.iter().find(|c| c.id == yielder).unwrap();
    assert_eq!(c.state, CoroutineState::Runnable, "{dump}");
    assert_eq!(c.waiting_for, Some("yield"));
    assert_eq!(
        c.parked_at.map(|at| at.line()),
        Some(line_of("park:yielder"))
    );
}

/// A blocking call on a worker: no coroutine switch for a second. Returns
/// how long the sleep took.
fn block_worker(started: &AtomicBool) -> Duration {
    started.store(true, Ordering::Release);
    let start = Instant::now();
    block_thread(Duration::from_secs(1));
    start.elapsed()
}

#[test]
fn a_worker_stuck_in_one_coroutine_is_reported_busy() {
    // The monitor is off: the dump asks the stuck worker's thread itself.
    let rt = rt::Builder::new().workers(2).monitor(None).build().unwrap();
    let started = Arc::new(AtomicBool::new(false));
    let s = started.clone();
    let stuck = rt.spawn(move || block_worker(&s)); // @spawn:stuck
    while !started.load(Ordering::Acquire) {
        std::thread::yield_now();
    }
    let dump = rt.dump();
    assert_eq!(dump.busy_workers.len(), 1, "{dump}");
    let busy = &dump.busy_workers[0];
    assert_eq!(busy.running, Some(stuck.coroutine().id()));
    assert_eq!(
        busy.spawned_at.map(|at| at.line()),
        Some(line_of("spawn:stuck"))
    );
    assert!(dump.to_string().contains("did not answer"), "{dump}");
    // Asking (a signal to the worker's thread) did not cut the sleep short.
    assert!(stuck.join().unwrap() >= Duration::from_secs(1));
}

#[test]
fn dump_outside_any_runtime_uses_the_default_one() {
    // Inside a coroutine of the default runtime: lists the caller.
    let me = rt::run(|| rt::current().unwrap().id());
    let dump = rt::dump();
    assert!(dump.coroutines.iter().all(|c| c.id != me), "{dump}");
    assert!(dump.busy_workers.is_empty());
}

#[test]
fn child_entry() {
    if std::env::var("RT_DUMP_SIGQUIT").is_err() {
        return;
    }
    let rt = rt::Builder::new()
        .workers(1)
        .dump_on_sigquit(true)
        .build()
        .unwrap();
    let (tx, rx) = chan::bounded::<()>(0);
    let waiter = rt.block_on(|| {
        CoroutineBuilder::new()
            .name("patient")
            .spawn(move || rx.recv())
            .unwrap()
    });
    while rt
        .dump()
        .coroutines
        .iter()
        .any(|c| c.state != CoroutineState::Parked)
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    // SAFETY: raising a signal on our own process; the runtime handles it.
    assert_eq!(unsafe { libc::raise(libc::SIGQUIT) }, 0);
    std::thread::sleep(Duration::from_millis(500)); // the printer thread prints
    drop(tx);
    assert!(waiter.join().unwrap().is_err());
    eprintln!("child still running after SIGQUIT");
}

#[test]
fn sigquit_prints_the_dump_and_the_process_keeps_running() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env("RT_DUMP_SIGQUIT", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {out:?}");
    assert!(stderr.contains("rt: SIGQUIT"), "{stderr}");
    assert!(
        stderr.contains("\"patient\" [parked: chan receive,"),
        "{stderr}"
    );
    assert!(
        stderr.contains("child still running after SIGQUIT"),
        "{stderr}"
    );
}

#[test]
fn concurrent_dumps_from_coroutines_and_threads_all_complete_while_work_runs() {
    for workers in [1, 2, 4] {
        let rt = rt::Builder::new().workers(workers).build().unwrap();
        std::thread::scope(|s| {
            // A plain thread dumps too, concurrently.
            s.spawn(|| {
                for _ in 0..30 {
                    let dump = rt.dump();
                    assert!(dump.busy_workers.is_empty(), "{dump}");
                }
            });
            rt.block_on(|| {
                // Background traffic: ping-pong pairs that park constantly.
                let (stop_tx, stop_rx) = chan::bounded::<()>(0);
                let pairs: Vec<_> = (0..8)
                    .map(|_| {
                        let (tx, rx) = chan::bounded::<u32>(0);
                        let stop = stop_rx.clone();
                        let echo = rt::spawn(move || rx.iter().count());
                        rt::spawn(move || loop {
                            rt::select! {
                                send(tx, 1) -> r => r.unwrap(),
                                recv(stop) -> _ => break,
                            }
                        });
                        echo
                    })
                    .collect();
                // Dumpers: coroutines and a plain thread, at once.
                let dumpers: Vec<_> = (0..6)
                    .map(|_| {
                        rt::spawn(|| {
                            let me = rt::current().unwrap().id();
                            for _ in 0..30 {
                                let dump = rt::dump();
                                let mine = dump.coroutines.iter().find(|c| c.id == me);
                                assert_eq!(mine.map(|c| c.state), Some(CoroutineState::Running));
                                assert!(dump.busy_workers.is_empty(), "{dump}");
                            }
                        })
                    })
                    .collect();
                dumpers.into_iter().for_each(|d| d.join().unwrap());
                drop(stop_tx); // closing stop ends every sender loop
                drop(stop_rx);
                for echo in pairs {
                    assert!(echo.join().unwrap() > 0);
                }
            });
        });
        let from_thread = rt.dump();
        assert!(from_thread.busy_workers.is_empty(), "{from_thread}");
        rt.assert_no_leaks(Duration::from_secs(10));
    }
}

#[path = "support/block_thread.rs"]
mod support;
use support::block_thread;
