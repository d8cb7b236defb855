import AdminAPI
import Addressing
import Boot
import Etcd
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Server
import ServiceLifecycle
import Store
import UnixSignals
import Zone

/// What zonebootd loads before anything listens: the running revision, the state database
/// and its leases, the admin tokens, the boot loaders.
struct LoadedState {
    var stateDirectory: String
    var tokens: AdminTokenFile?
    var adminTLS: ListenerTLS?
    var revisionStore: any RevisionStore
    /// With --etcd: the client and the store the follower watches.
    var etcd: EtcdConnection?
    var running: RevisionSummary
    var revisions: RevisionHolder
    var store: SQLiteLeaseStore
    var outbox: SQLiteEventOutbox
    /// What the hook runner and `zonectl events` use: the local outbox, or with --etcd the zone's shared one.
    var hookOutbox: any EventOutbox
    var sharedOutbox: EtcdEventOutbox?
    var inventory: SQLiteBMCInventory
    var secrets: SQLiteBootstrapSecretStore
    var loaders: BootLoaders
    var directory: CommittedLeases
    /// With --etcd: the lease store that also writes every lease to etcd (`EtcdLeaseRecords`).
    var etcdLeases: EtcdLeaseRecords?
}

extension ZoneBootD {
    /// Throws what keeps zonebootd from starting (a broken zone, an unreadable token file or database).
    func load(logger: Logger) async throws -> LoadedState {
        let stateDirectory = self.stateDirectory
        let tokens = try adminTokenFile.map { path throws(AdminTokens.Problem) in try AdminTokenFile(path: path) }
        let adminTLS = try self.adminTLS.load()
        let etcd = try self.etcd.connect(stateDirectory: stateDirectory)
        let revisionStore: any RevisionStore
        let (revision, running): (ZoneRevision, RevisionSummary)
        if let etcd {
            revisionStore = etcd.store
            (revision, running) = try await self.etcd.startingRevision(etcd.store, zoneFile: zone, stateDirectory: stateDirectory,
                                                                       logger: logger)
        } else {
            let sqlite = try SQLiteRevisionStore(stateDirectory: stateDirectory)
            revisionStore = sqlite
            (revision, running) = try ZoneAdministrator.startingRevision(zoneFile: zone, store: sqlite, logger: logger)
        }
        logger.info("zone \(revision.zoneName) \(running.label) running: \(revision.identities.count) identities")
        // One database: leases, the events describing them and BMC records commit together.
        let database = try ZoneBootDatabase.open(stateDirectory: stateDirectory)
        let store = SQLiteLeaseStore(writer: database)
        let loaders = try FirmwareManifest.load(directory: firmware).installedLoaders(directory: firmware)
        let directory = CommittedLeases(try store.loadLeases())
        let etcdLeases = etcd.map { etcd in
            EtcdLeaseRecords(local: store, kv: etcd.client, keys: etcd.store.keys, host: "\(serverIdentifier)") { failure in
                if let failure {
                    logger.warning("lease records not written to etcd; declared leases go on from the state directory: \(failure)")
                } else {
                    logger.notice("lease records written to etcd again")
                }
            }
        }
        logger.info("loaded \(directory.all.count) leases; boot loaders: \(loaders.available.sorted().joined(separator: ", "))")
        let outbox = SQLiteEventOutbox(writer: database)
        let sharedOutbox = try etcd.map { try self.etcd.sharedOutbox($0, local: outbox, stateDirectory: stateDirectory) }
        return LoadedState(stateDirectory: stateDirectory, tokens: tokens, adminTLS: adminTLS, revisionStore: revisionStore, etcd: etcd,
                           running: running,
                           revisions: RevisionHolder(revision, id: running.id), store: store, outbox: outbox,
                           hookOutbox: sharedOutbox ?? outbox, sharedOutbox: sharedOutbox,
                           inventory: SQLiteBMCInventory(writer: database),
                           secrets: SQLiteBootstrapSecretStore(writer: database), loaders: loaders, directory: directory,
                           etcdLeases: etcdLeases)
    }

