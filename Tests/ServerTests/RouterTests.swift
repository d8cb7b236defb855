import AdminAPI
import Addressing
import Boot
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
@testable import Server
import Store
import Synchronization
import TestSupport
import Testing
import Zone

private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("zoneboot-router-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The peer a boot-router request comes from: the router test framework has no socket.
enum Peer {
    @TaskLocal static var address: IPv4Address?
}

/// The boot router's context with the peer taken from `Peer.address`.
struct PeerContext: PeerAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let clientAddress: IPv4Address?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = Peer.address
    }
}

/// The boot router driven in-process: who may read a host's files, the loaders and files directories.
@Suite struct BootRouterTests {
    let host = "ams1-p01-r01-u07"
    let address = IPv4Address(198, 18, 16, 17)
    let neighbour = IPv4Address(198, 18, 16, 18)
    let statistics = Counters(HTTPCounters())
    fileprivate let router: Router<PeerContext>
    let loaders: URL, files: URL

    init() throws {
        let now = Int64(Date().timeIntervalSince1970)
        let lease = Lease(address: address, mac: [0x52, 0x54, 0, 0, 0, 7], clientID: nil, pod: "p01",
                          location: Location(pod: "p01", switch: "tor-a", port: "swp7"), name: host, state: .bound,
                          expiresAt: now + 3600, updatedAt: now)
        loaders = try temporaryDirectory()
        files = try temporaryDirectory()
        try Data("loader bytes".utf8).write(to: loaders.appendingPathComponent("ipxe.efi"))
        try FileManager.default.createDirectory(at: files.appendingPathComponent("images"), withIntermediateDirectories: true)
        try Data("kernel bytes".utf8).write(to: files.appendingPathComponent("images/vmlinuz"))
        let tokens = AdminTokens(holders: [Self.readToken: TokenHolder(name: "inventory", scope: .read),
                                           Self.writeToken: TokenHolder(name: "ops", scope: .write)])
        router = buildBootRouter(context: PeerContext.self, revisions: RevisionHolder(try ZoneLoader.load(path: exampleZonePath)),
                                 leases: CommittedLeases([lease]), loadersDirectory: loaders.path, filesDirectory: files.path,
                                 statistics: statistics, logger: Logger(label: "test"),
                                 tokens: AdminTokenFile(path: "tokens", tokens: tokens))
    }

    static let readToken = "0123456789abcdef-inventory"
    static let writeToken = "0123456789abcdef-operator"

    private func get(_ uri: String, from peer: IPv4Address?, token: String? = nil) async throws -> (HTTPResponse.Status, String) {
        let headers: HTTPFields = token.map { [.authorization: "Bearer \($0)"] } ?? [:]
        return try await Peer.$address.withValue(peer) {
            try await Application(router: router).test(.router) { client in
                try await client.execute(uri: uri, method: .get, headers: headers) { response in
                    (response.status, String(buffer: response.body))
                }
            }
        }
    }

    @Test func aHostReadsItsOwnFilesAndNotAnothers() async throws {
        let own = try await get("/hosts/\(host)/boot.ipxe", from: address)
        #expect(own.0 == .ok)
        #expect(own.1.contains(host))
        #expect(try await get("/hosts/\(host)/boot.ipxe", from: neighbour).0 == .forbidden)
        // Another host's file, asked by this host: refused too.
        #expect(try await get("/hosts/ams1-p01-r01-u08/boot.ipxe", from: address).0 == .forbidden)
        #expect(try await get("/hosts/\(host)/boot.ipxe", from: nil).0 == .forbidden)
        #expect(try await get("/hosts/\(host)/booted", from: address) == (.ok, "ok\n"))
        let counted = statistics.snapshot
        #expect(counted.hostFiles == 1 && counted.booted == 1 && counted.forbidden == 2)
    }

    @Test func unknownHostsAndFilesAreNotFound() async throws {
        #expect(try await get("/hosts/nobody/boot.ipxe", from: address).0 == .notFound)
        #expect(try await get("/hosts/\(host)/passwd", from: address).0 == .notFound)
    }

    @Test func loadersAndFilesAreServedFromTheirDirectories() async throws {
        #expect(try await get("/loaders/ipxe.efi", from: address) == (.ok, "loader bytes"))
        #expect(try await get("/files/images/vmlinuz", from: neighbour) == (.ok, "kernel bytes"))
        #expect(try await get("/loaders/snponly.efi", from: address).0 == .notFound)
        #expect(try await get("/files/images/initrd.img", from: address).0 == .notFound)
        #expect(statistics.snapshot.loaders == 1)
    }
}

