import Addressing
import Boot
import Foundation
import Store
import Testing
import Zone

/// The bootstrap secret store: compare-and-set issues and serves, the event with the serve.
@Suite struct BootstrapSecretStoreTests {
    private let state = NSTemporaryDirectory() + "zoneboot-secrets-\(UUID().uuidString)"

    private func issued(generation: Int = 1, expiresAt: Int64 = 8_000) -> BootstrapSecretRecord {
        BootstrapSecretRecord(host: "h1", name: "chef-client-key", kind: .rsaKey, state: .issued, generation: generation,
                              issuedAt: 1_000, expiresAt: expiresAt, mac: "52:54:00:00:00:01")
    }

    private func used(_ issue: BootstrapSecretRecord) -> BootstrapSecretRecord {
        var record = issue
        record.state = .used
        record.servedAt = 1_100
        record.servedTo = IPv4Address(198, 18, 16, 11)
        record.fingerprint = "sha256:00ff"
        return record
    }

    private let event = ZoneEvent(type: .bootstrapIssued, address: IPv4Address(198, 18, 16, 11), mac: "52:54:00:00:00:01",
                                  name: "h1", pod: "p01", location: nil,
                                  details: ["secret": "chef-client-key", "public_key": "-----BEGIN PUBLIC KEY-----"], at: 1_100)

    @Test func anIssueIsServedOnceWithItsEvent() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let store = try SQLiteBootstrapSecretStore(stateDirectory: state)
        let outbox = try SQLiteEventOutbox(stateDirectory: state)
        #expect(try store.issue([issued()]) == 1)
        // The same issue again (a second render that decided on the same empty row): not written.
        #expect(try store.issue([issued()]) == 0)
        let issue = try #require(try store.record(host: "h1", name: "chef-client-key"))
        #expect(issue == issued())
        #expect(try store.serve(used(issue), expected: issue, event: event))
        // A second fetch that read the same issued row loses: nothing served, no second event.
        #expect(try !store.serve(used(issue), expected: issue, event: event))
        #expect(try store.record(host: "h1", name: "chef-client-key") == used(issue))
        let events = try outbox.events(.all, limit: 10)
        #expect(events.map(\.type) == ["bootstrap.issued"])
        #expect(try store.all().map { $0.status(at: 1_200) } == ["used"])
    }

    @Test func anOnDemandServeAndAReissueCompareGenerations() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let store = try SQLiteBootstrapSecretStore(stateDirectory: state)
        // No row yet: the first serve inserts, a concurrent one finds the row and loses.
        #expect(try store.serve(used(issued()), expected: nil, event: nil))
        #expect(try !store.serve(used(issued()), expected: nil, event: nil))
        // A replaced machine: a new issue from generation 1 to 2, once.
        #expect(try store.issue([issued(generation: 2)]) == 1)
        #expect(try store.issue([issued(generation: 2)]) == 0)
        #expect(try store.records(host: "h1").map(\.generation) == [2])
        #expect(try store.forget(host: "h1", name: nil) == 1)
        #expect(try store.all().isEmpty)
    }
}
