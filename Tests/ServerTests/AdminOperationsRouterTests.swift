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

/// The admin routes `zonectl events`, `bmcs` and `render --server` use: reads need a read
/// token, a retry or a forgotten pin a write token, and each answers what the store holds.
@Suite struct AdminOperationsRouterTests {
    let state = NSTemporaryDirectory() + "zoneboot-admin-operations-\(UUID().uuidString)"
    let tokens = AdminTokens(holders: ["write-token-0123456789abcdef": TokenHolder(name: "operator", scope: .write),
                                       "read-token-0123456789abcdef": TokenHolder(name: "auditor", scope: .read)])

    private struct Answer {
        var status: HTTPResponse.Status
        var body: Data
    }

    /// A router over a fresh state directory whose outbox holds one dead letter (id 2, after the
    /// first start's zone.applied) and whose inventory holds one BMC with a pinned certificate.
    private func router() throws -> Router<AdminRequestContext> {
        let logger = Logger(label: "test")
        let store = try SQLiteRevisionStore(stateDirectory: state)
        let (revision, summary) = try ZoneAdministrator.startingRevision(zoneFile: exampleZonePath, store: store, logger: logger)
        let database = try ZoneBootDatabase.open(stateDirectory: state)
        let outbox = SQLiteEventOutbox(writer: database), inventory = SQLiteBMCInventory(writer: database)
        try outbox.append([ZoneEvent(type: .leaseAcked, address: IPv4Address(198, 18, 16, 11), mac: "52:54:00:00:00:01",
                                     name: "h1", pod: "p01", location: nil, details: [:], at: 100)])
        for entry in try outbox.claimDue(nowMs: .max, limit: 10, settling: []) where entry.event.type == .leaseAcked {
            try outbox.finish([DeliveryResult(id: entry.id, succeeded: [], outcome: .dead(error: "hook: HTTP 500"))], nowMs: 1)
        }
        var bmc = BMCRecord(name: "h1-lom", address: "198.18.17.11", mac: "52:54:00:00:00:01", hostname: nil,
                            manufacturer: "HPE", model: "ProLiant DL360 Gen10", serial: "CZ1234", biosVersion: nil,
                            bmcFirmware: nil, registeredAt: 1)
        bmc.certificateSHA256 = "AB:CD"
        try inventory.record(bmc, event: nil)
        let leases = CommittedLeases([])
        let administrator = ZoneAdministrator(holder: RevisionHolder(revision), running: summary, store: store, leases: leases,
                                              logger: logger)
        return buildAdminRouter(administrator: administrator, tokens: AdminTokenFile(path: "tokens", tokens: tokens),
                                leases: leases, outbox: outbox, bmcs: inventory, logger: logger)
    }

    private func send(_ router: Router<AdminRequestContext>, _ uri: String, _ method: HTTPRequest.Method = .get,
                      body: (some Encodable)? = nil as String?, token: String?) async throws -> Answer {
        var fields: HTTPFields = [.contentType: "application/json"]
        if let token { fields[.authorization] = "Bearer \(token)" }
        let headers = fields
        let bytes = try body.map { ByteBuffer(bytes: try JSONEncoder().encode($0)) }
        return try await Application(router: router).test(.router) { client in
            try await client.execute(uri: uri, method: method, headers: headers, body: bytes) { response in
                Answer(status: response.status, body: Data(response.body.readableBytesView))
            }
        }
    }

    @Test func eventsAreReadWithAReadTokenAndRetriedWithAWriteToken() async throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let router = try router()
        let read = "read-token-0123456789abcdef", write = "write-token-0123456789abcdef"
        #expect(try await send(router, "/v1/events", token: nil).status == .unauthorized)
        let dead = try await send(router, "/v1/events?filter=dead", token: read)
        let records = try JSONStyle.decoder().decode([EventRecord].self, from: dead.body)
        #expect(records.map(\.type) == ["lease.acked"] && records.map(\.lastError) == ["hook: HTTP 500"])
        let all = try JSONStyle.decoder().decode([EventRecord].self, from: try await send(router, "/v1/events?limit=1", token: read).body)
        #expect(all.count == 1)
        #expect(try await send(router, "/v1/events?filter=some", token: read).status == .badRequest)

        let id = try #require(records.first?.id)
        #expect(try await send(router, "/v1/events/retry", .post, body: EventRetryRequest(id: id), token: read).status == .forbidden)
        #expect(try await send(router, "/v1/events/retry", .post, body: EventRetryRequest(id: id), token: write).status == .ok)
        let again = try await send(router, "/v1/events/retry", .post, body: EventRetryRequest(id: id), token: write)
        #expect(again.status == .notFound)
        #expect(try JSONStyle.decoder().decode(APIError.self, from: again.body).error.contains("is not a dead letter"))
        #expect(try JSONStyle.decoder().decode([EventRecord].self,
                                         from: try await send(router, "/v1/events?filter=dead", token: read).body).isEmpty)
    }

    @Test func bmcsAreReadWithAReadTokenAndForgottenWithAWriteToken() async throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let router = try router()
        let read = "read-token-0123456789abcdef", write = "write-token-0123456789abcdef"
        #expect(try await send(router, "/v1/bmcs", token: nil).status == .unauthorized)
        let listed = try JSONStyle.decoder().decode([BMCRecord].self, from: try await send(router, "/v1/bmcs", token: read).body)
        #expect(listed.map(\.name) == ["h1-lom"] && listed.map(\.certificateSHA256) == ["AB:CD"])
        let forget = BMCForgetRequest(name: "h1-lom")
        #expect(try await send(router, "/v1/bmcs/forget", .post, body: forget, token: read).status == .forbidden)
        #expect(try await send(router, "/v1/bmcs/forget", .post, body: forget, token: write).status == .ok)
        let after = try JSONStyle.decoder().decode([BMCRecord].self, from: try await send(router, "/v1/bmcs", token: read).body)
        #expect(after.map(\.certificateSHA256) == [nil])
        #expect(try await send(router, "/v1/bmcs/forget", .post, body: BMCForgetRequest(name: "nobody"), token: write).status
                == .notFound)
    }

    @Test func theRunningSourceIsARead() async throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let router = try router()
        #expect(try await send(router, "/v1/revision/source", token: nil).status == .unauthorized)
        let answer = try await send(router, "/v1/revision/source", token: "read-token-0123456789abcdef")
        let running = try JSONStyle.decoder().decode(RunningSource.self, from: answer.body)
        let source = try ZoneLoader.source(path: exampleZonePath)
        #expect(running.revision.id == 1 && running.source == source)
    }
}
