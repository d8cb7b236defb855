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

    /// `directory` from the root, as a saved plan keeps it (apply may run elsewhere).
    var absoluteDirectory: String { URL(fileURLWithPath: directory).standardizedFileURL.path }

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

    /// The latest applied revision, loaded for a plan against `next` (PlanBase: the pods
    /// whose text did not change are not expanded again).
    func base(_ stored: StoredRevision, decoded: PlanBase.Decoded, reusing next: ZoneRevision) throws -> PlanBase {
        do {
            return try PlanBase.load(decoded, reusing: next)
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
    // Where a store exists, its latest revision is read on another thread while the zone file
    // loads here. Without one, nothing is opened before the zone file is known to load, as before.
    let storeExists = FileManager.default.fileExists(
        atPath: (options.directory as NSString).appendingPathComponent(ZoneBootDatabase.fileName))
    let read = storeExists ? LatestRevisionRead(directory: options.directory) : nil
    let revision = try loadZoneOrExit(path)
    guard FileManager.default.fileExists(atPath: options.directory) else {
        let plan = ZonePlan(from: nil, fromRevision: nil, to: revision)
        return (plan, revision, "nothing: there is no state directory \(options.directory) (pass --state DIR, or apply to create it)",
                nil)
    }
    let latest: (StoredRevision, PlanBase.Decoded)?
    if let read { latest = try read.wait() } else { latest = try options.openRevisions().latest().map { ($0, PlanBase.Decoded($0.source)) } }
    // Expanded after the zone file loaded, whose identities it reuses where a pod did not change.
    let base = try latest.map { try options.base($0.0, decoded: $0.1, reusing: revision) }
    let latestSummary = latest?.0.summary
    let plan = ZonePlan(against: base, fromRevision: latestSummary?.id, to: revision)
    return (plan, revision, latestSummary?.label ?? "an empty store (\(options.directory))", latestSummary?.id)
}

/// The store's latest revision, read and decoded for a plan base on another thread, while
/// the zone file loads on this one; `wait` gives it, or reports its error (only then, so
/// that the zone file's errors come first).
private final class LatestRevisionRead: @unchecked Sendable {
    struct Failure: Error { var message: String }

    // Written once by the reading thread before `done` is signalled, read after.
    private var result: Result<(StoredRevision, PlanBase.Decoded)?, any Error> = .success(nil)
    private let done = DispatchSemaphore(value: 0)

    init(directory: String) {
        Thread.detachNewThread { [self] in
            result = Result {
                let store: SQLiteRevisionStore
                do { store = try SQLiteRevisionStore(stateDirectory: directory) } catch { throw Failure(message: "\(error)") }
                return try store.latest().map { ($0, PlanBase.Decoded($0.source)) }
            }
            done.signal()
        }
    }

    func wait() throws -> (StoredRevision, PlanBase.Decoded)? {
        done.wait()
        do { return try result.get() } catch let failure as Failure { throw fail(failure.message) }
    }
}
