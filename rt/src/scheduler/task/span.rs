//! The `tracing` feature: a coroutine's span is entered whenever the
//! coroutine runs and exited whenever it parks or yields — what tokio's
//! `Instrumented` does around each poll of a future — so coroutines that
//! share a worker thread never log inside each other's spans.
//!
//! A subscriber keeps the current span per thread, and a worker thread
//! runs many coroutines: a span a coroutine entered with `span.enter()`
//! and held across a park would be "current" for every coroutine that
//! runs on that thread meanwhile. The span given at spawn
//! (`CoroutineBuilder::span`) is instead exited at every switch-out and
//! entered again at every resume. User code should not hold an `Entered`
//! guard across a park point (`docs/ecosystem.md`, tracing), as tokio's
//! documentation says of `.await`.

use std::cell::{Cell, RefCell};

/// The span of one coroutine, and whether it is entered now.
#[derive(Default)]
pub(crate) struct CoroutineSpan {
    /// Set by the coroutine itself as it starts ([`run_in`]).
    span: RefCell<Option<tracing::Span>>,
    /// Entered on this thread now (between a resume and a switch-out).
    entered: Cell<bool>,
}

impl CoroutineSpan {
    /// Resumed: enter the span again.
    pub(crate) fn enter(&self) {
        if let Some(span) = &*self.span.borrow() {
            if !self.entered.replace(true) {
                span.with_subscriber(|(id, dispatch)| dispatch.enter(id));
            }
        }
    }

    /// Switching out: leave the span, so the next coroutine of this thread
    /// does not run inside it.
    pub(crate) fn exit(&self) {
        if let Some(span) = &*self.span.borrow() {
            if self.entered.replace(false) {
                span.with_subscriber(|(id, dispatch)| dispatch.exit(id));
            }
        }
    }

    /// Exit and drop the span (the coroutine ends, or the task is reused).
    pub(crate) fn clear(&self) {
        self.exit();
        self.span.borrow_mut().take();
    }
}

/// Run `f` with `span` entered whenever the calling coroutine runs; on a
/// plain thread, simply inside it.
pub(crate) fn run_in<T>(span: tracing::Span, f: impl FnOnce() -> T) -> T {
    let Some(task) = super::current_task() else {
        return span.in_scope(f);
    };
    /// Exits and drops the span when `f` returns or unwinds.
    struct Leave(&'static CoroutineSpan);
    impl Drop for Leave {
        fn drop(&mut self) {
            self.0.clear();
        }
    }
    task.span.clear(); // one span per coroutine: the innermost wins
    *task.span.span.borrow_mut() = Some(span);
    task.span.enter();
    let _leave = Leave(&task.span);
    f()
}
