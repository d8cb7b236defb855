import Foundation
import Synchronization

/// One part's counters (`DHCPCounters`, `TFTPCounters`, `HookCounters`, `HTTPCounters`)
/// behind a lock: updated by whoever counts, on any thread; read whole by whoever reports
/// (the counters file today, a metrics endpoint tomorrow), always as one consistent value.
public final class Counters<Value: Sendable>: Sendable {
    private let box: Mutex<Value>

    public init(_ initial: Value) { box = Mutex(initial) }

    /// Every counter as of now.
    public var snapshot: Value { box.withLock { $0 } }

    /// Changes counters together: a reader never sees half of one update.
    public func update(_ change: (inout Value) -> Void) { box.withLock { change(&$0) } }
}

/// The counters files' format: JSON with snake_case keys, sorted, atomically replaced
/// (scripts and tests read them while the server writes).
public enum CountersFile {
    public static func write(_ value: some Encodable, to path: String) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(value) else { return }
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// Every part's counters, made once at start and handed to the part that counts: what the
/// counters files are written from, and what a metrics endpoint reads.
public struct ServerCounters: Sendable {
    public let dhcp = Counters(DHCPCounters())
    public let tftp = Counters(TFTPCounters())
    public let hooks = Counters(HookCounters())
    public let http = Counters(HTTPCounters())
    /// The boot listeners' connection table and the admin API's (each counts its connections).
    public let httpConnections: HTTPConnections
    public let adminConnections: HTTPConnections

    public init(httpLimits: HTTPConnectionLimits) {
        httpConnections = HTTPConnections(limits: httpLimits)
        adminConnections = HTTPConnections(limits: httpLimits)
    }

    /// The DHCP counters file: DHCP's counters at the top level, the hook runner's under
    /// "hooks", HTTP's under "http". (TFTP's are a file of their own: `tftp.snapshot`.)
    public var dhcpFile: some Encodable & Sendable {
        DHCPFile(dhcp: dhcp.snapshot, hooks: hooks.snapshot,
                 http: .init(requests: http.snapshot, connections: httpConnections.counters,
                             adminConnections: adminConnections.counters))
    }

    private struct DHCPFile: Encodable, Sendable {
        var dhcp: DHCPCounters
        var hooks: HookCounters
        var http: HTTP

        struct HTTP: Encodable, Sendable {
            var requests: HTTPCounters
            var connections: HTTPConnectionCounters
            var adminConnections: HTTPConnectionCounters
        }

        func encode(to encoder: any Encoder) throws {
            try dhcp.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(hooks, forKey: .hooks)
            try container.encode(http, forKey: .http)
        }

        enum Key: CodingKey { case hooks, http }
    }
}