    /// Every long-running part, in start-up order; the group stops them in reverse: the SIGHUP
    /// reloader ("stopping") and the hook runner first, the counters reporter (a last write) last.
    func makeServices(_ state: LoadedState, hangups: UnixSignalsSequence, dhcpThreads: MultiThreadedEventLoopGroup,
                      httpThreads: MultiThreadedEventLoopGroup, logger: Logger) throws -> [any Service] {
        let revision = state.running.id
        let gate = StartupGate { listening in
            logger.ready(listening, revision: revision)
            SystemdNotify.shared.ready(listening, revision: revision)
        }
        let counters = ServerCounters(httpLimits: http.limits)
        let metrics = ServerMetrics(counters: counters, revisions: state.revisions, leases: state.directory)
        // Each host's boot steps, for /metrics and the zone view.
        let phases = BootPhases(leases: state.directory, metrics: metrics)
        let dhcp = try dhcpService(state, counters: counters.dhcp, metrics: metrics, threads: dhcpThreads, gate: gate,
                                   logger: logger.component("dhcp"))
        let tftp = tftpService(state, counters: counters.tftp, phases: phases, gate: gate, logger: logger.component("tftp"))

        // One connection table for all boot listeners, another for the admin API.
        var listeners: [any Service] = []
        if httpPort != 0 {
            let router = buildBootRouter(revisions: state.revisions, leases: state.directory,
                                         loadersDirectory: FirmwareManifest.cacheDirectory(firmware), filesDirectory: files,
                                         statistics: counters.http, logger: logger.component("http"), tokens: state.tokens,
                                         bootstrapSecrets: state.secrets, phases: phases)
            for address in listen {
                listeners.append(httpService(router, host: address, port: httpPort, connections: counters.httpConnections,
                                             what: "HTTP", kind: "http", failure: "cannot listen for HTTP on port \(httpPort)",
                                             threads: httpThreads, gate: gate, logger: logger.component("http")))
            }
        }
        let administrator = ZoneAdministrator(holder: state.revisions, running: state.running, store: state.revisionStore,
                                              leases: state.directory, logger: logger,
                                              loadTimeout: zoneLoadTimeout == 0 ? nil : .milliseconds(Int(zoneLoadTimeout * 1000)),
                                              secretsFolder: zoneFolder(zone), applied: metrics.applied)
        if adminPort != 0 {
            let router = buildAdminRouter(administrator: administrator, tokens: state.tokens, leases: state.directory,
                                          bootstrapSecrets: state.secrets, outbox: state.hookOutbox, bmcs: state.inventory,
                                          metrics: metrics,
                                          status: StatusSources(startedAt: Date(), listeners: {
                                              gate.listening.map { ServerStatus.Listener(kind: $0.kind, endpoint: $0.endpoint) }
                                          }, counters: counters, outbox: state.hookOutbox, problems: StandardError.recentProblems),
                                          zoneView: ZoneViewFeed(revisions: state.revisions, leases: state.directory, phases: phases),
                                          logger: logger.component("admin"))
            listeners.append(httpService(router, host: adminListen, port: adminPort, connections: counters.adminConnections,
                                         what: "admin API", kind: "admin", mode: adminMode(state), tls: state.adminTLS,
                                         failure: "cannot listen for the admin API on \(adminListen):\(adminPort)",
                                         threads: httpThreads, gate: gate, logger: logger.component("admin")))
        }

        // Hooks run off the DHCP event loop and threads: a slow hook delays no answer.
        let hookClients = HookHTTPClients()
        let runner = HookRunner(
            configuration: .init(policy: hooks.policy, concurrency: hooks.hookConcurrency,
                                 // Idle, it waits for events written here; other hosts' events in etcd are
                                 // looked for as often as the shared outbox reads etcd.
                                 idlePollMs: state.sharedOutbox == nil ? HookRunner.Configuration.defaultIdlePollMs
                                     : Int(EtcdEventOutbox.idlePollMs),
                                 zoneFolder: (zone as NSString).deletingLastPathComponent, stateDirectory: state.stateDirectory,
                                 deliveredRetentionSeconds: hooks.eventRetentionSeconds),
            outbox: state.hookOutbox, leases: state.store, inventory: state.inventory, revisions: state.revisions,
            http: hookClients, statistics: counters.hooks, doorbell: state.outbox.writes, logger: logger.component("hooks"))

        let countersPath = countersFile ?? (state.stateDirectory as NSString).appendingPathComponent("dhcp-counters.json")
        var writers: [@Sendable () -> Void] = [{ CountersFile.write(counters.dhcpFile, to: countersPath) }]
        if let tftp { writers.append { tftp.running.map { CountersFile.write(counters.tftp.snapshot, to: $0.countersPath) } } }

        let follower = state.etcd.map { etcd in
            EtcdRevisionFollower(client: etcd.client, store: etcd.store, administrator: administrator,
                                 cachePath: EtcdRevisionCache.path(stateDirectory: state.stateDirectory),
                                 logger: logger.component("etcd"))
        }
        let discovery = state.etcd.map { etcd in
            EtcdDiscoveryCoordinator(client: etcd.coordination, lease: etcd.hostLease, keys: etcd.store.keys, host: "\(serverIdentifier)",
                                     revisions: state.revisions, server: { dhcp.running }, logger: logger.component("etcd"))
        }
        let servers: [(any Service)?] = [dhcp] + listeners + [tftp, follower, discovery]
        return [CountersReporter(gate: gate, writers: writers)] + servers.compactMap { $0 }
            + [HookRunnerService(runner: runner, clients: hookClients, gate: gate, atStop: { [shared = state.sharedOutbox] in
                   await shared?.releaseLease()
               }),
               ReloadOnHangup(hangups: hangups, administrator: administrator, zoneFile: zone,
                              overridingAPI: reloadOverridesAPI, tokens: state.tokens, logger: logger)]
    }