extension BootRouterTests {
    @Test func theWholeInventoryNeedsAReadToken() async throws {
        for token in [Self.readToken, Self.writeToken] {
            let (status, body) = try await get("/ansible/inventory", from: neighbour, token: token)
            #expect(status == .ok)
            #expect(body.contains("\"\(host)\""))
        }
        // No token, an unknown one, and the host's own address (the whole zone is not its own): 403, counted.
        #expect(try await get("/ansible/inventory", from: neighbour).0 == .forbidden)
        #expect(try await get("/ansible/inventory?state=seen", from: neighbour, token: "0123456789abcdef-guessed").0 == .forbidden)
        #expect(try await get("/ansible/inventory", from: address).0 == .forbidden)
        #expect(try await get("/ansible/inventory", from: nil).0 == .forbidden)
        #expect(statistics.snapshot.forbidden == 4)
    }

    @Test func oneHostsVariablesGoToItsOwnAddressOrAReadToken() async throws {
        for uri in ["/ansible/inventory/\(host)", "/chef/nodes/\(host).json"] {
            let own = try await get(uri, from: address)
            #expect(own.0 == .ok, "\(uri)")
            #expect(own.1.contains(host))
            #expect(try await get(uri, from: neighbour).0 == .forbidden, "\(uri)")
            #expect(try await get(uri, from: nil).0 == .forbidden, "\(uri)")
            #expect(try await get(uri, from: neighbour, token: Self.readToken).0 == .ok, "\(uri)")
            #expect(try await get(uri, from: nil, token: Self.writeToken).0 == .ok, "\(uri)")
        }
        // The host asking for another host's data: refused; a name the zone lacks: 404 either way.
        #expect(try await get("/ansible/inventory/ams1-p01-r01-u08", from: address).0 == .forbidden)
        #expect(try await get("/chef/nodes/ams1-p01-r01-u08.json", from: address).0 == .forbidden)
        #expect(try await get("/chef/nodes/nobody.json", from: address).0 == .notFound)
        #expect(try await get("/ansible/inventory/nobody", from: neighbour, token: Self.readToken).0 == .notFound)
        #expect(statistics.snapshot.forbidden == 6)
    }

    @Test func aRefusalSaysWhatWouldBeLetThrough() async throws {
        let (status, body) = try await get("/chef/nodes/\(host).json", from: neighbour)
        #expect(status == .forbidden)
        #expect(body.contains("198.18.16.18 holds no lease, and a read token (Authorization: Bearer) is required"))
    }
}

/// The admin router driven in-process: open reads, authenticated writes, failures with their status.
@Suite struct AdminRouterTests {
    static let token = "0123456789abcdef-operator"
    static let readToken = "0123456789abcdef-auditor"
    static let scoped = AdminTokens(holders: [token: TokenHolder(name: "operator", scope: .write),
                                              readToken: TokenHolder(name: "auditor", scope: .read)])

    let state: URL
    let source: ZoneSource
    let running: Int

    init() throws {
        state = try temporaryDirectory()
        source = try ZoneLoader.source(path: exampleZonePath)
        let store = try SQLiteRevisionStore(stateDirectory: state.path)
        running = try ZoneAdministrator.startingRevision(zoneFile: exampleZonePath, store: store,
                                                         logger: Logger(label: "test")).1.id
    }

    /// A router over the state directory's running revision; nil `tokens`: no token file.
    private func router(tokens: AdminTokens?, logger: Logger = Logger(label: "test")) throws -> Router<AdminRequestContext> {
        let store = try SQLiteRevisionStore(stateDirectory: state.path)
        let (revision, summary) = try ZoneAdministrator.startingRevision(zoneFile: exampleZonePath, store: store, logger: logger)
        let leases = CommittedLeases([])
        let administrator = ZoneAdministrator(holder: RevisionHolder(revision), running: summary, store: store,
                                              leases: leases, logger: logger)
        return buildAdminRouter(administrator: administrator, tokens: tokens.map { AdminTokenFile(path: "tokens", tokens: $0) },
                                leases: leases, logger: logger)
    }

    private struct Answer {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var error: APIError?
    }

    private func send(_ uri: String, _ method: HTTPRequest.Method = .post, body: some Encodable, token: String? = nil,
                      scheme: String = "Bearer", tokens: AdminTokens? = AdminRouterTests.scoped,
                      over setup: TestingSetup = .router) async throws -> Answer {
        try await send(uri, method, bytes: ByteBuffer(bytes: try JSONEncoder().encode(body)), token: token, scheme: scheme,
                       tokens: tokens, over: setup)
    }

