import AdminAPI
import Dispatch
import Foundation
import Logging
@testable import Server
import Store
import TestSupport
import Testing
import Zone

/// The administrator holds its actor only to read the running revision and for an
/// apply's compare-and-swap: a zone being loaded (seconds for a large or hostile one)
/// must not make `/v1/revision`, history or hosts wait.
///
/// The loads queue is suspended to hold a load mid-way, so what these tests check is an
/// order of events, not a duration. A regression (loading on the actor again) makes the
/// reads wait for a load that never runs: the time limit turns that hang into a failure.
@Suite(.timeLimit(.minutes(2))) struct ZoneAdministratorTests {
    let state: URL
    let administrator: ZoneAdministrator
    let loads = DispatchQueue(label: "test.zone-loads")
    let running: Int
    let source: ZoneSource

    init() throws {
        state = FileManager.default.temporaryDirectory.appendingPathComponent("zoneboot-admin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        let logger = Logger(label: "test")
        let store = try SQLiteRevisionStore(stateDirectory: state.path)
        let (revision, summary) = try ZoneAdministrator.startingRevision(zoneFile: exampleZonePath, store: store, logger: logger)
        running = summary.id
        administrator = ZoneAdministrator(holder: RevisionHolder(revision), running: summary, store: store,
                                          leases: CommittedLeases([]), logger: logger, loads: loads)
        source = try ZoneLoader.source(path: exampleZonePath)
    }

    /// The example zone with one more DNS server: a change, so an apply makes a revision.
    private func changed(_ dns: String) -> ZoneSource {
        var edited = source
        edited.text = edited.text.replacingOccurrences(of: "dns: [198.18.0.53]", with: "dns: [198.18.0.53, \(dns)]")
        return edited
    }

    /// Waits until `count` plans are loading (each on the suspended queue).
    private func loadStarted(_ count: Int) async {
        while await administrator.loading < count { await Task.yield() }
    }

    @Test func readsAnswerWhileAPlanIsLoading() async throws {
        loads.suspend()
        let plan = Task { try await administrator.plan(changed("198.18.0.54"), now: 0) }
        await loadStarted(1)
        // The plan waits on the suspended queue: none of these may wait for it.
        #expect(await administrator.current.revision.id == running)
        #expect(try await administrator.history(limit: 5).count == 1)
        #expect(await administrator.hosts(now: 0).count == 82)
        loads.resume()
        let saved = try await plan.value
        #expect(saved.baseRevision == running)
        #expect(saved.plan.hasChanges)
    }

    @Test func aRefusedPlanLeavesTheRunningRevisionAlone() async throws {
        var hostile = source
        hostile.text += "\n? *undefined\n: x\n"
        await #expect(throws: AdminFailure.self) { try await administrator.plan(hostile, now: 0) }
        #expect(await administrator.current.revision.id == running)
    }

    /// Two applies planned against the same revision load concurrently with the actor free;
    /// the compare-and-swap lets exactly one of them through.
    @Test func ofTwoAppliesLoadedAtOnceOneWinsAndTheOtherIsStale() async throws {
        loads.suspend()
        let first = Task { try await administrator.apply(changed("198.18.0.54"), basedOn: running, author: "a", message: nil, now: 0) }
        let second = Task { try await administrator.apply(changed("198.18.0.55"), basedOn: running, author: "b", message: nil, now: 0) }
        await loadStarted(2)
        #expect(await administrator.current.revision.id == running)
        loads.resume()
        let results = [await first.result, await second.result]
        let applied = results.compactMap { try? $0.get().applied }
        #expect(applied.count == 1)
        #expect(applied.first?.id == running + 1)
        let refusals = results.compactMap { result -> AdminFailure? in
            if case .failure(let error) = result { error as? AdminFailure } else { nil }
        }
        #expect(refusals.count == 1)
        if case .staleBase(let planned, let current)? = refusals.first {
            #expect(planned == running && current == running + 1)
        } else {
            Issue.record("expected a stale base, got \(refusals)")
        }
        #expect(await administrator.current.revision.id == running + 1)
    }

    /// One zone loads at a time: a plan while another load runs is refused at once with
    /// `busy` (429 with Retry-After), never queued behind it.
    @Test func aPlanWhileAZoneLoadsIsRefusedNotQueued() async throws {
        loads.suspend()
        let first = Task { try await administrator.plan(changed("198.18.0.54"), now: 0) }
        await loadStarted(1)
        do {
            _ = try await administrator.plan(changed("198.18.0.55"), now: 0)
            Issue.record("a second plan was accepted while one loads")
        } catch {
            guard case .busy(let seconds) = error else { Issue.record("expected busy, got \(error)"); return }
            #expect(seconds == 1)
            #expect(error.message.contains("another zone is being loaded"))
        }
        loads.resume()
        #expect(try await first.value.plan.hasChanges)
        #expect(try await administrator.plan(changed("198.18.0.55"), now: 0).plan.hasChanges)
    }

    /// Shutdown cancels the load in flight (its caller gets `stopping`) and refuses later ones.
    @Test func stopLoadsCancelsTheLoadInFlightAndRefusesNewOnes() async throws {
        loads.suspend()
        let first = Task { try await administrator.plan(changed("198.18.0.54"), now: 0) }
        await loadStarted(1)
        administrator.stopLoads()
        loads.resume()
        for result in [await first.result, await Task { try await administrator.plan(changed("198.18.0.55"), now: 0) }.result] {
            if case .failure(let error) = result, case .stopping? = error as? AdminFailure { continue }
            Issue.record("expected stopping, got \(result)")
        }
        #expect(await administrator.current.revision.id == running)
    }

    /// A load past its budget is refused with the budget's message, and changes nothing.
    @Test func aLoadPastItsBudgetIsRefused() async throws {
        let hurried = ZoneAdministrator(holder: RevisionHolder(try ZoneLoader.load(source: source)),
                                        running: await administrator.current.revision, store: try SQLiteRevisionStore(stateDirectory: state.path),
                                        leases: CommittedLeases([]), logger: Logger(label: "test"), loadTimeout: .zero)
        do {
            _ = try await hurried.plan(changed("198.18.0.54"), now: 0)
            Issue.record("a plan past a zero budget was made")
        } catch {
            guard case .invalidZone(let load) = error else { Issue.record("expected invalidZone, got \(error)"); return }
            #expect(load.diagnostics.map(\.message) == ["the zone took longer than 0 s to load; refusing it (a zone this large is several zones?)"])
        }
    }
}
