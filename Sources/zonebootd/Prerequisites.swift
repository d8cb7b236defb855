import AdminAPI
import Addressing
import ArgumentParser
import Boot
import Foundation
import Server
import Store
import Zone

/// One thing zonebootd needs before it may serve, and what is wrong with it (nil: fine).
struct Prerequisite {
    var what: String
    /// What was found when fine ("zone ams1, revision 3 from the state directory, 120 identities").
    var found: String
    var problem: String?
}

extension ZoneBootD {
    /// The state directory given, else $ZONEBOOT_STATE, else /var/lib/zoneboot.
    var stateDirectory: String { state ?? ProcessInfo.processInfo.environment["ZONEBOOT_STATE"] ?? "/var/lib/zoneboot" }

    /// Everything `load()` and the listeners need, checked without writing or binding anything:
    /// the admin token file and TLS files, the firmware, the state directory, the zone (with
    /// `storedZone`, the stored revision a restart runs, read from the database opened
    /// read-only; the --zone file when there is none) and each listener's address and port.
    /// A start runs these first, so a start that cannot work writes nothing (no database, no
    /// revision 1); `--check` runs them and says what it found.
    func prerequisites(storedZone: Bool) -> [Prerequisite] {
        var checks: [Prerequisite] = []
        func check(_ what: String, _ body: () throws -> String) {
            do { checks.append(Prerequisite(what: what, found: try body())) } catch let error as ZoneLoadError {
                checks.append(Prerequisite(what: what, found: "", problem: error.description))
            } catch {
                checks.append(Prerequisite(what: what, found: "", problem: "\(error)"))
            }
        }
        check("admin tokens") {
            guard let adminTokenFile else { return "none (--admin-token-file): changes refused, reads from this host only" }
            let tokens = try AdminTokenFile(path: adminTokenFile).tokens
            return "\(adminTokenFile): \(tokens.count(.write)) write, \(tokens.count(.read)) read"
        }
        check("admin TLS") {
            guard try adminTLS.load() != nil else { return "none: the admin API speaks http" }
            return "\(adminTLS.adminTLSCert ?? "")" + (adminTLS.adminTLSClientCA.map { ", client certificates from \($0)" } ?? "")
        }
        check("firmware") {
            do {
                let loaders = try FirmwareManifest.load(directory: firmware).installedLoaders(directory: firmware)
                return "\(firmware): \(loaders.available.sorted().joined(separator: ", "))"
            } catch {
                guard !firmware.hasPrefix("/") else { throw error }
                let absolute = (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(firmware)
                throw PrerequisiteProblem("\(error) (--firmware \(firmware) is relative to the working directory: "
                                          + "\(absolute); pass an absolute --firmware, or run `make firmware` there)")
            }
        }
        let stored = storedRevisions(&checks)
        if storedZone || stored == nil {
            check("zone") {
                if let stored, let latest = try stored.latest() {
                    do {
                        let revision = try ZoneLoader.load(source: latest.source, secretsFolder: zoneFolder(zone),
                                                           withholdingChangedSecrets: true)
                        return "\(revision.zoneName) \(latest.summary.label) from \(stateDirectory): "
                            + "\(revision.identities.count) identities (the --zone file is used only by SIGHUP)"
                    } catch let error as ZoneLoadError {
                        throw PrerequisiteProblem("stored revision \(latest.summary.id) no longer loads:\n\(error.description)")
                    }
                }
                let revision = try ZoneLoader.load(path: zone)
                let warnings = revision.warnings.isEmpty ? "" : ", \(revision.warnings.count) warnings (`zonectl validate`)"
                return "\(zone): \(revision.zoneName), \(revision.identities.count) identities\(warnings); recorded as revision 1 at start"
            }
        }
        checks += listenerChecks()
        return checks
    }

    /// The state directory: usable where it is, or creatable; its database opened read-only when there.
    private func storedRevisions(_ checks: inout [Prerequisite]) -> SQLiteRevisionStore? {
        let directory = stateDirectory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            var parent = (directory as NSString).deletingLastPathComponent
            while !parent.isEmpty, !FileManager.default.fileExists(atPath: parent) {
                parent = (parent as NSString).deletingLastPathComponent
            }
            let writable = access(parent.isEmpty ? "." : parent, W_OK | X_OK) == 0
            checks.append(Prerequisite(what: "state directory", found: "\(directory): created at start",
                                       problem: writable ? nil : "\(directory) does not exist and \(parent) is not writable "
                                           + "by this user: create it (mode 0700) or pass another --state"))
            return nil
        }
        guard isDirectory.boolValue else {
            checks.append(Prerequisite(what: "state directory", found: "",
                                       problem: "\(directory) is not a directory: pass another --state"))
            return nil
        }
        guard access(directory, R_OK | W_OK | X_OK) == 0 else {
            checks.append(Prerequisite(what: "state directory", found: "",
                                       problem: "\(directory) is not readable and writable by this user: fix its owner or mode"))
            return nil
        }
        do {
            let store = try SQLiteRevisionStore.readOnly(stateDirectory: directory)
            checks.append(Prerequisite(what: "state directory", found: "\(directory)" + (store == nil ? ": no database yet" : "")))
            return store
        } catch {
            checks.append(Prerequisite(what: "state directory", found: "", problem: "\(error)"))
            return nil
        }
    }

