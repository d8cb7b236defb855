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
    /// SHA-256 of the certificate pinned at its first registration (`AB:CD:...`); nil where
    /// none is (a `tls: verify` hook, where the system's CAs are the trust).
    public var certificateSHA256: String?
    /// The last other certificate it presented: refused, until `zonectl bmcs forget`.
    public var refusedSHA256: String?
    /// Whether it logs in with a password of its own (`password: rotate`), kept in the state
    /// directory's bmc-passwords folder, not here; false: the credentials file's shared one.
    public var ownPassword: Bool

    // The admin API's JSON is snake_case both ways (`JSONStyle`), which reads `certificate_sha256`
    // back as `certificateSha256`: the keys are spelled so, to come back as these properties.
    private enum CodingKeys: String, CodingKey {
        case name, address, mac, hostname, manufacturer, model, serial, biosVersion, bmcFirmware, registeredAt
        case certificateSHA256 = "certificateSha256", refusedSHA256 = "refusedSha256", ownPassword
    }

    public init(name: String, address: String, mac: String, hostname: String?, manufacturer: String?, model: String?,
                serial: String?, biosVersion: String?, bmcFirmware: String?, registeredAt: Int64,
                certificateSHA256: String? = nil, refusedSHA256: String? = nil, ownPassword: Bool = false) {
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
        self.certificateSHA256 = certificateSHA256
        self.refusedSHA256 = refusedSHA256
        self.ownPassword = ownPassword
    }
}

/// BMC records; a registration and its `bmc.discovered` event commit together.
public protocol BMCInventory: Sendable {
    /// Records (or replaces) `bmc`, and writes `event` in the same transaction. A registration
    /// clears a refusal: the BMC presented its pinned certificate (or a new one was trusted).
    func record(_ bmc: BMCRecord, event: ZoneEvent?) throws
    /// Every record, by name.
    func all() throws -> [BMCRecord]
    /// The certificate fingerprint pinned for the BMC named `name`, if any.
    func pinnedCertificate(name: String) throws -> String?
    /// Notes that the BMC named `name` presented `presented` instead of its pinned certificate,
    /// and writes `event` with it, unless that same certificate was refused last time (the
    /// retries of one registration raise one event). Returns whether the event was written.
    func refuse(name: String, presented: String, event: ZoneEvent) throws -> Bool
    /// Drops the BMC's pinned certificate (and refusal): its next registration pins the one it
    /// presents then. False when there is no record of that name.
    func forgetCertificate(name: String) throws -> Bool
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
                                            bmc_firmware, registered_at, certificate_sha256, refused_sha256, own_password)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [bmc.name, Int64(IPv4Address(bmc.address)?.value ?? 0), bmc.mac, bmc.hostname,
                                 bmc.manufacturer, bmc.model, bmc.serial, bmc.biosVersion, bmc.bmcFirmware,
                                 bmc.registeredAt, bmc.certificateSHA256, bmc.refusedSHA256, bmc.ownPassword])
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
                                 bmcFirmware: row["bmc_firmware"], registeredAt: row["registered_at"],
                                 certificateSHA256: row["certificate_sha256"], refusedSHA256: row["refused_sha256"],
                                 ownPassword: row["own_password"])
            }
        }
    }

    public func pinnedCertificate(name: String) throws -> String? {
        try writer.read { db in
            try String.fetchOne(db, sql: "SELECT certificate_sha256 FROM bmc WHERE name = ?", arguments: [name])
        }
    }

    public func refuse(name: String, presented: String, event: ZoneEvent) throws -> Bool {
        let body = try SQLiteEventOutbox.body(event)
        return try writer.writeWithoutFlush { db in
            try db.execute(sql: """
                UPDATE bmc SET refused_sha256 = ? WHERE name = ? AND refused_sha256 IS NOT ?
                """, arguments: [presented, name, presented])
            guard db.changesCount == 1 else { return false }
            try SQLiteEventOutbox.insert([event], bodies: [body], db)
            return true
        }
    }

    public func forgetCertificate(name: String) throws -> Bool {
        try writer.write { db in
            try db.execute(sql: "UPDATE bmc SET certificate_sha256 = NULL, refused_sha256 = NULL WHERE name = ?",
                           arguments: [name])
            return db.changesCount == 1
        }
    }
}
