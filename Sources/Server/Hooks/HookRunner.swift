import Addressing
import Boot
import Foundation
import Logging
import Store
import Synchronization
import Zone

/// Delivers the outbox's events to the zone's hooks, off the DHCP event loop: the DHCP
/// path only writes events, in the transaction of the leases they describe.
///
/// At least once: an event is claimed, its hooks run, and only then is it marked
/// delivered; a claim left by a process that died is released at the next start. A
/// failed try is retried with exponential backoff and becomes a dead letter after the
/// policy's last try. At most `concurrency` events are in delivery at once, and each
/// hook run is bounded by its timeout.
public final class HookRunner: Sendable {
    public struct Configuration: Sendable {
        public var policy: RetryPolicy
        public var concurrency: Int
        /// How often the outbox is looked at while events are in delivery or were just claimed.
        public var pollMs: Int
        /// How long the runner waits, idle, for its doorbell (events written) before it looks
        /// anyway: for retries coming due, and for other hosts' events in etcd.
        public var idlePollMs: Int
        /// How often bound leases past their expiry are looked for.
        public var expirySweepSeconds: Int
        /// The zone file's folder: `run:` and `credentials:` paths are relative to it.
        public var zoneFolder: String
        /// Handed to executables as ZONEBOOT_STATE.
        public var stateDirectory: String
        /// How long delivered events stay in the outbox (for `zonectl events`) before they are
        /// deleted; undelivered events and dead letters stay until the operator acts.
        public var deliveredRetentionSeconds: Int
        /// How often delivered events past their retention are deleted: a tenth of the
        /// retention, at most hourly, at least every second.
        public var retentionSweepSeconds: Int { min(3600, max(1, deliveredRetentionSeconds / 10)) }

        public static let defaultDeliveredRetentionSeconds = 7 * 86_400
        /// One host: the doorbell rings for every event written, so this look is only for retries.
        public static let defaultIdlePollMs = 1000

        public init(policy: RetryPolicy, concurrency: Int, pollMs: Int = 20, idlePollMs: Int = Configuration.defaultIdlePollMs,
                    expirySweepSeconds: Int = 5,
                    zoneFolder: String, stateDirectory: String,
                    deliveredRetentionSeconds: Int = Configuration.defaultDeliveredRetentionSeconds) {
            self.policy = policy
            self.concurrency = max(1, concurrency)
            self.pollMs = max(10, pollMs)
            self.idlePollMs = max(self.pollMs, idlePollMs)
            self.expirySweepSeconds = max(1, expirySweepSeconds)
            self.zoneFolder = zoneFolder
            self.stateDirectory = stateDirectory
            self.deliveredRetentionSeconds = max(1, deliveredRetentionSeconds)
        }
    }

    private let configuration: Configuration
    private let outbox: any EventOutbox
    private let leases: any LeaseExpiryReporting
    private let inventory: any BMCInventory
    private let revisions: RevisionHolder
    private let http: HookHTTPClients
    private let logger: Logger
    private let statistics: Counters<HookCounters>
    /// Rung when events are written; without one, the runner looks every `pollMs`.
    private let doorbell: OutboxDoorbell?

    public init(configuration: Configuration, outbox: any EventOutbox, leases: any LeaseExpiryReporting,
                inventory: any BMCInventory, revisions: RevisionHolder, http: HookHTTPClients,
                statistics: Counters<HookCounters>, doorbell: OutboxDoorbell? = nil, logger: Logger) {
        self.doorbell = doorbell
        self.configuration = configuration
        self.outbox = outbox
        self.leases = leases
        self.inventory = inventory
        self.revisions = revisions
        self.http = http
        self.statistics = statistics
        self.logger = logger
    }

