//! The `select!` macro: parses the arms, builds them on the caller's stack
//! in source order, and calls the engine (`select.rs`).

/// Wait on several channel operations and run the arm of the one that
/// completes — Go's `select`.
///
/// Arms:
/// - `recv(rx) -> result => body`: `result` is `Result<T, RecvError>`
///   (`Err` once the channel is closed and drained).
/// - `send(tx, value) -> result => body`: `result` is
///   `Result<(), SendError<T>>` (`Err` holds the value if the channel is
///   closed).
/// - at most one of `default => body` (run if no operation can complete
///   now), `timeout(duration) => body` or `deadline(instant) => body`.
///
/// `rx` / `tx` is a [`Receiver`](crate::chan::Receiver) /
/// [`Sender`](crate::chan::Sender), a reference to one, or an `Option` of
/// those: `None` disables the arm, as a nil channel does in Go (it never
/// fires; with every arm disabled and no `default` or `timeout`, the
/// select waits forever). Bodies run after the arms are gone, so a body may
/// switch its own arm off (`rx = None`).
///
/// As in Go:
/// - Exactly one arm runs. An operation that did not fire had no effect:
///   no value is taken from or delivered to a losing arm's channel (a
///   losing `send`'s value is dropped).
/// - Every *ready* operation is equally likely to win, wherever it stands
///   among arms that are not ready (the arms are polled in a fresh random
///   order each time), so no arm starves.
/// - The operands are evaluated exactly once, when the select starts, case
///   by case in source order: the channel, then the value to send. A
///   `timeout`/`deadline` expression is evaluated after them.
/// - With `default`, the select takes `default` only if no operation was
///   ready at one instant (every channel is locked while it looks).
///
/// Bodies are inlined: `break`, `continue`, `return` and `?` work as usual.
/// Arms are separated by commas; a comma after a block body is optional.
/// For a number of channels known only at run time, see
/// [`Select`](crate::chan::Select).
///
/// ```
/// use std::time::Duration;
/// rt::run(|| {
///     let (tx, rx) = rt::chan::bounded::<u32>(0);
///     let (quit_tx, quit_rx) = rt::chan::bounded::<()>(0);
///     rt::spawn(move || {
///         for i in 0..3 {
///             tx.send(i).unwrap();
///         }
///         quit_tx.send(()).unwrap();
///     });
///     let mut got = Vec::new();
///     loop {
///         rt::select! {
///             recv(rx) -> v => got.push(v.unwrap()),
///             recv(quit_rx) -> _ => break,
///             timeout(Duration::from_secs(10)) => panic!("stuck"),
///         }
///     }
///     assert_eq!(got, [0, 1, 2]);
/// });
/// ```
///
/// Merging two channels until both are closed, switching each arm off as
/// its channel closes (Go's nil-channel idiom):
///
/// ```
/// rt::run(|| {
///     let (tx_a, rx_a) = rt::chan::bounded::<u32>(0);
///     let (tx_b, rx_b) = rt::chan::bounded::<u32>(0);
///     rt::go!(move || (0..3).for_each(|i| tx_a.send(i).unwrap()));
///     rt::go!(move || (10..13).for_each(|i| tx_b.send(i).unwrap()));
///     let (mut a, mut b) = (Some(&rx_a), Some(&rx_b));
///     let mut merged = Vec::new();
///     while a.is_some() || b.is_some() {
///         rt::select! {
///             recv(a) -> v => match v {
///                 Ok(v) => merged.push(v),
///                 Err(_) => a = None, // closed: never ready again
///             },
///             recv(b) -> v => match v {
///                 Ok(v) => merged.push(v),
///                 Err(_) => b = None,
///             },
///         }
///     }
///     merged.sort();
///     assert_eq!(merged, [0, 1, 2, 10, 11, 12]);
/// });
/// ```
#[macro_export]
macro_rules! select {
    ($($arms:tt)*) => {
        $crate::__select_parse!(@arms () () $($arms)*)
    };
}

