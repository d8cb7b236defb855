import Synchronization

/// Rung when events are written, so that the hook runner can wait for work instead of
/// reading the outbox many times a second: on an idle server those reads, and the thread
/// wake-ups around them, were most of its CPU.
///
/// A ring is kept until the next `wait`, so a ring that comes between two waits is not lost.
/// One waiter at a time.
public final class OutboxDoorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Bool, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    public func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: true)
    }

    /// Returns once rung (at once when rung since the last wait), after `timeout`, or when the
    /// task is cancelled, whichever comes first: true when rung.
    @discardableResult
    public func wait(atMost timeout: Duration) async -> Bool {
        if state.withLock({ state in
            defer { state.rung = false }
            return state.rung
        }) { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.waitForRing() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            var rung = await group.next() ?? false
            group.cancelAll()
            // A ring between the timeout and the cancellation was taken by the other child.
            for await other in group { rung = rung || other }
            return rung
        }
    }

    /// True when rung; false when cancelled first.
    private func waitForRing() async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let now: Bool? = state.withLock { state in
                    if state.rung {
                        state.rung = false
                        return true
                    }
                    // Cancelled before the continuation was kept: the handler found nothing to resume.
                    if Task.isCancelled { return false }
                    state.waiter = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: false)
        }
    }
}
