import Addressing
import Foundation
import Zone

/// When a failed delivery is tried again: exponential backoff from `base`, capped at
/// `cap`, and a dead letter after `maxAttempts` tries.
public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    /// Milliseconds before the second try; each later wait doubles.
    public var baseMs: Int64
    public var capMs: Int64

    public init(maxAttempts: Int = 8, baseMs: Int64 = 2_000, capMs: Int64 = 600_000) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseMs = max(1, baseMs)
        self.capMs = max(self.baseMs, capMs)
    }

    public enum Next: Sendable, Equatable {
        case retry(atMs: Int64)
        case deadLetter
    }

    /// After try number `attempt` (1 for the first) failed at `nowMs`.
    public func afterFailure(attempt: Int, nowMs: Int64) -> Next {
        guard attempt < maxAttempts else { return .deadLetter }
        return .retry(atMs: nowMs + delayMs(afterAttempt: attempt))
    }

    /// base · 2^(attempt−1), capped; the shift is bounded so it never overflows.
    public func delayMs(afterAttempt attempt: Int) -> Int64 {
        let doublings = min(max(attempt - 1, 0), 40)
        let delay = baseMs.multipliedReportingOverflow(by: Int64(1) << doublings)
        return delay.overflow ? capMs : min(delay.partialValue, capMs)
    }
}

/// Which of the zone's hooks take an event: those of the role of the host the event is
/// about that subscribe to its type, less those that already took it. `zone.applied` is
/// about the zone: every hook that subscribes to it takes it.
public enum HookSelection {
    public static func hooks(for event: ZoneEvent, in revision: ZoneRevision, except done: Set<String> = [])
        -> [ZoneSpec.Hook] {
        if event.type == .zoneApplied {
            return revision.spec.hooks.filter { hook in
                !done.contains(hook.name.value) && hook.on.contains { $0.value == .zoneApplied }
            }
        }
        let identity = event.name.flatMap(revision.identity(named:)) ?? event.location.flatMap(revision.identity(at:))
        return hooks(of: identity, in: revision).filter { hook in
            !done.contains(hook.name.value) && hook.on.contains { $0.value == event.type }
        }
    }

    /// The hooks of `identity`'s role, in the zone's order: every event about it goes to those
    /// of them that subscribe to its type (`zonectl render` lists them for a location).
    public static func hooks(of identity: Identity?, in revision: ZoneRevision) -> [ZoneSpec.Hook] {
        guard let roleName = identity?.role, let role = revision.role(named: roleName) else { return [] }
        let names = Set(role.hooks.map(\.value))
        return revision.spec.hooks.filter { names.contains($0.name.value) }
    }

    /// Event types no hook of the revision subscribes to: `hooks(for:in:)` is empty for
    /// every event of these, whatever host it is about.
    public static func unsubscribedTypes(in revision: ZoneRevision) -> Set<HookEvent> {
        Set(HookEvent.allCases).subtracting(revision.spec.hooks.flatMap { $0.on.map(\.value) })
    }
}

/// What a hook is given: the event as JSON (stdin or POST body) and its key fields as
/// environment variables, with the event's id for idempotency.
public struct HookPayload: Sendable, Codable, Equatable {
    public var id: Int64
    public var type: String
    public var zone: String
    /// Unix s when it happened.
    public var at: Int64
    public var attempt: Int
    public var name: String?
    public var address: String
    public var mac: String
    public var pod: String
    public var `switch`: String?
    public var port: String?
    public var details: [String: String]

    public init(id: Int64, attempt: Int, event: ZoneEvent, zone: String) {
        self.id = id
        self.type = event.type.rawValue
        self.zone = zone
        self.at = event.at
        self.attempt = attempt
        self.name = event.name
        self.address = event.address.description
        self.mac = event.mac
        self.pod = event.pod
        self.switch = event.location?.switch
        self.port = event.location?.port
        self.details = event.details
    }

    public func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(self)) ?? Data("{}".utf8))
    }

    /// ZONEBOOT_EVENT, ZONEBOOT_EVENT_ID and the host's fields; unset ones are left out.
    public var environment: [String: String] {
        var env = [
            "ZONEBOOT_EVENT": type, "ZONEBOOT_EVENT_ID": String(id), "ZONEBOOT_ATTEMPT": String(attempt),
            "ZONEBOOT_ZONE": zone, "ZONEBOOT_ADDRESS": address, "ZONEBOOT_MAC": mac, "ZONEBOOT_POD": pod,
        ]
        if let name { env["ZONEBOOT_NAME"] = name }
        if let sw = self.switch { env["ZONEBOOT_SWITCH"] = sw }
        if let port { env["ZONEBOOT_PORT"] = port }
        return env
    }
}