    /// `.router`: in-process, no peer address; `.live`: a real socket on 127.0.0.1 (a loopback peer).
    private func send(_ uri: String, _ method: HTTPRequest.Method = .post, bytes: ByteBuffer?, token: String? = nil,
                      scheme: String = "Bearer", tokens: AdminTokens? = AdminRouterTests.scoped,
                      over setup: TestingSetup = .router) async throws -> Answer {
        var fields: HTTPFields = [.contentType: "application/json"]
        if let token { fields[.authorization] = "\(scheme) \(token)" }
        let headers = fields
        return try await Application(router: router(tokens: tokens)).test(setup) { client in
            try await client.execute(uri: uri, method: method, headers: headers, body: bytes) { response in
                Answer(status: response.status, headers: response.headers,
                       error: try? JSONStyle.decoder().decode(APIError.self, from: Data(response.body.readableBytesView)))
            }
        }
    }

    private var apply: ApplyRequest { ApplyRequest(source: source, baseRevision: running, message: "test") }

    @Test func aWriteWithoutAValidTokenIs401WithAChallenge() async throws {
        let none = try await send("/v1/apply", body: apply)
        #expect(none.status == .unauthorized)
        #expect(none.headers[.wwwAuthenticate] == "Bearer")
        #expect(none.error?.error == "a valid 'Authorization: Bearer <token>' is required to change the zone")
        #expect(try await send("/v1/rollback", body: RollbackRequest(revision: 1, baseRevision: running, message: nil),
                               token: "not-the-token-at-all").status == .unauthorized)
    }

    @Test func theBearerSchemeIsCaseInsensitive() async throws {
        // RFC 9110 section 11.1: auth schemes are case-insensitive. The running zone again: 200, nothing recorded.
        for scheme in ["bearer", "BEARER", "bEaReR"] {
            #expect(try await send("/v1/apply", body: apply, token: Self.token, scheme: scheme).status == .ok)
        }
        #expect(try await send("/v1/apply", body: apply, token: Self.token, scheme: "Basic").status == .unauthorized)
        #expect(try await send("/v1/apply", body: apply, token: Self.token, scheme: "Bearerx").status == .unauthorized)
    }

    @Test func withoutATokenFileWritesAre401AndReadsAreForLoopbackClientsOnly() async throws {
        let refused = try await send("/v1/apply", body: apply, token: Self.token, tokens: nil)
        #expect(refused.status == .unauthorized)
        #expect(refused.error?.error == "this server has no --admin-token-file: changes through the admin API are disabled")
        // A real socket on 127.0.0.1: reads are answered, writes are not.
        #expect(try await send("/v1/hosts", .get, bytes: nil, tokens: nil, over: .live).status == .ok)
        #expect(try await send("/v1/plan", body: PlanRequest(source: source), tokens: nil, over: .live).status == .ok)
        #expect(try await send("/v1/apply", body: apply, token: Self.token, tokens: nil, over: .live).status == .unauthorized)
        // A peer that is not this host (in-process: no peer address at all) reads nothing.
        let remote = try await send("/v1/hosts", .get, bytes: nil, tokens: nil)
        #expect(remote.status == .unauthorized)
        #expect(remote.error?.error.contains("answers reads only to clients on its own host") == true)
        #expect(try await send("/v1/revision", .get, bytes: nil, tokens: nil).status == .ok)
    }

    @Test func readsNeedAReadTokenAndTheRevisionNumberIsOpen() async throws {
        let reads: [(String, HTTPRequest.Method, ByteBuffer?)] = [
            ("/v1/hosts", .get, nil), ("/v1/leases", .get, nil), ("/v1/history", .get, nil),
            ("/v1/plan", .post, ByteBuffer(bytes: try JSONEncoder().encode(PlanRequest(source: source)))),
        ]
        for (uri, method, bytes) in reads {
            let none = try await send(uri, method, bytes: bytes)
            #expect(none.status == .unauthorized, "\(uri)")
            #expect(none.headers[.wwwAuthenticate] == "Bearer", "\(uri)")
            #expect(none.error?.error == "a valid 'Authorization: Bearer <token>' is required to read the zone, its hosts, leases and history")
            #expect(try await send(uri, method, bytes: bytes, token: "0123456789abcdef-guessed").status == .unauthorized)
            #expect(try await send(uri, method, bytes: bytes, token: Self.readToken).status == .ok, "\(uri)")
            #expect(try await send(uri, method, bytes: bytes, token: Self.token).status == .ok, "\(uri)")
        }
        // Even over a loopback socket: a server with a token file wants one.
        #expect(try await send("/v1/hosts", .get, bytes: nil, over: .live).status == .unauthorized)
        let revision = try await send("/v1/revision", .get, bytes: nil)
        #expect(revision.status == .ok)
    }

    @Test func aReadTokenOnAWriteIs403AndSaysWhy() async throws {
        let refused = try await send("/v1/apply", body: apply, token: Self.readToken)
        #expect(refused.status == .forbidden)
        #expect(refused.headers[.wwwAuthenticate] == nil)
        #expect(refused.error?.error.hasPrefix("the token of auditor may only read: changing the zone needs a write token") == true)
        #expect(try await send("/v1/rollback", body: RollbackRequest(revision: 1, baseRevision: running, message: nil),
                               token: Self.readToken).status == .forbidden)
        #expect(try await send("/v1/apply", body: apply, token: Self.token).status == .ok)
    }

    @Test func refusalsAreLoggedWithoutTheTokenAtABoundedRate() async throws {
        let lines = LogLines()
        var logger = Logger(label: "test") { _ in lines.handler }
        logger.logLevel = .info
        let application = Application(router: try router(tokens: Self.scoped, logger: logger))
        try await application.test(.router) { client in
            for _ in 0..<50 {
                try await client.execute(uri: "/v1/hosts", method: .get, headers: [.authorization: "Bearer 0123456789abcdef-guessed"]) {
                    #expect($0.status == .unauthorized)
                }
            }
            let body = ByteBuffer(bytes: try JSONEncoder().encode(self.apply))
            try await client.execute(uri: "/v1/apply", method: .post,
                                     headers: [.authorization: "Bearer \(Self.readToken)", .contentType: "application/json"],
                                     body: body) { #expect($0.status == .forbidden) }
        }
        let logged = lines.all
        // One line for the 50 unknown tokens (the first), one for the read token on a write route.
        #expect(logged.count == 2)
        #expect(logged.allSatisfy { $0.level == .notice && $0.message == "admin request refused" })
        #expect(logged.first?.metadata["why"] == "unknown token")
        #expect(logged.first?.metadata["path"] == "/v1/hosts" && logged.first?.metadata["method"] == "GET")
        #expect(logged.last?.metadata["why"] == "read token of auditor on a write route")
        #expect(logged.last?.metadata["status"] == "403")
        #expect(!logged.contains { line in line.metadata.values.contains { $0.contains("0123456789abcdef") } })
    }

    @Test func aWriteAgainstAStaleRevisionIs409WithTheCurrentOne() async throws {
        let stale = ApplyRequest(source: source, baseRevision: running + 5, message: nil)
        let answer = try await send("/v1/apply", body: stale, token: Self.token)
        #expect(answer.status == .conflict)
        #expect(answer.error?.currentRevision == running)
        // The same request on the running revision goes through (nothing changes: no new revision).
        #expect(try await send("/v1/apply", body: apply, token: Self.token).status == .ok)
    }

    @Test func aBodyOverTheLimitIs413() async throws {
        let oversize = ByteBuffer(repeating: UInt8(ascii: " "), count: AdminAPI.maximumBodySize + 1)
        #expect(try await send("/v1/plan", bytes: oversize, token: Self.readToken).status == .contentTooLarge)
    }

    @Test func aZoneThatDoesNotLoadIs422WithItsDiagnostics() async throws {
        let broken = ZoneSource(zoneFile: "broken.yaml", text: "apiVersion: zoneboot/v1\nzone: [\n")
        let answer = try await send("/v1/plan", body: PlanRequest(source: broken), token: Self.readToken)
        #expect(answer.status == .unprocessableContent)
        #expect(answer.error?.error.hasPrefix("the zone does not load") == true)
        #expect(answer.error?.diagnostics?.isEmpty == false)
        #expect(try await send("/v1/apply", body: ApplyRequest(source: broken, baseRevision: running, message: nil),
                               token: Self.token).status == .unprocessableContent)
    }
}

/// Log lines a test reads back: level, message and metadata as text.
final class LogLines: Sendable {
    struct Line {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let lines = Mutex<[Line]>([])

    var all: [Line] { lines.withLock { $0 } }

    /// A handler that appends to these lines.
    var handler: Handler { Handler(sink: self) }

    struct Handler: LogHandler {
        let sink: LogLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        var metadataProvider: Logger.MetadataProvider?

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let line = Line(level: event.level, message: "\(event.message)",
                            metadata: (event.metadata ?? [:]).mapValues { "\($0)" })
            sink.lines.withLock { $0.append(line) }
        }
    }
}