/// The implementation of [`select!`]: collects arms, then expands.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // recv(rx) -> result => body
    (@arms ($($arms:tt)*) ($($fb:tt)*) recv($rx:expr) -> $res:pat => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)* [__arm __src ($rx) recv () ($res) $body]) ($($fb)*) $($rest)*)
    };
    (@arms ($($arms:tt)*) ($($fb:tt)*) recv($rx:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)* [__arm __src ($rx) recv () ($res) $body]) ($($fb)*) $($rest)*)
    };
    (@arms ($($arms:tt)*) ($($fb:tt)*) recv($rx:expr) -> $res:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)* [__arm __src ($rx) recv () ($res) { $body }]) ($($fb)*) $($rest)*)
    };
    (@arms ($($arms:tt)*) ($($fb:tt)*) recv($rx:expr) -> $res:pat => $body:expr) => {
        $crate::__select_parse!(@arms ($($arms)* [__arm __src ($rx) recv () ($res) { $body }]) ($($fb)*))
    };
    // send(tx, value) -> result => body
    (@arms ($($arms:tt)*) ($($fb:tt)*) send($tx:expr, $value:expr) -> $res:pat => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)* [__arm __src ($tx) send ($value) ($res) $body]) ($($fb)*) $($rest)*)
    };
    (@arms ($($arms:tt)*) ($($fb:tt)*) send($tx:expr, $value:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)* [__arm __src ($tx) send ($value) ($res) $body]) ($($fb)*) $($rest)*)
    };
    (@arms ($($arms:tt)*) ($($fb:tt)*) send($tx:expr, $value:expr) -> $res:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)* [__arm __src ($tx) send ($value) ($res) { $body }]) ($($fb)*) $($rest)*)
    };
    (@arms ($($arms:tt)*) ($($fb:tt)*) send($tx:expr, $value:expr) -> $res:pat => $body:expr) => {
        $crate::__select_parse!(@arms ($($arms)* [__arm __src ($tx) send ($value) ($res) { $body }]) ($($fb)*))
    };
    // default / timeout / deadline: at most one
    (@arms ($($arms:tt)*) ($($fb:tt)+) $kind:ident $($rest:tt)*) => {
        ::std::compile_error!("select! takes at most one `default`, `timeout` or `deadline` arm")
    };
    (@arms ($($arms:tt)*) () default => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)*) (default $body) $($rest)*)
    };
    (@arms ($($arms:tt)*) () default => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)*) (default $body) $($rest)*)
    };
    (@arms ($($arms:tt)*) () default => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@arms ($($arms)*) (default { $body }) $($($rest)*)?)
    };
    (@arms ($($arms:tt)*) () timeout($after:expr) => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)*) (after ($after) $body) $($rest)*)
    };
    (@arms ($($arms:tt)*) () timeout($after:expr) => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)*) (after ($after) $body) $($rest)*)
    };
    (@arms ($($arms:tt)*) () timeout($after:expr) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@arms ($($arms)*) (after ($after) { $body }) $($($rest)*)?)
    };
    (@arms ($($arms:tt)*) () deadline($at:expr) => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)*) (until ($at) $body) $($rest)*)
    };
    (@arms ($($arms:tt)*) () deadline($at:expr) => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)*) (until ($at) $body) $($rest)*)
    };
    (@arms ($($arms:tt)*) () deadline($at:expr) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@arms ($($arms)*) (until ($at) { $body }) $($($rest)*)?)
    };
    // all arms collected
    (@arms ($([$name:ident $src:ident $source:tt $kind:ident $value:tt $res:tt $body:tt])*) ($($fb:tt)*)) => {{
        // The arms live in an inner block, so they (and the borrows of
        // their channels) are gone when a body runs: a body may assign
        // the variable its arm used (`rx = None` to switch the arm off).
        #[allow(clippy::unused_unit)] // a select with no arm but a timeout
        let ($($name,)*) = {
            // Operands are evaluated once, case by case in source order:
            // the channel, then the value to send (Go's order). `let x =
            // &expr;` keeps a temporary channel reference alive for the
            // whole select (`recv(ticker.receiver())`).
            $(
                let $src = &$source;
                let $name = $crate::__select_parse!(@new $kind $src $value);
            )*
            let __arms: &[&dyn $crate::chan::__private::SelectArm] = &[$(&$name),*];
            const __N: usize = <[()]>::len(&[$($crate::__select_parse!(@unit $name)),*]);
            $crate::chan::__private::select(
                __arms,
                $crate::__select_parse!(@mode $($fb)*),
                &mut [0u32; __N],
                &mut $crate::__select_parse!(@locks __N $($fb)*),
            );
            ($($name.take(),)*)
        };
        $(
            if let ::std::option::Option::Some(__result) = $name {
                let $res = __result;
                $body
            } else
        )*
        { $crate::__select_parse!(@fallback $($fb)*) }
    }};
    (@arms $($unknown:tt)*) => {
        ::std::compile_error!("select! arms are `recv(rx) -> v => ..`, `send(tx, value) -> r => ..`, `default => ..`, `timeout(duration) => ..` or `deadline(instant) => ..`")
    };
    (@unit $name:ident) => { () };
    // Only a `default` select locks every channel at once.
    (@locks $n:ident default $body:tt) => { [(0usize, 0u32, ::std::ptr::null_mut::<()>()); $n] };
    (@locks $n:ident $($fb:tt)*) => { [(0usize, 0u32, ::std::ptr::null_mut::<()>()); 0] };
    (@new recv $src:ident ()) => { $crate::chan::__private::RecvArm::new($src) };
    (@new send $src:ident ($value:expr)) => { $crate::chan::__private::SendArm::new($src, $value) };
    (@mode) => { $crate::chan::__private::Mode::Block };
    (@mode default $body:tt) => { $crate::chan::__private::Mode::NonBlocking };
    (@mode until $at:tt $body:tt) => { $crate::chan::__private::Mode::Until($at) };
    (@mode after $after:tt $body:tt) => { $crate::chan::__private::timeout($after) };
    (@fallback) => { ::std::unreachable!("select! without default or timeout fires an arm") };
    (@fallback default $body:tt) => { $body };
    (@fallback until $at:tt $body:tt) => { $body };
    (@fallback after $after:tt $body:tt) => { $body };
}