    private static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Runs until the task is cancelled. Events in delivery then stay claimed, and are
    /// delivered again after the next start.
    ///
    /// Ticks every `pollMs` while events are in delivery or were just claimed; idle, when the
    /// doorbell rings, a retry it recorded comes due, or `idlePollMs` has passed, and never
    /// within `pollMs` of the last tick. Each tick records the tries that ended since the last
    /// one and claims due events for the free slots, one transaction each, so the runner's
    /// writes (which share the database with the DHCP path's commits) stay a few per second
    /// however many events flow.
    public func run() async {
        do {
            let released = try outbox.releaseClaims()
            if released > 0 { logger.notice("hooks: \(released) events interrupted by the last stop are due again") }
        } catch {
            logger.error("hooks: cannot release old claims: \(error)")
        }
        let ended = EndedTries()
        var lastSweep = Int64(0)
        var lastPrune = Int64(0)
        var inFlight = 0
        /// The earliest retry this runner recorded and has not looked for since: idle, it wakes for it.
        var nextRetryMs = Int64.max
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let results = ended.take()
                inFlight -= results.count
                let now = Self.nowMs()
                for case .retry(let atMs, _) in results.map(\.outcome) { nextRetryMs = min(nextRetryMs, atMs) }
                if now >= nextRetryMs { nextRetryMs = .max }
                do {
                    try await outbox.finish(results, nowMs: now)
                } catch {
                    // Still claimed: delivered again after the next start.
                    logger.error("hooks: cannot record \(results.count) deliveries: \(error)")
                }
                if now - lastSweep >= Int64(configuration.expirySweepSeconds) * 1000 {
                    lastSweep = now
                    sweepExpiredLeases(now: now / 1000)
                }
                if now - lastPrune >= Int64(configuration.retentionSweepSeconds) * 1000 {
                    lastPrune = now
                    await pruneDeliveredEvents(now: now / 1000)
                }
                if inFlight < configuration.concurrency {
                    do {
                        let settling = HookSelection.unsubscribedTypes(in: revisions.current)
                        for entry in try await outbox.claimDue(nowMs: now, limit: configuration.concurrency - inFlight,
                                                         settling: settling) {
                            inFlight += 1
                            group.addTask {
                                guard let result = await self.deliver(entry) else { return }
                                ended.add(result)
                            }
                        }
                    } catch {
                        logger.error("hooks: cannot read the outbox: \(error)")
                    }
                }
                // At least `pollMs` between ticks, however often the doorbell rings (a storm
                // writes events with every commit).
                try? await Task.sleep(for: .milliseconds(configuration.pollMs))
                // Idle: nothing in delivery (so nothing claimed this tick) and no try just recorded.
                if let doorbell, inFlight == 0, results.isEmpty {
                    let untilRetry = nextRetryMs - Self.nowMs()
                    let idleMs = min(Int64(configuration.idlePollMs), untilRetry) - Int64(configuration.pollMs)
                    if idleMs > 0 { await doorbell.wait(atMost: .milliseconds(idleMs)) }
                }
            }
            group.cancelAll()
        }
    }

    /// One try of one event: every hook that wants it and has not taken it yet, in zone order.
    /// Nil when the runner stops meanwhile: the event stays claimed and runs again after the next start.
    func deliver(_ entry: OutboxEntry) async -> DeliveryResult? {
        let revision = revisions.current
        let hooks = HookSelection.hooks(for: entry.event, in: revision, except: entry.doneHooks)
        let payload = HookPayload(id: entry.id, attempt: entry.attempt, event: entry.event, zone: revision.zoneName)
        var succeeded: [String] = []
        var failures: [String] = []
        var skipped: [String] = []
        // As logged: a webhook's URL (which often carries a token) shown as its scheme and host only.
        var loggedFailures: [String] = []
        for hook in hooks {
            if let reason = skipReason(hook, entry.event, revision) {
                // Taken without a request: tried again it would be skipped again.
                succeeded.append(hook.name.value)
                skipped.append("\(hook.name.value) skipped: \(reason)")
                var keys = Self.runKeys(hook, entry, payload, outcome: "skipped", duration: .zero)
                keys["reason"] = "\(reason)"
                logger.notice("hook skipped", metadata: keys)
                continue
            }
            let started = ContinuousClock.now
            let problem = await runHook(hook, payload: payload, entry: entry, revision: revision)
            if Task.isCancelled { return nil }
            let duration = ContinuousClock.now - started
            if let problem {
                failures.append("\(hook.name.value): \(problem)")
                let logged = Self.redacted(problem, hook: hook)
                loggedFailures.append("\(hook.name.value): \(logged)")
                statistics.update { $0.failures += 1 }
                var keys = Self.runKeys(hook, entry, payload, outcome: "failed", duration: duration)
                keys["reason"] = "\(logged)"
                logger.warning("hook failed", metadata: keys)
            } else {
                succeeded.append(hook.name.value)
                statistics.update { $0.runs += 1 }
                logger.info("hook ran", metadata: Self.runKeys(hook, entry, payload, outcome: "ok", duration: duration))
            }
        }
        guard !failures.isEmpty else {
            statistics.update { $0.delivered += 1 }
            return DeliveryResult(id: entry.id, succeeded: succeeded, outcome: .delivered,
                                  note: skipped.isEmpty ? nil : skipped.joined(separator: "; "))
        }
        let error = failures.joined(separator: "; ")
        switch configuration.policy.afterFailure(attempt: entry.attempt, nowMs: Self.nowMs()) {
        case .retry(let at):
            return DeliveryResult(id: entry.id, succeeded: succeeded, outcome: .retry(atMs: at, error: error))
        case .deadLetter:
            statistics.update { $0.deadLetters += 1 }
            logger.error("""
                event \(entry.id) (\(payload.type)) is a dead letter after \(entry.attempt) tries; \
                `zonectl events retry \(entry.id)` delivers it again
                """, metadata: {
                    var keys = Self.eventKeys(entry.event)
                    keys["event"] = "\(payload.type)"
                    keys["id"] = "\(entry.id)"
                    keys["attempt"] = "\(entry.attempt)"
                    keys["reason"] = "\(loggedFailures.joined(separator: "; "))"
                    return keys
                }())
            return DeliveryResult(id: entry.id, succeeded: succeeded, outcome: .dead(error: error))
        }
    }

    /// Why `hook` takes the event without acting on it, if it does: redfish-register sends
    /// the BMC credentials only to a recognized BMC on a lom port (`RedfishEligibility`).
    private func skipReason(_ hook: ZoneSpec.Hook, _ event: ZoneEvent, _ revision: ZoneRevision) -> String? {
        guard hook.action == .builtin(.redfishRegister),
              case .skip(let reason) = RedfishEligibility.decide(event, in: revision) else { return nil }
        return reason
    }

    /// A hook run's keys: the event and the machine it is about, the hook, how it went.
    private static func runKeys(_ hook: ZoneSpec.Hook, _ entry: OutboxEntry, _ payload: HookPayload, outcome: String,
                                duration: Swift.Duration) -> Logger.Metadata {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        var keys = eventKeys(entry.event)
        keys["event"] = "\(payload.type)"
        keys["hook"] = "\(hook.name.value)"
        keys["id"] = "\(entry.id)"
        keys["attempt"] = "\(entry.attempt)"
        keys["outcome"] = "\(outcome)"
        keys["duration"] = "\(milliseconds)ms"
        return keys
    }

    private static func eventKeys(_ event: ZoneEvent) -> Logger.Metadata {
        var keys: Logger.Metadata = [:]
        if let name = event.name { keys["host"] = "\(name)" }
        if let location = event.location { keys["location"] = "\(location)" }
        if !event.mac.isEmpty { keys["mac"] = "\(event.mac)" }
        if event.address != IPv4Address(0) { keys["address"] = "\(event.address)" }
        return keys
    }

    /// `problem` with a webhook's URL (credentials in its user part, path or query are
    /// common: Slack, Teams, tokens) written as its scheme and host only.
    static func redacted(_ problem: String, hook: ZoneSpec.Hook) -> String {
        guard case .post(let url)? = hook.action, !url.isEmpty else { return problem }
        return problem.replacingOccurrences(of: url, with: ZoneSpec.Hook.redactedURL(url))
    }

    /// Nil when the hook took the event, else why not.
    private func runHook(_ hook: ZoneSpec.Hook, payload: HookPayload, entry: OutboxEntry,
                         revision: ZoneRevision) async -> String? {
        let timeout = (hook.timeout?.value ?? ZoneSpec.Hook.defaultTimeout).seconds
        switch hook.action {
        case .run(let path)?:
            var environment = ProcessInfo.processInfo.environment
            environment.merge(payload.environment) { $1 }
            environment["ZONEBOOT_STATE"] = configuration.stateDirectory
            let outcome = await HookProcess.run(path: resolve(path), stdin: payload.json(), environment: environment,
                                                timeoutSeconds: timeout)
            if outcome == .timedOut { statistics.update { $0.timeouts += 1 } }
            return outcome.succeeded ? nil : outcome == .timedOut ? "killed after its timeout of \(timeout)s" : outcome.description
        case .post(let url)?:
            return await Webhook.post(url, payload: HookPayloadBytes(id: payload.id, type: payload.type, json: payload.json()),
                                      client: http.verifying, timeoutSeconds: timeout)
        case .builtin(.redfishRegister)?:
            return await registerBMC(hook, entry: entry, revision: revision, timeout: timeout)
        case nil:
            return "the hook names no action"
        }
    }

    private func registerBMC(_ hook: ZoneSpec.Hook, entry: OutboxEntry, revision: ZoneRevision, timeout: Int) async -> String? {
        guard let name = entry.event.name else { return nil }  // skipped in `deliver`: no BMC to name
        guard let path = hook.credentials?.value else { return "no credentials" }
        let credentials: RedfishCredentials
        do {
            credentials = try RedfishCredentials.load(path: resolve(path))
        } catch {
            return error.description
        }
        return await BMCRegistrar(inventory: inventory, http: http, logger: logger)
            .register(name: name, event: entry.event, tls: hook.tls?.value, credentials: credentials,
                      password: hook.password?.value, stateDirectory: configuration.stateDirectory, timeoutSeconds: timeout)
    }

    private func resolve(_ path: String) -> String {
        path.hasPrefix("/") || configuration.zoneFolder.isEmpty ? path : "\(configuration.zoneFolder)/\(path)"
    }

    /// Deletes delivered events past their retention, a batch per transaction so that the
    /// DHCP path's commits (which share the database) never wait long; a backlog larger than
    /// one sweep's share is left to the next sweep.
    private func pruneDeliveredEvents(now: Int64) async {
        let cutoff = now - Int64(configuration.deliveredRetentionSeconds)
        var pruned = 0
        do {
            for _ in 0..<100 {
                let deleted = try await outbox.pruneDelivered(before: cutoff, limit: 1000)
                pruned += deleted
                if deleted < 1000 { break }
            }
        } catch {
            logger.error("hooks: cannot prune delivered events: \(error)")
        }
        guard pruned > 0 else { return }
        statistics.update { $0.eventsPruned += pruned }
        logger.debug("hooks: \(pruned) delivered events older than \(configuration.deliveredRetentionSeconds)s pruned")
    }

    /// Writes a `lease.expired` event for each bound lease newly past its expiry whose host's hooks want one.
    func sweepExpiredLeases(now: Int64) {
        let revision = revisions.current
        do {
            let written = try leases.reportExpiredLeases(now: now, limit: 500) { lease in
                HookEvents.leaseExpired(lease, in: revision, at: now)
            }
            if written > 0 { logger.debug("hooks: \(written) lease.expired events written") }
        } catch {
            logger.error("hooks: cannot sweep expired leases: \(error)")
        }
    }
}

/// Tries that ended since the runner's last tick.
private final class EndedTries: Sendable {
    private let box = Mutex<[DeliveryResult]>([])

    func add(_ result: DeliveryResult) { box.withLock { $0.append(result) } }

    func take() -> [DeliveryResult] {
        box.withLock { results in
            defer { results = [] }
            return results
        }
    }
}

/// The runner's counters.
public struct HookCounters: Sendable, Codable, Equatable {
    public var runs = 0
    public var failures = 0
    public var timeouts = 0
    public var delivered = 0
    public var deadLetters = 0
    /// Delivered events deleted after their retention.
    public var eventsPruned = 0
    public init() {}
}

