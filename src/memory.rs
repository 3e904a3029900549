//! Giving freed memory back to the system.
//!
//! glibc's malloc serves blocks above a threshold with their own `mmap` and returns them on
//! `free`, but it raises that threshold to the size of any such block freed, up to 32 MiB.
//! After the first password hash, argon2's 19 MiB working block therefore comes from the heap
//! arenas instead, where a burst of parallel hashes leaves hundreds of megabytes that are
//! never returned (40 sign-ups once left 1.3 GB resident). Pinning the threshold keeps every
//! large block on its own mapping, so its memory goes back the moment the hash is done.

/// Blocks at least this large always get a mapping of their own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1024 * 1024;

/// Pin malloc's mmap threshold (glibc only; other allocators return large blocks already).
pub fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator parameters; it is safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
