import Addressing
import Boot
import Foundation
import GRDB
import Zone

/// Leases and the event outbox in SQLite.
///
/// WAL with `synchronous = FULL`: a commit is on disk when `commit` returns. The
/// server batches many decisions into one commit, so one fsync serves many ACKs.
public final class SQLiteLeaseStore: DurableLeaseStore {
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

    public func commit(leases: [Lease], events: [ZoneEvent]) throws {
        let bodies = try events.map(SQLiteEventOutbox.body)
        try writer.write { db in
            let upsert = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO lease (address, mac, client_id, pod, switch, port, name, state, expires_at, updated_at,
                                              device_kind, device_model, device_serial, miscabled, asked_switch, asked_port)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for lease in leases {
                try upsert.execute(arguments: [
                    Int64(lease.address.value), Data(lease.mac), lease.clientID.map { Data($0) }, lease.pod,
                    lease.location?.switch, lease.location?.port, lease.name, lease.state.rawValue,
                    lease.expiresAt, lease.updatedAt,
                    lease.device?.kind.rawValue, lease.device?.model, lease.device?.serial, lease.miscabled,
                    lease.askedFrom?.switch, lease.askedFrom?.port,
                ])
            }
            try SQLiteEventOutbox.insert(events, bodies: bodies, db)
        }
    }

    /// Bound leases past their expiry that no `lease.expired` was written for yet: each is
    /// marked as reported, and `event` (nil where no hook wants one) is written in the same
    /// transaction. A renewal sets a new expiry, so the next expiry is reported again.
    /// Returns how many events were written.
    @discardableResult
    public func reportExpiredLeases(now: Int64, limit: Int = 500, event: (Lease) -> ZoneEvent?) throws -> Int {
        try writer.writeWithoutFlush { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM lease WHERE state = 'bound' AND expires_at <= ?
                AND (expiry_reported IS NULL OR expiry_reported != expires_at) LIMIT ?
                """, arguments: [now, limit])
            let mark = try db.cachedStatement(sql: "UPDATE lease SET expiry_reported = expires_at WHERE address = ?")
            var events: [ZoneEvent] = []
            for row in rows {
                try mark.execute(arguments: [row["address"] as Int64])
                if let lease = Self.lease(row), let expired = event(lease) { events.append(expired) }
            }
            try SQLiteEventOutbox.insert(events, bodies: try events.map(SQLiteEventOutbox.body), db)
            return events.count
        }
    }

    /// Events not yet delivered to hooks, oldest first.
    public func undeliveredEvents(limit: Int = 1000) throws -> [(id: Int64, event: ZoneEvent)] {
        let decoder = JSONDecoder()
        return try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT id, body FROM event WHERE delivered_at IS NULL ORDER BY id LIMIT ?",
                             arguments: [limit]).compactMap { row in
                let body: String = row["body"]
                guard let event = try? decoder.decode(ZoneEvent.self, from: Data(body.utf8)) else { return nil }
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
        let askedSwitch: String? = row["asked_switch"], askedPort: String? = row["asked_port"]
        // A kind this build does not know (written by a newer one) reads as unknown.
        let kind: String? = row["device_kind"]
        let device = kind.map {
            RecognizedDevice(kind: DeviceKind(rawValue: $0) ?? .unknown, model: row["device_model"], serial: row["device_serial"])
        }
        return Lease(address: IPv4Address(UInt32(address)), mac: Array(mac), clientID: clientID.map { Array($0) },
                     pod: pod, location: sw.flatMap { s in port.map { Location(pod: pod, switch: s, port: $0) } },
                     name: row["name"], state: state, expiresAt: row["expires_at"], updatedAt: row["updated_at"],
                     device: device, miscabled: row["miscabled"],
                     askedFrom: askedSwitch.flatMap { s in askedPort.map { Location(pod: pod, switch: s, port: $0) } })
    }
}
