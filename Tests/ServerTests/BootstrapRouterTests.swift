import AdminAPI
import Addressing
import Boot
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
@testable import Server
import Store
import TestSupport
import Testing
import Zone

/// `/bootstrap/<host>/<name>` on the boot router: issued by a render, served once, 403 and 410.
@Suite struct BootstrapRouterTests {
    let host = "ams1-p01-r01-u07"
    let address = IPv4Address(198, 18, 16, 17)
    let neighbour = IPv4Address(198, 18, 16, 18)
    let state = NSTemporaryDirectory() + "zoneboot-bootstrap-router-\(UUID().uuidString)"
    let store: SQLiteBootstrapSecretStore
    fileprivate let router: Router<PeerContext>

    init() throws {
        let now = Int64(Date().timeIntervalSince1970)
        let leases = [(address, host, UInt8(7)), (neighbour, "ams1-p01-r01-u08", UInt8(8))].map { address, name, last in
            Lease(address: address, mac: [0x52, 0x54, 0, 0, 0, last], clientID: nil, pod: "p01",
                  location: Location(pod: "p01", switch: "tor-a", port: "swp\(last)"), name: name, state: .bound,
                  expiresAt: now + 3600, updatedAt: now)
        }
        store = try SQLiteBootstrapSecretStore(stateDirectory: state)
        router = buildBootRouter(context: PeerContext.self,
                                 revisions: RevisionHolder(try ZoneLoader.load(path: exampleZonePath)),
                                 leases: CommittedLeases(leases), loadersDirectory: nil, filesDirectory: nil,
                                 statistics: Counters(HTTPCounters()), logger: Logger(label: "test"), bootstrapSecrets: store)
    }

    private func get(_ uri: String, from peer: IPv4Address) async throws -> (HTTPResponse.Status, String) {
        try await Peer.$address.withValue(peer) {
            try await Application(router: router).test(.router) { client in
                try await client.execute(uri: uri, method: .get) { response in
                    (response.status, String(buffer: response.body))
                }
            }
        }
    }

    @Test func theKickstartIssuesTheKeyTheHostGetsItOnceOthersNever() async throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let url = "/bootstrap/\(host)/chef-client-key"
        #expect(try await get("/hosts/\(host)/ks.cfg", from: address).0 == .ok)
        #expect(try store.all().map { "\($0.host) \($0.name) \($0.state)" } == ["\(host) chef-client-key issued"])
        #expect(try await get(url, from: neighbour).0 == .forbidden)
        let first = try await get(url, from: address)
        #expect(first.0 == .ok)
        #expect(first.1.hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
        #expect(try await get(url, from: address).0 == .gone)
        // Rendering again (the same machine) issues nothing new: still used.
        #expect(try await get("/hosts/\(host)/ks.cfg", from: address).0 == .ok)
        #expect(try await get(url, from: address).0 == .gone)
        let record = try #require(try store.record(host: host, name: "chef-client-key"))
        #expect(record.state == .used && record.servedTo == address && record.fingerprint?.hasPrefix("sha256:") == true)
        #expect(try await get("/bootstrap/\(host)/validator", from: address).0 == .notFound)
    }
}

/// `GET /v1/secrets` on the admin router: behind the token, states and fingerprints only.
@Suite struct SecretsAdminRouteTests {
    static let token = "0123456789abcdef-operator"
    let state = NSTemporaryDirectory() + "zoneboot-secrets-admin-\(UUID().uuidString)"

    private func get(token: String?) async throws -> (HTTPResponse.Status, String) {
        let logger = Logger(label: "test")
        let revisions = try SQLiteRevisionStore(stateDirectory: state)
        let (revision, summary) = try ZoneAdministrator.startingRevision(zoneFile: exampleZonePath, store: revisions,
                                                                         logger: logger)
        let secrets = try SQLiteBootstrapSecretStore(stateDirectory: state)
        try secrets.issue([BootstrapSecretRecord(host: "h1", name: "chef-client-key", kind: .rsaKey, state: .issued,
                                                 generation: 1, issuedAt: 1_000, expiresAt: 2_000, mac: "52:54:00:00:00:01")])
        let leases = CommittedLeases([])
        let router = buildAdminRouter(
            administrator: ZoneAdministrator(holder: RevisionHolder(revision), running: summary, store: revisions,
                                             leases: leases, logger: logger),
            tokens: AdminTokenFile(path: "tokens", tokens: AdminTokens(tokens: [Self.token: "operator"])), leases: leases,
            bootstrapSecrets: secrets)
        return try await Application(router: router).test(.router) { client in
            let headers: HTTPFields = token.map { [.authorization: "Bearer \($0)"] } ?? [:]
            return try await client.execute(uri: "/v1/secrets", method: .get, headers: headers) { response in
                (response.status, String(buffer: response.body))
            }
        }
    }

    @Test func onlyATokenListsThemAndTheListHoldsNoSecret() async throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        #expect(try await get(token: nil).0 == .unauthorized)
        #expect(try await get(token: "not-the-token-at-all").0 == .unauthorized)
        let (status, body) = try await get(token: Self.token)
        #expect(status == .ok)
        let rows = try JSONStyle.decoder().decode([BootstrapSecretRow].self, from: Data(body.utf8))
        #expect(rows.map { "\($0.host) \($0.name) \($0.status)" } == ["h1 chef-client-key expired"])
    }
}
