import AdminAPI
import Addressing
import Boot
import Foundation
import Hummingbird
import Logging
import NIOCore
import Store
import Synchronization
import Zone

/// A request context that knows the peer's IPv4 address: the boot router decides by it whose
/// host files a request may read.
public protocol PeerAddressRequestContext: RequestContext {
    /// The client's IPv4 address; nil for anything else (IPv6 is not served).
    var clientAddress: IPv4Address? { get }
}

/// A request's context: Hummingbird's core plus the peer, which decides whose files it may read.
public struct BootRequestContext: PeerAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    public var clientAddress: IPv4Address? { remoteAddress?.ipv4Address }
}

/// What the HTTP side served and refused, by outcome.
public struct HTTPCounters: Sendable, Codable, Equatable {
    public var hostFiles = 0
    public var loaders = 0
    public var booted = 0
    /// Host files, inventory or node JSON refused: asked for by another address, without a read token.
    public var forbidden = 0
    public var notFound = 0
    /// Requests that carried ONIE's `ONIE-*` headers (installer and updater fetches).
    public var onie = 0
    /// Files under /files/ or /loaders/ refused because they lead out of their directory.
    public var outsideDirectory = 0
    /// Body bytes of successful answers by what was served (`SentBytes`): loaders, files, host_files, handoff, bootstrap, other.
    public var sentBytes: [String: Int] = [:]

    public init() {}
}


/// The boot HTTP router: each host's rendered boot script and profile files, the boot
/// loaders for UEFI HTTP boot, and static files. It binds nothing: `HTTPListener` serves it.
///
/// - `GET /hosts/<name>/<file>`: rendered from the running revision, for the host's own
///   address only (it must hold that address's lease); `/hosts/<name>/booted` is the
///   marker a script fetches last and is logged.
/// - `GET|HEAD /loaders/<file>`: the boot loaders of the firmware manifest (`loadersDirectory`).
/// - `GET|HEAD /files/<path>`: the operator's files directory (kernels, images), with Range.
///   Both through `StaticFiles`: never a file outside its directory, even by a symlink.
/// - `GET /ansible/inventory` (`?state=seen` for hosts with a lease only) and
///   `GET /ansible/inventory/<name>`: Ansible's dynamic inventory, live state from leases.
/// - `GET /chef/nodes/<name>.json`: the host's first-boot node JSON for `chef-client -j`.
///   These three disclose role values, MACs and lease state: the whole inventory needs a read
///   token of the admin token file (`tokens`, as `Authorization: Bearer`); one host's
///   variables or node JSON go to that token or to the host's own address (`HostFileAccess.owner`).
///   Secret values (`secret-file`) only ever to the host's own address; a token sees them redacted.
/// - With `phases`, each host's boot steps as it takes them: a loader, its script, `booted`, and
///   its inventory or node JSON fetched from its own address (the hand-off).
/// - With `bootstrapSecrets`: `GET /bootstrap/<host>/<name>`, each host's bootstrap secrets,
///   once, to the host's own address (BootRouter+Bootstrap.swift).
public func buildBootRouter<Context: PeerAddressRequestContext>(
    context: Context.Type = BootRequestContext.self, revisions: RevisionHolder, leases: CommittedLeases,
    loadersDirectory: String?, filesDirectory: String?, statistics: Counters<HTTPCounters>, logger: Logger,
    tokens: AdminTokenFile? = nil, bootstrapSecrets: (any BootstrapSecretStore)? = nil, phases: BootPhases? = nil
) -> Router<Context> {
    let router = Router(context: Context.self)
    router.add(middleware: SentBytes<Context>(statistics: statistics))
    router.add(middleware: ONIELog<Context>(statistics: statistics, logger: logger))
    let refused: @Sendable () -> Void = { statistics.update { $0.outsideDirectory += 1 } }
    if let loadersDirectory {
        router.add(middleware: LoaderLog<Context>(statistics: statistics, logger: logger, phases: phases))
        router.add(middleware: StaticFiles<Context>(prefix: "/loaders", directory: loadersDirectory, refused: refused,
                                                    logger: logger))
    }
    if let filesDirectory {
        router.add(middleware: StaticFiles<Context>(prefix: "/files", directory: filesDirectory, refused: refused,
                                                    logger: logger))
    }
    if let bootstrapSecrets {
        addBootstrapSecrets(to: router, store: bootstrapSecrets, revisions: revisions, leases: leases, logger: logger)
    }
    // Renderings of the running revision; the access check runs per request regardless.
    let rendered = RenderedFileCache()
    router.get("/hosts/:name/:file") { request, context -> Response in
        let name = try context.parameters.require("name"), file = try context.parameters.require("file")
        guard let client = context.clientAddress else { throw HTTPError(.forbidden) }
        let answer = HostFileAccess.answer(host: name, file: file, from: client, revision: revisions.current,
                                           now: Int64(Date().timeIntervalSince1970), cache: rendered,
                                           lease: leases.lease(address:))
        switch answer {
        case .file(let rendered):
            statistics.update { $0.hostFiles += 1 }
            phases?.fetched(.scriptFetched, from: client, detail: request.uri.path)
            logger.debug("served \(request.uri.path) to \(client)")
            return Response(status: .ok, headers: plainText, body: .init(byteBuffer: ByteBuffer(string: rendered.content)))
        case .booted(let host):
            statistics.update { $0.booted += 1 }
            phases?.fetched(.booted, from: client, detail: request.uri.path)
            // host and location as keys too: a JSON log pipeline selects on them, not on the message.
            var metadata: Logger.Metadata = ["host": .string(host), "client": "\(client)"]
            if let location = leases.lease(address: client)?.location { metadata["location"] = "\(location)" }
            logger.notice("host \(host) booted from \(client): its script ran to the end", metadata: metadata)
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        case .forbidden(let why):
            statistics.update { $0.forbidden += 1 }
            logger.info("refused \(request.uri.path): \(why)", metadata: ["client": "\(client)"])
            throw HTTPError(.forbidden, message: why)
        case .notFound(let why):
            statistics.update { $0.notFound += 1 }
            throw HTTPError(.notFound, message: why)
        }
    }

    addHandoffRoutes(to: router, revisions: revisions, leases: leases, tokens: tokens, statistics: statistics,
                     logger: logger, phases: phases)
    return router
}

