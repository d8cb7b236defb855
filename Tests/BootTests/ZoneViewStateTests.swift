import Addressing
import Boot
import Testing
import TestSupport
import Zone

/// The zone view's one rule (`LocationState.of`) and the boot timelines it reads, without sockets.
@Suite struct ZoneViewStateTests {
    let now: Int64 = 1_800_000_000
    let revision: ZoneRevision
    let host: Identity
    let mac: [UInt8] = [0x52, 0x54, 0, 0, 0, 0x7]
    let other: [UInt8] = [0x52, 0x54, 0, 0, 0, 0x8]
    var nowMs: Int64 { now * 1000 }

    init() throws {
        revision = try ZoneLoader.load(path: exampleZonePath)
        host = try #require(revision.identity(named: "ams1-p01-r01-u07"))
    }

    func lease(_ mac: [UInt8], state: Lease.State = .bound, expires: Int64 = 3_600, location: Location? = nil) -> Lease {
        Lease(address: host.address, mac: mac, clientID: nil, pod: "p01", location: location ?? host.location, name: host.name,
              state: state, expiresAt: now + expires, updatedAt: now)
    }

    func state(_ lease: Lease?, _ book: BootTimelineBook, discovering: Bool = false) -> LocationState {
        LocationState.of(host, lease: lease, timeline: book[host.name], discovering: discovering, now: now)
    }

    @Test func aLocationGoesFromNeverSeenToBootedAsItsHostBoots() {
        var book = BootTimelineBook()
        #expect(state(nil, book) == .neverSeen)
        let bound = lease(mac)
        book.committed(bound, previous: nil, atMs: nowMs)
        #expect(state(bound, book) == .leased)
        let loader = book.fetched(.loaderFetched, host: host.name, mac: MAC.text(mac), atMs: nowMs + 13_000, detail: "undionly.kpxe")
        #expect(loader == .init(phase: .loaderFetched, milliseconds: 13_000))
        #expect(state(bound, book) == .booting)
        let script = book.fetched(.scriptFetched, host: host.name, mac: MAC.text(mac), atMs: nowMs + 20_000, detail: "boot.ipxe")
        #expect(script == .init(phase: .scriptFetched, milliseconds: 7_000))
        // A second file of the same boot is a note, not another step.
        #expect(book.fetched(.scriptFetched, host: host.name, mac: MAC.text(mac), atMs: nowMs + 21_000, detail: "preseed") == nil)
        #expect(state(bound, book) == .booting)
        let booted = book.fetched(.booted, host: host.name, mac: MAC.text(mac), atMs: nowMs + 80_000, detail: "booted")
        #expect(booted == .init(phase: .booted, milliseconds: 60_000))
        #expect(state(bound, book) == .booted)
        #expect(book[host.name]?.steps.map(\.phase) == [.dhcpAck, .loaderFetched, .scriptFetched, .booted])
        #expect(book[host.name]?.notes.count == 5)
    }

    @Test func aRenewalKeepsTheBootAndAGrantStartsItOver() {
        var book = BootTimelineBook()
        let bound = lease(mac)
        book.committed(bound, previous: nil, atMs: nowMs)
        _ = book.fetched(.booted, host: host.name, mac: MAC.text(mac), atMs: nowMs + 1_000, detail: "booted")
        // The booted host renews: still booted.
        book.committed(bound, previous: bound, atMs: nowMs + 1_800_000)
        #expect(state(bound, book) == .booted)
        // It reboots and iPXE renews again, then fetches a loader: the boot starts over from it.
        _ = book.fetched(.loaderFetched, host: host.name, mac: MAC.text(mac), atMs: nowMs + 2_000_000, detail: "ipxe.efi")
        #expect(book[host.name]?.steps.map(\.phase) == [.loaderFetched])
        #expect(state(bound, book) == .booting)
        // Its lease ran out and it asked anew: a grant, the boot starts at the ACK.
        let expired = lease(mac, expires: -1)
        book.committed(bound, previous: expired, atMs: nowMs + 9_000_000)
        #expect(book[host.name]?.steps.map(\.phase) == [.dhcpAck])
    }

