import Addressing
import Boot
import Foundation
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
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let manifest = try FirmwareManifest.load(directory: url.path + "/firmware")
        #expect(Set(manifest.loaders.map(\.file)) == ["undionly.kpxe", "ipxe.efi", "snponly.efi"])
    }
}
