import Addressing
import Boot
import Foundation
import Store
import Testing
import Zone

private func temporaryState() -> String {
    NSTemporaryDirectory() + "zoneboot-store-\(UUID().uuidString)"
}

private let source = ZoneSource(zoneFile: "z.yaml", text: "zone: a\n", files: ["t.ipxe": "#!ipxe\n"])

@Suite struct RevisionStoreTests {
    @Test func appendsInOrderAndReadsBack() throws {
        let state = temporaryState()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let store = try SQLiteRevisionStore(stateDirectory: state)
        #expect(try store.latest() == nil)
        let first = try store.append(source: source, zone: "a", author: "ops", message: "first", basedOn: nil, summary: "1 added")
        #expect(first.id == 1)
        var next = source
        next.text += "# edit\n"
        let second = try store.append(source: next, zone: "a", author: "ops", message: nil, basedOn: 1, summary: "1 changed")
        #expect(second.id == 2)
        #expect(try store.latest()?.summary.id == 2)
        #expect(try store.latest()?.source == next)
        #expect(try store.revision(id: 1)?.source == source)
        #expect(try store.history(limit: 10).map(\.id) == [2, 1])
        #expect(try store.history(limit: 10).last?.message == "first")
    }

    @Test func aStaleBaseIsRefusedAndNothingIsWritten() throws {
        let state = temporaryState()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let store = try SQLiteRevisionStore(stateDirectory: state)
        _ = try store.append(source: source, zone: "a", author: "ops", message: nil, basedOn: nil, summary: "")
        #expect(throws: StoreError.staleBase(planned: nil, current: 1)) {
            try store.append(source: source, zone: "a", author: "ops", message: nil, basedOn: nil, summary: "")
        }
        #expect(throws: StoreError.staleBase(planned: 5, current: 1)) {
            try store.append(source: source, zone: "a", author: "ops", message: nil, basedOn: 5, summary: "")
        }
        #expect(try store.history(limit: 10).count == 1)
        // One zone.applied in the outbox: the refused appends wrote none.
        #expect(try SQLiteEventOutbox(stateDirectory: state).events(.all, limit: 10).map(\.type) == ["zone.applied"])
    }

    @Test func survivesReopeningAndMigratesOnce() throws {
        let state = temporaryState()
        defer { try? FileManager.default.removeItem(atPath: state) }
        _ = try SQLiteRevisionStore(stateDirectory: state).append(source: source, zone: "a", author: "x", message: nil,
                                                                   basedOn: nil, summary: "")
        let reopened = try SQLiteRevisionStore(stateDirectory: state)
        #expect(try reopened.latest()?.summary.author == "x")
        let mode = try FileManager.default.attributesOfItem(atPath: state)[.posixPermissions] as? Int
        #expect(mode == 0o700)
    }

    @Test func anUnwritableStateDirectoryIsAClearError() {
        do {
            _ = try SQLiteRevisionStore(stateDirectory: "/proc/zoneboot-cannot-exist")
            Issue.record("opened a store under /proc")
        } catch {
            #expect("\(error)".contains("/proc/zoneboot-cannot-exist"))
        }
    }
}

@Suite struct LeaseStoreTests {
    @Test func leasesAndEventsCommitTogetherAndLoadBack() throws {
        let state = temporaryState()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let store = try SQLiteLeaseStore(stateDirectory: state)
        let location = Location(pod: "p01", switch: "tor-a", port: "swp7")
        let bound = Lease(address: IPv4Address(198, 18, 16, 17), mac: [0x52, 0x54, 0, 0, 0, 1], clientID: [1, 2],
                          pod: "p01", location: location, name: "h7", state: .bound, expiresAt: 2000, updatedAt: 1000)
        let discovery = Lease(address: IPv4Address(198, 18, 16, 200), mac: [0x52, 0x54, 0, 0, 0, 2], clientID: nil,
                              pod: "p01", location: nil, name: nil, state: .offered, expiresAt: 1060, updatedAt: 1000)
        let event = ZoneEvent(type: .leaseAcked, address: bound.address, mac: "52:54:00:00:00:01", name: "h7", pod: "p01",
                              location: location, details: ["circuit_id": "swp7"], at: 1000)
        try store.commit(leases: [bound, discovery], events: [event])
        var updated = discovery
        updated.state = .bound
        try store.commit(leases: [updated], events: [])
        let reopened = try SQLiteLeaseStore(stateDirectory: state)
        let loaded = try reopened.loadLeases().sorted { $0.address < $1.address }
        #expect(loaded == [bound, updated])
        let events = try reopened.undeliveredEvents()
        #expect(events.map(\.event) == [event])
        #expect(events.first?.id == 1)
    }

    @Test func whatTheHolderIsSurvivesReopening() throws {
        let state = temporaryState()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let store = try SQLiteLeaseStore(stateDirectory: state)
        let miscabled = Lease(address: IPv4Address(198, 18, 16, 17), mac: [0x52, 0x54, 0, 0, 0, 1], clientID: nil, pod: "p01",
                              location: Location(pod: "p01", switch: "tor-a", port: "swp7"), name: "h7", state: .bound,
                              expiresAt: 2000, updatedAt: 1000, device: RecognizedDevice(kind: .hpeILO), miscabled: true)
        let onie = Lease(address: IPv4Address(198, 18, 18, 11), mac: [0x52, 0x54, 0, 0, 0, 2], clientID: nil, pod: "p01",
                         location: Location(pod: "p01", switch: "lom-1", port: "swp48"), name: "tor-a", state: .bound,
                         expiresAt: 2000, updatedAt: 1000,
                         device: RecognizedDevice(kind: .onie, model: "x86_64-accton_as7712_32x-r0", serial: "AC7712X1234"))
        // A discovery lease keeps the undeclared port it was asked from.
        let discovered = Lease(address: IPv4Address(198, 18, 16, 201), mac: [0x52, 0x54, 0, 0, 0, 3], clientID: nil, pod: "p01",
                               location: nil, name: nil, state: .bound, expiresAt: 2000, updatedAt: 1000,
                               askedFrom: Location(pod: "p01", switch: "tor-a", port: "swp45"))
        try store.commit(leases: [miscabled, onie, discovered], events: [])
        let loaded = try SQLiteLeaseStore(stateDirectory: state).loadLeases().sorted { $0.address < $1.address }
        #expect(loaded == [discovered, miscabled, onie].sorted { $0.address < $1.address })
    }
}