    @Test func anotherMachineTakingAnActivePlaceIsReplacedUntilItFetchesSomething() {
        var book = BootTimelineBook()
        let first = lease(mac), second = lease(other)
        book.committed(first, previous: nil, atMs: nowMs)
        _ = book.fetched(.booted, host: host.name, mac: MAC.text(mac), atMs: nowMs + 1_000, detail: "booted")
        book.committed(second, previous: first, atMs: nowMs + 5_000)
        #expect(state(second, book) == .replaced)
        #expect(book[host.name]?.replacedMAC == MAC.text(mac))
        _ = book.fetched(.loaderFetched, host: host.name, mac: MAC.text(other), atMs: nowMs + 9_000, detail: "undionly.kpxe")
        #expect(state(second, book) == .booting)
        // The old machine's timeline never colours the new one's lease.
        var stale = BootTimelineBook()
        stale.committed(first, previous: nil, atMs: nowMs)
        _ = stale.fetched(.booted, host: host.name, mac: MAC.text(mac), atMs: nowMs + 1_000, detail: "booted")
        #expect(state(second, stale) == .leased)
    }

    @Test func miscabledLapsedAndDiscoveringComeFromTheLeases() {
        var book = BootTimelineBook()
        var wrong = lease(mac)
        wrong.miscabled = true
        book.committed(wrong, previous: nil, atMs: nowMs)
        #expect(state(wrong, book) == .miscabled)
        #expect(state(lease(mac, state: .released), book) == .lapsed)
        #expect(state(lease(mac, expires: -10), book) == .lapsed)
        #expect(state(nil, book, discovering: true) == .discovering)
        #expect(state(lease(mac, state: .offered), book) == .discovering)
        // A lease of this address at another location (the zone moved it) is not this location's.
        let elsewhere = lease(mac, location: Location(pod: "p01", switch: "tor-a", port: "swp99"))
        #expect(state(elsewhere, book) == .neverSeen)
    }

    @Test func everyIdentityHasAStateAndOnlyChangesAreSent() throws {
        var book = BootTimelineBook()
        let bound = lease(mac)
        book.committed(bound, previous: nil, atMs: nowMs)
        var discovered = Lease(address: IPv4Address(198, 18, 16, 201), mac: other, clientID: nil, pod: "p01", location: nil,
                               name: nil, state: .bound, expiresAt: now + 600, updatedAt: now)
        let neighbour = try #require(revision.identity(named: "ams1-p01-r01-u08"))
        discovered.askedFrom = neighbour.location
        let before = LocationState.of(revision, leases: [], timelines: { _ in nil }, now: now)
        #expect(before.count == revision.identities.count && before.allSatisfy { $0 == .neverSeen })
        let after = LocationState.of(revision, leases: [bound, discovered], timelines: { book[$0] }, now: now)
        let index = revision.identities.firstIndex { $0.name == host.name }!
        let neighbourIndex = revision.identities.firstIndex { $0.name == neighbour.name }!
        let changes = ZoneViewLayout.changes(from: before, to: after)
        #expect(changes?.map { $0.index } == [index, neighbourIndex].sorted())
        #expect(changes?.map { $0.code }.sorted() == ["d", "l"])
        // Another revision's states are no delta: a snapshot is due.
        #expect(ZoneViewLayout.changes(from: before, to: Array(after.dropLast())) == nil)
        let layout = ZoneViewLayout(revision)
        #expect(layout.names.count == revision.identities.count && layout.kinds.count == revision.identities.count)
        #expect(layout.names[index] == host.name && layout.rack[index] == host.rack && layout.unit[index] == host.unit)
        #expect(layout.pods[layout.pod[index]] == "p01")
        #expect(ZoneViewLayout.codes(after).count == revision.identities.count)
    }

    @Test func theBookKeepsAtMostItsLimit() {
        var book = BootTimelineBook(limit: 10)
        for n in 0..<25 {
            _ = book.fetched(.booted, host: "h\(n)", mac: "m", atMs: Int64(n), detail: "")
        }
        #expect(book.timelines.count <= 10)
        #expect(book["h24"] != nil)
        #expect(book["h0"] == nil)
    }
}
