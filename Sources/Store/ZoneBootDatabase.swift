import Foundation
import GRDB

/// The embedded store: one SQLite file in the state directory holding revisions,
/// leases and the event outbox, so that a change and the event describing it commit
/// in one transaction.
///
/// WAL lets `zonectl` read and write while `zonebootd` runs; `synchronous = FULL`
/// means a commit is on disk when it returns.
public enum ZoneBootDatabase {
    public static let fileName = "zoneboot.sqlite"

    public static func open(stateDirectory: String) throws -> DatabasePool {
        do {
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw StoreError.cannotOpen(path: stateDirectory, reason: "cannot create the state directory: \(error.localizedDescription)")
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let path = (stateDirectory as NSString).appendingPathComponent(fileName)
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            try migrator.migrate(pool)
            return pool
        } catch {
            throw StoreError.cannotOpen(path: path, reason: "\(error)")
        }
    }

    /// Every schema change, in order. Migrations are never edited once released: add one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("revisions-v1") { db in
            try db.execute(sql: """
                CREATE TABLE revision (
                    id INTEGER PRIMARY KEY,             -- 1, 2, 3, ...: the revision number operators see
                    zone TEXT NOT NULL,
                    digest TEXT NOT NULL,               -- of the source, to tell "no change"
                    created_at TEXT NOT NULL,           -- ISO 8601, UTC
                    author TEXT NOT NULL,
                    message TEXT,
                    based_on INTEGER,                   -- the revision the plan was made against
                    summary TEXT NOT NULL,              -- "3 added, 1 changed, 0 removed"
                    source TEXT NOT NULL                -- the zone file and its templates, JSON
                );
                """)
        }
        migrator.registerMigration("leases-v1") { db in
            try db.execute(sql: """
                CREATE TABLE lease (
                    address INTEGER PRIMARY KEY,        -- IPv4 as a 32-bit number
                    mac BLOB NOT NULL,
                    client_id BLOB,
                    pod TEXT NOT NULL,
                    switch TEXT,                        -- with port: the declared location, NULL for discovery
                    port TEXT,
                    name TEXT,
                    state TEXT NOT NULL,
                    expires_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                CREATE TABLE event (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- the idempotency key hooks see
                    type TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    body TEXT NOT NULL,                    -- the event as JSON
                    delivered_at INTEGER,
                    attempts INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX event_undelivered ON event(id) WHERE delivered_at IS NULL;
                """)
        }
        // What the lease holder said it is, and whether that fits its port (see RecognizedDevice).
        migrator.registerMigration("lease-device-v1") { db in
            try db.execute(sql: """
                ALTER TABLE lease ADD COLUMN device_kind TEXT;       -- onie, cumulus, hpe-ilo, pxe, ... (DeviceKind)
                ALTER TABLE lease ADD COLUMN device_model TEXT;      -- model, or ONIE's platform
                ALTER TABLE lease ADD COLUMN device_serial TEXT;
                ALTER TABLE lease ADD COLUMN miscabled INTEGER NOT NULL DEFAULT 0;  -- kind does not fit the port's role
                """)
        }
        migrator.registerMigration("hooks-v1") { db in
            try db.execute(sql: """
                -- The outbox's delivery state: one row per event, whichever hooks it goes to.
                ALTER TABLE event ADD COLUMN next_attempt_ms INTEGER NOT NULL DEFAULT 0;  -- not before (Unix ms)
                ALTER TABLE event ADD COLUMN claimed_ms INTEGER;     -- a runner is delivering it; cleared on startup
                ALTER TABLE event ADD COLUMN dead_at INTEGER;        -- dead letter since (Unix s): no more tries
                ALTER TABLE event ADD COLUMN last_error TEXT;
                ALTER TABLE event ADD COLUMN done_hooks TEXT NOT NULL DEFAULT '';  -- hooks that succeeded, one per line
                CREATE INDEX event_due ON event(next_attempt_ms, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
                -- The expiry a lease.expired event was written for: once per lease, and again after a renewal.
                ALTER TABLE lease ADD COLUMN expiry_reported INTEGER;
                -- What a BMC's Redfish service told about it and its system (redfish-register).
                CREATE TABLE bmc (
                    name TEXT PRIMARY KEY,           -- the BMC's zone name, now also its hostname
                    address INTEGER NOT NULL,        -- IPv4 as a 32-bit number
                    mac TEXT NOT NULL,
                    hostname TEXT,                   -- as the BMC reports it after registration
                    manufacturer TEXT,
                    model TEXT,
                    serial TEXT,
                    bios_version TEXT,
                    bmc_firmware TEXT,
                    registered_at INTEGER NOT NULL   -- Unix s
                );
                """)
        }
        // The undeclared port a discovery lease was asked from (see Lease.askedFrom).
        migrator.registerMigration("lease-asked-from-v1") { db in
            try db.execute(sql: """
                ALTER TABLE lease ADD COLUMN asked_switch TEXT;
                ALTER TABLE lease ADD COLUMN asked_port TEXT;
                """)
        }
        // Per-host bootstrap secrets (Store/BootstrapSecretStore.swift): states and fingerprints, never a secret.
        migrator.registerMigration("bootstrap-secrets-v1") { db in
            try db.execute(sql: """
                CREATE TABLE bootstrap_secret (
                    host TEXT NOT NULL,
                    name TEXT NOT NULL,                 -- the profile's bootstrap-secrets key
                    kind TEXT NOT NULL,                 -- rsa-key, token
                    state TEXT NOT NULL,                -- issued, used (expired: issued past expires_at)
                    generation INTEGER NOT NULL,        -- issues so far: a serve compares and sets it
                    issued_at INTEGER NOT NULL,         -- Unix s
                    expires_at INTEGER NOT NULL,
                    mac TEXT NOT NULL,                  -- the lease holder it was issued or served to
                    served_at INTEGER,
                    served_to INTEGER,                  -- IPv4 as a 32-bit number
                    fingerprint TEXT,                   -- sha256:<hex> of the public key or the token
                    PRIMARY KEY (host, name)
                );
                """)
        }
        // A BMC's pinned certificate (redfish-register, tls: accept-self-signed), the last other
        // one it presented (refused; its bmc.certificate-changed event is written once), and
        // whether it has a password of its own (password: rotate; the password is not here).
        migrator.registerMigration("bmc-certificate-pin-v1") { db in
            try db.execute(sql: """
                ALTER TABLE bmc ADD COLUMN certificate_sha256 TEXT;  -- AB:CD:..., of the leaf's DER; NULL: none pinned
                ALTER TABLE bmc ADD COLUMN refused_sha256 TEXT;      -- the last certificate refused for not being the pinned one
                ALTER TABLE bmc ADD COLUMN own_password INTEGER NOT NULL DEFAULT 0;  -- 1: logs in with its own (rotated) password
                """)
        }
        // Where each revision came from (RevisionOrigin): SIGHUP applies the zone file only
        // over a revision that came from it. Earlier rows are told apart by their author.
        migrator.registerMigration("revision-origin-v1") { db in
            try db.execute(sql: """
                ALTER TABLE revision ADD COLUMN origin TEXT;
                UPDATE revision SET origin = CASE
                    WHEN author IN ('zonebootd', 'zonebootd (SIGHUP)') THEN 'file'
                    WHEN message LIKE 'rollback to revision %' THEN 'rollback'
                    ELSE 'apply' END;
                """)
        }
        return migrator
    }
}