    /// Every socket the server would bind: its address must be this host's, its port free, and a
    /// port below 1024 needs root or CAP_NET_BIND_SERVICE.
    private func listenerChecks() -> [Prerequisite] {
        var sockets: [PlannedSocket] = []
        for address in listen {
            if direct == nil { sockets.append(.init(what: "DHCP", udp: true, address: address, port: dhcpPort, flag: "--dhcp-port")) }
            if proxyDHCP {
                sockets.append(.init(what: "proxyDHCP boot server", udp: true, address: address, port: bootServerPort,
                                     flag: "--boot-server-port"))
            }
            if httpPort != 0 { sockets.append(.init(what: "HTTP", udp: false, address: address, port: httpPort, flag: "--http-port")) }
            if tftp.tftpPort != 0 {
                sockets.append(.init(what: "TFTP", udp: true, address: address, port: tftp.tftpPort, flag: "--tftp-port"))
            }
        }
        if adminPort != 0 {
            sockets.append(.init(what: "the admin API", udp: false, address: adminListen, port: adminPort, flag: "--admin-port"))
        }
        let local = LocalAddresses.current()
        let taken = TakenPorts.current()
        let unprivilegedFrom = LocalAddresses.unprivilegedPortStart()
        var checks = sockets.map { socket in
            Prerequisite(what: "\(socket.what) listener", found: "\(socket.udp ? "udp" : "tcp") \(socket.address):\(socket.port)",
                         problem: socket.problem(local: local, taken: taken, unprivilegedFrom: unprivilegedFrom))
        }
        if direct != nil, let names = try? directInterfaces() {
            let missing = names.filter { if_nametoindex($0) == 0 }
            checks.append(Prerequisite(what: "direct-mode interfaces", found: "\(names.count) interfaces",
                                       problem: missing.isEmpty ? nil
                                           : "no interface named \(missing.prefix(5).joined(separator: ", ")) on this host (--interfaces)"))
        }
        return checks
    }

    /// `zonebootd --check`: every prerequisite, one line each, then exit 0 when all are met.
    func runCheck() throws {
        let checks = prerequisites(storedZone: true)
        for check in checks {
            if let problem = check.problem {
                print("FAIL  \(check.what): " + problem.trimmingCharacters(in: .newlines).replacingOccurrences(of: "\n", with: "\n      "))
            } else {
                print("ok    \(check.what): \(check.found)")
            }
        }
        let failed = checks.filter { $0.problem != nil }.count
        if failed > 0 {
            print("\(failed) of \(checks.count) checks failed: zonebootd would not start")
            throw ExitCode.failure
        }
        print("all \(checks.count) checks passed: zonebootd would start (nothing was bound or written)")
    }

    /// Before `load()` writes anything: the checks a start needs, the stored zone left to `load()`
    /// (it writes nothing when a revision is stored). Throws every problem found, named with its fix.
    func requirePrerequisites() throws {
        let problems = prerequisites(storedZone: false).compactMap { check in
            check.problem.map { check.what == "zone" ? $0 : "\(check.what): \($0)" }
        }
        if !problems.isEmpty { throw PrerequisiteProblem(problems.joined(separator: "\n")) }
    }
}

/// Why a start cannot go on, as the operator reads it.
struct PrerequisiteProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A socket a listener would bind.
struct PlannedSocket {
    var what: String
    var udp: Bool
    var address: String
    var port: Int
    var flag: String

