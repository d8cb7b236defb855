import Addressing
import Boot
import Foundation
import TestSupport
import Testing
import Zone

/// Who may read a host's rendered files, and the firmware manifest's checks.
@Suite struct HostFileAccessTests {
    let revision: ZoneRevision
    let now: Int64 = 1_800_000_000
    let host = "ams1-p01-r01-u07"
    let address = IPv4Address(198, 18, 16, 17)

    init() throws { revision = try ZoneLoader.load(path: exampleZonePath) }

    private func lease(_ state: Lease.State, expires: Int64? = nil) -> Lease {
        Lease(address: address, mac: [0x52, 0x54, 0, 0, 0, 7], clientID: nil, pod: "p01",
              location: Location(pod: "p01", switch: "tor-a", port: "swp7"), name: host, state: state,
              expiresAt: expires ?? now + 3600, updatedAt: now)
    }

    private func answer(_ file: String, from client: IPv4Address, lease: Lease?) -> HostFileAnswer {
        HostFileAccess.answer(host: host, file: file, from: client, revision: revision, now: now) { $0 == lease?.address ? lease : nil }
    }

    @Test func theHostReadsItsOwnScriptRenderedWithItsLease() throws {
        guard case .file(let script) = answer("boot.ipxe", from: address, lease: lease(.bound)) else {
            Issue.record("expected the script")
            return
        }
        #expect(script.content.contains(host))
        guard case .file(let kickstart) = answer("ks.cfg", from: address, lease: lease(.bound)) else {
            Issue.record("expected ks.cfg")
            return
        }
        #expect(kickstart.content.contains("198.18.16.17"))
        #expect(answer("booted", from: address, lease: lease(.bound)) == .booted(name: host))
    }

    @Test func anotherAddressOrNoLiveLeaseIsRefused() {
        let neighbour = IPv4Address(198, 18, 16, 18)
        if case .forbidden = answer("boot.ipxe", from: neighbour, lease: lease(.bound)) {} else { Issue.record("neighbour read it") }
        if case .forbidden = answer("boot.ipxe", from: address, lease: nil) {} else { Issue.record("no lease, yet read") }
        if case .forbidden = answer("boot.ipxe", from: address, lease: lease(.released)) {} else { Issue.record("released lease read") }
        if case .forbidden = answer("boot.ipxe", from: address, lease: lease(.bound, expires: now - 1)) {} else {
            Issue.record("expired lease read")
        }
    }

    @Test func unknownHostsAndFilesAreNotFound() {
        if case .notFound = HostFileAccess.answer(host: "nobody", file: "boot.ipxe", from: address, revision: revision,
                                                  now: now, lease: { _ in nil }) {} else { Issue.record("unknown host") }
        if case .notFound = answer("passwd", from: address, lease: lease(.bound)) {} else { Issue.record("unknown file") }
    }
}

/// Host files rendered once per revision and inputs, with the access check on every request.
extension HostFileAccessTests {
    private func lease(mac last: UInt8 = 7, address: IPv4Address? = nil, name: String? = nil) -> Lease {
        var made = lease(.bound)
        made.mac[5] = last
        made.address = address ?? self.address
        made.name = name ?? host
        return made
    }

    private func cached(_ file: String = "boot.ipxe", from client: IPv4Address? = nil, in revision: ZoneRevision? = nil,
                        leases: [Lease]? = nil, cache: RenderedFileCache) -> HostFileAnswer {
        let table = leases ?? [lease()]
        return HostFileAccess.answer(host: host, file: file, from: client ?? address, revision: revision ?? self.revision,
                                     now: now, cache: cache) { client in table.first { $0.address == client } }
    }

    private func content(_ answer: HostFileAnswer) -> String? {
        guard case .file(let file) = answer else { return nil }
        return file.content
    }

    /// The example revision with the host's boot script template changed by `edit`.
    private func editedRevision(_ edit: (String) -> String) throws -> ZoneRevision {
        guard case .file(let script) = answer("boot.ipxe", from: address, lease: lease(.bound)) else {
            throw CacheTestError.noScript
        }
        var source = revision.source
        let template = try #require(source.files[script.template])
        source.files[script.template] = edit(template)
        return try ZoneLoader.load(source: source)
    }

    @Test func theSameRevisionIsServedFromTheCache() {
        let cache = RenderedFileCache()
        let first = cached(cache: cache), second = cached(cache: cache)
        #expect(content(first)?.contains(host) == true)
        #expect(first == second)
        #expect(cache.counts == (hits: 1, renders: 1))
        // Each file of the host is an entry of its own.
        #expect(content(cached("ks.cfg", cache: cache))?.contains("198.18.16.17") == true)
        #expect(cache.counts == (hits: 1, renders: 2))
        #expect(cache.size.entries == 2)
        // What is served is what rendering without a cache gives.
        #expect(second == answer("boot.ipxe", from: address, lease: lease(.bound)))
    }

    @Test func aNewRevisionIsRenderedAgainAndItsChangeAppears() throws {
        let cache = RenderedFileCache()
        let old = try #require(content(cached(cache: cache)))
        #expect(content(cached(cache: cache)) == old)
        let changed = try editedRevision { $0 + "echo revision two\n" }
        let new = try #require(content(cached(in: changed, cache: cache)))
        #expect(new.contains("echo revision two"))
        #expect(new != old)
        #expect(cache.counts == (hits: 1, renders: 2))
        // The old revision's entries went with it: only the new one's file is held.
        #expect(cache.size.entries == 1)
        #expect(content(cached(in: changed, cache: cache)) == new)
        #expect(cache.counts == (hits: 2, renders: 2))
        // Even the same source loaded again (a rollback, a SIGHUP) is another revision: rendered again.
        let reloaded = try ZoneLoader.load(source: changed.source)
        #expect(reloaded.instance != changed.instance)
        #expect(content(cached(in: reloaded, cache: cache)) == new)
        #expect(cache.counts == (hits: 2, renders: 3))
    }