/// A host file's headers, made once rather than for every request.
private let plainText: HTTPFields = [.contentType: "text/plain; charset=utf-8"]

private func json(_ bytes: [UInt8]) -> Response {
    Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}

/// The Ansible inventory and Chef node routes with their access rules (see `buildBootRouter`).
private func addHandoffRoutes<Context: PeerAddressRequestContext>(
    to router: Router<Context>, revisions: RevisionHolder, leases: CommittedLeases, tokens: AdminTokenFile?,
    statistics: Counters<HTTPCounters>, logger: Logger, phases: BootPhases?
) {
    let refusals = BoundedLogRate()
    /// Throws 403 (counted, logged at a bounded rate) unless, for one host's data (`host`), the
    /// request comes from that host's own address (then true: it may see the host's secret
    /// values) or a read token comes with the request (false).
    @Sendable @discardableResult func authorize(_ request: Request, _ context: Context, host: String?) throws -> Bool {
        let client = context.clientAddress
        var why = "a read token (Authorization: Bearer) is required"
        if let host, let client {
            switch HostFileAccess.owner(of: host, from: client, now: Int64(Date().timeIntervalSince1970),
                                        lease: leases.lease(address:)) {
            case .success:
                phases?.fetched(.handoff, from: client, detail: request.uri.path)
                return true
            case .failure(let refusal): why = "\(refusal.why), and \(why)"
            }
        }
        let access = AdminAccess.decide(needs: .read, tokens: tokens?.tokens, authorization: request.headers[.authorization],
                                        loopbackPeer: client.map { $0.value >> 24 == 127 } ?? false)
        if case .allowed = access { return false }
        statistics.update { $0.forbidden += 1 }
        if let unlogged = refusals.due(host == nil ? "inventory" : "host") {
            logger.info("refused \(request.uri.path): \(why)",
                        metadata: ["client": "\(client.map { "\($0)" } ?? "?")", "unlogged_since_last": "\(unlogged)"])
        }
        throw HTTPError(.forbidden, message: why)
    }

    router.get("/ansible/inventory") { request, context -> Response in
        try authorize(request, context, host: nil)
        let selection = request.uri.queryParameters.get("state").flatMap(AnsibleInventory.Selection.init(rawValue:)) ?? .all
        // The whole zone: a second of CPU at 100,000 hosts, which must not hold one of the
        // few threads that serve every other request (boot scripts among them).
        let revision = revisions.current
        return json(await offCooperativeThreads { inventory(revision, leases, selection).json() })
    }
    router.get("/ansible/inventory/:name") { request, context -> Response in
        let name = try context.parameters.require("name")
        // One host, made alone: a storm of hosts fetching their own must not make the whole
        // inventory for each.
        let live = HostLiveState.byName(leases.leases(named: name), now: Int64(Date().timeIntervalSince1970))[name]
        guard let host = AnsibleInventory.hostJSON(named: name, in: revisions.current, live: live) else {
            throw HTTPError(.notFound, message: "no host \(name)")
        }
        try authorize(request, context, host: name)
        return json(host)
    }
    router.get("/chef/nodes/:file") { request, context -> Response in
        let file = try context.parameters.require("file")
        let name = String(file.dropLast(5))
        guard file.hasSuffix(".json"), let node = ChefNode(named: name, in: revisions.current) else {
            throw HTTPError(.notFound, message: "no host \(file)")
        }
        let own = try authorize(request, context, host: name)
        return json(node.json(revealingSecrets: own))
    }
}

