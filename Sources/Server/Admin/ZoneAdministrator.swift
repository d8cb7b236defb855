import AdminAPI
import Boot
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Store
import Synchronization
import Zone

/// Why a plan, apply or rollback was refused.
public enum AdminFailure: Error, Sendable {
    /// The posted zone does not load: the diagnostics `zonectl validate` shows.
    case invalidZone(ZoneLoadError)
    /// The running revision moved since the plan was made.
    case staleBase(planned: Int, current: Int)
    case noSuchRevision(Int)
    case store(String)
    /// The revision store is out of reach (etcd down): nothing recorded, the running revision kept.
    case unavailable(String)
    /// Another zone is being loaded: a plan is refused rather than queued (each load may take
    /// a core and a large share of memory for up to the load timeout).
    case busy(retryAfter: Int)
    /// The server is shutting down: loads in flight were cancelled, new ones are refused.
    case stopping

    public var message: String {
        switch self {
        case .invalidZone(let error): "the zone does not load: \(error.errorCount) error(s)"
        case .staleBase(let planned, let current):
            "the zone changed since this plan was made: planned against revision \(planned), now at \(current); plan again"
        case .noSuchRevision(let id): "there is no revision \(id)"
        case .store(let why): "the store refused the revision: \(why)"
        case .unavailable(let why): "the revision store is out of reach, nothing was recorded: \(why)"
        case .busy(let seconds):
            "another zone is being loaded on this server (one at a time); try again in \(seconds) s"
        case .stopping: "the server is stopping"
        }
    }
}