    func problem(local: LocalAddresses, taken: TakenPorts, unprivilegedFrom: Int) -> String? {
        let listenFlag = what == "the admin API" ? "--admin-listen" : "--listen"
        let cannot = what == "the admin API" ? "cannot listen for the admin API on \(address):\(port)"
            : "cannot listen for \(what) on port \(port)"
        guard (0...65535).contains(port) else { return "\(cannot): \(flag) \(port) is not a port number" }
        guard let ip = IPv4Address(address), local.contains(ip) else {
            return "\(cannot): \(address) is not an address of this host (\(listenFlag)); its addresses: "
                + local.addresses.map(\.description).joined(separator: ", ")
        }
        if let holder = taken.holder(udp: udp, address: ip, port: port) {
            return "\(cannot): \(holder) already \(udp ? "holds" : "listens on") \(udp ? "udp" : "tcp") port \(port) "
                + "(another server, or another zonebootd?): stop it, or choose another \(flag)"
        }
        if port > 0, port < unprivilegedFrom, !LocalAddresses.mayBindPrivilegedPorts {
            return "\(cannot): ports below \(unprivilegedFrom) need root or CAP_NET_BIND_SERVICE; run as root, "
                + "grant the capability (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE), or choose \(flag) above \(unprivilegedFrom - 1)"
        }
        return nil
    }
}

/// This host's IPv4 addresses (getifaddrs), as bind(2) accepts them.
struct LocalAddresses {
    var addresses: [IPv4Address]
    var loopbackUp: Bool

    static func current() -> LocalAddresses {
        var found: [IPv4Address] = []
        var loopbackUp = false
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return LocalAddresses(addresses: [], loopbackUp: true) }
        defer { freeifaddrs(list) }
        var entry = list
        while let current = entry {
            defer { entry = current.pointee.ifa_next }
            guard let socketAddress = current.pointee.ifa_addr, socketAddress.pointee.sa_family == sa_family_t(AF_INET) else {
                continue
            }
            let value = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            let address = IPv4Address(value)
            found.append(address)
            if value >> 24 == 127, current.pointee.ifa_flags & UInt32(IFF_UP) != 0 { loopbackUp = true }
        }
        return LocalAddresses(addresses: found, loopbackUp: loopbackUp)
    }

    /// The wildcard, an interface's address, or any of 127.0.0.0/8 while loopback is up (Linux routes it all locally);
    /// any address where net.ipv4.ip_nonlocal_bind lets a server bind one it does not hold yet (a VIP).
    func contains(_ address: IPv4Address) -> Bool {
        address.value == 0 || addresses.contains(address) || (address.value >> 24 == 127 && loopbackUp)
            || Self.nonlocalBind
    }

    static let nonlocalBind = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_nonlocal_bind", encoding: .utf8))
        .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) == "1" } ?? false

    /// net.ipv4.ip_unprivileged_port_start (1024 unless changed).
    static func unprivilegedPortStart() -> Int {
        (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_unprivileged_port_start", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 1024
    }

    /// Root, or CAP_NET_BIND_SERVICE (bit 10) among the effective capabilities.
    static var mayBindPrivilegedPorts: Bool {
        if geteuid() == 0 { return true }
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16) else {
            return false
        }
        return mask & (1 << 10) != 0
    }
}

/// The IPv4 sockets of this network namespace (/proc/net/tcp and udp): TCP listeners and bound
/// UDP sockets, read rather than bound so that `--check` changes nothing. Another UDP socket
/// on the very address and port takes requests meant for this server (both set SO_REUSEADDR);
/// a TCP listener on the address or the wildcard makes bind fail.
struct TakenPorts {
    struct Socket: Equatable {
        var address: UInt32
        var port: Int
    }

    var tcpListeners: [Socket]
    var udpSockets: [Socket]

    static func current() -> TakenPorts {
        TakenPorts(tcpListeners: parse(file: "/proc/net/tcp", listenersOnly: true),
                   udpSockets: parse(file: "/proc/net/udp", listenersOnly: false))
    }

    /// Lines of `sl local_address rem_address st ...`, the address in hex as the kernel stores it (s_addr printed as a native integer).
    static func parse(file: String, listenersOnly: Bool) -> [Socket] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 3 else { return nil }
            if listenersOnly, fields[3] != "0A" { return nil }
            let local = fields[1].split(separator: ":")
            guard local.count == 2, let raw = UInt32(local[0], radix: 16), let port = Int(local[1], radix: 16) else { return nil }
            return Socket(address: UInt32(bigEndian: raw), port: port)
        }
    }

    /// Who holds the port for `address` already, in words; nil when it is free.
    func holder(udp: Bool, address: IPv4Address, port: Int) -> String? {
        if udp {
            return udpSockets.contains(Socket(address: address.value, port: port)) ? "a socket on \(address)" : nil
        }
        guard let found = tcpListeners.first(where: { $0.port == port && ($0.address == address.value || $0.address == 0
                                                                          || address.value == 0) }) else { return nil }
        return "a listener on \(IPv4Address(found.address))"
    }
}
