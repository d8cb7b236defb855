import AdminAPI
import Addressing
import ArgumentParser
import Boot
import Foundation
import Logging
import NIOCore
import NIOPosix
import Server
import ServiceLifecycle
import Synchronization
import UnixSignals
import Store
import Zone

@main
struct ZoneBootD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zonebootd",
        abstract: "Serve a zone: answer DHCPv4 with location-based identities, and serve what machines boot.",
        discussion: """
            Loads and expands the zone file, keeps leases durable in the state directory, and \
            answers DHCP (and HTTP) on the addresses named with --listen (127.0.0.1 unless told otherwise: \
            like Kea, it listens on real interfaces only where the operator names them). Relayed \
            requests are answered only when their giaddr is in a pod's `relays` and they come from \
            one of that pod's `relay-sources` (by default the relays themselves); every other \
            request that claims a location is dropped and counted by reason in the counters file.

            The running revision comes from the state directory (with --etcd, from etcd, shared by \
            every host of the zone): at start, the latest applied revision wins; with none, the zone \
            file is recorded as revision 1. Changes arrive \
            through the admin API (`zonectl apply --server`) or SIGHUP, which re-reads the zone \
            file through the same path: validate, plan, record, swap (a broken file is rejected \
            and the running revision kept). SIGHUP applies the file only when the running revision \
            came from it, never over a `zonectl apply` or rollback (--reload-overrides-api forces it); SIGHUP also re-reads --admin-token-file (a broken one keeps \
            the tokens read before). SIGTERM and SIGINT stop after in-flight writes.

            Exit status: 0 stopped by SIGTERM or SIGINT (or --check found nothing wrong); 1 it could not \
            start or failed (the reason is logged), or --check found a problem; 64 a mistake in the command line.
            """,
        version: ZoneBootVersion.text)

    @Option(help: "The zone file (YAML).")
    var zone: String

    @Option(help: "State directory for leases and revisions (default: $ZONEBOOT_STATE or /var/lib/zoneboot).")
    var state: String?

    @Option(name: .customLong("listen"), help: "Address to answer DHCP on; repeat for several.")
    var listen: [String] = ["127.0.0.1"]

    @Option(help: "UDP port for DHCP.")
    var dhcpPort: Int = 67

    @Option(help: ArgumentHelp("Direct mode: this host is the switch POD/SWITCH of the zone, e.g. p01/tor-a.",
                               discussion: "Requests on --interfaces are placed by the port they came in on."))
    var direct: String?

    @Option(help: "Direct mode: the switch ports to answer on, as in the zone file (swp1-swp48), comma-separated.")
    var interfaces: String?

    @Option(help: "Server identifier (option 54), the address clients renew with (default: the first --listen address).")
    var serverID: String?

    @Option(help: "Requests per second one MAC may make; more are dropped and counted (0: no cap).")
    var maxRequestsPerMAC = 20

    @Option(help: "Requests per second one relay port may carry; more are dropped and counted (0: no cap).")
    var maxRequestsPerCircuit = 40

    @Option(help: ArgumentHelp("host.* events (replaced, discovered, miscabled) one port may record per minute (0: no cap).",
                               discussion: "Past it the lease is still granted; the event is left out and counted (host_events_suppressed)."))
    var maxHostEventsPerPort = 6

    @Option(help: ArgumentHelp("Discovery addresses the machines on one undeclared port may hold at once (0: no cap).",
                               discussion: "More are dropped and counted (discovery-port-full): one port cycling MACs cannot drain its pod's range."))
    var maxDiscoveryLeasesPerPort = 8

    @Option(help: ArgumentHelp("Milliseconds between the starts of two lease commits, unless \(DHCPServer.Configuration.commitBatchLimit) leases wait (0: commit at once).",
                               discussion: """
                                   One fsync then serves every request of the interval: at a steady few thousand \
                                   requests a second, most of a DORA's CPU was its own commit. An ACK still leaves only \
                                   once its lease is on disk; a request that finds the writer idle is written at once.
                                   """))
    var commitIntervalMs = DHCPServer.Configuration.defaultCommitIntervalMs

    @Option(help: "Where to write counters as JSON every second (default: <state>/dhcp-counters.json).")
    var countersFile: String?

    @Flag(help: ArgumentHelp("proxyDHCP: another DHCP server gives addresses; answer network boot clients only, with boot information, never an address.",
                             discussion: "Boot requests are also answered on the PXE boot server port (--boot-server-port)."))
    var proxyDHCP = false

    @Option(help: "proxyDHCP: UDP port of the PXE boot server.")
    var bootServerPort = Int(DHCPPolicy.bootServerPort)

    @Option(help: "TCP port for HTTP: boot scripts, profile files, loaders, files (0: no HTTP).")
    var httpPort: Int = 80

    @Option(help: ArgumentHelp("The firmware directory: manifest.json and the loaders in cache/ (`make firmware`).",
                               discussion: "Every loader the manifest lists must be there; PXE clients get them over TFTP and UEFI HTTP boot at /loaders/<file>."))
    var firmware: String = "firmware"

    @Option(help: "A directory served at /files/ over HTTP (kernels, initrds, images), with Range and HEAD.")
    var files: String?

    @OptionGroup(title: "TFTP")
    var tftp: TFTPOptions

    @OptionGroup(title: "HTTP limits")
    var http: HTTPLimitOptions

    @OptionGroup(title: "Hooks")
    var hooks: HookOptions

    @Option(help: "Address of the admin API (plan, apply, history, rollback, hosts, leases).")
    var adminListen = "127.0.0.1"

    @Option(help: "TCP port of the admin API (0: no admin API).")
    var adminPort = AdminAPI.defaultPort

    @Option(help: ArgumentHelp("File of admin API bearer tokens, `name:token` (write) or `name:read:token` lines; mode 0600.",
                               discussion: """
                                   Reads (plan, hosts, leases, history, the boot port's inventory) need a read or write \
                                   token, apply and rollback a write token. Without it nothing can be changed and reads \
                                   are answered to clients on this host only. The name is recorded in history. A regular \
                                   file owned by the user running zonebootd (or root); re-read on SIGHUP.
                                   """))
    var adminTokenFile: String?

    @Option(help: ArgumentHelp("Seconds one zone may take to load and plan through the admin API or SIGHUP (0: no limit).",
                               discussion: "Past it the plan or apply is refused: \"the zone took longer than N s to load\"."))
    var zoneLoadTimeout: Double = Double(ZoneAdministrator.defaultLoadTimeout.components.seconds)

    @Flag(help: ArgumentHelp("SIGHUP applies the --zone file even when the running revision came from `zonectl apply` or rollback.",
                             discussion: "Without it such a SIGHUP is refused with a log line naming the revision and its author."))
    var reloadOverridesAPI = false

    @OptionGroup(title: "Admin API TLS")
    var adminTLS: AdminTLSOptions

    @OptionGroup(title: "Several hosts on etcd")
    var etcd: EtcdOptions

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.",
                               discussion: "info: a line per lease granted, released or declined, per hook run, per drop reason (rate-bounded); debug adds each DHCP message and HTTP request."))
    var logLevel: Logger.Level = .info

    @Option(help: ArgumentHelp("Log line format on standard error: text or json.",
                               discussion: "json: one object per line with level, time (RFC 3339, UTC), component, message and the line's keys."))
    var logFormat: LogFormat = .text

    @Flag(help: ArgumentHelp("Check every prerequisite (zone, state directory, tokens, TLS files, firmware, listeners' addresses and ports), print what was found, and exit: 0 when zonebootd would start, 1 when not.",
                             discussion: "Nothing is bound or written (the state database is opened read-only), like `kea-dhcp4 -t`."))
    var check = false

    func validate() throws {
        for address in listen where IPv4Address(address) == nil {
            throw ValidationError("--listen \(address) is not an IPv4 address")
        }
        guard (0...1000).contains(commitIntervalMs) else {
            throw ValidationError("--commit-interval-ms \(commitIntervalMs) is not a number of milliseconds from 0 to 1000")
        }
        if IPv4Address(adminListen) == nil { throw ValidationError("--admin-listen \(adminListen) is not an IPv4 address") }
        if !(zoneLoadTimeout >= 0 && zoneLoadTimeout <= 86_400) {
            throw ValidationError("--zone-load-timeout \(zoneLoadTimeout) is not a number of seconds from 0 to 86400")
        }
        if let serverID, IPv4Address(serverID) == nil { throw ValidationError("--server-id \(serverID) is not an IPv4 address") }
        if direct != nil {
            guard directSwitch != nil else { throw ValidationError("--direct takes POD/SWITCH, e.g. p01/tor-a") }
            guard interfaces != nil else { throw ValidationError("--direct needs --interfaces, e.g. swp1-swp48") }
            guard serverID != nil else { throw ValidationError("--direct needs --server-id: the switch's address clients see") }
            _ = try directInterfaces()
        }
    }

    var directSwitch: (pod: String, switch: String)? {
        let parts = direct?.split(separator: "/").map(String.init) ?? []
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    func directInterfaces() throws -> [String] {
        try (interfaces ?? "").split(separator: ",").flatMap { item -> [String] in
            switch PortRange.parse(String(item)) {
            case .success(let range): return range.names
            case .failure(let problem): throw ValidationError("--interfaces: " + problem.message(String(item)))
            }
        }
    }

    /// Load → build services → run. Every reason not to start (or to stop on a failure)
    /// ends here: logged, exit status 1.
    func run() async throws {
        let format = logFormat
        LoggingSystem.bootstrap { StandardErrorLogHandler(label: $0, format: format) }
        var logger = Logger(label: "zonebootd")
        logger.logLevel = logLevel
        if check { return try runCheck() }
        mapLargeAllocationsApart()
        // DHCP on one thread; HTTP on its own two: a burst of downloads must not delay DHCP answers.
        let dhcpThreads = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let httpThreads = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let watchdog = SystemdNotify.shared.startWatchdog(on: dhcpThreads.next())
        var failure: (any Error)?
        // Why the group stopped, for the "stopped" line: the signal that stopped it, if one did.
        let stopSignal = Mutex<UnixSignal?>(nil)
        var served = false
        do {
            try requirePrerequisites()
            let state = try await load(logger: logger)
            let hangups = await UnixSignalsSequence(trapping: .sighup)
            // Trapped here rather than by the group, to know which one stopped the server.
            let stops = await UnixSignalsSequence(trapping: .sigterm, .sigint)
            let services = try makeServices(state, hangups: hangups, dhcpThreads: dhcpThreads, httpThreads: httpThreads,
                                            logger: logger)
            let group = ServiceGroup(configuration: .init(services: services, logger: logger))
            let watcher = Task {
                for await signal in stops {
                    stopSignal.withLock { first in first = first ?? signal }
                    SystemdNotify.shared.stopping("\(signal)".uppercased())
                    await group.triggerGracefulShutdown()
                }
            }
            served = true
            defer { watcher.cancel() }
            try await group.run()
        } catch {
            failure = error
        }
        watchdog?.cancel()
        try? await dhcpThreads.shutdownGracefully()
        try? await httpThreads.shutdownGracefully()
        switch failure {
        case nil: break
        case let error as ZoneLoadError:
            StandardError.flush()
            FileHandle.standardError.write(Data(error.description.utf8))
        case let error as PrerequisiteProblem:
            StandardError.flush()
            FileHandle.standardError.write(Data(("zonebootd cannot start:\n" + error.description + "\n").utf8))
        case let error as AdminFailure: logger.critical("\(error.message)")
        case let error?: logger.critical("\(error)")
        }
        if served {
            let reason = stopSignal.withLock { $0 }.map { "\($0)".uppercased() } ?? (failure == nil ? "every service ended" : "failed")
            logger.notice("stopped", metadata: ["reason": "\(reason)"])
        }
        StandardError.flush()
        if failure != nil { throw ExitCode.failure }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
