import AdminAPI
import Synchronization
import Zone

// The zone loads ZoneAdministrator has running off its actor: each answers its caller once,
// and shutdown cancels those still running.

/// One zone load in flight: its budget, and its caller's answer, given once: by the load
/// when it ends, or earlier by its deadline or by shutdown.
final class LoadInFlight: Sendable {
    typealias Outcome = Result<(SavedPlan, ZoneRevision), AdminFailure>
    let budget: ZoneLoadBudget
    private let waiter = Mutex<CheckedContinuation<Outcome, Never>?>(nil)

    init(budget: ZoneLoadBudget) { self.budget = budget }

    /// Set before the load is submitted, so that every `answer` finds it.
    func wait(_ continuation: CheckedContinuation<Outcome, Never>) { waiter.withLock { $0 = continuation } }

    /// The first answer resumes the caller; later ones are dropped.
    func answer(_ outcome: Outcome) {
        waiter.withLock { waiter in defer { waiter = nil }; return waiter }?.resume(returning: outcome)
    }
}

/// The loads submitted and not yet ended, and whether the server is stopping.
final class LoadsInFlight: Sendable {
    private let state = Mutex<(stopping: Bool, loads: [ObjectIdentifier: LoadInFlight])>((false, [:]))

    var count: Int { state.withLock { $0.loads.count } }
    var isStopping: Bool { state.withLock { $0.stopping } }

    /// False once stopping: nothing new loads.
    func admit(_ load: LoadInFlight) -> Bool {
        state.withLock { state in
            if !state.stopping { state.loads[ObjectIdentifier(load)] = load }
            return !state.stopping
        }
    }

    func remove(_ load: LoadInFlight) { _ = state.withLock { $0.loads.removeValue(forKey: ObjectIdentifier(load)) } }

    /// Stops admitting; the loads in flight, to cancel.
    func stop() -> [LoadInFlight] {
        state.withLock { state in
            state.stopping = true
            return Array(state.loads.values)
        }
    }
}
