import Foundation
import Synchronization

/// Whether a log line about one kind of event is due: the first of each kind at once, then at
/// most one line per kind every `interval` seconds, which says how many went unlogged meanwhile.
/// A client that repeats a refused request thousands of times a second costs a few lines, not a flood.
final class BoundedLogRate: Sendable {
    private struct Kind { var lastLogged: Int64; var unlogged: Int }
    private let kinds = Mutex<[String: Kind]>([:])
    private let interval: Int64

    init(interval: Int64 = 10) { self.interval = interval }

    /// How many of `kind` went unlogged since its last line, when a line is due; else nil (and it is counted).
    func due(_ kind: String, now: Int64 = Int64(Date().timeIntervalSince1970)) -> Int? {
        kinds.withLock { table in
            var entry = table[kind] ?? Kind(lastLogged: .min, unlogged: 0)
            defer { table[kind] = entry }
            guard entry.lastLogged == .min || now - entry.lastLogged >= interval else {
                entry.unlogged += 1
                return nil
            }
            let unlogged = entry.unlogged
            entry = Kind(lastLogged: now, unlogged: 0)
            return unlogged
        }
    }
}
