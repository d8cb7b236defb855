import Foundation
import GRDB

extension SQLiteRevisionStore {
    /// The revisions of the state directory's database opened read-only: nothing created,
    /// migrated or written (`zonebootd --check`). Nil when the directory holds no database yet.
    ///
    /// A read-only connection to a WAL database creates its `-wal` and `-shm` files when they
    /// are missing (and, read-only, cannot remove them). Without a `-wal` file every committed
    /// change is in the database file itself, so it is opened `immutable` instead (an SQLite
    /// URI: no locks, no side files); with one (a server running, or one that stopped
    /// without checkpointing) those files exist already and are only read.
    public static func readOnly(stateDirectory: String) throws -> SQLiteRevisionStore? {
        let path = (stateDirectory as NSString).appendingPathComponent(ZoneBootDatabase.fileName)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        if !FileManager.default.fileExists(atPath: path + "-wal"),
           let encoded = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed),
           let immutable = try? DatabaseQueue(path: "file:\(encoded)?immutable=1", configuration: configuration),
           (try? immutable.read { db in try db.tableExists("revision") }) == true {
            return SQLiteRevisionStore(writer: immutable)
        }
        do {
            return SQLiteRevisionStore(writer: try DatabaseQueue(path: path, configuration: configuration))
        } catch {
            throw StoreError.cannotOpen(path: path, reason: "\(error)")
        }
    }
}
