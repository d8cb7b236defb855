import Dispatch

/// Runs CPU-bound work of many milliseconds (a plan answer's encoding, a whole inventory) on
/// a Dispatch thread and waits for it: Swift's cooperative pool has a thread per core, and
/// each serves every request, so work held there for a second stalls them all.
func offCooperativeThreads<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async { continuation.resume(returning: work()) }
    }
}
