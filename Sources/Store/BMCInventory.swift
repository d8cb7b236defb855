import Addressing
import Boot
import Foundation
import GRDB

/// What a BMC's Redfish service told about itself and the system it manages.
public struct BMCRecord: Sendable, Codable, Equatable {
    public var name: String
    public var address: String
    public var mac: String
    /// The hostname the BMC was given (its zone name).
    public var hostname: String?
    public var manufacturer: String?
    public var model: String?
    public var serial: String?
    public var biosVersion: String?
    public var bmcFirmware: String?
    /// Unix s.
    public var registeredAt: Int64

    public init(name: String, address: String, mac: String, hostname: String?, manufacturer: String?, model: String?,
                serial: String?, biosVersion: String?, bmcFirmware: String?, registeredAt: Int64) {
        self.name = name
        self.address = address
        self.mac = mac
        self.hostname = hostname
        self.manufacturer = manufacturer
        self.model = model
        self.serial = serial
        self.biosVersion = biosVersion
        self.bmcFirmware = bmcFirmware
        self.registeredAt = registeredAt
    }
}

/// BMC records; a registration and its `bmc.discovered` event commit together.
public protocol BMCInventory: Sendable {
    /// Records (or replaces) `bmc`, and writes `event` in the same transaction.
    func record(_ bmc: BMCRecord, event: ZoneEvent?) throws
    /// Every record, by name.
    func all() throws -> [BMCRecord]
}

public final class SQLiteBMCInventory: BMCInventory {
    private let writer: any DatabaseWriter

    public init(writer: any DatabaseWriter) { self.writer = writer }

    public convenience init(stateDirectory: String) throws {
        self.init(writer: try ZoneBootDatabase.open(stateDirectory: stateDirectory))
    }

    public func record(_ bmc: BMCRecord, event: ZoneEvent?) throws {
        let events = event.map { [$0] } ?? []
        let bodies = try events.map(SQLiteEventOutbox.body)
        try writer.writeWithoutFlush { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO bmc (name, address, mac, hostname, manufacturer, model, serial, bios_version,
                                            bmc_firmware, registered_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [bmc.name, Int64(IPv4Address(bmc.address)?.value ?? 0), bmc.mac, bmc.hostname,
                                 bmc.manufacturer, bmc.model, bmc.serial, bmc.biosVersion, bmc.bmcFirmware,
                                 bmc.registeredAt])
            try SQLiteEventOutbox.insert(events, bodies: bodies, db)
        }
    }

    public func all() throws -> [BMCRecord] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM bmc ORDER BY name").map { row in
                let address: Int64 = row["address"]
                return BMCRecord(name: row["name"], address: IPv4Address(UInt32(clamping: address)).description,
                                 mac: row["mac"], hostname: row["hostname"], manufacturer: row["manufacturer"],
                                 model: row["model"], serial: row["serial"], biosVersion: row["bios_version"],
                                 bmcFirmware: row["bmc_firmware"], registeredAt: row["registered_at"])
            }
        }
    }
}
