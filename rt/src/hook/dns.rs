//! The `getaddrinfo` hook: name resolution in a coroutine runs on the
//! blocking pool (glibc's resolver talks to DNS servers, reads files and
//! loads NSS modules with calls no hook sees), so `ToSocketAddrs`,
//! `TcpStream::connect("host:port")` and C clients never block a worker.

use std::ffi::{CStr, CString};
use std::sync::OnceLock;

use libc::{addrinfo, c_char, c_int};

use super::in_coroutine;

type GetAddrInfo = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const addrinfo,
    *mut *mut addrinfo,
) -> c_int;

/// libc's `getaddrinfo`: the next definition after ours.
fn real() -> Option<GetAddrInfo> {
    static REAL: OnceLock<usize> = OnceLock::new();
    let address = *REAL.get_or_init(|| {
        // SAFETY: a NUL-terminated name; RTLD_NEXT searches the objects
        // loaded after this one, where libc's definition is.
        unsafe { libc::dlsym(libc::RTLD_NEXT, c"getaddrinfo".as_ptr()) as usize }
    });
    // SAFETY: a non-null `getaddrinfo` symbol has exactly this type.
    (address != 0).then(|| unsafe { std::mem::transmute::<usize, GetAddrInfo>(address) })
}

/// A copy of the caller's C string, if any.
///
/// # Safety
/// `s` null or a valid C string.
unsafe fn copy(s: *const c_char) -> Option<CString> {
    // SAFETY: as the caller guarantees.
    (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) }.to_owned())
}

/// # Safety
/// As `getaddrinfo(3)` requires.
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    let Some(real) = real() else {
        super::set_errno(libc::ENOSYS);
        return libc::EAI_SYSTEM;
    };
    if !in_coroutine() {
        // SAFETY: the caller's arguments, forwarded.
        return unsafe { real(node, service, hints, res) };
    }
    // The pool's thread works on copies: the caller's memory is only
    // touched here, on its own stack's thread.
    // SAFETY: the caller's strings.
    let (node, service) = unsafe { (copy(node), copy(service)) };
    // SAFETY: the caller's hints, if any: only the four request fields
    // count (the rest must be zero or null).
    let hints = (!hints.is_null()).then(|| unsafe {
        let h = &*hints;
        (h.ai_flags, h.ai_family, h.ai_socktype, h.ai_protocol)
    });
    let (code, list, errno) = crate::unwind::uninterruptible(|| {
        crate::blocking(move || {
            // SAFETY: an all-zero addrinfo is the documented empty hints.
            let mut request: addrinfo = unsafe { std::mem::zeroed() };
            if let Some((flags, family, socktype, protocol)) = hints {
                request.ai_flags = flags;
                request.ai_family = family;
                request.ai_socktype = socktype;
                request.ai_protocol = protocol;
            }
            let mut list: *mut addrinfo = std::ptr::null_mut();
            let as_ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
            // SAFETY: owned strings and hints, a valid out-pointer.
            let code = unsafe {
                real(
                    as_ptr(&node),
                    as_ptr(&service),
                    if hints.is_some() {
                        &request
                    } else {
                        std::ptr::null()
                    },
                    &mut list,
                )
            };
            // The list is malloc'd by libc, freed by the caller's
            // `freeaddrinfo`: only its address crosses threads (and the
            // errno an EAI_SYSTEM leaves).
            (code, list as usize, super::errno())
        })
    });
    if code == 0 {
        // SAFETY: the caller's out-pointer.
        unsafe { *res = list as *mut addrinfo };
    } else if code == libc::EAI_SYSTEM {
        super::set_errno(errno);
    }
    code
}
