import Foundation

/// A file that holds a secret: a regular file (not a symbolic link, FIFO or device), owned
/// by the user running this process or by root, that group and others cannot read (mode
/// 0600 or stricter). The admin token file and `secret-file` zone values are read through
/// it: a secret anyone else on the host can read or replace protects nothing.
public enum OwnerOnlyFile {
    public enum Problem: Error, Equatable {
        case unreadable(reason: String)
        case notRegularFile(kind: String)
        case wrongOwner(owner: UInt32, expected: UInt32)
        case tooOpen(mode: String)
        case tooLarge(limit: Int)
    }

    /// Reads the file after checking it: on the path (without following a symbolic link),
    /// and again on the file opened, so a file swapped in between is refused, not read.
    public static func contents(path: String, maximumSize: Int) -> Result<[UInt8], Problem> {
        var info = stat()
        guard lstat(path, &info) == 0 else { return .failure(.unreadable(reason: String(cString: strerror(errno)))) }
        if let problem = check(info) { return .failure(problem) }
        // O_NONBLOCK: a FIFO swapped in after the check must not hang the open; O_NOFOLLOW: nor a link.
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return .failure(.unreadable(reason: String(cString: strerror(errno)))) }
        defer { close(descriptor) }
        guard fstat(descriptor, &info) == 0 else { return .failure(.unreadable(reason: String(cString: strerror(errno)))) }
        if let problem = check(info) { return .failure(problem) }
        return readAll(descriptor, maximumSize: maximumSize)
    }

    /// A regular file, owned by whoever runs this process or root, that group and others cannot read.
    private static func check(_ info: stat) -> Problem? {
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else { return .notRegularFile(kind: describe(fileType: type)) }
        let user = geteuid()
        guard info.st_uid == user || info.st_uid == 0 else {
            return .wrongOwner(owner: UInt32(info.st_uid), expected: UInt32(user))
        }
        let permissions = info.st_mode & 0o777
        guard permissions & 0o077 == 0 else { return .tooOpen(mode: String(permissions, radix: 8)) }
        return nil
    }

    private static func describe(fileType type: mode_t) -> String {
        switch type {
        case S_IFLNK: "a symbolic link"
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }

    private static func readAll(_ descriptor: Int32, maximumSize: Int) -> Result<[UInt8], Problem> {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.unreadable(reason: String(cString: strerror(errno))))
            }
            if count == 0 { return .success(bytes) }
            bytes += chunk[..<count]
            if bytes.count > maximumSize { return .failure(.tooLarge(limit: maximumSize)) }
        }
    }
}

extension OwnerOnlyFile.Problem {
    /// What is wrong with the file at `path` (named `what`: "the token file", "the secret file").
    public func message(_ what: String, _ path: String) -> String {
        switch self {
        case .unreadable(let reason): "cannot read \(what) \(path): \(reason)"
        case .notRegularFile(let kind): "\(what) \(path) is \(kind): it must be a regular file (not a symbolic link, FIFO or device)"
        case .wrongOwner(let owner, let expected):
            "\(what) \(path) is owned by uid \(owner): it must belong to the user running zonebootd (uid \(expected)) or root "
                + "(chown \(expected) \(path))"
        case .tooOpen(let mode): "\(what) \(path) has mode \(mode): group and others must not read it (chmod 600 \(path))"
        case .tooLarge(let limit): "\(what) \(path) is larger than \(limit) bytes"
        }
    }
}
