import AdminAPI
import Addressing
import ArgumentParser
import Boot
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import Server
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

            The running revision comes from the state directory: at start, the latest applied \
            revision wins; with none, the zone file is recorded as revision 1. Changes arrive \
            through the admin API (`zonectl apply --server`) or SIGHUP, which re-reads the zone \
            file through the same path: validate, plan, record, swap (a broken file is rejected \
            and the running revision kept). SIGTERM and SIGINT stop after in-flight writes.
            """)

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

    @Option(help: ArgumentHelp("File of `name:token` lines whose bearer tokens may change the zone; mode 0600.",
                               discussion: "Without it the admin API is read-only. The name is recorded in history."))
    var adminTokenFile: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        for address in listen where IPv4Address(address) == nil {
            throw ValidationError("--listen \(address) is not an IPv4 address")
        }
        if IPv4Address(adminListen) == nil { throw ValidationError("--admin-listen \(adminListen) is not an IPv4 address") }
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

    func run() async throws {
        LoggingSystem.bootstrap(StandardErrorLogHandler.init(label:))
        var logger = Logger(label: "zonebootd")
        logger.logLevel = logLevel
        let stateDirectory = state ?? ProcessInfo.processInfo.environment["ZONEBOOT_STATE"] ?? "/var/lib/zoneboot"

        let tokens: AdminTokens?
        do {
            tokens = try adminTokenFile.map { path throws(AdminTokens.Problem) in try AdminTokens.load(path: path) }
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
        let revisionStore: SQLiteRevisionStore
        let revision: ZoneRevision, running: RevisionSummary
        do {
            revisionStore = try SQLiteRevisionStore(stateDirectory: stateDirectory)
            (revision, running) = try ZoneAdministrator.startingRevision(zoneFile: zone, store: revisionStore, logger: logger)
        } catch let error as ZoneLoadError {
            FileHandle.standardError.write(Data(error.description.utf8))
            throw ExitCode.failure
        } catch let error as AdminFailure {
            logger.critical("\(error.message)")
            throw ExitCode.failure
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
        logger.info("zone \(revision.zoneName) \(running.label) running: \(revision.identities.count) identities")
        let revisions = RevisionHolder(revision)
        let store: SQLiteLeaseStore
        let outbox: SQLiteEventOutbox
        let inventory: SQLiteBMCInventory
        do {
            // One database: leases, the events describing them and BMC records commit together.
            let database = try ZoneBootDatabase.open(stateDirectory: stateDirectory)
            store = SQLiteLeaseStore(writer: database)
            outbox = SQLiteEventOutbox(writer: database)
            inventory = SQLiteBMCInventory(writer: database)
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }

        let loaders: BootLoaders
        let directory: LeaseDirectory
        do {
            loaders = try FirmwareManifest.load(directory: firmware).installedLoaders(directory: firmware)
            directory = LeaseDirectory(try store.loadLeases())
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
        logger.info("loaded \(directory.all.count) leases; boot loaders: \(loaders.available.sorted().joined(separator: ", "))")

        let serverIdentifier = serverID.flatMap(IPv4Address.init) ?? IPv4Address(listen[0]) ?? IPv4Address(127, 0, 0, 1)
        var settings = DHCPSettings(serverIdentifier: serverIdentifier)
        settings.loaders = loaders
        settings.proxyMode = proxyDHCP
        settings.discoveryLeasesPerPort = maxDiscoveryLeasesPerPort
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // HTTP gets its own threads: a burst of downloads must not delay DHCP answers.
        let httpGroup = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var dhcp: DHCPServer?
        var httpServers: [BootHTTPServer] = []
        var adminServer: AdminHTTPServer?
        func closeAll() async {
            await adminServer?.close()
            await dhcp?.close()
            for server in httpServers { await server.close() }
            try? await group.shutdownGracefully()
            try? await httpGroup.shutdownGracefully()
        }
        do {
            // One engine for every DHCP socket: each --listen address, the boot server port, the direct ports.
            settings.directSwitch = directSwitch
            let configuration = DHCPServer.Configuration(
                hosts: listen, port: dhcpPort, settings: settings,
                rateLimit: RequestRateLimit(perMAC: maxRequestsPerMAC, perCircuit: maxRequestsPerCircuit),
                hostEvents: HostEventBudget(perPortPerMinute: maxHostEventsPerPort),
                bootServerPort: proxyDHCP ? bootServerPort : nil, directInterfaces: directSwitch == nil ? [] : try directInterfaces())
            dhcp = try await DHCPServer.start(configuration, revisions: revisions, store: store,
                                              directory: directory, group: group, logger: logger)
        } catch {
            logger.critical("cannot listen for DHCP: \(error)")
            await closeAll()
            throw ExitCode.failure
        }
        // One connection table for all boot listeners, another for the admin API.
        let httpConnections = HTTPConnections(limits: http.limits), adminConnections = HTTPConnections(limits: http.limits)
        if httpPort != 0 {
            do {
                for address in listen {
                    let configuration = BootHTTPServer.Configuration(
                        host: address, port: httpPort, loadersDirectory: FirmwareManifest.cacheDirectory(firmware),
                        filesDirectory: files, connections: httpConnections)
                    httpServers.append(try await BootHTTPServer.start(configuration, revisions: revisions, leases: directory,
                                                                      group: httpGroup, logger: logger))
                }
            } catch {
                logger.critical("cannot listen for HTTP on port \(httpPort): \(error)")
                await closeAll()
                throw ExitCode.failure
            }
        }

        let administrator = ZoneAdministrator(holder: revisions, running: running, store: revisionStore,
                                              leases: directory, logger: logger)
        if adminPort != 0 {
            do {
                adminServer = try await AdminHTTPServer.start(host: adminListen, port: adminPort, administrator: administrator,
                                                              tokens: tokens, leases: directory, connections: adminConnections,
                                                              group: httpGroup, logger: logger)
            } catch {
                logger.critical("cannot listen for the admin API on \(adminListen):\(adminPort): \(error)")
                await closeAll()
                throw ExitCode.failure
            }
        }

        let tftpService: TFTPService?
        do {
            // The loaders by their manifest names, and each host's rendered files at
            // hosts/<name>/<file> for that host's own address, as over HTTP.
            tftpService = try await tftp.start(
                listen: listen, stateDirectory: stateDirectory, defaultRoot: FirmwareManifest.cacheDirectory(firmware),
                overlay: { path, client in
                    let parts = path.split(separator: "/", omittingEmptySubsequences: false)
                    guard parts.count == 3, parts[0] == "hosts" else { return nil }
                    let answer = HostFileAccess.answer(host: String(parts[1]), file: String(parts[2]), from: client,
                                                       revision: revisions.current, now: Int64(Date().timeIntervalSince1970),
                                                       lease: directory.lease(address:))
                    guard case .file(let rendered) = answer else { return nil }
                    return Array(rendered.content.utf8)
                },
                logger: logger)
        } catch {
            logger.critical("cannot start TFTP: \(error)")
            await closeAll()
            throw ExitCode.failure
        }

        // Hooks run off the DHCP event loop and threads: a slow hook delays no answer.
        let hookClients = HookHTTPClients()
        let hookStatistics = HookStatistics()
        let runner = HookRunner(
            configuration: .init(policy: hooks.policy, concurrency: hooks.hookConcurrency,
                                 zoneFolder: (zone as NSString).deletingLastPathComponent, stateDirectory: stateDirectory,
                                 deliveredRetentionSeconds: hooks.eventRetentionSeconds),
            outbox: outbox, leases: store, inventory: inventory, revisions: revisions, http: hookClients,
            statistics: hookStatistics, logger: logger)
        let runnerTask = Task { await runner.run() }

        let countersPath = countersFile ?? (stateDirectory as NSString).appendingPathComponent("dhcp-counters.json")
        let reporter = CountersReporter(path: countersPath,
                                        statistics: dhcp.map { [$0.statistics] } ?? [],
                                        hooks: hookStatistics,
                                        http: .init(requests: httpServers.map(\.statistics), connections: httpConnections,
                                                    admin: adminConnections))
        let signals = SignalWaiter()
        let zonePath = zone
        await signals.run(
            onReload: {
                Task { await administrator.reload(zoneFile: zonePath, now: Int64(Date().timeIntervalSince1970)) }
            },
            tick: { reporter.write() })
        logger.info("stopping")
        // Deliveries in progress stay claimed and run again after the next start.
        runnerTask.cancel()
        await runnerTask.value
        await hookClients.shutdown()
        await tftpService?.close()
        await closeAll()
        reporter.write()
    }
}

/// Writes the listeners' counters as one JSON document, atomically replaced.
struct CountersReporter: Sendable {
    let path: String
    let statistics: [DHCPStatistics]
    let hooks: HookStatistics
    let http: HTTPReport

    /// The DHCP counters at the top level, the hook runner's under "hooks", HTTP's under "http".
    private struct Document: Encodable {
        var dhcp: DHCPCounters
        var hooks: HookCounters
        var http: HTTPReport.Counters

        func encode(to encoder: any Encoder) throws {
            try dhcp.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(hooks, forKey: .hooks)
            try container.encode(http, forKey: .http)
        }

        enum Key: CodingKey { case hooks, http }
    }

    func write() {
        var total = DHCPCounters()
        for listener in statistics { total.merge(listener.snapshot) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(Document(dhcp: total, hooks: hooks.snapshot, http: http.snapshot)) else { return }
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Waits for SIGTERM or SIGINT, calling `onReload` on SIGHUP and `tick` every second.
final class SignalWaiter: Sendable {
    func run(onReload: @escaping @Sendable () -> Void, tick: @escaping @Sendable () -> Void) async {
        let queue = DispatchQueue(label: "zonebootd.signals")
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                var sources: [any DispatchSourceProtocol] = []
                var resumed = false
                func stop() {
                    guard !resumed else { return }
                    resumed = true
                    for source in sources { source.cancel() }
                    continuation.resume()
                }
                for number in [SIGTERM, SIGINT, SIGHUP] {
                    signal(number, SIG_IGN)
                    let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                    source.setEventHandler { number == SIGHUP ? onReload() : stop() }
                    source.resume()
                    sources.append(source)
                }
                let timer = DispatchSource.makeTimerSource(queue: queue)
                timer.schedule(deadline: .now() + 1, repeating: 1)
                timer.setEventHandler(handler: tick)
                timer.resume()
                sources.append(timer)
            }
        }
    }
}