    private var rateLimit: RequestRateLimit { RequestRateLimit(perMAC: maxRequestsPerMAC, perCircuit: maxRequestsPerCircuit) }

    /// Option 54, and this host's name in etcd (block claims, lease records).
    private var serverIdentifier: IPv4Address {
        serverID.flatMap(IPv4Address.init) ?? IPv4Address(listen[0]) ?? IPv4Address(127, 0, 0, 1)
    }

    private func dhcpSettings(_ state: LoadedState) -> DHCPSettings {
        var settings = DHCPSettings(serverIdentifier: serverIdentifier)
        settings.loaders = state.loaders
        settings.proxyMode = proxyDHCP
        settings.discoveryLeasesPerPort = maxDiscoveryLeasesPerPort
        return settings
    }

    /// DHCP as one service: one engine for every socket (each --listen address, the proxy's boot
    /// server port, and with --direct the switch ports, placed by the port a request came in on).
    private func dhcpService(_ state: LoadedState, counters: Counters<DHCPCounters>, metrics: ServerMetrics, threads: MultiThreadedEventLoopGroup,
                             gate: StartupGate, logger: Logger) throws -> BoundService<DHCPServer> {
        var settings = dhcpSettings(state)
        settings.directSwitch = directSwitch
        let configuration = DHCPServer.Configuration(
            hosts: listen, port: dhcpPort, settings: settings, rateLimit: rateLimit,
            hostEvents: HostEventBudget(perPortPerMinute: maxHostEventsPerPort),
            bootServerPort: proxyDHCP ? bootServerPort : nil,
            directInterfaces: directSwitch == nil ? [] : try directInterfaces(),
            discoveryBlocks: state.etcd == nil ? nil : DiscoveryBlocks(), commitInterval: .milliseconds(commitIntervalMs))
        let (revisions, directory) = (state.revisions, state.directory)
        let store = TimedLeaseStore(state.etcdLeases ?? state.store, durations: metrics.commitDuration)
        return BoundService(failure: "cannot listen for DHCP", gate: gate, start: {
            try await DHCPServer.start(configuration, revisions: revisions, store: store, directory: directory,
                                       counters: counters, group: threads, logger: logger)
        }, listening: { server in server.listening.map { StartupGate.Listening(kind: $0.kind, endpoint: $0.endpoint) } },
        close: { await $0.close() })
    }

    /// TFTP on every --listen address (none with --tftp-port 0): the loaders by their manifest
    /// names, and each host's rendered files at hosts/<name>/<file> for that host's own address, as over HTTP.
    private func tftpService(_ state: LoadedState, counters: Counters<TFTPCounters>, phases: BootPhases, gate: StartupGate,
                             logger: Logger) -> BoundService<TFTPService>? {
        guard tftp.tftpPort != 0 else { return nil }
        let (options, listen, firmware) = (tftp, listen, firmware)
        let (stateDirectory, revisions, directory) = (state.stateDirectory, state.revisions, state.directory)
        return BoundService(failure: "cannot start TFTP", gate: gate, start: {
            try await options.start(
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
                opened: { path, client in
                    phases.fetched(path.hasPrefix("hosts/") ? .scriptFetched : .loaderFetched, from: client,
                                   detail: "\(path) over TFTP")
                },
                counters: counters, logger: logger)
        }, listening: { tftp in tftp.servers.map { StartupGate.Listening(kind: "tftp", endpoint: $0.endpoint) } },
        close: { await $0.close() })
    }

    /// How the admin API answers, for its "listening" line: the scheme, client certificates, who may read and write.
    private func adminMode(_ state: LoadedState) -> String {
        var parts = [state.adminTLS == nil ? "http" : "https"]
        if state.adminTLS?.requiresClientCertificate == true { parts.append("client certificates required") }
        if let tokens = state.tokens?.tokens {
            parts.append("tokens: \(tokens.count(.write)) write, \(tokens.count(.read)) read")
        } else {
            parts.append("no --admin-token-file: changes refused, reads answered to clients on this host only")
        }
        return " (" + parts.joined(separator: "; ") + ")"
    }

    /// One HTTP listener: logs "<what> listening on <address><mode>" once bound; `kind` names it in the "ready" line.
    private func httpService<Context>(_ router: Router<Context>, host: String, port: Int, connections: HTTPConnections,
                                      what: String, kind: String, mode: String = "", tls: ListenerTLS? = nil, failure: String,
                                      threads: MultiThreadedEventLoopGroup, gate: StartupGate, logger: Logger) -> any Service
        where Context.Source == ApplicationRequestContextSource {
        let ticket = gate.expect()
        let listener = HTTPListener(router: router, host: host, port: port, connections: connections, group: threads,
                                    logger: logger, tls: tls) { address in
            logger.info("\(what) listening on \(address?.endpointText ?? host)\(mode)")
            ticket.bound([StartupGate.Listening(kind: kind, endpoint: address?.endpointText ?? "\(host):\(port)")])
        }
        return HTTPService(listener: listener, ticket: ticket, failure: failure)
    }
}