/// The one way the running revision changes (admin API, SIGHUP, start): validate and
/// expand, plan against the running revision, append to the store, then swap.
///
/// - The new revision is fully loaded before anything is written, so a broken zone
///   changes nothing.
/// - The store's append commits (fsynced) before the swap, and at start the latest
///   stored revision is what runs: a crash anywhere leaves the old or the new revision
///   running after the restart, never a mix.
/// - An actor: applies are serialized; the second of two applies planned against the
///   same revision finds its base moved and is refused (409), like Terraform's lock.
/// - Loading and planning a zone (seconds for a large or hostile one) runs off the actor,
///   on `loads`: the actor is held only to read the running revision and for the
///   compare-and-swap of an apply, so `/v1/revision`, history and hosts answer meanwhile.
public actor ZoneAdministrator {
    private let holder: RevisionHolder
    private let store: any RevisionStore
    private let leases: CommittedLeases
    private let logger: Logger
    private var running: RevisionSummary
    /// The zone file's folder: where `secret-file` values of every revision loaded here are
    /// read, never a folder a posted source names.
    private let secretsFolder: String?
    #if DEBUG
    /// Test-only: `ZONEBOOT_TEST_CRASH_AT=before-append|after-append|after-swap` kills the
    /// process with SIGKILL at that point of the next apply, for the crash-safety e2e test.
    /// Compiled into debug builds only (what `make test` runs): a release zonebootd ignores the variable.
    private let crashPoint = ProcessInfo.processInfo.environment["ZONEBOOT_TEST_CRASH_AT"]
    #endif
    /// Where zones are loaded and planned: one at a time (each may take a large share of
    /// memory), on a Dispatch thread rather than one of Swift's few cooperative threads,
    /// which serve every HTTP request.
    private let loads: DispatchQueue
    /// Loads (of plan, apply, rollback or SIGHUP) submitted and not yet ended, the actor
    /// free meanwhile. One answered early (its deadline, shutdown) counts until it ends.
    var loading: Int { inFlight.count }
    /// The wall time one load and plan may take (nil: no limit).
    private let loadTimeout: Swift.Duration?
    /// Told of each revision made running, with the time from request to swap (/metrics).
    private let revisionMadeRunning: (@Sendable (RevisionOrigin, Swift.Duration) -> Void)?
    /// The loads in flight, and whether the server is stopping: read and changed from
    /// outside the actor (by the loads themselves, and `stopLoads`, which must not wait for it).
    private let inFlight = LoadsInFlight()

    /// `loads`: a serial queue of the caller's (tests suspend it to hold a load mid-way).
    /// `loadTimeout`: past it a load and plan is refused with "the zone took longer than N s to load".
    public init(holder: RevisionHolder, running: RevisionSummary, store: any RevisionStore, leases: CommittedLeases,
                logger: Logger, loadTimeout: Swift.Duration? = ZoneAdministrator.defaultLoadTimeout,
                loads: DispatchQueue = DispatchQueue(label: "zoneboot.zone-loads"), secretsFolder: String? = nil,
                applied: (@Sendable (RevisionOrigin, Swift.Duration) -> Void)? = nil) {
        revisionMadeRunning = applied
        self.loads = loads
        self.loadTimeout = loadTimeout
        self.secretsFolder = secretsFolder
        self.holder = holder
        self.running = running
        self.store = store
        self.leases = leases
        self.logger = logger
    }

    /// What runs at start: the latest stored revision if there is one (the zone file is
    /// then only compared with it), else the zone file, recorded as revision 1.
    public static func startingRevision(zoneFile: String, store: SQLiteRevisionStore, logger: Logger)
        throws -> (ZoneRevision, RevisionSummary) {
        if let stored = try store.latest() { return try starting(stored, zoneFile: zoneFile, logger: logger) }
        let first = try FirstStart(zoneFile: zoneFile)
        defer { releaseFreedMemory() }
        let summary = try store.append(source: first.revision.source, zone: first.revision.zoneName, author: FirstStart.author,
                                       message: first.message, basedOn: nil, summary: first.summary, origin: .file)
        return (first.revision, summary)
    }

    /// `startingRevision` with a store a network away (etcd): the same rule, asked asynchronously.
    public static func startingRevision(zoneFile: String, from store: any RevisionStore, logger: Logger)
        async throws -> (ZoneRevision, RevisionSummary) {
        if let stored = try await store.latest() { return try starting(stored, zoneFile: zoneFile, logger: logger) }
        let first = try FirstStart(zoneFile: zoneFile)
        defer { releaseFreedMemory() }
        let summary = try await store.append(source: first.revision.source, zone: first.revision.zoneName,
                                             author: FirstStart.author, message: first.message, basedOn: nil,
                                             summary: first.summary, origin: .file)
        return (first.revision, summary)
    }

    /// An empty store's first revision, the same with either store: the zone file, loaded,
    /// and what its history line says.
    private struct FirstStart {
        static let author = "zonebootd"
        let revision: ZoneRevision
        let message: String
        let summary: String

        init(zoneFile: String) throws {
            revision = try ZoneLoader.load(path: zoneFile)
            message = "first start with \(zoneFile)"
            summary = ZonePlan.summaryLine(ofFirst: revision)
        }
    }

    /// A stored revision to start with (the latest, or with etcd out of reach the one cached
    /// locally), loaded with this host's secret files.
    public static func starting(_ stored: StoredRevision, zoneFile: String, logger: Logger)
        throws -> (ZoneRevision, RevisionSummary) {
        let revision: ZoneRevision
        // A secret file changed while the server was down: start (DHCP must), withholding that value.
        do {
            revision = try ZoneLoader.load(source: stored.source, secretsFolder: zoneFolder(zoneFile),
                                           withholdingChangedSecrets: true)
        } catch {
            throw AdminFailure.store("stored revision \(stored.summary.id) no longer loads:\n\(error.description)")
        }
        // What the stored revision warns of now, such as a withheld secret value.
        for warning in revision.warnings { logger.warning("\(warning.path): \(warning.message)") }
        // Compared by source, without expanding the file: a second expanded zone would
        // double the memory a server starts with.
        if let file = try? ZoneLoader.source(path: zoneFile), file.digest != stored.source.digest {
            logger.notice("\(zoneFile) differs from the running revision \(stored.summary.id): SIGHUP or `zonectl apply` applies it")
        }
        releaseFreedMemory()
        return (revision, stored.summary)
    }

    public var current: RunningRevision { RunningRevision(revision: running, identities: holder.current.identities.count) }

    /// The running revision with the source it runs, read together.
    public var runningSource: RunningSource { RunningSource(revision: running, source: holder.current.source) }

    public func history(limit: Int) async throws -> [RevisionSummary] { try await store.history(limit: limit) }

    /// Every identity of the running revision, with the lease its address holds now.
    public func hosts(now: Int64) -> [HostRow] {
        holder.current.identities.map { identity in
            let lease = leases.lease(address: identity.address)
                .flatMap { $0.isActive(at: now) && $0.location == identity.location ? $0 : nil }
            return HostRow(name: identity.name, kind: identity.kind.rawValue, location: identity.location.description,
                           address: identity.address, role: identity.role, lease: lease?.state.rawValue, mac: lease?.macText,
                           device: lease?.device?.kind.rawValue, model: lease?.device?.model, serial: lease?.device?.serial,
                           miscabled: lease?.miscabled ?? false)
        }
    }

    /// Long enough for a 10,000-host zone on a busy two-core machine many times over
    /// (about 0.3 s for load and plan alone), short enough that a huge zone cannot hold a
    /// core and gigabytes for long.
    public static let defaultLoadTimeout: Swift.Duration = .seconds(10)

    /// An unauthenticated (or read-only) caller's plan: refused with `busy` while any zone is
    /// loading, so that plans never queue up behind one another holding memory.
    public func plan(_ source: ZoneSource, now: Int64) async throws(AdminFailure) -> SavedPlan {
        guard !inFlight.isStopping else { throw .stopping }
        guard loading == 0 else { throw .busy(retryAfter: 1) }
        let saved = try await makePlan(source, now: now).0
        // The planned revision is gone: what its load took goes back to the system.
        releaseFreedMemory()
        return saved
    }

    /// Shutdown: cancels every load in flight (each stops within milliseconds and its caller
    /// gets `stopping`) and refuses new ones, so a graceful shutdown never waits for a plan.
    /// Not isolated: the actor may be busy, shutdown must not wait for it.
    public nonisolated func stopLoads() {
        for load in inFlight.stop() {
            load.budget.cancel()
            load.answer(.failure(.stopping))
        }
    }

    public func apply(_ source: ZoneSource, basedOn: Int, author: String, message: String?,
                      now: Int64, origin: RevisionOrigin = .apply) async throws(AdminFailure) -> ApplyResponse {
        let started = ContinuousClock.now
        guard basedOn == running.id else { throw .staleBase(planned: basedOn, current: running.id) }
        let (plan, revision) = try await makePlan(source, now: now)
        let planned = ContinuousClock.now
        // The actor was free while the zone loaded: another apply may have won meanwhile.
        // From here to the swap only the store's append awaits: SQLite's runs synchronously, so
        // this check and the swap are one step; etcd's transaction makes the same check on the
        // zone's head, across hosts.
        guard basedOn == running.id, plan.baseRevision == running.id else {
            throw .staleBase(planned: basedOn, current: running.id)
        }
        guard plan.plan.hasChanges else { return ApplyResponse(plan: plan, applied: nil) }
        crash(at: "before-append")
        let applied: RevisionSummary
        do {
            applied = try await store.append(source: revision.source, zone: revision.zoneName, author: author, message: message,
                                             basedOn: basedOn, summary: plan.plan.summaryLine, origin: origin)
        } catch StoreError.staleBase(_, let current) {
            // Someone wrote the store behind the server's back (an offline `zonectl apply`, or
            // with etcd another host's apply this host has not followed yet).
            throw .staleBase(planned: basedOn, current: current ?? 0)
        } catch let unavailable as StoreUnavailable {
            throw .unavailable(unavailable.description)
        } catch {
            throw .store("\(error)")
        }
        crash(at: "after-append")
        // A store a network away is awaited: a newer revision may have been followed meanwhile.
        guard applied.id > running.id else { return ApplyResponse(plan: plan, applied: applied) }
        holder.swap(revision, id: applied.id)
        running = applied
        crash(at: "after-swap")
        revisionMadeRunning?(origin, ContinuousClock.now - started)
        logger.notice("revision \(applied.id) applied by \(author): \(applied.summary)",
                      metadata: ["load-and-plan": "\(planned - started)", "record-and-swap": "\(ContinuousClock.now - planned)"])
        // After the swap, so the first answer of the new revision never waits for it.
        releaseFreedMemory()
        return ApplyResponse(plan: plan, applied: applied)
    }

    /// A rollback is an apply of an earlier revision's source: a new revision, history kept.
    public func rollback(to id: Int, basedOn: Int, author: String, message: String?,
                         now: Int64) async throws(AdminFailure) -> ApplyResponse {
        let stored: StoredRevision?
        do { stored = try await store.revision(id: id) } catch let unavailable as StoreUnavailable {
            throw .unavailable(unavailable.description)
        } catch { throw .store("\(error)") }
        guard let stored else { throw .noSuchRevision(id) }
        return try await apply(stored.source, basedOn: basedOn, author: author,
                               message: message ?? "rollback to revision \(id)", now: now, origin: .rollback)
    }

    /// SIGHUP: the zone file through the same path, logged as a plan summary.
    ///
    /// The file is applied only over a revision that came from it (the first start or an
    /// earlier SIGHUP with this `--zone` file): after a `zonectl apply` or rollback the
    /// running revision is the API's, and a SIGHUP (`systemctl reload`, log rotation) must
    /// not silently put the file's older zone back. It then refuses with one line naming the
    /// revision and what to do; `overridingAPI` (`--reload-overrides-api`) applies the file anyway.
    /// A file that matches the running revision records nothing, whatever its origin.
    public func reload(zoneFile: String, now: Int64, overridingAPI: Bool = false) async {
        // Only the source is read here (templates included); apply loads and checks it.
        let read = await offActor { () -> Result<ZoneSource, ZoneLoadError> in
            do throws(ZoneLoadError) { return .success(try ZoneLoader.source(path: zoneFile)) } catch { return .failure(error) }
        }
        let source: ZoneSource
        switch read {
        case .success(let value): source = value
        case .failure(let error):
            logger.error("SIGHUP: \(zoneFile) rejected, revision \(running.id) kept running:\n\(error.description)")
            return
        }
        if source.digest == running.digest {
            logger.info("SIGHUP: \(zoneFile) matches revision \(running.id): no changes")
            return
        }
        let runningFile = holder.current.source.zoneFile
        if !overridingAPI, running.origin != .file || runningFile != zoneFile {
            let from = running.origin == .file ? "the zone file \(runningFile)" : (running.origin ?? .apply).description
            logger.warning("SIGHUP: \(zoneFile) not applied: the running revision \(running.id) came from \(from), by \(running.author) at \(running.createdAt)\(running.message.map { " (\"\($0)\")" } ?? ""); applying the file would undo it. `zonectl apply \(zoneFile)` applies the file (with a plan), or start zonebootd with --reload-overrides-api to let SIGHUP replace it")
            return
        }
        do {
            let result = try await apply(source, basedOn: running.id, author: "zonebootd (SIGHUP)",
                                         message: "reloaded \(zoneFile)", now: now, origin: .file)
            if result.applied == nil { logger.info("SIGHUP: \(zoneFile) matches revision \(running.id): no changes") }
            // The plan itself, as `zonectl plan` shows it, unless it is too long for a log.
            if result.plan.plan.hasChanges, result.plan.plan.changes.count <= 100 {
                let rendered = PlanRenderer(color: false).render(result.plan.plan, source: zoneFile, against: result.plan.against)
                logger.notice("SIGHUP plan:\n\(rendered)")
            }
            if !result.plan.impact.isEmpty {
                logger.notice("SIGHUP: \(result.plan.impact.count) machine(s) holding leases are affected")
            }
        } catch .invalidZone(let error) {
            logger.error("SIGHUP: \(zoneFile) rejected, revision \(running.id) kept running:\n\(error.description)")
        } catch {
            logger.error("SIGHUP: \(zoneFile) not applied: \(error.message)")
        }
    }

    /// A revision another host recorded in the shared store (etcd), seen by the watch: loaded
    /// here (off the actor, this host's secret files, changed ones withheld as at start) and
    /// swapped in like an apply's, unless this host already runs it or a newer one. Returns
    /// whether it now runs.
    public func follow(_ stored: StoredRevision) async -> Bool {
        guard stored.summary.id > running.id else { return false }
        let (secretsFolder, current) = (self.secretsFolder, holder.current)
        let loaded = await offActor { () -> Result<ZoneRevision, ZoneLoadError> in
            do throws(ZoneLoadError) {
                return .success(try ZoneLoader.load(source: stored.source, secretsFolder: secretsFolder,
                                                    withholdingChangedSecrets: true, reusing: current))
            } catch { return .failure(error) }
        }
        // The actor was free while it loaded: an apply here or a newer revision may have won.
        guard stored.summary.id > running.id else { return false }
        switch loaded {
        case .success(let revision):
            for warning in revision.warnings { logger.warning("\(warning.path): \(warning.message)") }
            holder.swap(revision, id: stored.summary.id)
            let previous = running.id
            running = stored.summary
            logger.notice("revision \(stored.summary.id) followed from the shared store (was \(previous)): \(stored.summary.summary)",
                          metadata: ["author": "\(stored.summary.author)", "origin": "\(stored.summary.origin ?? .apply)"])
            return true
        case .failure(let error):
            logger.error("revision \(stored.summary.id) from the shared store does not load here, revision \(running.id) kept running:\n\(error.description)")
            return false
        }
    }

    /// Runs blocking work on `loads` and waits for it without holding the actor.
    private func offActor<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            loads.async { continuation.resume(returning: work()) }
        }
    }

    /// The plan against the running revision as it is when called; the actor is free while
    /// the zone loads, so an apply checks afterwards that the revision did not move.
    private func makePlan(_ source: ZoneSource, now: Int64) async throws(AdminFailure) -> (SavedPlan, ZoneRevision) {
        // Read together, with nothing awaited between: `apply` swaps both in one step.
        let (current, base) = (holder.current, running)
        let (leases, logger, loads, inFlight, limit) = (self.leases, self.logger, self.loads, self.inFlight, loadTimeout)
        let secretsFolder = self.secretsFolder
        // The clock starts when the load does: an apply waiting its turn behind another load
        // does not spend its budget waiting.
        let load = LoadInFlight(budget: ZoneLoadBudget(limit: limit, startingNow: false))
        guard inFlight.admit(load) else { throw .stopping }
        let made = await withCheckedContinuation { continuation in
            load.wait(continuation)
            loads.async {
                load.budget.start()
                // The loader stops itself at its deadline, but a plan's diff is one step it
                // cannot look inside: the caller is answered at the deadline all the same,
                // and the work runs on to its end holding its slot (`loading`).
                if let limit {
                    DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(limit / .nanoseconds(1)))) {
                        load.answer(.failure(.invalidZone(load.budget.spentError(file: source.zoneFile))))
                    }
                }
                let result: Result<(SavedPlan, ZoneRevision), AdminFailure>
                do throws(AdminFailure) {
                    result = .success(try Self.makePlan(source, against: current, base: base, leases: leases,
                                                        secretsFolder: secretsFolder, now: now,
                                                        budget: load.budget, logger: logger))
                } catch { result = .failure(error) }
                inFlight.remove(load)
                load.answer(result)
            }
        }
        return try made.get()
    }

    private static func makePlan(_ source: ZoneSource, against current: ZoneRevision, base running: RevisionSummary,
                                 leases: CommittedLeases, secretsFolder: String?, now: Int64, budget: ZoneLoadBudget,
                                 logger: Logger) throws(AdminFailure) -> (SavedPlan, ZoneRevision) {
        let started = ContinuousClock.now
        /// Between steps: a spent budget ends the plan with the load's own error.
        func check() throws(AdminFailure) {
            guard budget.isSpent else { return }
            let error = budget.spentError(file: source.zoneFile)
            throw error.cancelled ? .stopping : .invalidZone(error)
        }
        // The running revision is kept expanded: the new zone takes the identities of the pods
        // whose text did not change from it, and the plan compares the new zone's identities
        // with its own, as values, and flattens only those that differ.
        let revision: ZoneRevision
        do throws(ZoneLoadError) {
            revision = try ZoneLoader.load(source: source, secretsFolder: secretsFolder, budget: budget, reusing: current)
        } catch let error where error.cancelled {
            throw .stopping
        } catch {
            throw .invalidZone(error)
        }
        let loadedAt = ContinuousClock.now
        try check()
        // The load's parse tree and tables are freed in pieces the plan's changes do not fit
        // into: returned first, they are not held beside the plan (a full-zone plan of 100,000
        // hosts peaked 30 MB higher without this).
        releaseFreedMemory()
        let plan = ZonePlan(from: current, fromRevision: running.id, to: revision)
        try check()
        let impact = LiveImpact(to: revision, leases: leases.all, now: now)
        try check()
        logger.debug("zone loaded and planned", metadata: [
            "identities": "\(revision.identities.count)", "changes": "\(plan.changes.count)",
            "load": "\(loadedAt - started)", "plan": "\(ContinuousClock.now - loadedAt)"])
        return (SavedPlan(baseRevision: running.id, against: running.label, source: revision.source, plan: plan,
                          impact: impact), revision)
    }

    /// Does nothing in a release build (see `crashPoint`).
    private func crash(at point: String) {
        #if DEBUG
        guard crashPoint == point else { return }
        logger.critical("ZONEBOOT_TEST_CRASH_AT=\(point): killing this process (test hook)")
        kill(getpid(), SIGKILL)
        #endif
    }
}

/// The folder of a zone file as the operator gave it ("" for the current one), where its
/// templates and secret files are.
public func zoneFolder(_ zoneFile: String) -> String { (zoneFile as NSString).deletingLastPathComponent }