    @Test func anotherAddressIsStillRefusedOnceTheFileIsCached() {
        let cache = RenderedFileCache()
        #expect(content(cached(cache: cache)) != nil)
        #expect(content(cached(cache: cache)) != nil)
        let neighbour = IPv4Address(198, 18, 16, 18)
        let neighbours = lease(mac: 8, address: neighbour, name: "ams1-p01-r01-u08")
        // The neighbour holds a live lease of its own: still not this host's address.
        if case .forbidden = cached(from: neighbour, leases: [lease(), neighbours], cache: cache) {} else {
            Issue.record("a neighbour read the cached script")
        }
        // The host's own address, once its lease is gone or names someone else.
        if case .forbidden = cached(leases: [], cache: cache) {} else { Issue.record("no lease, yet read") }
        if case .forbidden = cached(leases: [lease(name: "ams1-p01-r01-u08")], cache: cache) {} else {
            Issue.record("another host's lease read it")
        }
        if case .forbidden = cached(leases: [lease(.released)], cache: cache) {} else { Issue.record("a released lease read it") }
        #expect(cache.counts == (hits: 1, renders: 1))
    }

    @Test func leaseFactsAreInputs() throws {
        let withMAC = try editedRevision { $0 + "echo mac {{mac}}\n" }
        let cache = RenderedFileCache()
        let first = try #require(content(cached(in: withMAC, cache: cache)))
        #expect(first.contains("echo mac 52:54:00:00:00:07"))
        // Another machine on the host's port (a replaced board) gets its own MAC, not the cached one.
        let second = try #require(content(cached(in: withMAC, leases: [lease(mac: 9)], cache: cache)))
        #expect(second.contains("echo mac 52:54:00:00:00:09"))
        #expect(cache.counts == (hits: 0, renders: 2))
    }

    @Test func theCacheStaysUnderItsCap() throws {
        let single = try #require(content(cached(cache: RenderedFileCache())))
        // Room for one boot script, not two files.
        let cache = RenderedFileCache(maximumBytes: single.utf8.count + 1024)
        for _ in 0..<3 {
            #expect(content(cached(cache: cache)) == single)
            #expect(content(cached("ks.cfg", cache: cache))?.contains("198.18.16.17") == true)
            #expect(cache.size.bytes <= cache.maximumBytes)
            #expect(cache.size.entries <= 1)
        }
        // A file larger than the whole cache is served, never kept.
        let tiny = RenderedFileCache(maximumBytes: 16)
        #expect(content(cached(cache: tiny)) == single)
        #expect(tiny.size.entries == 0)
    }
}

private enum CacheTestError: Error { case noScript }

@Suite struct FirmwareManifestTests {
    private func firmwareDirectory(_ files: [String: Int]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zb-fw-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/cache", withIntermediateDirectories: true)
        let manifest = """
            {"loaders": [
              {"file": "undionly.kpxe", "architecture": "bios", "sha256": "00", "size": 10,
               "from": {"debian_package": "ipxe", "version": "1", "path": "/usr/lib/ipxe/undionly.kpxe"}},
              {"file": "ipxe.efi", "architecture": "efi-x64", "sha256": "00", "size": 20,
               "from": {"debian_package": "ipxe", "version": "1", "path": "/usr/lib/ipxe/ipxe.efi"}}
            ]}
            """
        try manifest.write(toFile: directory + "/manifest.json", atomically: true, encoding: .utf8)
        for (name, size) in files {
            try Data(count: size).write(to: URL(fileURLWithPath: directory + "/cache/" + name))
        }
        return directory
    }

    @Test func everyLoaderPresentWithItsSizeIsAvailable() throws {
        let directory = try firmwareDirectory(["undionly.kpxe": 10, "ipxe.efi": 20])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let loaders = try FirmwareManifest.load(directory: directory).installedLoaders(directory: directory)
        #expect(loaders.available == ["undionly.kpxe", "ipxe.efi"])
    }

    @Test func aMissingOrTruncatedLoaderNamesTheManifestEntry() throws {
        let directory = try firmwareDirectory(["undionly.kpxe": 10, "ipxe.efi": 19])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manifest = try FirmwareManifest.load(directory: directory)
        #expect(throws: FirmwareManifest.Problem.self) { try manifest.installedLoaders(directory: directory) }
        do {
            _ = try manifest.installedLoaders(directory: directory)
        } catch {
            #expect(error.description.contains("manifest.json: loaders[1] ipxe.efi (efi-x64)"))
            #expect(error.description.contains("has 19 bytes, the manifest says 20"))
        }
        try FileManager.default.removeItem(atPath: directory + "/cache/undionly.kpxe")
        do {
            _ = try manifest.installedLoaders(directory: directory)
            Issue.record("a missing loader was accepted")
        } catch {
            #expect(error.description.contains("loaders[0] undionly.kpxe (bios)"))
            #expect(error.description.contains("is missing; run `make firmware`"))
        }
    }

    @Test func theRepositoryManifestDecodes() throws {
        let manifest = try FirmwareManifest.load(directory: repositoryRoot + "/firmware")
        #expect(Set(manifest.loaders.map(\.file)) == ["undionly.kpxe", "ipxe.efi", "snponly.efi"])
    }
}
