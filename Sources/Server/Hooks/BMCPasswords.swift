import Foundation

/// Per-BMC passwords set by redfish-register (`password: rotate`): one file per BMC,
/// `<state>/bmc-passwords/<name>.json`, mode 0600 in a 0700 folder, written before the BMC is
/// asked to take the password, so that a crash in between never loses the one it has.
struct BMCPasswords: Sendable {
    let folder: String

    init(stateDirectory: String) { folder = (stateDirectory as NSString).appendingPathComponent("bmc-passwords") }

    struct Entry: Sendable, Codable, Equatable {
        var username: String
        var password: String
        /// `pending`: written, not yet confirmed by the BMC (it may have either password);
        /// `current`: the BMC took it.
        var state: State
        enum State: String, Sendable, Codable { case pending, current }
    }

    enum Problem: Error, CustomStringConvertible {
        case unsafeName(String)
        case unwritable(String, Int32)
        case unreadable(String)

        var description: String {
            switch self {
            case .unsafeName(let name): "\(name.debugDescription) is no file name: its password is not kept"
            case .unwritable(let path, let code): "cannot write \(path): \(String(cString: strerror(code)))"
            case .unreadable(let path): "\(path) is not a password entry (JSON with username, password and state)"
            }
        }
    }

    /// Zone names are DNS labels joined by dots; anything else is refused rather than made a path.
    private func path(_ name: String) throws(Problem) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.".utf8)
        guard !name.isEmpty, name.utf8.count <= 200, !name.hasPrefix("."), name.utf8.allSatisfy(allowed.contains) else {
            throw .unsafeName(name)
        }
        return (folder as NSString).appendingPathComponent("\(name).json")
    }

    /// The entry for the BMC named `name`, nil if none was ever written.
    func entry(_ name: String) throws(Problem) -> Entry? {
        let path = try path(name)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard let entry = try? JSONDecoder().decode(Entry.self, from: data) else { throw .unreadable(path) }
        return entry
    }

    /// Replaces the entry: a new file of mode 0600 from the start (never readable by others,
    /// not even for a moment), flushed, then renamed over the old one.
    func save(_ entry: Entry, for name: String) throws(Problem) {
        let path = try path(name)
        mkdir(folder, 0o700)
        let temporary = path + ".new"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .unwritable(temporary, errno) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = Array((try? encoder.encode(entry)) ?? Data())
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let flushed = fsync(descriptor) == 0
        let code = errno
        close(descriptor)
        guard written == bytes.count, flushed, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw .unwritable(path, code)
        }
        let directory = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    /// 20 characters of upper and lower case letters and digits, at least one of each: within
    /// the length and character rules of iLO and iDRAC accounts.
    static func generate() -> String {
        let upper = Array("ABCDEFGHJKLMNPQRSTUVWXYZ"), lower = Array("abcdefghijkmnopqrstuvwxyz"), digits = Array("23456789")
        let all = upper + lower + digits
        var generator = SystemRandomNumberGenerator()
        while true {
            let password = String((0..<20).map { _ in all[Int.random(in: 0..<all.count, using: &generator)] })
            if password.contains(where: upper.contains) && password.contains(where: lower.contains)
                && password.contains(where: digits.contains) {
                return password
            }
        }
    }
}
