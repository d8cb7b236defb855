import Addressing
import Boot
import Foundation
import GRDB
import Zone

/// Leases and the event outbox in SQLite.
///
/// WAL with `synchronous = FULL`: a commit is on disk when `commit` returns. The
/// server batches many decisions into one commit, so one fsync serves many ACKs.
public final class SQLiteLeaseStore: LeaseStore {
    private let writer: any DatabaseWriter

    /// Opens the state directory's database.
    public convenience init(stateDirectory: String) throws {
        self.init(writer: try ZoneBootDatabase.open(stateDirectory: stateDirectory))
    }

    /// Uses an open database (migrated by `ZoneBootDatabase`).
    public init(writer: any DatabaseWriter) {
        self.writer = writer
    }

    public func loadLeases() throws -> [Lease] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM lease").compactMap(Self.lease)
        }
    }

    public func commit(leases: [Lease], events: [DHCPEvent]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bodies = try events.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try writer.write { db in
            let upsert = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO lease (address, mac, client_id, pod, switch, port, name, state, expires_at, updated_at,
                                              device_kind, device_model, device_serial, miscabled)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for lease in leases {
                try upsert.execute(arguments: [
                    Int64(lease.address.value), Data(lease.mac), lease.clientID.map { Data($0) }, lease.pod,
                    lease.location?.switch, lease.location?.port, lease.name, lease.state.rawValue,
                    lease.expiresAt, lease.updatedAt,
                    lease.device?.kind.rawValue, lease.device?.model, lease.device?.serial, lease.miscabled,
                ])
            }
            let insert = try db.cachedStatement(sql: "INSERT INTO event (type, at, body) VALUES (?, ?, ?)")
            for (event, body) in zip(events, bodies) {
                try insert.execute(arguments: [event.type.rawValue, event.at, body])
            }
        }
    }

    /// Events not yet delivered to hooks, oldest first.
    public func undeliveredEvents(limit: Int = 1000) throws -> [(id: Int64, event: DHCPEvent)] {
        let decoder = JSONDecoder()
        return try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT id, body FROM event WHERE delivered_at IS NULL ORDER BY id LIMIT ?",
                             arguments: [limit]).compactMap { row in
                let body: String = row["body"]
                guard let event = try? decoder.decode(DHCPEvent.self, from: Data(body.utf8)) else { return nil }
                return (row["id"], event)
            }
        }
    }

    private static func lease(_ row: Row) -> Lease? {
        let address: Int64 = row["address"]
        guard let state = Lease.State(rawValue: row["state"]), address >= 0, address <= Int64(UInt32.max) else { return nil }
        let mac: Data = row["mac"]
        let clientID: Data? = row["client_id"]
        let pod: String = row["pod"]
        let sw: String? = row["switch"], port: String? = row["port"]
        // A kind this build does not know (written by a newer one) reads as unknown.
        let kind: String? = row["device_kind"]
        let device = kind.map {
            RecognizedDevice(kind: DeviceKind(rawValue: $0) ?? .unknown, model: row["device_model"], serial: row["device_serial"])
        }
        return Lease(address: IPv4Address(UInt32(address)), mac: Array(mac), clientID: clientID.map { Array($0) },
                     pod: pod, location: sw.flatMap { s in port.map { Location(pod: pod, switch: s, port: $0) } },
                     name: row["name"], state: state, expiresAt: row["expires_at"], updatedAt: row["updated_at"],
                     device: device, miscabled: row["miscabled"])
    }
}
