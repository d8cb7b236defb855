#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// sd_notify(3) without libsystemd: datagrams of `KEY=value` lines to the AF_UNIX socket
/// named by `NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace). Under a
/// `Type=notify` unit systemd waits for `READY=1`, and with `WatchdogSec` restarts the
/// service when `WATCHDOG=1` stops coming. Sending never fails the server: a datagram the
/// manager does not take is lost, as with sd_notify.
public final class SystemdNotifier: Sendable {
    /// Where `NOTIFY_SOCKET` points.
    public enum Address: Equatable, Sendable {
        case path(String)
        case abstract(String)

        /// nil for an unset or empty variable, a relative path, a name too long for
        /// `sun_path`, or another family (`vsock:`): nothing to notify.
        public init?(notifySocket: String?) {
            guard let value = notifySocket, let first = value.first else { return nil }
            switch first {
            case "/": self = .path(value)
            case "@": self = .abstract(String(value.dropFirst()))
            default: return nil
            }
            guard sunPath.count <= SystemdNotifier.sunPathCapacity else { return nil }
        }

        /// The bytes of `sun_path`: the path with its terminating NUL, or NUL and the abstract name (no terminator).
        var sunPath: [UInt8] {
            switch self {
            case .path(let path): Array(path.utf8) + [0]
            case .abstract(let name): [0] + Array(name.utf8)
            }
        }
    }

    static var sunPathCapacity: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) }

    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC` (as sd_watchdog_enabled
    /// advises), when `WATCHDOG_PID` is unset or names this process; nil: no watchdog.
    public static func watchdogInterval(usec: String?, pid: String?, ownPID: Int32) -> Duration? {
        guard let usec, let microseconds = UInt64(usec), microseconds > 0, microseconds <= UInt64(Int64.max / 1000) else {
            return nil
        }
        if let pid, Int32(pid) != ownPID { return nil }
        return .microseconds(Int64(microseconds / 2))
    }

    public let address: Address
    private let descriptor: Int32

    /// nil when `NOTIFY_SOCKET` names nothing usable or no socket could be made.
    public init?(environment: [String: String]) {
        guard let address = Address(notifySocket: environment["NOTIFY_SOCKET"]) else { return nil }
        #if canImport(Glibc)
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let descriptor = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        guard descriptor >= 0 else { return nil }
        self.address = address
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Sends one message (`READY=1\nSTATUS=...`); whether the socket took it.
    @discardableResult
    public func send(_ message: String) -> Bool {
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        let path = address.sunPath
        let length = withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            raw.copyBytes(from: path)
            return MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count
        }
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bytes.withUnsafeBytes { body in
                    sendto(descriptor, body.baseAddress, body.count, Int32(MSG_NOSIGNAL), address, socklen_t(length))
                }
            }
        }
        return sent == bytes.count
    }

    /// A `STATUS=` value on one line (systemctl status shows it).
    public static func status(_ text: String) -> String {
        "STATUS=" + text.map { $0 == "\n" ? " " : $0 }.reduce(into: "") { $0.append($1) }
    }
}
