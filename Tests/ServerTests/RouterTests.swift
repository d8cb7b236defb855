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
        router = buildBootRouter(context: PeerContext.self, revisions: RevisionHolder(try ZoneLoader.load(path: exampleZonePath)),
                                 leases: CommittedLeases([lease]), loadersDirectory: loaders.path, filesDirectory: files.path,
                                 statistics: statistics, logger: Logger(label: "test"))
    }

    private func get(_ uri: String, from peer: IPv4Address?) async throws -> (HTTPResponse.Status, String) {
        try await Peer.$address.withValue(peer) {
            try await Application(router: router).test(.router) { client in
                try await client.execute(uri: uri, method: .get) { response in
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

/// The admin router driven in-process: open reads, authenticated writes, failures with their status.
@Suite struct AdminRouterTests {
    static let token = "0123456789abcdef-operator"

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
    private func router(tokens: AdminTokens?) throws -> Router<AdminRequestContext> {
        let logger = Logger(label: "test")
        let store = try SQLiteRevisionStore(stateDirectory: state.path)
        let (revision, summary) = try ZoneAdministrator.startingRevision(zoneFile: exampleZonePath, store: store, logger: logger)
        let leases = CommittedLeases([])
        let administrator = ZoneAdministrator(holder: RevisionHolder(revision), running: summary, store: store,
                                              leases: leases, logger: logger)
        return buildAdminRouter(administrator: administrator, tokens: tokens.map { AdminTokenFile(path: "tokens", tokens: $0) },
                                leases: leases)
    }

    private struct Answer {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var error: APIError?
    }

    private func send(_ uri: String, _ method: HTTPRequest.Method = .post, body: some Encodable, token: String? = nil,
                      scheme: String = "Bearer",
                      tokens: AdminTokens? = AdminTokens(tokens: [AdminRouterTests.token: "operator"])) async throws -> Answer {
        try await send(uri, method, bytes: ByteBuffer(bytes: try JSONEncoder().encode(body)), token: token, scheme: scheme,
                       tokens: tokens)
    }

    private func send(_ uri: String, _ method: HTTPRequest.Method = .post, bytes: ByteBuffer?, token: String? = nil,
                      scheme: String = "Bearer",
                      tokens: AdminTokens? = AdminTokens(tokens: [AdminRouterTests.token: "operator"])) async throws -> Answer {
        var fields: HTTPFields = [.contentType: "application/json"]
        if let token { fields[.authorization] = "\(scheme) \(token)" }
        let headers = fields
        return try await Application(router: router(tokens: tokens)).test(.router) { client in
            try await client.execute(uri: uri, method: method, headers: headers, body: bytes) { response in
                Answer(status: response.status, headers: response.headers,
                       error: try? JSONDecoder().decode(APIError.self, from: Data(response.body.readableBytesView)))
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

    @Test func withoutATokenFileReadsWorkAndWritesAre401() async throws {
        let refused = try await send("/v1/apply", body: apply, token: Self.token, tokens: nil)
        #expect(refused.status == .unauthorized)
        #expect(refused.error?.error == "this server has no --admin-token-file: changes through the admin API are disabled")
        let read = try await send("/v1/revision", .get, bytes: nil, tokens: nil)
        #expect(read.status == .ok)
        #expect(try await send("/v1/plan", body: PlanRequest(source: source), tokens: nil).status == .ok)
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
        #expect(try await send("/v1/plan", bytes: oversize).status == .contentTooLarge)
    }

    @Test func aZoneThatDoesNotLoadIs422WithItsDiagnostics() async throws {
        let broken = ZoneSource(zoneFile: "broken.yaml", text: "apiVersion: zoneboot/v1\nzone: [\n")
        let answer = try await send("/v1/plan", body: PlanRequest(source: broken))
        #expect(answer.status == .unprocessableContent)
        #expect(answer.error?.error.hasPrefix("the zone does not load") == true)
        #expect(answer.error?.diagnostics?.isEmpty == false)
        #expect(try await send("/v1/apply", body: ApplyRequest(source: broken, baseRevision: running, message: nil),
                               token: Self.token).status == .unprocessableContent)
    }
}