extension DatabaseWriter {
    /// A transaction that is not flushed to disk on commit (WAL, `synchronous = NORMAL`): the
    /// next flushed commit, or a checkpoint, makes it durable. For the hook runner's
    /// bookkeeping (claims, delivery marks, BMC records, expiry marks): a power cut may undo
    /// some of it, and then the work is done again (at least once), while the DHCP path's
    /// lease commits, which do flush, never wait behind a flush of the runner's.
    func writeWithoutFlush<T>(_ updates: (Database) throws -> T) throws -> T {
        try writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            defer { try? db.execute(sql: "PRAGMA synchronous = FULL") }
            var result: T?
            try db.inTransaction {
                result = try updates(db)
                return .commit
            }
            guard let result else { preconditionFailure("a committed transaction produced no result") }
            return result
        }
    }
}

public enum StoreError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    /// The running revision moved since the plan was made (optimistic concurrency).
    case staleBase(planned: Int?, current: Int?)
    case noSuchRevision(Int)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open the store \(path): \(reason)"
        case .staleBase(let planned, let current):
            "the zone changed since this plan was made: planned against revision \(planned.map(String.init) ?? "none"), "
                + "now at \(current.map(String.init) ?? "none"); plan again"
        case .noSuchRevision(let id): "there is no revision \(id)"
        }
    }
}
