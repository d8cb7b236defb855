import AdminAPI
import ArgumentParser
import Foundation
import Store
import Zone

/// Where the embedded store lives, shared by every command that reads or writes it.
struct StateOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("State directory with the applied revisions.",
                                            discussion: "Default: $ZONEBOOT_STATE, else /var/lib/zoneboot."))
    var state: String?

    var directory: String { Self.directory(state) }

    /// The state directory: the one given, else $ZONEBOOT_STATE, else /var/lib/zoneboot.
    static func directory(_ given: String?) -> String {
        given ?? ProcessInfo.processInfo.environment["ZONEBOOT_STATE"] ?? "/var/lib/zoneboot"
    }

    /// The state directory for a command that only reads it (or changes what is in it): one that
    /// does not exist is an error naming the ways to give another, never created (a typo in
    /// --state would otherwise read as "nothing here yet").
    func existingDirectory() throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw fail("there is no state directory \(directory): pass --state DIR or set ZONEBOOT_STATE, "
                       + "or --server URL (or ZONEBOOT_SERVER) to ask a running zonebootd")
        }
        guard isDirectory.boolValue else { throw fail("the state directory \(directory) is not a directory") }
        return directory
    }

    /// The revision store of an existing state directory (`existingDirectory`), for reads.
    func openExistingRevisions() throws -> SQLiteRevisionStore {
        _ = try existingDirectory()
        return try openRevisions()
    }

    func openRevisions() throws -> SQLiteRevisionStore {
        do {
            return try SQLiteRevisionStore(stateDirectory: directory)
        } catch {
            throw fail("\(error)")
        }
    }

    /// The latest applied revision, loaded again from its stored source.
    func latest(_ store: SQLiteRevisionStore) throws -> (StoredRevision, ZoneRevision)? {
        guard let stored = try store.latest() else { return nil }
        do {
            return (stored, try ZoneLoader.load(source: stored.source))
        } catch {
            throw fail("revision \(stored.summary.id) in \(directory) no longer loads:\n\(error.description)")
        }
    }
}

/// Colors only for a person at a terminal: not in pipes, not with --no-color or NO_COLOR.
func useColor(noColor: Bool) -> Bool {
    !noColor && ProcessInfo.processInfo.environment["NO_COLOR"] == nil && isatty(STDOUT_FILENO) == 1
}

/// Who applies: $ZONEBOOT_AUTHOR, else the login name, else the account running zonectl.
var currentAuthor: String {
    let env = ProcessInfo.processInfo.environment
    if let name = env["ZONEBOOT_AUTHOR"] ?? env["USER"] ?? env["LOGNAME"] { return name }
    if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
    return "uid \(getuid())"
}

/// The plan of a zone file against the store's latest revision. A state directory that does not
/// exist is not created (a plan only reads): the plan is against nothing, and says where it looked.
func makePlan(zone path: String, options: StateOptions) throws -> (ZonePlan, ZoneRevision, String, Int?) {
    let revision = try loadZoneOrExit(path)
    guard FileManager.default.fileExists(atPath: options.directory) else {
        let plan = ZonePlan(from: nil, fromRevision: nil, to: revision)
        return (plan, revision, "nothing: there is no state directory \(options.directory) (pass --state DIR, or apply to create it)",
                nil)
    }
    let store = try options.openRevisions()
    let latest = try options.latest(store)
    let plan = ZonePlan(from: latest?.1, fromRevision: latest?.0.summary.id, to: revision)
    return (plan, revision, latest?.0.summary.label ?? "an empty store (\(options.directory))", latest?.0.summary.id)
}
