//! A mio socket registered with a runtime's reactor, and the retry loop
//! every blocking operation runs.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::reactor::{Direction, IoState};
use crate::scheduler::Shared;

/// A socket whose readiness the reactor tracks; deregistered on drop
/// (before the socket closes).
pub(crate) struct Registered<S: mio::event::Source> {
    source: S,
    token: usize,
    state: Arc<IoState>,
    /// Keeps the reactor alive while the socket is registered with it.
    shared: Arc<Shared>,
}

impl<S: mio::event::Source> Registered<S> {
    /// Register with the caller's runtime (or the default one).
    pub(crate) fn new(mut source: S) -> io::Result<Registered<S>> {
        let shared = crate::runtime::ambient();
        let (token, state, first) = shared.reactor.register(&mut source)?;
        if first {
            shared.start_polling();
        }
        Ok(Registered {
            source,
            token,
            state,
            shared,
        })
    }

    pub(crate) fn source(&self) -> &S {
        &self.source
    }

    /// Run the non-blocking `op` until it does not say `WouldBlock`,
    /// parking for `dir` readiness in between, until `deadline` if any.
    pub(crate) fn run<R>(
        &self,
        dir: Direction,
        timeout: Option<Duration>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut deadline = None;
        loop {
            let seen = self.state.generation(dir);
            match op(&self.source) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    if deadline.is_none() {
                        deadline = timeout.map(|t| Instant::now() + t);
                    }
                    self.state.wait(dir, seen, deadline)?;
                }
                result => return result,
            }
        }
    }
}

impl<S: mio::event::Source> Drop for Registered<S> {
    fn drop(&mut self) {
        self.shared.reactor.deregister(&mut self.source, self.token);
    }
}