/// The inventory with each host's live state from its lease (MAC, lease state, last seen).
private func inventory(_ revision: ZoneRevision, _ leases: CommittedLeases,
                       _ selection: AnsibleInventory.Selection) -> AnsibleInventory {
    let live = HostLiveState.byName(leases.all, now: Int64(Date().timeIntervalSince1970))
    return AnsibleInventory(revision: revision, live: live, selection: selection)
}

/// Logs what ONIE says about itself (serial, MAC, machine, operation) with each request it
/// makes, whatever the path: its installer usually comes from `/files/` or elsewhere.
struct ONIELog<Context: PeerAddressRequestContext>: RouterMiddleware {
    let statistics: Counters<HTTPCounters>
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Most requests are not ONIE's: they skip copying their headers.
        if request.headers.contains(where: { $0.name.canonicalName.hasPrefix("onie-") }),
           let onie = ONIERequest(headers: request.headers.map { (name: $0.name.canonicalName, value: $0.value) }) {
            statistics.update { $0.onie += 1 }
            logger.notice("ONIE \(request.method) \(request.uri.path) from \(context.clientAddress.map { "\($0)" } ?? "?"): \(onie.summary)")
        }
        return try await next(request, context)
    }
}

/// Records each loader fetched over HTTP: the trail of a UEFI HTTP boot, and proof that
/// iPXE, once running, is not handed a loader again.
struct LoaderLog<Context: PeerAddressRequestContext>: RouterMiddleware {
    let statistics: Counters<HTTPCounters>
    let logger: Logger
    var phases: BootPhases?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response = try await next(request, context)
        if request.uri.path.hasPrefix("/loaders/"), response.status == .ok || response.status == .partialContent {
            statistics.update { $0.loaders += 1 }
            if let client = context.clientAddress {
                phases?.fetched(.loaderFetched, from: client, detail: "\(request.uri.path) over HTTP")
            }
            logger.info("served loader \(request.uri.path) to \(context.clientAddress.map { "\($0)" } ?? "?")")
        }
        return response
    }
}
