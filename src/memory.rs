//! Gives memory back to the system between cycles.
//!
//! A cycle allocates in bursts (hundreds of inspects, registry answers, TLS buffers) on several
//! threads; glibc keeps what was freed in per-thread arenas, so an idle daemon would sit at its
//! peak. Trimming after each cycle returns it: the idle RSS the README reports depends on it.

/// Returns freed heap memory to the operating system, where the allocator allows it.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}
