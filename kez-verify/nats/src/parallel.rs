//! A small pool of scoped threads for the CPU-bound parts of [`crate::generate`] and
//! [`crate::check`] (key derivation, signing, verification) and their file I/O.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `f` over `0..n` on up to `threads` threads (claiming indices in small chunks)
/// and returns the results in index order. One thread, or little work, runs inline.
pub(crate) fn parallel_map<R: Send>(
    threads: usize,
    n: usize,
    f: impl Fn(usize) -> R + Sync,
) -> Vec<R> {
    const CHUNK: usize = 16;
    let workers = threads.min(n.div_ceil(CHUNK));
    if workers <= 1 {
        return (0..n).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let parts: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                        if start >= n {
                            break out;
                        }
                        for i in start..(start + CHUNK).min(n) {
                            out.push((i, f(i)));
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(n).collect();
    for (i, r) in parts.into_iter().flatten() {
        slots[i] = Some(r);
    }
    slots
        .into_iter()
        .map(|r| r.expect("parallel_map: every index is claimed exactly once"))
        .collect()
}

/// The number of threads for `requested` (0: as many as the machine has).
pub(crate) fn threads(requested: usize) -> usize {
    match requested {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_map_keeps_index_order() {
        for threads in [1, 2, 7] {
            let out = parallel_map(threads, 1000, |i| i * 3);
            assert_eq!(
                out,
                (0..1000).map(|i| i * 3).collect::<Vec<_>>(),
                "{threads}"
            );
        }
        assert!(parallel_map(4, 0, |i| i).is_empty());
    }
}
