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

/// Boot phases recorded by the boot router (and timed into /metrics), and the zone view's
/// reads on the admin router, in-process.
@Suite struct ZoneViewRouterTests {
    let host = "ams1-p01-r01-u07"
    let address = IPv4Address(198, 18, 16, 17)
    let revision: ZoneRevision
    let leases = CommittedLeases([])
    let metrics: ServerMetrics
    let phases: BootPhases
    let loaders: URL

    init() throws {
        revision = try ZoneLoader.load(path: exampleZonePath)
        metrics = ServerMetrics(counters: ServerCounters(httpLimits: HTTPConnectionLimits()), revisions: RevisionHolder(revision),
                                leases: leases)
        phases = BootPhases(leases: leases, metrics: metrics)
        loaders = FileManager.default.temporaryDirectory.appendingPathComponent("zoneboot-zoneview-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: loaders, withIntermediateDirectories: true)
        try Data("loader bytes".utf8).write(to: loaders.appendingPathComponent("ipxe.efi"))
    }

    /// The host's DHCP ACK as the engine publishes it.
    func grant() {
        let now = Int64(Date().timeIntervalSince1970)
        leases.record([Lease(address: address, mac: [0x52, 0x54, 0, 0, 0, 7], clientID: nil, pod: "p01",
                             location: Location(pod: "p01", switch: "tor-a", port: "swp7"), name: host, state: .bound,
                             expiresAt: now + 3600, updatedAt: now)])
    }

    func boot(_ paths: [String]) async throws -> [HTTPResponse.Status] {
        let router = buildBootRouter(context: PeerContext.self, revisions: RevisionHolder(revision), leases: leases,
                                     loadersDirectory: loaders.path, filesDirectory: nil, statistics: metrics.counters.http,
                                     logger: Logger(label: "test"), phases: phases)
        return try await Peer.$address.withValue(address) {
            try await Application(router: router).test(.router) { client in
                var statuses: [HTTPResponse.Status] = []
                for path in paths { statuses.append(try await client.execute(uri: path, method: .get) { $0.status }) }
                return statuses
            }
        }
    }

    @Test func aBootsPhasesAreRecordedAndTimed() async throws {
        grant()
        #expect(phases.timeline(of: host)?.steps.map(\.phase) == [.dhcpAck])
        let statuses = try await boot(["/loaders/ipxe.efi", "/hosts/\(host)/boot.ipxe", "/hosts/\(host)/booted",
                                       "/ansible/inventory/\(host)"])
        #expect(statuses == [.ok, .ok, .ok, .ok])
        #expect(phases.timeline(of: host)?.steps.map(\.phase) == [.dhcpAck, .loaderFetched, .scriptFetched, .booted, .handoff])
        let text = String(decoding: metrics.scrape(), as: UTF8.self)
        for phase in ["loader_fetched", "script_fetched", "booted", "handoff"] {
            #expect(text.contains(#"zoneboot_boot_phase_seconds_count{phase="\#(phase)"} 1"#), "\(phase)")
        }
        #expect(text.contains(#"zoneboot_http_sent_bytes_total{outcome="loaders"} 12"#))
        #expect(text.contains(#"zoneboot_http_sent_bytes_total{outcome="host_files"}"#))
    }

    @Test func aFetchFromAnAddressWithoutALeaseRecordsNothing() async throws {
        _ = try await boot(["/loaders/ipxe.efi"])
        #expect(phases.timeline(of: host) == nil)
        let text = String(decoding: metrics.scrape(), as: UTF8.self)
        // Every phase's family is there from the start, empty.
        #expect(text.contains(#"zoneboot_boot_phase_seconds_count{phase="booted"} 0"#))
    }

    static let readToken = "0123456789abcdef-viewer"

    func admin(_ path: String, token: String?) async throws -> (HTTPResponse.Status, HTTPFields, Data) {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("zoneboot-zoneview-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        let store = try SQLiteRevisionStore(stateDirectory: state.path)
        let logger = Logger(label: "test")
        let (revision, summary) = try ZoneAdministrator.startingRevision(zoneFile: exampleZonePath, store: store, logger: logger)
        let holder = RevisionHolder(revision)
        let administrator = ZoneAdministrator(holder: holder, running: summary, store: store, leases: leases, logger: logger)
        let tokens = AdminTokens(holders: [Self.readToken: TokenHolder(name: "viewer", scope: .read)])
        let router = buildAdminRouter(administrator: administrator, tokens: AdminTokenFile(path: "tokens", tokens: tokens),
                                      leases: leases, zoneView: ZoneViewFeed(revisions: holder, leases: leases, phases: phases))
        let headers: HTTPFields = token.map { [.authorization: "Bearer \($0)"] } ?? [:]
        return try await Application(router: router).test(.router) { client in
            try await client.execute(uri: path, method: .get, headers: headers) { response in
                (response.status, response.headers, Data(response.body.readableBytesView))
            }
        }
    }

    @Test func thePageIsOpenAndItsDataNeedsAReadToken() async throws {
        let (status, headers, page) = try await admin("/zone", token: nil)
        #expect(status == .ok)
        #expect(headers[.contentType] == "text/html; charset=utf-8")
        #expect(headers[.contentSecurityPolicy]?.hasPrefix("default-src 'self'") == true)
        #expect(String(decoding: page, as: UTF8.self).contains(#"<script src="/zone/view.js""#))
        #expect(try await admin("/zone/view.js", token: nil).0 == .ok)
        #expect(try await admin("/v1/zone-view", token: nil).0 == .unauthorized)
        #expect(try await admin("/v1/zone-view/hosts/\(host)", token: nil).0 == .unauthorized)
    }

    @Test func theSnapshotAndTheSidePanelShowABootedHost() async throws {
        grant()
        _ = try await boot(["/hosts/\(host)/boot.ipxe", "/hosts/\(host)/booted"])
        let (status, _, body) = try await admin("/v1/zone-view", token: Self.readToken)
        #expect(status == .ok)
        let snapshot = try JSONStyle.decoder().decode(ZoneViewSnapshot.self, from: body)
        let index = try #require(snapshot.layout.names.firstIndex(of: host))
        #expect(Array(snapshot.states)[index] == "b")
        #expect(snapshot.states.count == revision.identities.count)
        #expect(Array(snapshot.states).filter { $0 != "n" }.count == 1)
        #expect(snapshot.revision.id == snapshot.applies.first?.id)

        let (hostStatus, _, hostBody) = try await admin("/v1/zone-view/hosts/\(host)", token: Self.readToken)
        #expect(hostStatus == .ok)
        let panel = try JSONStyle.decoder().decode(ZoneViewHost.self, from: hostBody)
        #expect(panel.state == "booted")
        #expect(panel.lease?.mac == "52:54:00:00:00:07")
        #expect(panel.timeline.map(\.phase) == ["dhcp_ack", "script_fetched", "booted"])
        #expect(panel.timeline.last?.seconds != nil)
        #expect(try await admin("/v1/zone-view/hosts/nobody", token: Self.readToken).0 == .notFound)
    }

    @Test func aFileOpenedOverTFTPIsABootStepAndARefusalIsNot() throws {
        grant()
        let files = OverlayContentSource(base: nil) { path, _ in path == "undionly.kpxe" ? Array("loader".utf8) : nil }
        let source = ObservedContentSource(files) { [phases] path, client in
            phases.fetched(.loaderFetched, from: client, detail: "\(path) over TFTP")
        }
        #expect(throws: TFTPContentError.self) { try source.open("missing.efi", client: address) }
        #expect(phases.timeline(of: host)?.steps.map(\.phase) == [.dhcpAck])
        _ = try source.open("undionly.kpxe", client: address)
        #expect(phases.timeline(of: host)?.steps.map(\.phase) == [.dhcpAck, .loaderFetched])
        #expect(phases.timeline(of: host)?.steps.last?.detail == "undionly.kpxe over TFTP")
    }
}
