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

/// The peer a request comes from: the router test framework has no socket.
private enum BootstrapPeer {
    @TaskLocal static var address: IPv4Address?
}

private struct BootstrapPeerContext: PeerAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let clientAddress: IPv4Address?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = BootstrapPeer.address
    }
}

/// `/bootstrap/<host>/<name>` on the boot router: issued by a render, served once, 403 and 410.
@Suite struct BootstrapRouterTests {
    let host = "ams1-p01-r01-u07"
    let address = IPv4Address(198, 18, 16, 17)
    let neighbour = IPv4Address(198, 18, 16, 18)
    let state = NSTemporaryDirectory() + "zoneboot-bootstrap-router-\(UUID().uuidString)"
    let store: SQLiteBootstrapSecretStore
    fileprivate let router: Router<BootstrapPeerContext>

    init() throws {
        let now = Int64(Date().timeIntervalSince1970)
        let leases = [(address, host, UInt8(7)), (neighbour, "ams1-p01-r01-u08", UInt8(8))].map { address, name, last in
            Lease(address: address, mac: [0x52, 0x54, 0, 0, 0, last], clientID: nil, pod: "p01",
                  location: Location(pod: "p01", switch: "tor-a", port: "swp\(last)"), name: name, state: .bound,
                  expiresAt: now + 3600, updatedAt: now)
        }
        store = try SQLiteBootstrapSecretStore(stateDirectory: state)
        router = buildBootRouter(context: BootstrapPeerContext.self,
                                 revisions: RevisionHolder(try ZoneLoader.load(path: exampleZonePath)),
                                 leases: CommittedLeases(leases), loadersDirectory: nil, filesDirectory: nil,
                                 statistics: Counters(HTTPCounters()), logger: Logger(label: "test"), bootstrapSecrets: store)
    }

    private func get(_ uri: String, from peer: IPv4Address) async throws -> (HTTPResponse.Status, String) {
        try await BootstrapPeer.$address.withValue(peer) {
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
